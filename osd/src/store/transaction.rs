//! A transaction: ordered operations on objects of one collection and the
//! changes to the PG metadata they belong to, applied all or nothing.

use rkyv::{Archive, Deserialize, Serialize};

use super::types::{CollectionId, ObjectId, Version};

/// One operation on an object. Operations that write create the object if
/// it does not exist yet; `Remove` requires it to exist.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum Op {
    /// Creates an empty object; with `exclusive`, fails if it exists.
    Create {
        obj: ObjectId,
        exclusive: bool,
    },
    /// Writes `data` at `offset`, zero-filling any gap past the end.
    Write {
        obj: ObjectId,
        offset: u64,
        data: Vec<u8>,
    },
    /// Replaces the whole content.
    WriteFull {
        obj: ObjectId,
        data: Vec<u8>,
    },
    Append {
        obj: ObjectId,
        data: Vec<u8>,
    },
    /// Cuts or zero-extends to `size`.
    Truncate {
        obj: ObjectId,
        size: u64,
    },
    /// Zeroes a range inside the object (it does not grow the object).
    Zero {
        obj: ObjectId,
        offset: u64,
        len: u64,
    },
    /// Removes the object with its xattrs and omap.
    Remove {
        obj: ObjectId,
    },
    /// Removes the object if it exists (recovery resets an object before
    /// writing the authoritative copy).
    Discard {
        obj: ObjectId,
    },
    SetXattr {
        obj: ObjectId,
        name: String,
        value: Vec<u8>,
    },
    RmXattr {
        obj: ObjectId,
        name: String,
    },
    OmapSetHeader {
        obj: ObjectId,
        header: Vec<u8>,
    },
    OmapSet {
        obj: ObjectId,
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    },
    OmapRmKeys {
        obj: ObjectId,
        keys: Vec<Vec<u8>>,
    },
    /// Removes the keys in `[start, end)`.
    OmapRmRange {
        obj: ObjectId,
        start: Vec<u8>,
        end: Vec<u8>,
    },
    /// Removes every omap key and the header.
    OmapClear {
        obj: ObjectId,
    },
}

impl Op {
    pub fn object(&self) -> &ObjectId {
        match self {
            Op::Create { obj, .. }
            | Op::Write { obj, .. }
            | Op::WriteFull { obj, .. }
            | Op::Append { obj, .. }
            | Op::Truncate { obj, .. }
            | Op::Zero { obj, .. }
            | Op::Remove { obj }
            | Op::Discard { obj }
            | Op::SetXattr { obj, .. }
            | Op::RmXattr { obj, .. }
            | Op::OmapSetHeader { obj, .. }
            | Op::OmapSet { obj, .. }
            | Op::OmapRmKeys { obj, .. }
            | Op::OmapRmRange { obj, .. }
            | Op::OmapClear { obj } => obj,
        }
    }
}

/// A change to the PG's own metadata (its info, log, missing set...): a
/// key space per collection that only the PG layer interprets.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum MetaOp {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    /// Deletes the keys in `[start, end)`.
    DeleteRange {
        start: Vec<u8>,
        end: Vec<u8>,
    },
}

/// Everything one client operation changes in one PG.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct Transaction {
    pub coll: CollectionId,
    /// The version stamped on every object this transaction modifies.
    pub version: Version,
    pub mtime_ns: u64,
    pub ops: Vec<Op>,
    /// Changes to the PG's metadata (its info, log...), applied with `ops`.
    pub meta: Vec<MetaOp>,
}

impl Transaction {
    pub fn new(coll: CollectionId, version: Version) -> Transaction {
        let mtime_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Transaction {
            coll,
            version,
            mtime_ns,
            ops: Vec::new(),
            meta: Vec::new(),
        }
    }

    pub fn op(mut self, op: Op) -> Self {
        self.ops.push(op);
        self
    }

    /// Bytes of object data the transaction writes.
    pub fn data_bytes(&self) -> u64 {
        self.ops
            .iter()
            .map(|o| match o {
                Op::Write { data, .. } | Op::WriteFull { data, .. } | Op::Append { data, .. } => {
                    data.len() as u64
                }
                _ => 0,
            })
            .sum()
    }
}

/// A PG split (its pool's `pg_num` grew): the objects of `from` whose hash
/// now maps to one of `children` move into that child's new collection,
/// and both sides' PG metadata change, all in one durable step, so a crash
/// leaves the PG either whole or split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionSplit {
    pub from: CollectionId,
    /// The pool's PG count after the split: an object goes to
    /// `stable_mod(hash, pg_num)`.
    pub pg_num: u32,
    /// Each child's collection (it must not exist yet) and its metadata.
    pub children: Vec<(CollectionId, Vec<MetaOp>)>,
    /// The parent's metadata changes.
    pub parent_meta: Vec<MetaOp>,
}

impl CollectionSplit {
    /// The collection `obj` belongs in after the split, if it leaves
    /// `from`.
    pub fn destination(&self, obj: &ObjectId) -> Option<CollectionId> {
        let seed = cluster::stable_mod(obj.hash(), self.pg_num, cluster::mask_for(self.pg_num));
        self.children
            .iter()
            .map(|(c, _)| *c)
            .find(|c| c.seed == seed)
    }
}
