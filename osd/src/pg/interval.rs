//! Intervals: runs of map epochs during which a PG's up set, acting set,
//! primary and pool parameters stay the same.
//!
//! A PG remembers the intervals since it last went active
//! ([`PastIntervals`]). Peering must hear from at least one member of
//! every past interval that may have accepted writes, because only that
//! interval's members can hold them. An interval "may have gone
//! read-write" only if it had `min_size` members and its primary had its
//! `up_thru` raised by the monitors to at least the interval's first
//! epoch: a primary asks for that before it goes active, so an interval
//! whose primary never got it cannot have acknowledged anything and is
//! skipped ([`PastIntervals::prior_set`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rkyv::{Archive, Deserialize, Serialize};

/// The pool parameters that matter to a PG's interval.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    pub size: u32,
    pub min_size: u32,
    pub pg_num: u32,
}

/// One OSD as one map epoch has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsdEpochState {
    pub up: bool,
    /// Epoch it last came up.
    pub up_from: u32,
    /// Highest epoch the monitors confirmed it alive through, for peering.
    pub up_thru: u32,
    /// Its space state (full: writes to its PGs are refused; backfillfull:
    /// nothing is backfilled into it).
    pub fullness: cluster::osdmap::Fullness,
}

/// What one map epoch says about every OSD (shared by all PGs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsdEpoch {
    pub osds: BTreeMap<i32, OsdEpochState>,
    pub flags: RecoveryFlags,
}

/// The operator's brakes on data movement (OSDMap flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryFlags {
    /// No log-based recovery (an object a client op waits for is still
    /// recovered).
    pub norecover: bool,
    /// No backfill.
    pub nobackfill: bool,
    /// No backfill of PGs that only need moving (not degraded).
    pub norebalance: bool,
}

impl RecoveryFlags {
    pub fn from_map(flags: &std::collections::BTreeSet<String>) -> RecoveryFlags {
        RecoveryFlags {
            norecover: flags.contains("norecover"),
            nobackfill: flags.contains("nobackfill"),
            norebalance: flags.contains("norebalance"),
        }
    }
}

impl OsdEpoch {
    pub fn is_up(&self, osd: i32) -> bool {
        self.osds.get(&osd).is_some_and(|o| o.up)
    }
    pub fn up_thru(&self, osd: i32) -> u32 {
        self.osds.get(&osd).map_or(0, |o| o.up_thru)
    }
    pub fn up_from(&self, osd: i32) -> u32 {
        self.osds.get(&osd).map_or(u32::MAX, |o| o.up_from)
    }
    pub fn fullness(&self, osd: i32) -> cluster::osdmap::Fullness {
        self.osds.get(&osd).map(|o| o.fullness).unwrap_or_default()
    }
}

/// What one map epoch says about one PG: the input of the PG engine's
/// map events. The OSD computes it (CRUSH) once per epoch and PG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgEpoch {
    pub epoch: u32,
    /// `None`: the pool does not exist (any more).
    pub pool: Option<PoolParams>,
    pub up: Vec<i32>,
    pub acting: Vec<i32>,
    /// -1: none.
    pub primary: i32,
    pub osds: Arc<OsdEpoch>,
}

impl PgEpoch {
    /// Whether `next` starts a new interval after `self`. A member that
    /// restarted between the two (a new `up_from`) counts as a change even
    /// if the sets look the same: its new incarnation has not peered.
    pub fn new_interval(&self, next: &PgEpoch) -> bool {
        self.up != next.up
            || self.acting != next.acting
            || self.primary != next.primary
            || self.pool != next.pool
            || next
                .acting
                .iter()
                .chain(&next.up)
                .any(|o| self.osds.up_from(*o) != next.osds.up_from(*o))
    }

    pub fn min_size(&self) -> usize {
        self.pool.map_or(usize::MAX, |p| p.min_size as usize)
    }
}

/// An interval that ended.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PastInterval {
    pub first: u32,
    pub last: u32,
    pub acting: Vec<i32>,
    pub primary: i32,
    /// Could a primary have acknowledged writes in it?
    pub maybe_went_rw: bool,
}

impl PastInterval {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "first": self.first,
            "last": self.last,
            "acting": self.acting,
            "primary": self.primary,
            "maybe_went_rw": self.maybe_went_rw,
        })
    }

    /// The interval `[first, last]` as the map of its last epoch shows it.
    pub fn ended(first: u32, lastmap: &PgEpoch) -> PastInterval {
        let p = lastmap.primary;
        let maybe_went_rw = lastmap.pool.is_some()
            && p >= 0
            && lastmap.acting.len() >= lastmap.min_size()
            && lastmap.osds.up_thru(p) >= first
            && lastmap.osds.up_from(p) <= first;
        PastInterval {
            first,
            last: lastmap.epoch,
            acting: lastmap.acting.clone(),
            primary: p,
            maybe_went_rw,
        }
    }
}

/// The PG's intervals since it last went active (oldest first).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PastIntervals {
    pub intervals: Vec<PastInterval>,
}

/// Whom peering must hear from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriorSet {
    /// OSDs to query: the current up and acting sets, and every up member
    /// of a past interval that may have gone read-write.
    pub probe: BTreeSet<i32>,
    /// Some such interval has no member up: the PG is down until one of
    /// these OSDs returns.
    pub blocked_by: BTreeSet<i32>,
}

