//! `choose_args`: alternative weights (and hash ids) for straw2 buckets.
//!
//! The balancer writes these "weight sets" to even out utilisation without
//! touching the CRUSH weights operators see. A set may have several
//! positions: row `p` of a bucket's weight set is used when choosing the
//! `p`-th output (the last row for later positions).

use std::collections::BTreeMap;

/// The set index the balancer's compat mode writes, `(u64)-1`.
pub const DEFAULT_CHOOSE_ARGS: u64 = u64::MAX;

/// Overrides for one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChooseArg {
    /// Replacement ids fed to the hash (the chosen item is still the real one).
    pub ids: Option<Vec<i32>>,
    /// One weight row per position.
    pub weight_set: Vec<Vec<u32>>,
}

impl ChooseArg {
    /// The weights to use when choosing for output `position`.
    #[inline]
    pub fn weights_for(&self, position: usize) -> Option<&[u32]> {
        let last = self.weight_set.len().checked_sub(1)?;
        Some(&self.weight_set[position.min(last)])
    }
}

/// One `choose_args` set: bucket id -> overrides.
pub type ChooseArgMap = BTreeMap<i32, ChooseArg>;

/// A `choose_args` set resolved for the mapper: indexed by bucket slot
/// (`-1 - id`), so lookups on the hot path are an array access.
#[derive(Clone, Debug, Default)]
pub struct ResolvedChooseArgs {
    pub(crate) by_slot: Vec<Option<ChooseArg>>,
}

impl ResolvedChooseArgs {
    pub fn new(set: &ChooseArgMap) -> ResolvedChooseArgs {
        let slots = set
            .keys()
            .filter(|id| **id < 0)
            .map(|id| (-1 - *id) as usize + 1)
            .max()
            .unwrap_or(0);
        let mut by_slot = vec![None; slots];
        for (id, arg) in set {
            if *id < 0 {
                by_slot[(-1 - *id) as usize] = Some(arg.clone());
            }
        }
        ResolvedChooseArgs { by_slot }
    }

    #[inline]
    pub(crate) fn get(&self, bucket_id: i32) -> Option<&ChooseArg> {
        self.by_slot.get((-1 - bucket_id) as usize)?.as_ref()
    }
}
