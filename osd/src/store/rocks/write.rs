//! Applying a transaction.
//!
//! Every op is first staged against an in-memory view of the objects it
//! touches (so a failing op leaves nothing behind); then new or appended blob
//! files are fdatasync'd; then one RocksDB write batch with the metadata,
//! inline data, xattrs, omap, PG-log entries and PG info is written with
//! sync; only after that are replaced blobs unlinked.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;

use rocksdb::WriteBatch;

use super::{
    CollMeta, DataLoc, ObjectMeta, RocksStore, CF_BLOBS, CF_COLLS, CF_DATA, CF_INFO, CF_LOG,
    CF_META, CF_OMAP, CF_XATTR,
};
use crate::store::checksum::{block_crcs, verify, CSUM_BLOCK};
use crate::store::codec::encode;
use crate::store::error::StoreError;
use crate::store::keys::{self, prefix_end};
use crate::store::transaction::{Op, Transaction};
use crate::store::types::{CollectionId, ObjectId, Version};
use crate::store::Result;

/// An object as the transaction has left it so far.
struct Staged {
    key: Vec<u8>,
    /// Committed state, for what must be cleaned up.
    committed: Option<ObjectMeta>,
    /// Current state; `None` = does not exist.
    meta: Option<ObjectMeta>,
    /// Inline bytes, when they were loaded or changed.
    inline: Option<Vec<u8>>,
    inline_dirty: bool,
    touched: bool,
    /// xattrs set or removed in this transaction.
    xattrs: HashMap<String, bool>,
    /// A `Remove` dropped the committed xattrs and omap.
    cleared: bool,
}

