//! Reads: object data (verified block by block), stat, xattrs, omap,
//! listings, PG info and log.
//!
//! Reads take no lock. A transaction may replace an object's blob (and
//! unlink the old file) between a reader's metadata lookup and its data read;
//! the reader then sees a missing file or a checksum over other bytes, looks
//! the metadata up again, and retries if it changed. Only a mismatch under
//! unchanged metadata is reported as corruption.

use std::os::unix::fs::FileExt;

use rocksdb::{Direction, IteratorMode, ReadOptions};

use super::{
    DataLoc, ObjectMeta, RocksStore, CF_COLLS, CF_DATA, CF_META, CF_OMAP, CF_PGMETA, CF_XATTR,
};
use crate::store::checksum::{block_range, verify, CSUM_BLOCK};
use crate::store::error::StoreError;
use crate::store::keys::{self, prefix_end};
use crate::store::types::{CollectionId, ObjectId, ObjectStat, OmapPage};
use crate::store::{ListCursor, ListPage, Result};

/// A key and its value from a scan.
pub(super) type KeyValue = (Box<[u8]>, Box<[u8]>);

enum Attempt {
    Done(Vec<u8>),
    /// The data changed under the read; try again with fresh metadata.
    Retry,
}

impl RocksStore {
    pub(super) fn meta_of(&self, c: &CollectionId, o: &ObjectId) -> Result<(Vec<u8>, ObjectMeta)> {
        let key = keys::object_key(c, o);
        match self.object_meta(&key)? {
            Some(m) => Ok((key, m)),
            None => {
                if self.coll_meta(c)?.is_none() {
                    return Err(StoreError::NoSuchCollection(*c));
                }
                Err(StoreError::NoSuchObject {
                    coll: *c,
                    obj: o.clone(),
                })
            }
        }
    }

    pub(super) fn stat_impl(&self, c: &CollectionId, o: &ObjectId) -> Result<ObjectStat> {
        let (_, m) = self.meta_of(c, o)?;
        Ok(ObjectStat {
            size: m.size,
            mtime_ns: m.mtime_ns,
            version: m.version,
        })
    }

