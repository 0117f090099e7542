//! The store's vocabulary: collections (PGs), object ids, versions, object
//! stats and fsck reports.

use std::fmt;
use std::str::FromStr;

use rkyv::{Archive, Deserialize, Serialize};

use super::error::StoreError;

/// A collection: a placement group, or one shard of an erasure-coded PG.
#[derive(
    Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub struct CollectionId {
    pub pool: u64,
    /// The PG's seed (its number within the pool).
    pub seed: u32,
    /// Shard position for erasure-coded pools.
    pub shard: Option<u8>,
}

impl CollectionId {
    pub fn new(pool: u64, seed: u32) -> CollectionId {
        CollectionId {
            pool,
            seed,
            shard: None,
        }
    }
    pub fn shard(pool: u64, seed: u32, shard: u8) -> CollectionId {
        CollectionId {
            pool,
            seed,
            shard: Some(shard),
        }
    }
}

impl CollectionId {
    /// The placement group, without the shard.
    pub fn pg(&self) -> cluster::PgId {
        cluster::PgId {
            pool: self.pool,
            seed: self.seed,
        }
    }
}

/// Ceph's notation: the PG (`1.7f`), and `s2` after it for shard 2.
impl fmt::Display for CollectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pg())?;
        if let Some(s) = self.shard {
            write!(f, "s{s}")?;
        }
        Ok(())
    }
}

impl FromStr for CollectionId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            StoreError::Invalid(format!(
                "'{s}' is not a PG id (expected POOL.SEED in hex, e.g. 1.7f or 2.1as0)"
            ))
        };
        // 's' is not a hex digit, so it can only start the shard suffix.
        let (pg, shard) = match s.split_once('s') {
            Some((pg, shard)) => (pg, Some(shard.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let pg: cluster::PgId = pg.parse().map_err(|_| bad())?;
        Ok(CollectionId {
            pool: pg.pool,
            seed: pg.seed,
            shard,
        })
    }
}

/// An object's name within a pool: an optional namespace and a name.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    pub ns: String,
    pub name: String,
}

impl ObjectId {
    pub fn new(ns: impl Into<String>, name: impl Into<String>) -> ObjectId {
        ObjectId {
            ns: ns.into(),
            name: name.into(),
        }
    }

    /// An object in the default (empty) namespace.
    pub fn named(name: impl Into<String>) -> ObjectId {
        ObjectId::new("", name)
    }

    /// Ceph's placement hash of the object (namespace included), the same
    /// one placement uses.
    pub fn hash(&self) -> u32 {
        cluster::object_hash(&self.ns, &self.name)
    }

    /// The object's position in the store's listing order (hash with its
    /// bits reversed, namespace, name): byte order of these keys is the
    /// order `list_objects` returns objects in, so a backfill can say
    /// "everything up to here" with one key.
    pub fn sort_key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(4 + self.ns.len() + 1 + self.name.len());
        k.extend_from_slice(&self.hash().reverse_bits().to_be_bytes());
        k.extend_from_slice(self.ns.as_bytes());
        k.push(0);
        k.extend_from_slice(self.name.as_bytes());
        k
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ns.is_empty() {
            write!(f, "{:?}", self.name)
        } else {
            write!(f, "{:?} (namespace {:?})", self.name, self.ns)
        }
    }
}

pub use cluster::Version;

/// An object's size, modification time and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectStat {
    pub size: u64,
    pub mtime_ns: u64,
    pub version: Version,
}

/// A page of omap entries; `more` says whether the listing stopped at `max`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OmapPage {
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    pub more: bool,
}

/// One problem fsck found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsckIssue {
    /// The PG and object concerned, when there is one.
    pub coll: Option<CollectionId>,
    pub object: Option<ObjectId>,
    pub problem: String,
}

impl fmt::Display for FsckIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.coll, &self.object) {
            (Some(c), Some(o)) => write!(f, "PG {c} object {o}: {}", self.problem),
            (Some(c), None) => write!(f, "PG {c}: {}", self.problem),
            _ => write!(f, "{}", self.problem),
        }
    }
}

/// What fsck checked and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsckReport {
    pub collections: u64,
    pub objects: u64,
    pub bytes_verified: u64,
    /// Damaged objects and inconsistent metadata.
    pub errors: Vec<FsckIssue>,
    /// Space held by data nothing refers to (reclaimed at the next open).
    pub leaked_blobs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_ids_use_ceph_notation() {
        let c: CollectionId = "1.7f".parse().unwrap();
        assert_eq!(c, CollectionId::new(1, 0x7f));
        assert_eq!(c.to_string(), "1.7f");
        let s: CollectionId = "12.1as3".parse().unwrap();
        assert_eq!(s, CollectionId::shard(12, 0x1a, 3));
        assert_eq!(s.to_string(), "12.1as3");
        for bad in ["", "1", "x.1", "1.zz", "1.1s", "1.1s999"] {
            assert!(
                bad.parse::<CollectionId>().is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn namespaces_change_the_hash() {
        assert_ne!(ObjectId::named("a").hash(), ObjectId::new("ns", "a").hash());
        assert_eq!(ObjectId::named("a").hash(), crush::hash::str_hash(b"a"));
        assert_eq!(
            ObjectId::new("ns", "a").hash(),
            cluster::object_hash("ns", "a")
        );
        assert!(Version::new(2, 1) > Version::new(1, 99));
    }
}