/// A transaction being staged.
struct Txn<'a> {
    store: &'a RocksStore,
    coll: CollectionId,
    objects: BTreeMap<ObjectId, Staged>,
    batch: WriteBatch,
    /// Blob files written by this transaction: id -> (file, newly created).
    files: HashMap<u64, (File, bool)>,
    committed: bool,
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
    pub(crate) fn create_collection_impl(&self, c: &CollectionId, importing: bool) -> Result<()> {
        let _g = self.lock(c);
        if self.coll_meta(c)?.is_some() {
            return Err(StoreError::CollectionExists(*c));
        }
        self.write_synced(|b| {
            b.put_cf(
                self.cf(CF_COLLS),
                keys::coll_prefix(c),
                encode(&CollMeta { importing }),
            )
        })
    }

    pub(crate) fn finish_import(&self, c: &CollectionId) -> Result<()> {
        let _g = self.lock(c);
        self.write_synced(|b| {
            b.put_cf(
                self.cf(CF_COLLS),
                keys::coll_prefix(c),
                encode(&CollMeta { importing: false }),
            )
        })
    }

    pub(crate) fn remove_collection_impl(&self, c: &CollectionId) -> Result<()> {
        let _g = self.lock(c);
        if self.coll_meta(c)?.is_none() {
            return Err(StoreError::NoSuchCollection(*c));
        }
        let prefix = keys::coll_prefix(c);
        let end = prefix_end(&prefix).expect("collection prefixes are not all 0xff");
        let mut blobs = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_META),
            rocksdb::IteratorMode::From(&prefix[..], rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            if k.as_ref() >= end.as_slice() {
                break;
            }
            if let Ok(m) = crate::store::codec::decode::<ObjectMeta>("object metadata", &v) {
                if let DataLoc::Blob(id) = m.loc {
                    blobs.push(id);
                }
            }
        }
        self.write_synced(|b| {
            for cf in [CF_META, CF_DATA, CF_XATTR, CF_OMAP, CF_LOG] {
                b.delete_range_cf(self.cf(cf), &prefix[..], &end[..]);
            }
            b.delete_cf(self.cf(CF_INFO), prefix);
            b.delete_cf(self.cf(CF_COLLS), prefix);
            for id in &blobs {
                b.delete_cf(self.cf(CF_BLOBS), id.to_be_bytes());
            }
        })?;
        for id in blobs {
            self.blobs.remove(id);
        }
        self.log_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(c);
        Ok(())
    }

    fn write_synced(&self, fill: impl FnOnce(&mut WriteBatch)) -> Result<()> {
        let mut b = WriteBatch::default();
        fill(&mut b);
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(b, &wo)?;
        Ok(())
    }

    pub(super) fn submit_impl(&self, t: Transaction) -> Result<()> {
        self.validate(&t)?;
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
        let new_count = self.trim_log(&mut txn.batch, &t)?;
        for (id, (f, new)) in &txn.files {
            self.blobs.sync(*id, f, *new)?;
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(std::mem::take(&mut txn.batch), &wo)?;
        txn.committed = true;
        let mut counts = self.log_counts.lock().unwrap_or_else(|p| p.into_inner());
        match new_count {
            Some(n) => counts.insert(t.coll, n),
            None => counts.remove(&t.coll),
        };
        for id in unlink {
            self.blobs.remove(id);
        }
        Ok(())
    }

    /// Keeps the PG log at `pg_log_max_entries`: when `t` appends past it,
    /// the oldest entries are deleted in the same batch and the PG info's
    /// `log_tail` moves to the newest one deleted. Returns the log's new
    /// length, or `None` when it is not known cheaply (an explicit trim).
    fn trim_log(&self, batch: &mut WriteBatch, t: &Transaction) -> Result<Option<u64>> {
        let max = self.opts.pg_log_max_entries;
        if t.trim_log_to.is_some() {
            return Ok(None);
        }
        let cached = self
            .log_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&t.coll)
            .copied();
        if t.log.is_empty() {
            return Ok(cached);
        }
        let prefix = keys::coll_prefix(&t.coll);
        let end = prefix_end(&prefix).expect("collection prefixes are not all 0xff");
        let count = match cached {
            Some(n) => n,
            None => {
                let mut ro = rocksdb::ReadOptions::default();
                ro.set_iterate_upper_bound(end.clone());
                let it = self.db.iterator_cf_opt(
                    self.cf(CF_LOG),
                    ro,
                    rocksdb::IteratorMode::From(&prefix[..], rocksdb::Direction::Forward),
                );
                let mut n = 0u64;
                for item in it {
                    item?;
                    n += 1;
                }
                n
            }
        };
        let mut total = count + t.log.len() as u64;
        if max == 0 || total <= max {
            return Ok(Some(total));
        }
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(end);
        let it = self.db.iterator_cf_opt(
            self.cf(CF_LOG),
            ro,
            rocksdb::IteratorMode::From(&prefix[..], rocksdb::Direction::Forward),
        );
        let mut tail = None;
        for item in it.take((total - max) as usize) {
            let (k, v) = item?;
            batch.delete_cf(self.cf(CF_LOG), &k);
            tail = Some(
                crate::store::codec::decode::<crate::store::types::PgLogEntry>("PG log entry", &v)?
                    .version,
            );
            total -= 1;
        }
        if let Some(tail) = tail {
            let mut info = match &t.info {
                Some(i) => Some(i.clone()),
                None => self.pg_info_impl(&t.coll)?,
            };
            if let Some(i) = info.as_mut() {
                i.log_tail = i.log_tail.max(tail);
                batch.put_cf(self.cf(CF_INFO), prefix, encode(&*i));
            }
        }
        Ok(Some(total))
    }

    fn validate(&self, t: &Transaction) -> Result<()> {
        let o = &self.opts;
        let too_large = |what: String, size: u64, max: u64| -> Result<()> {
            if size > max {
                return Err(StoreError::TooLarge { what, size, max });
            }
            Ok(())
        };
        for op in &t.ops {
            let obj = op.object();
            for (label, s) in [("object name", &obj.name), ("namespace", &obj.ns)] {
                if s.contains('\0') {
                    return Err(StoreError::Invalid(format!(
                        "{label} {s:?} contains a NUL byte"
                    )));
                }
                too_large(
                    format!("{label} of {obj}"),
                    s.len() as u64,
                    o.max_name_len as u64,
                )?;
            }
            if obj.name.is_empty() {
                return Err(StoreError::Invalid("object name is empty".into()));
            }
            match op {
                Op::Write { offset, data, .. } => too_large(
                    format!("object {obj}"),
                    offset.saturating_add(data.len() as u64),
                    o.max_object_size,
                )?,
                Op::WriteFull { data, .. } => too_large(
                    format!("object {obj}"),
                    data.len() as u64,
                    o.max_object_size,
                )?,
                Op::Truncate { size, .. } => {
                    too_large(format!("object {obj}"), *size, o.max_object_size)?
                }
                Op::SetXattr { name, value, .. } => {
                    if name.is_empty() {
                        return Err(StoreError::Invalid(format!("empty xattr name on {obj}")));
                    }
                    too_large(
                        format!("xattr {name:?} of {obj}"),
                        value.len() as u64,
                        o.max_xattr_value,
                    )?
                }
                Op::OmapSet { entries, .. } => {
                    for (k, v) in entries {
                        too_large(format!("omap key of {obj}"), k.len() as u64, o.max_omap_key)?;
                        too_large(
                            format!("omap value of {obj}"),
                            v.len() as u64,
                            o.max_omap_value,
                        )?;
                    }
                }
                Op::OmapSetHeader { header, .. } => too_large(
                    format!("omap header of {obj}"),
                    header.len() as u64,
                    o.max_omap_value,
                )?,
                _ => {}
            }
        }
        Ok(())
    }
}

