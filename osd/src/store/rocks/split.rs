//! Splitting a collection when its pool's PG count grows: the objects
//! that now hash to a child PG move to the child's collection (metadata,
//! inline data, xattrs, omap, and the owner record of a blob file; blob
//! files themselves stay where they are), with both PGs' metadata, in one
//! synced write batch.

use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::{
    CollMeta, DataLoc, ObjectMeta, RocksStore, CF_BLOBS, CF_COLLS, CF_DATA, CF_META, CF_OMAP,
    CF_PGMETA, CF_XATTR,
};
use crate::store::codec::{decode, encode};
use crate::store::error::StoreError;
use crate::store::keys::{self, prefix_end};
use crate::store::transaction::{CollectionSplit, MetaOp};
use crate::store::types::CollectionId;
use crate::store::Result;

impl RocksStore {
    pub(crate) fn split_impl(&self, s: &CollectionSplit) -> Result<u64> {
        let mut colls = vec![s.from];
        colls.extend(s.children.iter().map(|(c, _)| *c));
        let _g = self.lock_all(&colls);
        if self.coll_meta(&s.from)?.is_none() {
            return Err(StoreError::NoSuchCollection(s.from));
        }
        let mut b = WriteBatch::default();
        for (c, meta) in &s.children {
            if *c == s.from || self.coll_meta(c)?.is_some() {
                return Err(StoreError::CollectionExists(*c));
            }
            b.put_cf(
                self.cf(CF_COLLS),
                keys::coll_prefix(c),
                encode(&CollMeta { importing: false }),
            );
            self.put_meta(&mut b, c, meta);
        }
        self.put_meta(&mut b, &s.from, &s.parent_meta);
        let prefix = keys::coll_prefix(&s.from);
        let end = prefix_end(&prefix).expect("collection prefixes are not all 0xff");
        let mut moved = 0u64;
        for item in self.db.iterator_cf(
            self.cf(CF_META),
            IteratorMode::From(&prefix[..], Direction::Forward),
        ) {
            let (k, v) = item?;
            if k.as_ref() >= end.as_slice() {
                break;
            }
            let Some((_, obj)) = keys::decode_object_key(&k) else {
                continue;
            };
            let Some(to) = s.destination(&obj) else {
                continue;
            };
            let m: ObjectMeta = decode("object metadata", &v)?;
            let new_key = keys::object_key(&to, &obj);
            b.put_cf(self.cf(CF_META), &new_key, &v);
            b.delete_cf(self.cf(CF_META), &k);
            match m.loc {
                DataLoc::Inline => {
                    if let Some(d) = self.db.get_cf(self.cf(CF_DATA), &k)? {
                        b.put_cf(self.cf(CF_DATA), &new_key, d);
                        b.delete_cf(self.cf(CF_DATA), &k);
                    }
                }
                DataLoc::Blob(id) => b.put_cf(self.cf(CF_BLOBS), id.to_be_bytes(), &new_key),
            }
            let old_sub = keys::object_sub_prefix(&s.from, &obj);
            let new_sub = keys::object_sub_prefix(&to, &obj);
            for cf in [CF_XATTR, CF_OMAP] {
                self.move_range(&mut b, cf, &old_sub, &new_sub)?;
            }
            moved += 1;
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(b, &wo)?;
        Ok(moved)
    }

    /// Re-keys every record under `from` to sit under `to` instead.
    fn move_range(&self, b: &mut WriteBatch, cf: &str, from: &[u8], to: &[u8]) -> Result<()> {
        let end = prefix_end(from).expect("object prefixes end in 0");
        for item in self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(from, Direction::Forward))
        {
            let (k, v) = item?;
            if k.as_ref() >= end.as_slice() {
                break;
            }
            let mut nk = to.to_vec();
            nk.extend_from_slice(&k[from.len()..]);
            b.put_cf(self.cf(cf), nk, v);
        }
        b.delete_range_cf(self.cf(cf), from, &end[..]);
        Ok(())
    }

    fn put_meta(&self, b: &mut WriteBatch, c: &CollectionId, meta: &[MetaOp]) {
        let cf = self.cf(CF_PGMETA);
        for m in meta {
            match m {
                MetaOp::Put { key, value } => b.put_cf(cf, keys::pg_meta_key(c, key), value),
                MetaOp::Delete { key } => b.delete_cf(cf, keys::pg_meta_key(c, key)),
                MetaOp::DeleteRange { start, end } => {
                    b.delete_range_cf(cf, keys::pg_meta_key(c, start), keys::pg_meta_key(c, end))
                }
            }
        }
    }
}
