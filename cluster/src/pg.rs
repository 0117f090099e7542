//! Placement-group ids and Ceph's stable-mod.

use std::fmt;
use std::str::FromStr;

/// A placement group: a pool, and the PG's number (seed) within it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(PartialEq, Eq, PartialOrd, Ord))]
pub struct PgId {
    pub pool: u64,
    pub seed: u32,
}

/// Ceph's notation, `POOL.SEED` with the seed in hex: `1.7f`.
impl fmt::Display for PgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:x}", self.pool, self.seed)
    }
}

impl FromStr for PgId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("'{s}' is not a PG id (expected POOL.SEED with SEED in hex, e.g. 1.7f)");
        let (pool, seed) = s.split_once('.').ok_or_else(bad)?;
        Ok(PgId {
            pool: pool.parse().map_err(|_| bad())?,
            seed: u32::from_str_radix(seed, 16).map_err(|_| bad())?,
        })
    }
}

/// Ceph's stable modulo: `x mod b` computed so that growing `b` towards the
/// next power of two only moves values into the new buckets. `bmask` is the
/// smallest `2^n - 1` that is at least `b - 1`. This is what lets a pool's
/// PG count grow by splitting PGs instead of reshuffling every object.
pub fn stable_mod(x: u32, b: u32, bmask: u32) -> u32 {
    if x & bmask < b {
        x & bmask
    } else {
        x & (bmask >> 1)
    }
}

/// The mask `stable_mod` needs for `n` buckets.
pub fn mask_for(n: u32) -> u32 {
    n.max(1).next_power_of_two() - 1
}

/// The PGs that split off PG `parent` when its pool's `pg_num` grows from
/// `old` to `new`: every new seed whose objects all lived in `parent`
/// before (`stable_mod` folds a new seed onto its parent the way it folds
/// an object's hash).
pub fn split_children(parent: u32, old: u32, new: u32) -> Vec<u32> {
    let mask = mask_for(old);
    (old..new)
        .filter(|c| stable_mod(*c, old, mask) == parent)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pg_ids_use_ceph_notation() {
        let p: PgId = "1.7f".parse().unwrap();
        assert_eq!(
            p,
            PgId {
                pool: 1,
                seed: 0x7f
            }
        );
        assert_eq!(p.to_string(), "1.7f");
        assert!("1".parse::<PgId>().is_err());
        assert!("a.1".parse::<PgId>().is_err());
        assert_eq!(mask_for(768), 1023);
        assert_eq!(mask_for(1), 0);
        assert_eq!(mask_for(1024), 1023);
    }

    proptest! {
        /// Adding one PG only moves inputs into the new PG: PGs split.
        #[test]
        fn growing_the_pg_count_only_splits(x in any::<u32>(), n in 1u32..5000) {
            let before = stable_mod(x, n, mask_for(n));
            let after = stable_mod(x, n + 1, mask_for(n + 1));
            prop_assert!(before < n && after < n + 1);
            prop_assert!(after == before || after == n, "{} moved from {} to {}", x, before, after);
        }

        /// Growing pg_num by any amount sends each object either to stay
        /// in its PG or to one of that PG's split children.
        #[test]
        fn objects_go_to_their_pgs_children(x in any::<u32>(), old in 1u32..3000, grow in 0u32..3000) {
            let new = old + grow;
            let before = stable_mod(x, old, mask_for(old));
            let after = stable_mod(x, new, mask_for(new));
            prop_assert!(
                after == before || split_children(before, old, new).contains(&after),
                "{} moved from {} to {} ({} -> {} PGs)", x, before, after, old, new
            );
        }
    }
}