impl Txn<'_> {
    fn staged(&mut self, obj: &ObjectId) -> Result<&mut Staged> {
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
    fn touch(&mut self, obj: &ObjectId) -> Result<()> {
        let s = self.staged(obj)?;
        if s.meta.is_none() {
            s.meta = Some(empty_meta());
            s.inline = Some(Vec::new());
            s.inline_dirty = true;
        }
        s.touched = true;
        Ok(())
    }

    fn corruption(&self, obj: &ObjectId, offset: u64, detail: &str) -> StoreError {
        StoreError::Corruption {
            coll: self.coll,
            obj: obj.clone(),
            offset,
            detail: detail.to_string(),
        }
    }

    /// Reads `[from, to)` of a blob this transaction may also have written.
    fn read_blob(&mut self, obj: &ObjectId, id: u64, from: u64, to: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; (to - from) as usize];
        let res = match self.files.get(&id) {
            Some((f, _)) => f.read_exact_at(&mut buf, from),
            None => match self.store.blobs.open_read(id)? {
                Some(f) => f.read_exact_at(&mut buf, from),
                None => {
                    return Err(self.corruption(obj, from, &format!("blob {id:016x} is missing")))
                }
            },
        };
        res.map_err(|e| self.corruption(obj, from, &format!("blob {id:016x} unreadable: {e}")))?;
        Ok(buf)
    }

    /// Verified bytes `[0, upto)` of the object's current content.
    fn load(&mut self, obj: &ObjectId, upto: u64) -> Result<Vec<u8>> {
        let s = self.staged(obj)?;
        let meta = s.meta.clone().expect("caller touched the object");
        let upto = upto.min(meta.size);
        let whole = match meta.loc {
            DataLoc::Inline => {
                if let Some(v) = &s.inline {
                    return Ok(v[..upto as usize].to_vec());
                }
                let key = s.key.clone();
                let v = self
                    .store
                    .db
                    .get_cf(self.store.cf(CF_DATA), &key)?
                    .unwrap_or_default();
                if v.len() as u64 != meta.size {
                    return Err(self.corruption(
                        obj,
                        0,
                        &format!(
                            "inline data is {} bytes, metadata says {}",
                            v.len(),
                            meta.size
                        ),
                    ));
                }
                v
            }
            DataLoc::Blob(id) => {
                let end = upto
                    .div_ceil(CSUM_BLOCK)
                    .saturating_mul(CSUM_BLOCK)
                    .min(meta.size);
                self.read_blob(obj, id, 0, end)?
            }
        };
        if let Err(at) = verify(&whole, 0, &meta.crcs) {
            return Err(self.corruption(obj, at, "checksum mismatch"));
        }
        if meta.loc == DataLoc::Inline {
            let s = self.staged(obj)?;
            s.inline = Some(whole.clone());
        }
        Ok(whole[..upto as usize].to_vec())
    }

    /// Replaces the whole content: inline if small, else a new blob.
    fn set_content(&mut self, obj: &ObjectId, data: Vec<u8>) -> Result<()> {
        let inline_max = self.store.opts.inline_max;
        let crcs = block_crcs(&data);
        let size = data.len() as u64;
        let loc = if size <= inline_max {
            DataLoc::Inline
        } else {
            let (id, f) = self.store.blobs.create_blob()?;
            self.store.blobs.write_at(id, &f, &data, 0)?;
            self.files.insert(id, (f, true));
            DataLoc::Blob(id)
        };
        let s = self.staged(obj)?;
        let m = s.meta.as_mut().expect("caller touched the object");
        m.size = size;
        m.crcs = crcs;
        m.loc = loc;
        if loc == DataLoc::Inline {
            s.inline = Some(data);
            s.inline_dirty = true;
        } else {
            s.inline = None;
        }
        Ok(())
    }

    /// Writes into a blob past the object's committed end (never over
    /// committed bytes), then recomputes the checksums from the block that
    /// held the old end, after verifying what that block already held.
    fn write_blob_tail(&mut self, obj: &ObjectId, id: u64, offset: u64, data: &[u8]) -> Result<()> {
        let meta = self.staged(obj)?.meta.clone().expect("touched");
        let old = meta.size;
        let first_block = old / CSUM_BLOCK;
        let block_start = first_block * CSUM_BLOCK;
        let existing = self.read_blob(obj, id, block_start, old)?;
        if verify(&existing, first_block, &meta.crcs).is_err() {
            return Err(self.corruption(obj, block_start, "checksum mismatch"));
        }
        if !self.files.contains_key(&id) {
            let f = self.store.blobs.open_write(id)?;
            self.files.insert(id, (f, false));
        }
        let f = &self.files[&id].0;
        if offset > old {
            self.store
                .blobs
                .write_at(id, f, &vec![0u8; (offset - old) as usize], old)?;
        }
        self.store.blobs.write_at(id, f, data, offset)?;
        let new_size = old.max(offset + data.len() as u64);
        let tail = self.read_blob(obj, id, block_start, new_size)?;
        let m = self.staged(obj)?.meta.as_mut().expect("touched");
        m.crcs.truncate(first_block as usize);
        m.crcs.extend(block_crcs(&tail));
        m.size = new_size;
        Ok(())
    }

    /// Writes `data` at `offset`: inline objects are patched in memory;
    /// blobs are extended in place past their end, and otherwise copied
    /// (committed bytes are never overwritten).
    fn write(&mut self, obj: &ObjectId, offset: u64, data: &[u8]) -> Result<()> {
        self.touch(obj)?;
        let meta = self.staged(obj)?.meta.clone().expect("touched");
        let new_size = meta.size.max(offset + data.len() as u64);
        match meta.loc {
            DataLoc::Blob(id) if new_size > self.store.opts.inline_max && offset >= meta.size => {
                self.write_blob_tail(obj, id, offset, data)
            }
            _ => {
                let mut full = self.load(obj, meta.size)?;
                full.resize(new_size as usize, 0);
                full[offset as usize..offset as usize + data.len()].copy_from_slice(data);
                self.set_content(obj, full)
            }
        }
    }

    fn truncate(&mut self, obj: &ObjectId, size: u64) -> Result<()> {
        self.touch(obj)?;
        let meta = self.staged(obj)?.meta.clone().expect("touched");
        match meta.loc {
            DataLoc::Blob(id) if size > self.store.opts.inline_max => {
                if size > meta.size {
                    return self.write_blob_tail(
                        obj,
                        id,
                        meta.size,
                        &vec![0u8; (size - meta.size) as usize],
                    );
                }
                // Shrinking a blob: only metadata changes; the last kept
                // block's checksum now covers a prefix of what it held.
                let last = size.div_ceil(CSUM_BLOCK);
                let block_start = (last.saturating_sub(1)) * CSUM_BLOCK;
                let block_end = (block_start + CSUM_BLOCK).min(meta.size);
                let bytes = self.read_blob(obj, id, block_start, block_end)?;
                if verify(&bytes, block_start / CSUM_BLOCK, &meta.crcs).is_err() {
                    return Err(self.corruption(obj, block_start, "checksum mismatch"));
                }
                let m = self.staged(obj)?.meta.as_mut().expect("touched");
                m.crcs.truncate(last as usize);
                if let Some(c) = m.crcs.last_mut() {
                    *c = crc32c::crc32c(&bytes[..(size - block_start) as usize]);
                }
                m.size = size;
                Ok(())
            }
            _ => {
                let mut full = self.load(obj, size)?;
                full.resize(size as usize, 0);
                self.set_content(obj, full)
            }
        }
    }

    fn zero(&mut self, obj: &ObjectId, offset: u64, len: u64) -> Result<()> {
        self.touch(obj)?;
        let size = self.staged(obj)?.meta.as_ref().expect("touched").size;
        let end = offset.saturating_add(len).min(size);
        if offset >= end {
            return Ok(());
        }
        let mut full = self.load(obj, size)?;
        full[offset as usize..end as usize].fill(0);
        self.set_content(obj, full)
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
            Op::Remove { obj } => {
                let s = self.staged(obj)?;
                if s.meta.is_none() {
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
        for e in &t.log {
            self.batch.put_cf(
                s.cf(CF_LOG),
                keys::log_key(&self.coll, e.version),
                encode(e),
            );
        }
        if let Some(v) = t.trim_log_to {
            let mut end = keys::log_key(&self.coll, v);
            end.push(0);
            self.batch
                .delete_range_cf(s.cf(CF_LOG), keys::coll_prefix(&self.coll).to_vec(), end);
        }
        if let Some(info) = &t.info {
            self.batch
                .put_cf(s.cf(CF_INFO), keys::coll_prefix(&self.coll), encode(info));
        }
        Ok(unlink)
    }
}
