//! Applying a transaction.
//!
//! Every op is first staged against an in-memory view of the objects it
//! touches (so a failing op leaves nothing behind); then new or appended blob
//! files are fdatasync'd; then one RocksDB write batch with the metadata,
//! inline data, xattrs, omap and PG metadata is written with sync (or, in
//! a group commit, without, and one WAL sync follows the group); only
//! after that are replaced blobs unlinked.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;

use rocksdb::WriteBatch;

use super::{
    DataLoc, ObjectMeta, RocksStore, CF_BLOBS, CF_DATA, CF_META, CF_OMAP, CF_PGMETA, CF_XATTR,
};
use crate::store::codec::encode;
use crate::store::error::StoreError;
use crate::store::keys::{self, prefix_end};
use crate::store::transaction::{MetaOp, Op, Transaction};
use crate::store::types::{CollectionId, ObjectId, Version};
use crate::store::Result;

/// An object as the transaction has left it so far.
pub(super) struct Staged {
    pub(super) key: Vec<u8>,
    /// Committed state, for what must be cleaned up.
    pub(super) committed: Option<ObjectMeta>,
    /// Current state; `None` = does not exist.
    pub(super) meta: Option<ObjectMeta>,
    /// Inline bytes, when they were loaded or changed.
    pub(super) inline: Option<Vec<u8>>,
    pub(super) inline_dirty: bool,
    pub(super) touched: bool,
    /// xattrs set or removed in this transaction.
    pub(super) xattrs: HashMap<String, bool>,
    /// A `Remove` dropped the committed xattrs and omap.
    pub(super) cleared: bool,
}

/// A transaction being staged.
pub(super) struct Txn<'a> {
    pub(super) store: &'a RocksStore,
    pub(super) coll: CollectionId,
    pub(super) objects: BTreeMap<ObjectId, Staged>,
    pub(super) batch: WriteBatch,
    /// Blob files written by this transaction: id -> (file, newly created).
    pub(super) files: HashMap<u64, (File, bool)>,
    pub(super) committed: bool,
}

impl Drop for Txn<'_> {
    /// A transaction that did not commit leaves no new blob behind.
    fn drop(&mut self) {
        if !self.committed {
            for (id, (_, new)) in &self.files {
                if *new {
                    self.store.blobs.remove(*id);
                }
            }
        }
    }
}

fn empty_meta() -> ObjectMeta {
    ObjectMeta {
        size: 0,
        mtime_ns: 0,
        version: Version::ZERO,
        loc: DataLoc::Inline,
        crcs: Vec::new(),
    }
}

impl RocksStore {
    pub(super) fn submit_impl(&self, t: Transaction) -> Result<()> {
        let unlink = self.apply_impl(t, true)?;
        self.unlink_blobs(unlink);
        Ok(())
    }

    /// Group commit: each transaction is applied in turn (each sees the
    /// ones before it) without a WAL sync, then one sync makes them all
    /// durable. Blobs they replaced are unlinked only after that sync: an
    /// unsynced batch lost to a power cut must still find its old data.
    pub(super) fn submit_group_impl(&self, ts: Vec<Transaction>) -> Vec<Result<()>> {
        let mut results = Vec::with_capacity(ts.len());
        let mut unlink = Vec::new();
        for t in ts {
            results.push(self.apply_impl(t, false).map(|u| unlink.extend(u)));
        }
        if results.iter().any(|r| r.is_ok()) {
            if let Err(e) = self.db.flush_wal(true) {
                // Nothing is known to be durable: every applied transaction
                // fails, and the replaced blobs stay (leaked, not lost).
                return results
                    .into_iter()
                    .map(|r| r.and(Err(StoreError::Db(e.clone()))))
                    .collect();
            }
        }
        self.unlink_blobs(unlink);
        results
    }

    fn unlink_blobs(&self, ids: Vec<u64>) {
        for id in ids {
            self.blobs.remove(id);
        }
    }

    /// Stages and writes one transaction; with `sync` it is durable on
    /// return. Returns the blobs it replaced, to unlink once durable.
    fn apply_impl(&self, t: Transaction, sync: bool) -> Result<Vec<u64>> {
        crate::store::options::validate(&t, &self.opts)?;
        let _g = self.lock(&t.coll);
        if self.coll_meta(&t.coll)?.is_none() {
            return Err(StoreError::NoSuchCollection(t.coll));
        }
        let mut txn = Txn {
            store: self,
            coll: t.coll,
            objects: BTreeMap::new(),
            batch: WriteBatch::default(),
            files: HashMap::new(),
            committed: false,
        };
        for op in &t.ops {
            txn.apply(op)?;
        }
        let unlink = txn.finish(&t)?;
        for (id, (f, new)) in &txn.files {
            self.blobs.sync(*id, f, *new)?;
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(std::mem::take(&mut txn.batch), &wo)?;
        txn.committed = true;
        Ok(unlink)
    }
}

impl Txn<'_> {
    pub(super) fn staged(&mut self, obj: &ObjectId) -> Result<&mut Staged> {
        if !self.objects.contains_key(obj) {
            let key = keys::object_key(&self.coll, obj);
            let committed = self.store.object_meta(&key)?;
            let s = Staged {
                key,
                meta: committed.clone(),
                committed,
                inline: None,
                inline_dirty: false,
                touched: false,
                xattrs: HashMap::new(),
                cleared: false,
            };
            self.objects.insert(obj.clone(), s);
        }
        Ok(self.objects.get_mut(obj).expect("inserted above"))
    }

