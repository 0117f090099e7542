//! Pools: how many copies (or shards), how many PGs, which CRUSH rule.

use rkyv::{Archive, Deserialize, Serialize};

use crate::pg::mask_for;

/// Replicated pools keep `size` copies; erasure-coded ones `k + m` shards
/// whose positions matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum PoolKind {
    Replicated,
    Erasure { k: u32, m: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct Pool {
    pub id: u64,
    pub name: String,
    pub kind: PoolKind,
    /// Copies (replicated) or k + m (erasure).
    pub size: u32,
    /// Below this many up members a PG takes no I/O.
    pub min_size: u32,
    /// PGs objects hash into.
    pub pg_num: u32,
    /// PGs placement is computed for (lags `pg_num` while PGs split).
    pub pgp_num: u32,
    pub crush_rule: u32,
    /// Mix the pool id into the CRUSH input, so pools' PGs do not overlap
    /// (Ceph's default since Luminous).
    pub hashpspool: bool,
    /// The erasure-code profile an erasure pool was made with (empty for
    /// replicated pools).
    pub ec_profile: String,
}

impl Pool {
    /// A replicated pool with Ceph's defaults: size 3, min_size 2, rule 0.
    pub fn replicated(id: u64, name: &str, pg_num: u32) -> Pool {
        Pool {
            id,
            name: name.to_string(),
            kind: PoolKind::Replicated,
            size: 3,
            min_size: 2,
            pg_num,
            pgp_num: pg_num,
            crush_rule: 0,
            hashpspool: true,
            ec_profile: String::new(),
        }
    }

    /// An erasure-coded pool: k + m shards, min_size k + 1 (Ceph's default).
    pub fn erasure(id: u64, name: &str, pg_num: u32, k: u32, m: u32, crush_rule: u32) -> Pool {
        Pool {
            id,
            name: name.to_string(),
            kind: PoolKind::Erasure { k, m },
            size: k + m,
            min_size: k + 1,
            pg_num,
            pgp_num: pg_num,
            crush_rule,
            hashpspool: true,
            ec_profile: String::new(),
        }
    }

    /// Replicated pools close gaps in an OSD set; erasure pools keep each
    /// shard at its position and leave a hole.
    pub fn can_shift_osds(&self) -> bool {
        matches!(self.kind, PoolKind::Replicated)
    }

    pub fn pg_num_mask(&self) -> u32 {
        mask_for(self.pg_num)
    }

    pub fn pgp_num_mask(&self) -> u32 {
        mask_for(self.pgp_num)
    }
}