    pub(super) fn read_impl(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let mut last_err = None;
        for _ in 0..8 {
            let (key, meta) = self.meta_of(c, o)?;
            match self.read_attempt(c, o, &key, &meta, offset, len) {
                Ok(Attempt::Done(v)) => return Ok(v),
                Ok(Attempt::Retry) => continue,
                Err(e) => {
                    // Corruption only counts if the object did not change.
                    if self.object_meta(&key)?.as_ref() == Some(&meta) {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| {
            StoreError::Invalid(format!(
                "object {o} in PG {c} kept changing during the read"
            ))
        }))
    }

    fn read_attempt(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        key: &[u8],
        meta: &ObjectMeta,
        offset: u64,
        len: u64,
    ) -> Result<Attempt> {
        if offset >= meta.size || len == 0 {
            return Ok(Attempt::Done(Vec::new()));
        }
        let end = offset.saturating_add(len).min(meta.size);
        let blocks = block_range(offset, end - offset);
        let from = blocks.start * CSUM_BLOCK;
        let to = (blocks.end * CSUM_BLOCK).min(meta.size);
        let corrupt = |at: u64, detail: String| StoreError::Corruption {
            coll: *c,
            obj: o.clone(),
            offset: at,
            detail,
        };
        let bytes = match meta.loc {
            DataLoc::Inline => {
                let Some(v) = self.db.get_pinned_cf(self.cf(CF_DATA), key)? else {
                    return Err(corrupt(0, "inline data is missing".into()));
                };
                if v.len() as u64 != meta.size {
                    return Err(corrupt(
                        0,
                        format!(
                            "inline data is {} bytes, metadata says {}",
                            v.len(),
                            meta.size
                        ),
                    ));
                }
                v[from as usize..to as usize].to_vec()
            }
            DataLoc::Blob(id) => {
                let Some(f) = self.blobs.open_read(id)? else {
                    return Ok(Attempt::Retry);
                };
                let mut buf = vec![0u8; (to - from) as usize];
                f.read_exact_at(&mut buf, from)
                    .map_err(|e| corrupt(from, format!("blob {id:016x} unreadable: {e}")))?;
                buf
            }
        };
        if let Err(at) = verify(&bytes, blocks.start, &meta.crcs) {
            return Err(corrupt(at, "checksum mismatch".into()));
        }
        let (lo, hi) = ((offset - from) as usize, (end - from) as usize);
        if lo == 0 && hi == bytes.len() {
            // The whole blocks were asked for (a whole object): no copy.
            return Ok(Attempt::Done(bytes));
        }
        let mut bytes = bytes;
        bytes.truncate(hi);
        bytes.drain(..lo);
        Ok(Attempt::Done(bytes))
    }

    /// Iterates `cf` over keys starting with `prefix`, from `start`.
    pub(super) fn scan<'a>(
        &'a self,
        cf: &str,
        prefix: &[u8],
        start: &[u8],
    ) -> impl Iterator<Item = Result<KeyValue>> + 'a {
        let mut ro = ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            ro.set_iterate_upper_bound(end);
        }
        self.db
            .iterator_cf_opt(
                self.cf(cf),
                ro,
                IteratorMode::From(start, Direction::Forward),
            )
            .map(|r| r.map_err(StoreError::from))
    }

    pub(super) fn getxattr_impl(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        name: &str,
    ) -> Result<Vec<u8>> {
        self.meta_of(c, o)?;
        self.db
            .get_cf(self.cf(CF_XATTR), keys::xattr_key(c, o, name))?
            .ok_or_else(|| StoreError::NoSuchXattr {
                coll: *c,
                obj: o.clone(),
                name: name.to_string(),
            })
    }

    pub(super) fn getxattrs_impl(
        &self,
        c: &CollectionId,
        o: &ObjectId,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        self.meta_of(c, o)?;
        let prefix = keys::object_sub_prefix(c, o);
        let mut out = Vec::new();
        for item in self.scan(CF_XATTR, &prefix, &prefix) {
            let (k, v) = item?;
            let name = String::from_utf8(k[prefix.len()..].to_vec()).map_err(|_| {
                StoreError::BadMetadata {
                    what: format!("xattr name of {o}"),
                    detail: "not UTF-8".into(),
                }
            })?;
            out.push((name, v.to_vec()));
        }
        Ok(out)
    }

    pub(super) fn omap_header_impl(&self, c: &CollectionId, o: &ObjectId) -> Result<Vec<u8>> {
        self.meta_of(c, o)?;
        Ok(self
            .db
            .get_cf(self.cf(CF_OMAP), keys::omap_header_key(c, o))?
            .unwrap_or_default())
    }

    pub(super) fn omap_get_impl(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        wanted: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.meta_of(c, o)?;
        let prefix = keys::omap_key_prefix(c, o);
        let keys: Vec<Vec<u8>> = wanted
            .iter()
            .map(|k| [prefix.as_slice(), k].concat())
            .collect();
        let cf = self.cf(CF_OMAP);
        let values = self
            .db
            .multi_get_cf(keys.iter().map(|k| (cf, k.as_slice())));
        let mut out = Vec::new();
        for (k, v) in wanted.iter().zip(values) {
            if let Some(v) = v? {
                out.push((k.clone(), v));
            }
        }
        Ok(out)
    }

    pub(super) fn omap_list_impl(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        start_after: Option<&[u8]>,
        filter: Option<&[u8]>,
        max: usize,
    ) -> Result<OmapPage> {
        self.meta_of(c, o)?;
        let base = keys::omap_key_prefix(c, o);
        let scope = [base.as_slice(), filter.unwrap_or_default()].concat();
        let start = match start_after {
            Some(a) if [base.as_slice(), a].concat() >= scope => [base.as_slice(), a].concat(),
            _ => scope.clone(),
        };
        let mut page = OmapPage::default();
        for item in self.scan(CF_OMAP, &scope, &start) {
            let (k, v) = item?;
            let user = &k[base.len()..];
            if start_after.is_some_and(|a| user <= a) {
                continue;
            }
            if page.entries.len() == max {
                page.more = true;
                break;
            }
            page.entries.push((user.to_vec(), v.to_vec()));
        }
        Ok(page)
    }

    pub(super) fn list_objects_impl(
        &self,
        c: &CollectionId,
        after: Option<&ListCursor>,
        max: usize,
    ) -> Result<ListPage> {
        if self.coll_meta(c)?.is_none() {
            return Err(StoreError::NoSuchCollection(*c));
        }
        let prefix = keys::coll_prefix(c);
        let start = match after {
            Some(cur) if cur.0.starts_with(&prefix) => cur.0.clone(),
            Some(_) => {
                return Err(StoreError::Invalid(format!(
                    "listing cursor does not belong to PG {c}"
                )))
            }
            None => prefix.to_vec(),
        };
        let mut page = ListPage {
            objects: Vec::new(),
            next: None,
        };
        for item in self.scan(CF_META, &prefix, &start) {
            let (k, _) = item?;
            if after.is_some_and(|a| *k == *a.0) {
                continue;
            }
            if page.objects.len() == max {
                page.next = page
                    .objects
                    .last()
                    .map(|o| ListCursor(keys::object_key(c, o)));
                break;
            }
            let (_, obj) = keys::decode_object_key(&k).ok_or_else(|| StoreError::BadMetadata {
                what: format!("object key in PG {c}"),
                detail: hex::encode(&k),
            })?;
            page.objects.push(obj);
        }
        Ok(page)
    }

    pub(super) fn list_collections_impl(&self) -> Result<Vec<CollectionId>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_COLLS), IteratorMode::Start) {
            let (k, _) = item?;
            out.push(
                keys::decode_coll(&k).ok_or_else(|| StoreError::BadMetadata {
                    what: "collection key".into(),
                    detail: hex::encode(&k),
                })?,
            );
        }
        Ok(out)
    }

    pub(super) fn meta_get_impl(&self, c: &CollectionId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.coll_meta(c)?.is_none() {
            return Err(StoreError::NoSuchCollection(*c));
        }
        Ok(self
            .db
            .get_cf(self.cf(CF_PGMETA), keys::pg_meta_key(c, key))?)
    }

    pub(super) fn meta_scan_impl(
        &self,
        c: &CollectionId,
        start: &[u8],
        end: Option<&[u8]>,
        max: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if self.coll_meta(c)?.is_none() {
            return Err(StoreError::NoSuchCollection(*c));
        }
        let prefix = keys::coll_prefix(c);
        let end = end.map(|e| keys::pg_meta_key(c, e));
        let mut out = Vec::new();
        for item in self.scan(CF_PGMETA, &prefix, &keys::pg_meta_key(c, start)) {
            if out.len() >= max {
                break;
            }
            let (k, v) = item?;
            if end.as_ref().is_some_and(|e| k.as_ref() >= e.as_slice()) {
                break;
            }
            out.push((k[prefix.len()..].to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}
