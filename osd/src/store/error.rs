//! The object store's one error type. Every variant names what it is about.

use thiserror::Error;

use super::types::{CollectionId, ObjectId};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("PG {0} does not exist")]
    NoSuchCollection(CollectionId),
    #[error("PG {0} already exists")]
    CollectionExists(CollectionId),
    #[error("object {obj} does not exist in PG {coll}")]
    NoSuchObject { coll: CollectionId, obj: ObjectId },
    #[error("object {obj} already exists in PG {coll}")]
    ObjectExists { coll: CollectionId, obj: ObjectId },
    #[error("object {obj} in PG {coll} has no xattr {name:?}")]
    NoSuchXattr {
        coll: CollectionId,
        obj: ObjectId,
        name: String,
    },
    /// Stored bytes failed their checksum; the bad bytes are not returned.
    #[error("corruption: object {obj} in PG {coll} at offset {offset}: {detail}")]
    Corruption {
        coll: CollectionId,
        obj: ObjectId,
        offset: u64,
        detail: String,
    },
    /// Metadata that cannot be decoded (damaged, or from a newer version).
    #[error("corrupt metadata ({what}): {detail}")]
    BadMetadata { what: String, detail: String },
    #[error("{what} is {size} bytes, above the limit of {max}")]
    TooLarge { what: String, size: u64, max: u64 },
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the store writer has stopped")]
    Closed,
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
}

impl StoreError {
    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_string(),
            source,
        }
    }
}
