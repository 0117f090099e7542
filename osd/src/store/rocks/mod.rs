//! The RocksDB object store.
//!
//! Column families: `meta` (object metadata: size, mtime, version, where the
//! data is, block checksums), `data` (small objects' bytes, inline), `xattr`,
//! `omap`, `colls` (collections), `blobs` (which blob file belongs to which
//! object) and `pgmeta` (each PG's own metadata, keyed by the collection
//! prefix and the PG layer's key). Objects larger than
//! [`StoreOptions::inline_max`] keep their bytes in blob files of their own
//! under `blobs/` (see `blob.rs`), written and fdatasync'd before the batch
//! that references them commits; every transaction is one synced write batch.

mod blob;
mod collection;
mod fsck;
mod read;
mod split;
mod stage_data;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rkyv::{Archive, Deserialize, Serialize};
use rocksdb::{ColumnFamilyDescriptor, Options, DB};

use super::codec::{decode, encode};
use super::error::StoreError;
use super::types::{CollectionId, Version};
use super::Result;
use super::StoreOptions;
use blob::BlobDir;

pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_DATA: &str = "data";
pub(crate) const CF_XATTR: &str = "xattr";
pub(crate) const CF_OMAP: &str = "omap";
pub(crate) const CF_COLLS: &str = "colls";
pub(crate) const CF_BLOBS: &str = "blobs";
pub(crate) const CF_PGMETA: &str = "pgmeta";
const ALL_CFS: [&str; 7] = [
    CF_META, CF_DATA, CF_XATTR, CF_OMAP, CF_COLLS, CF_BLOBS, CF_PGMETA,
];

const SUPERBLOCK_KEY: &[u8] = b"superblock";
/// A file that marks a directory as a Strata object store.
const MARKER_FILE: &str = "strata-objectstore";

/// Identity of a store, written by mkfs.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub fsid: String,
    pub created_ns: u64,
}

/// Per-collection record.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct CollMeta {
    /// Set while `import` is filling the collection; an interrupted import
    /// leaves it set, and fsck reports it.
    pub importing: bool,
}

/// Where an object's bytes are.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataLoc {
    Inline,
    Blob(u64),
}

/// What `meta` holds per object.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectMeta {
    pub size: u64,
    pub mtime_ns: u64,
    pub version: Version,
    pub loc: DataLoc,
    /// crc32c of each `CSUM_BLOCK` of data.
    pub crcs: Vec<u32>,
}

/// The RocksDB-backed [`ObjectStore`](super::ObjectStore).
pub struct RocksStore {
    path: PathBuf,
    db: DB,
    blobs: BlobDir,
    opts: StoreOptions,
    /// Transactions of one collection apply one at a time (striped locks).
    locks: Vec<Mutex<()>>,
    superblock: Superblock,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.path)
            .field("fsid", &self.superblock.fsid)
            .finish()
    }
}

/// Per column family: bloom filters, so that looking up an object that
/// does not exist yet (every create) rarely touches a data block.
fn cf_options() -> Options {
    let mut b = rocksdb::BlockBasedOptions::default();
    b.set_bloom_filter(10.0, false);
    let mut o = Options::default();
    o.set_block_based_table_factory(&b);
    o
}

fn db_options(create: bool) -> Options {
    let mut o = Options::default();
    o.create_if_missing(create);
    // Stores made by an older build gain the column families added since.
    o.create_missing_column_families(true);
    o.set_max_background_jobs(2);
    o.set_bytes_per_sync(1 << 20);
    o.set_keep_log_file_num(4);
    o.set_max_total_wal_size(256 << 20);
    // Writers waiting for a group commit block instead of spinning: with
    // many submitters and few cores, spinning steals the CPU the commit
    // leader needs (measured: see docs/objectstore.md).
    o.set_enable_write_thread_adaptive_yield(false);
    o
}