    /// The object, created empty if it does not exist.
    pub(super) fn touch(&mut self, obj: &ObjectId) -> Result<()> {
        let s = self.staged(obj)?;
        if s.meta.is_none() {
            s.meta = Some(empty_meta());
            s.inline = Some(Vec::new());
            s.inline_dirty = true;
        }
        s.touched = true;
        Ok(())
    }

    pub(super) fn corruption(&self, obj: &ObjectId, offset: u64, detail: &str) -> StoreError {
        StoreError::Corruption {
            coll: self.coll,
            obj: obj.clone(),
            offset,
            detail: detail.to_string(),
        }
    }

    fn xattr_exists(&mut self, obj: &ObjectId, name: &str) -> Result<bool> {
        let coll = self.coll;
        let s = self.staged(obj)?;
        if let Some(present) = s.xattrs.get(name) {
            return Ok(*present);
        }
        if s.cleared {
            return Ok(false);
        }
        let k = keys::xattr_key(&coll, obj, name);
        Ok(self.store.db.get_cf(self.store.cf(CF_XATTR), k)?.is_some())
    }

    fn apply(&mut self, op: &Op) -> Result<()> {
        let coll = self.coll;
        let store = self.store;
        let (xcf, ocf) = (store.cf(CF_XATTR), store.cf(CF_OMAP));
        match op {
            Op::Create { obj, exclusive } => {
                if *exclusive && self.staged(obj)?.meta.is_some() {
                    return Err(StoreError::ObjectExists {
                        coll,
                        obj: obj.clone(),
                    });
                }
                self.touch(obj)
            }
            Op::Write { obj, offset, data } => self.write(obj, *offset, data),
            Op::WriteFull { obj, data } => {
                self.touch(obj)?;
                self.set_content(obj, data.clone())
            }
            Op::Append { obj, data } => {
                self.touch(obj)?;
                let size = self.staged(obj)?.meta.as_ref().expect("touched").size;
                if size + data.len() as u64 > self.store.opts.max_object_size {
                    return Err(StoreError::TooLarge {
                        what: format!("object {obj}"),
                        size: size + data.len() as u64,
                        max: self.store.opts.max_object_size,
                    });
                }
                self.write(obj, size, data)
            }
            Op::Truncate { obj, size } => self.truncate(obj, *size),
            Op::Zero { obj, offset, len } => self.zero(obj, *offset, *len),
            Op::Remove { obj } | Op::Discard { obj } => {
                let s = self.staged(obj)?;
                if s.meta.is_none() {
                    if matches!(op, Op::Discard { .. }) {
                        return Ok(());
                    }
                    return Err(StoreError::NoSuchObject {
                        coll,
                        obj: obj.clone(),
                    });
                }
                s.meta = None;
                s.inline = None;
                s.inline_dirty = false;
                s.cleared = true;
                s.xattrs.clear();
                let sub = keys::object_sub_prefix(&coll, obj);
                let end = prefix_end(&sub).expect("sub prefix ends in 0");
                self.batch.delete_range_cf(xcf, &sub, &end);
                self.batch.delete_range_cf(ocf, &sub, &end);
                Ok(())
            }
            Op::SetXattr { obj, name, value } => {
                self.touch(obj)?;
                self.staged(obj)?.xattrs.insert(name.clone(), true);
                self.batch
                    .put_cf(xcf, keys::xattr_key(&coll, obj, name), value);
                Ok(())
            }
            Op::RmXattr { obj, name } => {
                if self.staged(obj)?.meta.is_none() {
                    return Err(StoreError::NoSuchObject {
                        coll,
                        obj: obj.clone(),
                    });
                }
                if !self.xattr_exists(obj, name)? {
                    return Err(StoreError::NoSuchXattr {
                        coll,
                        obj: obj.clone(),
                        name: name.clone(),
                    });
                }
                self.touch(obj)?;
                self.staged(obj)?.xattrs.insert(name.clone(), false);
                self.batch.delete_cf(xcf, keys::xattr_key(&coll, obj, name));
                Ok(())
            }
            Op::OmapSetHeader { obj, header } => {
                self.touch(obj)?;
                self.batch
                    .put_cf(ocf, keys::omap_header_key(&coll, obj), header);
                Ok(())
            }
            Op::OmapSet { obj, entries } => {
                self.touch(obj)?;
                let prefix = keys::omap_key_prefix(&coll, obj);
                for (k, v) in entries {
                    let mut key = prefix.clone();
                    key.extend_from_slice(k);
                    self.batch.put_cf(ocf, key, v);
                }
                Ok(())
            }
            Op::OmapRmKeys { obj, keys: ks } => {
                self.touch(obj)?;
                let prefix = keys::omap_key_prefix(&coll, obj);
                for k in ks {
                    let mut key = prefix.clone();
                    key.extend_from_slice(k);
                    self.batch.delete_cf(ocf, key);
                }
                Ok(())
            }
            Op::OmapRmRange { obj, start, end } => {
                self.touch(obj)?;
                if start < end {
                    let prefix = keys::omap_key_prefix(&coll, obj);
                    let (mut a, mut b) = (prefix.clone(), prefix);
                    a.extend_from_slice(start);
                    b.extend_from_slice(end);
                    self.batch.delete_range_cf(ocf, a, b);
                }
                Ok(())
            }
            Op::OmapClear { obj } => {
                self.touch(obj)?;
                let sub = keys::object_sub_prefix(&coll, obj);
                let end = prefix_end(&sub).expect("sub prefix ends in 0");
                self.batch.delete_range_cf(ocf, sub, end);
                Ok(())
            }
        }
    }

