//! Consistency check of the whole store: every object's metadata against its
//! data (and with `deep`, every block checksum), and every data, xattr, omap
//! and blob record against an object.

use std::collections::HashSet;
use std::os::unix::fs::FileExt;

use rocksdb::IteratorMode;

use super::{
    CollMeta, DataLoc, ObjectMeta, RocksStore, CF_BLOBS, CF_COLLS, CF_DATA, CF_META, CF_OMAP,
    CF_PGMETA, CF_XATTR,
};
use crate::store::checksum::{verify, CSUM_BLOCK};
use crate::store::codec::decode;
use crate::store::keys::{self, COLL_PREFIX_LEN};
use crate::store::types::{CollectionId, FsckIssue, FsckReport, ObjectId};
use crate::store::Result;

impl RocksStore {
    pub(super) fn fsck_impl(&self, deep: bool) -> Result<FsckReport> {
        let mut r = FsckReport::default();
        let issue = |r: &mut FsckReport,
                     coll: Option<CollectionId>,
                     object: Option<ObjectId>,
                     problem: String| {
            r.errors.push(FsckIssue {
                coll,
                object,
                problem,
            });
        };
        let mut colls = HashSet::new();
        for item in self.db.iterator_cf(self.cf(CF_COLLS), IteratorMode::Start) {
            let (k, v) = item?;
            let Some(c) = keys::decode_coll(&k) else {
                issue(
                    &mut r,
                    None,
                    None,
                    format!("undecodable collection key {}", hex::encode(&k)),
                );
                continue;
            };
            r.collections += 1;
            colls.insert(c);
            match decode::<CollMeta>("collection record", &v) {
                Ok(m) if m.importing => issue(
                    &mut r,
                    Some(c),
                    None,
                    "an import into this PG did not finish".into(),
                ),
                Ok(_) => {}
                Err(e) => issue(&mut r, Some(c), None, e.to_string()),
            }
            // The PG layer's metadata must load (info, past intervals,
            // log, dups, missing set).
            if let Err(e) = crate::pg::info::load(self, &c) {
                issue(&mut r, Some(c), None, e.to_string());
            }
        }
        for item in self.db.iterator_cf(self.cf(CF_PGMETA), IteratorMode::Start) {
            let (k, _) = item?;
            let c = keys::decode_coll(&k);
            if c.is_none_or(|c| !colls.contains(&c)) {
                issue(&mut r, c, None, "PG metadata of an unknown PG".into());
            }
        }
        let mut objects = HashSet::new();
        for item in self.db.iterator_cf(self.cf(CF_META), IteratorMode::Start) {
            let (k, v) = item?;
            let Some((c, o)) = keys::decode_object_key(&k) else {
                issue(
                    &mut r,
                    None,
                    None,
                    format!("undecodable object key {}", hex::encode(&k)),
                );
                continue;
            };
            r.objects += 1;
            objects.insert(k.to_vec());
            if !colls.contains(&c) {
                issue(
                    &mut r,
                    Some(c),
                    Some(o.clone()),
                    "object in a PG that does not exist".into(),
                );
            }
            match decode::<ObjectMeta>("object metadata", &v) {
                Ok(m) => {
                    if let Err(problem) = self.check_object(&k, &m, deep, &mut r.bytes_verified)? {
                        issue(&mut r, Some(c), Some(o), problem);
                    }
                }
                Err(e) => issue(&mut r, Some(c), Some(o), e.to_string()),
            }
        }
        for (cf, what) in [
            (CF_DATA, "inline data"),
            (CF_XATTR, "xattr"),
            (CF_OMAP, "omap entry"),
        ] {
            for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
                let (k, _) = item?;
                let owner = object_key_of(&k, cf == CF_DATA);
                if !objects.contains(owner) {
                    let (c, o) = keys::decode_object_key(owner)
                        .map_or((None, None), |(c, o)| (Some(c), Some(o)));
                    issue(&mut r, c, o, format!("{what} without an object"));
                }
            }
        }
        for item in self.db.iterator_cf(self.cf(CF_BLOBS), IteratorMode::Start) {
            let (k, owner) = item?;
            let id = u64::from_be_bytes(k.as_ref().try_into().unwrap_or_default());
            let points_back = match self.object_meta(&owner)? {
                Some(m) => m.loc == DataLoc::Blob(id),
                None => false,
            };
            if !points_back {
                issue(
                    &mut r,
                    None,
                    None,
                    format!("blob {id:016x} is recorded but no object uses it"),
                );
            }
        }
        r.leaked_blobs = self.orphan_blobs()?.len() as u64;
        Ok(r)
    }

    /// `Ok(Err(problem))` for a damaged object.
    fn check_object(
        &self,
        key: &[u8],
        m: &ObjectMeta,
        deep: bool,
        verified: &mut u64,
    ) -> Result<std::result::Result<(), String>> {
        let blocks = m.size.div_ceil(CSUM_BLOCK) as usize;
        if m.crcs.len() != blocks {
            return Ok(Err(format!(
                "{} checksums for {} bytes",
                m.crcs.len(),
                m.size
            )));
        }
        match m.loc {
            DataLoc::Inline => {
                let Some(v) = self.db.get_pinned_cf(self.cf(CF_DATA), key)? else {
                    return Ok(if m.size == 0 {
                        Ok(())
                    } else {
                        Err("inline data is missing".into())
                    });
                };
                if v.len() as u64 != m.size {
                    return Ok(Err(format!(
                        "inline data is {} bytes, metadata says {}",
                        v.len(),
                        m.size
                    )));
                }
                if deep {
                    *verified += m.size;
                    if let Err(at) = verify(&v, 0, &m.crcs) {
                        return Ok(Err(format!("checksum mismatch at offset {at}")));
                    }
                }
            }
            DataLoc::Blob(id) => {
                match self.db.get_cf(self.cf(CF_BLOBS), id.to_be_bytes())? {
                    Some(owner) if owner == key => {}
                    _ => {
                        return Ok(Err(format!(
                            "blob {id:016x} is not recorded as this object's"
                        )))
                    }
                }
                let Some(f) = self.blobs.open_read(id)? else {
                    return Ok(Err(format!("blob {id:016x} is missing")));
                };
                let len = self.blobs.len(id)?.unwrap_or(0);
                if len < m.size {
                    return Ok(Err(format!(
                        "blob {id:016x} holds {len} bytes, metadata says {}",
                        m.size
                    )));
                }
                if deep {
                    const CHUNK: u64 = 64 * CSUM_BLOCK;
                    let mut at = 0;
                    while at < m.size {
                        let end = (at + CHUNK).min(m.size);
                        let mut buf = vec![0u8; (end - at) as usize];
                        if let Err(e) = f.read_exact_at(&mut buf, at) {
                            return Ok(Err(format!("blob {id:016x} unreadable at {at}: {e}")));
                        }
                        if let Err(bad) = verify(&buf, at / CSUM_BLOCK, &m.crcs) {
                            return Ok(Err(format!("checksum mismatch at offset {bad}")));
                        }
                        *verified += end - at;
                        at = end;
                    }
                }
            }
        }
        Ok(Ok(()))
    }
}

/// The object key a data (exact), xattr or omap (object key, 0, suffix)
/// record belongs to: the key up to the end of the object's name.
fn object_key_of(k: &[u8], exact: bool) -> &[u8] {
    if exact {
        return k;
    }
    // coll prefix, 4-byte hash, ns, 0, name, 0, ... : the second NUL after
    // the hash ends the object key.
    let body = COLL_PREFIX_LEN + 4;
    let mut nuls = k
        .iter()
        .enumerate()
        .skip(body)
        .filter(|(_, b)| **b == 0)
        .map(|(i, _)| i);
    match (nuls.next(), nuls.next()) {
        (Some(_), Some(end)) => &k[..end],
        _ => k,
    }
}
