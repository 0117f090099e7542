//! The object store: where an OSD keeps its placement groups.
//!
//! [`ObjectStore`] is the boundary the rest of the OSD programs against; it
//! does not mention RocksDB. [`RocksStore`] is the real implementation:
//! every [`Transaction`] (object ops of one PG plus its PG metadata: info,
//! log, missing set, as the PG layer lays them out) becomes one synced
//! RocksDB write batch, large object data goes to
//! blob files made durable first, and every data block carries a crc32c that
//! is checked on every read.

mod checksum;
mod codec;
mod error;
pub mod export;
mod keys;
pub mod mem;
mod object_state;
mod options;
mod rocks;
mod transaction;
mod types;

pub use error::StoreError;
pub use mem::MemStore;
pub use object_state::ObjectState;
pub(crate) use options::validate;
pub use options::StoreOptions;
pub use rocks::RocksStore;
pub use transaction::{CollectionSplit, MetaOp, Op, Transaction};
pub use types::{CollectionId, FsckIssue, FsckReport, ObjectId, ObjectStat, OmapPage, Version};

pub type Result<T> = std::result::Result<T, StoreError>;

/// Keys and values of a PG's metadata, in key order.
pub type MetaEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// A page of a collection's listing; `next` resumes after the last item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectId>,
    pub next: Option<ListCursor>,
}

/// Where a listing stopped (opaque; printable as hex for tools).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListCursor(pub Vec<u8>);

impl ListCursor {
    /// A cursor that resumes a listing of `c` after the object whose
    /// [`ObjectId::sort_key`] is `key`.
    pub fn after_key(c: &CollectionId, key: &[u8]) -> ListCursor {
        let mut k = keys::coll_prefix(c).to_vec();
        k.extend_from_slice(key);
        ListCursor(k)
    }
}

/// What an OSD needs from its local storage.
pub trait ObjectStore: Send + Sync {
    /// Creates an empty collection (a PG, or a PG shard).
    fn create_collection(&self, c: &CollectionId) -> Result<()>;
    /// Removes a collection and everything in it.
    fn remove_collection(&self, c: &CollectionId) -> Result<()>;
    fn collection_exists(&self, c: &CollectionId) -> Result<bool>;
    fn list_collections(&self) -> Result<Vec<CollectionId>>;

    /// Applies a transaction atomically; when it returns `Ok`, it is durable.
    fn submit(&self, t: Transaction) -> Result<()>;

    /// Applies transactions in order, each atomically and each seeing the
    /// ones before it, and makes them durable together (one sync for the
    /// group). A transaction that fails leaves nothing behind and does not
    /// stop the others; when this returns, every `Ok` is durable.
    fn submit_group(&self, ts: Vec<Transaction>) -> Vec<Result<()>> {
        ts.into_iter().map(|t| self.submit(t)).collect()
    }

    /// Splits a collection (see [`CollectionSplit`]); returns how many
    /// objects moved. Durable when it returns `Ok`.
    fn split_collection(&self, s: &CollectionSplit) -> Result<u64>;

    fn stat(&self, c: &CollectionId, o: &ObjectId) -> Result<ObjectStat>;
    /// Reads `len` bytes at `offset` (fewer at the end of the object).
    fn read(&self, c: &CollectionId, o: &ObjectId, offset: u64, len: u64) -> Result<Vec<u8>>;
    fn getxattr(&self, c: &CollectionId, o: &ObjectId, name: &str) -> Result<Vec<u8>>;
    fn getxattrs(&self, c: &CollectionId, o: &ObjectId) -> Result<Vec<(String, Vec<u8>)>>;
    fn omap_header(&self, c: &CollectionId, o: &ObjectId) -> Result<Vec<u8>>;
    /// Values of the given keys; missing keys are left out.
    fn omap_get(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        keys: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Keys in order, after `start_after`, starting with `prefix`, at most `max`.
    fn omap_list(
        &self,
        c: &CollectionId,
        o: &ObjectId,
        start_after: Option<&[u8]>,
        prefix: Option<&[u8]>,
        max: usize,
    ) -> Result<OmapPage>;

    /// Objects in hash order, `max` at a time, resuming after `after`.
    fn list_objects(
        &self,
        c: &CollectionId,
        after: Option<&ListCursor>,
        max: usize,
    ) -> Result<ListPage>;

    /// One key of the PG's metadata.
    fn meta_get(&self, c: &CollectionId, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// The PG's metadata keys in `[start, end)` (`end` `None`: to the last),
    /// in order, at most `max`.
    fn meta_scan(
        &self,
        c: &CollectionId,
        start: &[u8],
        end: Option<&[u8]>,
        max: usize,
    ) -> Result<MetaEntries>;

    /// Checks metadata consistency, and with `deep` every block checksum.
    fn fsck(&self, deep: bool) -> Result<FsckReport>;
}