    /// Puts every staged object into the batch with the log and info;
    /// returns the blob files to unlink once the batch has committed.
    fn finish(&mut self, t: &Transaction) -> Result<Vec<u64>> {
        let s = self.store;
        let (meta_cf, data_cf, blob_cf) = (s.cf(CF_META), s.cf(CF_DATA), s.cf(CF_BLOBS));
        let mut unlink = Vec::new();
        let mut referenced = Vec::new();
        for st in self.objects.values_mut() {
            let old_blob = match st.committed.as_ref().map(|m| m.loc) {
                Some(DataLoc::Blob(id)) => Some(id),
                _ => None,
            };
            let new_loc = st.meta.as_ref().map(|m| m.loc);
            match &mut st.meta {
                None => {
                    if st.committed.is_some() {
                        self.batch.delete_cf(meta_cf, &st.key);
                        self.batch.delete_cf(data_cf, &st.key);
                    }
                }
                Some(m) if st.touched => {
                    m.version = t.version;
                    m.mtime_ns = t.mtime_ns;
                    self.batch.put_cf(meta_cf, &st.key, encode(&*m));
                    match m.loc {
                        DataLoc::Inline if st.inline_dirty => {
                            self.batch.put_cf(
                                data_cf,
                                &st.key,
                                st.inline.as_deref().unwrap_or_default(),
                            );
                        }
                        DataLoc::Blob(id) => {
                            referenced.push((id, st.key.clone()));
                            if matches!(st.committed.as_ref().map(|c| c.loc), Some(DataLoc::Inline))
                            {
                                self.batch.delete_cf(data_cf, &st.key);
                            }
                        }
                        DataLoc::Inline => {}
                    }
                }
                Some(_) => {}
            }
            if let Some(old) = old_blob {
                if new_loc != Some(DataLoc::Blob(old)) {
                    self.batch.delete_cf(blob_cf, old.to_be_bytes());
                    unlink.push(old);
                }
            }
        }
        // New blobs that ended up referenced get their record; the rest
        // (superseded within this transaction) are dropped now.
        let new_ids: Vec<u64> = self
            .files
            .iter()
            .filter(|(_, (_, new))| *new)
            .map(|(id, _)| *id)
            .collect();
        for id in new_ids {
            match referenced.iter().find(|(r, _)| *r == id) {
                Some((_, key)) => self.batch.put_cf(blob_cf, id.to_be_bytes(), key),
                None => {
                    self.files.remove(&id);
                    s.blobs.remove(id);
                }
            }
        }
        let meta_cf = s.cf(CF_PGMETA);
        for m in &t.meta {
            match m {
                MetaOp::Put { key, value } => {
                    self.batch
                        .put_cf(meta_cf, keys::pg_meta_key(&self.coll, key), value)
                }
                MetaOp::Delete { key } => self
                    .batch
                    .delete_cf(meta_cf, keys::pg_meta_key(&self.coll, key)),
                MetaOp::DeleteRange { start, end } => self.batch.delete_range_cf(
                    meta_cf,
                    keys::pg_meta_key(&self.coll, start),
                    keys::pg_meta_key(&self.coll, end),
                ),
            }
        }
        Ok(unlink)
    }
}