impl PriorSet {
    pub fn is_down(&self) -> bool {
        !self.blocked_by.is_empty()
    }
}

impl PastIntervals {
    pub fn push(&mut self, i: PastInterval) {
        self.intervals.push(i);
    }

    /// Forgets intervals that ended before `les` (the PG went active after
    /// them, with every write they could have made).
    pub fn prune(&mut self, les: u32) {
        self.intervals.retain(|i| i.last >= les);
    }

    /// The members of intervals since `les` that may have written and
    /// are not up now: who an incomplete PG waits for.
    pub fn members_down(&self, cur: &PgEpoch, les: u32) -> BTreeSet<i32> {
        self.intervals
            .iter()
            .filter(|i| i.last >= les && i.maybe_went_rw)
            .flat_map(|i| i.acting.iter().copied())
            .filter(|o| *o >= 0 && !cur.osds.is_up(*o))
            .collect()
    }

    pub fn prior_set(&self, cur: &PgEpoch, les: u32) -> PriorSet {
        let mut s = PriorSet::default();
        for o in cur.up.iter().chain(&cur.acting) {
            if *o >= 0 && cur.osds.is_up(*o) {
                s.probe.insert(*o);
            }
        }
        for i in self
            .intervals
            .iter()
            .filter(|i| i.last >= les && i.maybe_went_rw)
        {
            let mut any_up = false;
            for o in i.acting.iter().filter(|o| **o >= 0) {
                if cur.osds.is_up(*o) {
                    s.probe.insert(*o);
                    any_up = true;
                }
            }
            if !any_up {
                s.blocked_by.extend(i.acting.iter().filter(|o| **o >= 0));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn osds(states: &[(i32, bool, u32, u32)]) -> Arc<OsdEpoch> {
        Arc::new(OsdEpoch {
            osds: states
                .iter()
                .map(|(id, up, from, thru)| {
                    (
                        *id,
                        OsdEpochState {
                            up: *up,
                            up_from: *from,
                            up_thru: *thru,
                            fullness: Default::default(),
                        },
                    )
                })
                .collect(),
            flags: Default::default(),
        })
    }

    fn ep(epoch: u32, acting: &[i32], o: Arc<OsdEpoch>) -> PgEpoch {
        PgEpoch {
            epoch,
            pool: Some(PoolParams {
                size: 3,
                min_size: 2,
                pg_num: 8,
            }),
            up: acting.to_vec(),
            acting: acting.to_vec(),
            primary: acting.first().copied().unwrap_or(-1),
            osds: o,
        }
    }

    #[test]
    fn an_interval_went_rw_only_with_up_thru_and_min_size() {
        let o = osds(&[(0, true, 1, 5), (1, true, 1, 0), (2, true, 1, 0)]);
        assert!(PastInterval::ended(5, &ep(7, &[0, 1, 2], o.clone())).maybe_went_rw);
        // up_thru below the interval's start: it never went active.
        assert!(!PastInterval::ended(6, &ep(7, &[0, 1, 2], o.clone())).maybe_went_rw);
        // Below min_size.
        assert!(!PastInterval::ended(5, &ep(7, &[0], o.clone())).maybe_went_rw);
        // The primary came up after the interval began (a restart).
        let o2 = osds(&[(0, true, 6, 9)]);
        assert!(!PastInterval::ended(5, &ep(7, &[0, 1], o2)).maybe_went_rw);
    }

    #[test]
    fn a_restarted_member_starts_a_new_interval() {
        let a = ep(7, &[0, 1], osds(&[(0, true, 1, 5), (1, true, 1, 0)]));
        let same = ep(8, &[0, 1], osds(&[(0, true, 1, 7), (1, true, 1, 0)]));
        assert!(
            !a.new_interval(&same),
            "an up_thru change is not a new interval"
        );
        let restarted = ep(8, &[0, 1], osds(&[(0, true, 1, 5), (1, true, 8, 0)]));
        assert!(a.new_interval(&restarted));
    }

    #[test]
    fn a_pg_is_down_while_a_writable_interval_has_no_member_up() {
        let mut p = PastIntervals::default();
        let o = osds(&[(0, true, 1, 10), (1, true, 1, 20), (2, true, 1, 0)]);
        p.push(PastInterval::ended(10, &ep(19, &[0, 1, 2], o.clone())));
        p.push(PastInterval::ended(20, &ep(29, &[1, 2], o)));
        // Now only osd.0 is up: interval [1,2] may have written.
        let now = osds(&[(0, true, 1, 10), (1, false, 1, 20), (2, false, 1, 0)]);
        let s = p.prior_set(&ep(30, &[0], now.clone()), 10);
        assert!(s.is_down());
        assert_eq!(s.blocked_by, [1, 2].into_iter().collect());
        // Once the PG went active at 25, nothing before matters... but
        // [20, 29] ends after 25: still down.
        assert!(p.prior_set(&ep(30, &[0], now.clone()), 25).is_down());
        // osd.2 back: it is probed and the PG can peer.
        let back = osds(&[(0, true, 1, 10), (1, false, 1, 20), (2, true, 30, 0)]);
        let s = p.prior_set(&ep(31, &[0, 2], back), 10);
        assert!(!s.is_down());
        assert_eq!(s.probe, [0, 2].into_iter().collect());
        p.prune(30);
        assert!(p.intervals.is_empty());
    }
}
