//! An object store in memory, for fast tests of PG logic and the
//! deterministic simulation. It keeps the same semantics as
//! [`RocksStore`](super::RocksStore) (same errors, same limits, listing in
//! the same hash order) and models a crash: with `set_sync(false)`,
//! submitted transactions stay pending until [`MemStore::sync`], and
//! [`MemStore::crash`] drops whatever is pending, as a power loss drops
//! writes that were never synced.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::error::StoreError;
use super::keys;
use super::options::{validate, StoreOptions};
use super::transaction::{CollectionSplit, MetaOp, Op, Transaction};
use super::types::{CollectionId, ObjectId, ObjectStat, OmapPage, Version};
use super::{FsckReport, ListCursor, ListPage, ObjectStore, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct MemObject {
    data: Vec<u8>,
    mtime_ns: u64,
    version: Version,
    xattrs: BTreeMap<String, Vec<u8>>,
    omap: BTreeMap<Vec<u8>, Vec<u8>>,
    header: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
struct MemColl {
    /// By object key (the RocksDB store's key: hash order).
    objects: BTreeMap<Vec<u8>, (ObjectId, MemObject)>,
    meta: BTreeMap<Vec<u8>, Vec<u8>>,
}

#[derive(Default)]
struct State {
    /// What survives a crash.
    durable: BTreeMap<CollectionId, MemColl>,
    /// Durable plus the transactions not yet synced, in order.
    current: BTreeMap<CollectionId, MemColl>,
    pending: usize,
    sync: bool,
}

/// The in-memory [`ObjectStore`].
pub struct MemStore {
    opts: StoreOptions,
    state: Mutex<State>,
}

impl MemStore {
    /// An empty store whose transactions are durable when `submit` returns.
    pub fn new(opts: StoreOptions) -> MemStore {
        MemStore {
            opts,
            state: Mutex::new(State {
                sync: true,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// With `false`, transactions are applied but not durable until `sync`.
    pub fn set_sync(&self, sync: bool) {
        let mut s = self.lock();
        s.sync = sync;
        if sync {
            s.durable = s.current.clone();
            s.pending = 0;
        }
    }

    /// Makes every applied transaction durable.
    pub fn sync(&self) {
        let mut s = self.lock();
        s.durable = s.current.clone();
        s.pending = 0;
    }

    /// Transactions applied but not yet durable.
    pub fn pending(&self) -> usize {
        self.lock().pending
    }

    /// Loses every transaction that was not synced.
    pub fn crash(&self) {
        let mut s = self.lock();
        s.current = s.durable.clone();
        s.pending = 0;
    }

    fn commit(&self, s: &mut State) {
        if s.sync {
            s.durable = s.current.clone();
        } else {
            s.pending += 1;
        }
    }

    fn with_coll<T>(&self, c: &CollectionId, f: impl FnOnce(&MemColl) -> Result<T>) -> Result<T> {
        let s = self.lock();
        let coll = s.current.get(c).ok_or(StoreError::NoSuchCollection(*c))?;
        f(coll)
    }

    fn with_object<T>(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        f: impl FnOnce(&MemObject) -> Result<T>,
    ) -> Result<T> {
        self.with_coll(c, |coll| {
            let (_, obj) = coll.objects.get(&keys::object_key(c, o)).ok_or_else(|| {
                StoreError::NoSuchObject {
                    coll: *c,
                    obj: o.clone(),
                }
            })?;
            f(obj)
        })
    }
}

/// The objects one transaction touches, staged so that a failing op
/// leaves nothing behind.
struct Staging<'a> {
    coll: CollectionId,
    base: &'a MemColl,
    /// `None`: the object does not exist (any more).
    objects: BTreeMap<Vec<u8>, (ObjectId, Option<MemObject>, bool)>,
    max_object_size: u64,
}

impl Staging<'_> {
    fn get(&mut self, obj: &ObjectId) -> &mut (ObjectId, Option<MemObject>, bool) {
        let key = keys::object_key(&self.coll, obj);
        let base = self.base;
        self.objects.entry(key.clone()).or_insert_with(|| {
            let o = base.objects.get(&key).map(|(_, o)| o.clone());
            (obj.clone(), o, false)
        })
    }

    fn exists(&mut self, obj: &ObjectId) -> bool {
        self.get(obj).1.is_some()
    }

    /// The object, created empty if needed, marked as written.
    fn touch(&mut self, obj: &ObjectId) -> &mut MemObject {
        let e = self.get(obj);
        e.2 = true;
        e.1.get_or_insert_with(MemObject::default)
    }

    fn too_large(&self, obj: &ObjectId, size: u64) -> Result<()> {
        if size > self.max_object_size {
            return Err(StoreError::TooLarge {
                what: format!("object {obj}"),
                size,
                max: self.max_object_size,
            });
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<()> {
        let coll = self.coll;
        match op {
            Op::Create { obj, exclusive } => {
                if *exclusive && self.exists(obj) {
                    return Err(StoreError::ObjectExists {
                        coll,
                        obj: obj.clone(),
                    });
                }
                self.touch(obj);
            }
            Op::Write { obj, offset, data } => {
                let o = self.touch(obj);
                let end = *offset as usize + data.len();
                if o.data.len() < end {
                    o.data.resize(end, 0);
                }
                o.data[*offset as usize..end].copy_from_slice(data);
            }
            Op::WriteFull { obj, data } => self.touch(obj).data = data.clone(),
            Op::Append { obj, data } => {
                let size = self.touch(obj).data.len() as u64;
                self.too_large(obj, size + data.len() as u64)?;
                self.touch(obj).data.extend_from_slice(data);
            }
            Op::Truncate { obj, size } => self.touch(obj).data.resize(*size as usize, 0),
            Op::Zero { obj, offset, len } => {
                let o = self.touch(obj);
                let size = o.data.len() as u64;
                let end = offset.saturating_add(*len).min(size);
                if *offset < end {
                    o.data[*offset as usize..end as usize].fill(0);
                }
            }
            Op::Remove { obj } | Op::Discard { obj } => {
                let e = self.get(obj);
                if e.1.is_none() {
                    if matches!(op, Op::Discard { .. }) {
                        return Ok(());
                    }
                    return Err(StoreError::NoSuchObject {
                        coll,
                        obj: obj.clone(),
                    });
                }
                e.1 = None;
                e.2 = false;
            }
            Op::SetXattr { obj, name, value } => {
                self.touch(obj).xattrs.insert(name.clone(), value.clone());
            }
            Op::RmXattr { obj, name } => {
                let e = self.get(obj);
                let Some(o) = e.1.as_mut() else {
                    return Err(StoreError::NoSuchObject {
                        coll,
                        obj: obj.clone(),
                    });
                };
                if o.xattrs.remove(name).is_none() {
                    return Err(StoreError::NoSuchXattr {
                        coll,
                        obj: obj.clone(),
                        name: name.clone(),
                    });
                }
                e.2 = true;
            }
            Op::OmapSetHeader { obj, header } => self.touch(obj).header = header.clone(),
            Op::OmapSet { obj, entries } => {
                let o = self.touch(obj);
                for (k, v) in entries {
                    o.omap.insert(k.clone(), v.clone());
                }
            }
            Op::OmapRmKeys { obj, keys } => {
                let o = self.touch(obj);
                for k in keys {
                    o.omap.remove(k);
                }
            }
            Op::OmapRmRange { obj, start, end } => {
                let o = self.touch(obj);
                if start < end {
                    let doomed: Vec<Vec<u8>> = o
                        .omap
                        .range(start.clone()..end.clone())
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        o.omap.remove(&k);
                    }
                }
            }
            Op::OmapClear { obj } => {
                let o = self.touch(obj);
                o.omap.clear();
                o.header.clear();
            }
        }
        Ok(())
    }
}

fn apply_meta(meta: &mut BTreeMap<Vec<u8>, Vec<u8>>, m: &MetaOp) {
    match m {
        MetaOp::Put { key, value } => {
            meta.insert(key.clone(), value.clone());
        }
        MetaOp::Delete { key } => {
            meta.remove(key);
        }
        MetaOp::DeleteRange { start, end } => {
            if start < end {
                let doomed: Vec<Vec<u8>> = meta
                    .range(start.clone()..end.clone())
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    meta.remove(&k);
                }
            }
        }
    }
}

impl ObjectStore for MemStore {
    fn create_collection(&self, c: &CollectionId) -> Result<()> {
        let mut s = self.lock();
        if s.current.contains_key(c) {
            return Err(StoreError::CollectionExists(*c));
        }
        s.current.insert(*c, MemColl::default());
        self.commit(&mut s);
        Ok(())
    }

    fn remove_collection(&self, c: &CollectionId) -> Result<()> {
        let mut s = self.lock();
        if s.current.remove(c).is_none() {
            return Err(StoreError::NoSuchCollection(*c));
        }
        self.commit(&mut s);
        Ok(())
    }

    fn collection_exists(&self, c: &CollectionId) -> Result<bool> {
        Ok(self.lock().current.contains_key(c))
    }

    fn list_collections(&self) -> Result<Vec<CollectionId>> {
        Ok(self.lock().current.keys().copied().collect())
    }

    fn submit(&self, t: Transaction) -> Result<()> {
        validate(&t, &self.opts)?;
        let mut s = self.lock();
        let base = s
            .current
            .get(&t.coll)
            .ok_or(StoreError::NoSuchCollection(t.coll))?;
        let mut st = Staging {
            coll: t.coll,
            base,
            objects: BTreeMap::new(),
            max_object_size: self.opts.max_object_size,
        };
        for op in &t.ops {
            st.apply(op)?;
        }
        let staged = st.objects;
        let coll = s.current.get_mut(&t.coll).expect("checked above");
        for (key, (id, obj, written)) in staged {
            match obj {
                None => {
                    coll.objects.remove(&key);
                }
                Some(mut o) => {
                    if written {
                        o.version = t.version;
                        o.mtime_ns = t.mtime_ns;
                    }
                    coll.objects.insert(key, (id, o));
                }
            }
        }
        for m in &t.meta {
            apply_meta(&mut coll.meta, m);
        }
        self.commit(&mut s);
        Ok(())
    }

    fn split_collection(&self, sp: &CollectionSplit) -> Result<u64> {
        let mut s = self.lock();
        let mut parent = s
            .current
            .get(&sp.from)
            .cloned()
            .ok_or(StoreError::NoSuchCollection(sp.from))?;
        let mut children = BTreeMap::new();
        for (c, meta) in &sp.children {
            if s.current.contains_key(c) {
                return Err(StoreError::CollectionExists(*c));
            }
            let mut child = MemColl::default();
            for m in meta {
                apply_meta(&mut child.meta, m);
            }
            children.insert(*c, child);
        }
        let mut moved = 0;
        for (key, (id, obj)) in std::mem::take(&mut parent.objects) {
            match sp
                .destination(&id)
                .and_then(|c| children.get_mut(&c).map(|m| (c, m)))
            {
                Some((c, child)) => {
                    child.objects.insert(keys::object_key(&c, &id), (id, obj));
                    moved += 1;
                }
                None => {
                    parent.objects.insert(key, (id, obj));
                }
            }
        }
        for m in &sp.parent_meta {
            apply_meta(&mut parent.meta, m);
        }
        s.current.insert(sp.from, parent);
        s.current.extend(children);
        self.commit(&mut s);
        Ok(moved)
    }

    fn stat(&self, c: &CollectionId, o: &ObjectId) -> Result<ObjectStat> {
        self.with_object(c, o, |m| {
            Ok(ObjectStat {
                size: m.data.len() as u64,
                mtime_ns: m.mtime_ns,
                version: m.version,
            })
        })
    }

    fn read(&self, c: &CollectionId, o: &ObjectId, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.with_object(c, o, |m| {
            let size = m.data.len() as u64;
            let start = offset.min(size);
            let end = offset.saturating_add(len).min(size);
            Ok(m.data[start as usize..end as usize].to_vec())
        })
    }

    fn getxattr(&self, c: &CollectionId, o: &ObjectId, name: &str) -> Result<Vec<u8>> {
        self.with_object(c, o, |m| {
            m.xattrs
                .get(name)
                .cloned()
                .ok_or_else(|| StoreError::NoSuchXattr {
                    coll: *c,
                    obj: o.clone(),
                    name: name.to_string(),
                })
        })
    }

    fn getxattrs(&self, c: &CollectionId, o: &ObjectId) -> Result<Vec<(String, Vec<u8>)>> {
        self.with_object(c, o, |m| {
            Ok(m.xattrs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        })
    }

    fn omap_header(&self, c: &CollectionId, o: &ObjectId) -> Result<Vec<u8>> {
        self.with_object(c, o, |m| Ok(m.header.clone()))
    }

    fn omap_get(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        keys: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.with_object(c, o, |m| {
            Ok(keys
                .iter()
                .filter_map(|k| m.omap.get(k).map(|v| (k.clone(), v.clone())))
                .collect())
        })
    }

    fn omap_list(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        start_after: Option<&[u8]>,
        prefix: Option<&[u8]>,
        max: usize,
    ) -> Result<OmapPage> {
        self.with_object(c, o, |m| {
            let mut page = OmapPage::default();
            for (k, v) in &m.omap {
                if start_after.is_some_and(|a| k.as_slice() <= a) {
                    continue;
                }
                if let Some(p) = prefix {
                    if !k.starts_with(p) {
                        if k.as_slice() > p {
                            break;
                        }
                        continue;
                    }
                }
                if page.entries.len() == max {
                    page.more = true;
                    break;
                }
                page.entries.push((k.clone(), v.clone()));
            }
            Ok(page)
        })
    }

    fn list_objects(
        &self,
        c: &CollectionId,
        after: Option<&ListCursor>,
        max: usize,
    ) -> Result<ListPage> {
        let prefix = keys::coll_prefix(c);
        if after.is_some_and(|a| !a.0.starts_with(&prefix)) {
            return Err(StoreError::Invalid(format!(
                "listing cursor does not belong to PG {c}"
            )));
        }
        self.with_coll(c, |coll| {
            let mut page = ListPage {
                objects: Vec::new(),
                next: None,
            };
            let range = match after {
                Some(a) => coll.objects.range::<Vec<u8>, _>((
                    std::ops::Bound::Excluded(&a.0),
                    std::ops::Bound::Unbounded,
                )),
                None => coll.objects.range::<Vec<u8>, _>(..),
            };
            for (_, (id, _)) in range {
                if page.objects.len() == max {
                    page.next = page
                        .objects
                        .last()
                        .map(|o| ListCursor(keys::object_key(c, o)));
                    break;
                }
                page.objects.push(id.clone());
            }
            Ok(page)
        })
    }

    fn meta_get(&self, c: &CollectionId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_coll(c, |coll| Ok(coll.meta.get(key).cloned()))
    }

    fn meta_scan(
        &self,
        c: &CollectionId,
        start: &[u8],
        end: Option<&[u8]>,
        max: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.with_coll(c, |coll| {
            Ok(coll
                .meta
                .range::<[u8], _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
                .take_while(|(k, _)| end.is_none_or(|e| k.as_slice() < e))
                .take(max)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        })
    }

    fn fsck(&self, _deep: bool) -> Result<FsckReport> {
        let s = self.lock();
        Ok(FsckReport {
            collections: s.current.len() as u64,
            objects: s.current.values().map(|c| c.objects.len() as u64).sum(),
            ..FsckReport::default()
        })
    }
}

impl MemStore {
    /// Every object of a PG with its whole state, for comparing members in
    /// tests: (object, version, data, xattrs, omap header, omap).
    #[allow(clippy::type_complexity)]
    pub fn dump(
        &self,
        c: &CollectionId,
    ) -> Vec<(
        ObjectId,
        Version,
        Vec<u8>,
        Vec<(String, Vec<u8>)>,
        Vec<u8>,
        Vec<(Vec<u8>, Vec<u8>)>,
    )> {
        let s = self.lock();
        let Some(coll) = s.current.get(c) else {
            return Vec::new();
        };
        coll.objects
            .values()
            .map(|(id, o)| {
                (
                    id.clone(),
                    o.version,
                    o.data.clone(),
                    o.xattrs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    o.header.clone(),
                    o.omap.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                )
            })
            .collect()
    }
}