impl RocksStore {
    /// Creates a new, empty store in `path` (which must not hold one).
    pub fn mkfs(path: &Path, opts: StoreOptions) -> Result<RocksStore> {
        if path.join(MARKER_FILE).exists() {
            return Err(StoreError::Invalid(format!(
                "{} already holds an object store",
                path.display()
            )));
        }
        std::fs::create_dir_all(path).map_err(|e| StoreError::io(path.display(), e))?;
        let cfs = ALL_CFS
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, cf_options()));
        let db = DB::open_cf_descriptors(&db_options(true), path.join("db"), cfs)?;
        let superblock = Superblock {
            fsid: hex::encode(rand::random::<[u8; 16]>()),
            created_ns: now_ns(),
        };
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        db.put_opt(SUPERBLOCK_KEY, encode(&superblock), &wo)?;
        drop(db);
        BlobDir::create(&path.join("blobs"))?;
        let marker = path.join(MARKER_FILE);
        std::fs::write(&marker, format!("fsid {}\n", superblock.fsid))
            .map_err(|e| StoreError::io(marker.display(), e))?;
        sync_dir(path)?;
        RocksStore::open(path, opts)
    }

    /// Opens an existing store, reclaiming blob files an interrupted
    /// transaction left behind.
    pub fn open(path: &Path, opts: StoreOptions) -> Result<RocksStore> {
        if !path.join(MARKER_FILE).exists() {
            return Err(StoreError::Invalid(format!(
                "{} is not a Strata object store (create one with mkfs)",
                path.display()
            )));
        }
        let cfs = ALL_CFS
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, cf_options()));
        let db = DB::open_cf_descriptors(&db_options(false), path.join("db"), cfs)?;
        let raw = db
            .get(SUPERBLOCK_KEY)?
            .ok_or_else(|| StoreError::BadMetadata {
                what: "superblock".into(),
                detail: "missing".into(),
            })?;
        let superblock: Superblock = decode("superblock", &raw)?;
        let blobs = BlobDir::open(&path.join("blobs"))?;
        let store = RocksStore {
            path: path.to_path_buf(),
            db,
            blobs,
            opts,
            locks: (0..64).map(|_| Mutex::new(())).collect(),
            superblock,
        };
        store.reclaim_orphan_blobs()?;
        Ok(store)
    }

    /// Opens the store in `path`, creating it first if there is none.
    pub fn open_or_mkfs(path: &Path, opts: StoreOptions) -> Result<RocksStore> {
        if path.join(MARKER_FILE).exists() {
            RocksStore::open(path, opts)
        } else {
            RocksStore::mkfs(path, opts)
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fsid(&self) -> &str {
        &self.superblock.fsid
    }

    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created by mkfs")
    }

    fn lock_index(&self, c: &CollectionId) -> usize {
        let h = (c.pool as usize)
            .wrapping_mul(31)
            .wrapping_add(c.seed as usize)
            .wrapping_mul(7)
            .wrapping_add(c.shard.map_or(0, usize::from));
        h % self.locks.len()
    }

    fn lock(&self, c: &CollectionId) -> MutexGuard<'_, ()> {
        // A poisoned lock only means another submitter panicked; the store's
        // state is in RocksDB, not behind the lock.
        self.locks[self.lock_index(c)]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The locks of several collections, taken in one order (no deadlock
    /// with another caller locking an overlapping set).
    fn lock_all(&self, cs: &[CollectionId]) -> Vec<MutexGuard<'_, ()>> {
        let mut idx: Vec<usize> = cs.iter().map(|c| self.lock_index(c)).collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter()
            .map(|i| self.locks[i].lock().unwrap_or_else(|p| p.into_inner()))
            .collect()
    }

    /// Blob files that no committed record refers to are garbage from an
    /// interrupted transaction (or a crash between commit and unlink).
    fn reclaim_orphan_blobs(&self) -> Result<()> {
        for id in self.orphan_blobs()? {
            self.blobs.remove(id);
        }
        Ok(())
    }

    pub(crate) fn orphan_blobs(&self) -> Result<Vec<u64>> {
        let mut orphans = Vec::new();
        for id in self.blobs.list()? {
            if self
                .db
                .get_cf(self.cf(CF_BLOBS), id.to_be_bytes())?
                .is_none()
            {
                orphans.push(id);
            }
        }
        Ok(orphans)
    }

    pub(crate) fn coll_meta(&self, c: &CollectionId) -> Result<Option<CollMeta>> {
        let raw = self
            .db
            .get_cf(self.cf(CF_COLLS), super::keys::coll_prefix(c))?;
        raw.map(|r| decode("collection record", &r)).transpose()
    }

    pub(crate) fn object_meta(&self, key: &[u8]) -> Result<Option<ObjectMeta>> {
        let raw = self.db.get_cf(self.cf(CF_META), key)?;
        raw.map(|r| decode("object metadata", &r)).transpose()
    }
}

pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(path.display(), e))
}

impl super::ObjectStore for RocksStore {
    fn create_collection(&self, c: &CollectionId) -> Result<()> {
        self.create_collection_impl(c, false)
    }
    fn remove_collection(&self, c: &CollectionId) -> Result<()> {
        self.remove_collection_impl(c)
    }
    fn collection_exists(&self, c: &CollectionId) -> Result<bool> {
        Ok(self.coll_meta(c)?.is_some())
    }
    fn list_collections(&self) -> Result<Vec<CollectionId>> {
        self.list_collections_impl()
    }
    fn submit(&self, t: super::Transaction) -> Result<()> {
        self.submit_impl(t)
    }
    fn submit_group(&self, ts: Vec<super::Transaction>) -> Vec<Result<()>> {
        self.submit_group_impl(ts)
    }
    fn split_collection(&self, s: &super::CollectionSplit) -> Result<u64> {
        self.split_impl(s)
    }
    fn stat(&self, c: &CollectionId, o: &super::ObjectId) -> Result<super::ObjectStat> {
        self.stat_impl(c, o)
    }
    fn read(
        &self,
        c: &CollectionId,
        o: &super::ObjectId,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        self.read_impl(c, o, offset, len)
    }
    fn getxattr(&self, c: &CollectionId, o: &super::ObjectId, name: &str) -> Result<Vec<u8>> {
        self.getxattr_impl(c, o, name)
    }
    fn getxattrs(&self, c: &CollectionId, o: &super::ObjectId) -> Result<Vec<(String, Vec<u8>)>> {
        self.getxattrs_impl(c, o)
    }
    fn omap_header(&self, c: &CollectionId, o: &super::ObjectId) -> Result<Vec<u8>> {
        self.omap_header_impl(c, o)
    }
    fn omap_get(
        &self,
        c: &CollectionId,
        o: &super::ObjectId,
        keys: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.omap_get_impl(c, o, keys)
    }
    fn omap_list(
        &self,
        c: &CollectionId,
        o: &super::ObjectId,
        start_after: Option<&[u8]>,
        prefix: Option<&[u8]>,
        max: usize,
    ) -> Result<super::OmapPage> {
        self.omap_list_impl(c, o, start_after, prefix, max)
    }
    fn list_objects(
        &self,
        c: &CollectionId,
        after: Option<&super::ListCursor>,
        max: usize,
    ) -> Result<super::ListPage> {
        self.list_objects_impl(c, after, max)
    }
    fn meta_get(&self, c: &CollectionId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.meta_get_impl(c, key)
    }
    fn meta_scan(
        &self,
        c: &CollectionId,
        start: &[u8],
        end: Option<&[u8]>,
        max: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.meta_scan_impl(c, start, end, max)
    }
    fn fsck(&self, deep: bool) -> Result<super::FsckReport> {
        self.fsck_impl(deep)
    }
}
