//! Backfill reservations (Ceph's `AsyncReserver`): an OSD grants at most
//! `max` slots at once, to the waiting PGs of highest priority first
//! (first come, first served among equals). Each OSD has two: one for the
//! PGs it backfills from as primary (local) and one for the PGs it is a
//! backfill target of (remote), so a primary holding its local slot never
//! waits on itself. A primary takes its local slot first, then its
//! targets' remote slots one at a time in ascending OSD order: every PG
//! takes slots in the same order, so no two PGs can wait on each other in
//! a cycle.
//!
//! Pure bookkeeping, no I/O: the daemon and the simulation both drive it.
//! Each request carries a payload (whom to tell), handed back on grant.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use cluster::PgId;

/// Priorities, as Ceph's: a PG that cannot serve comes first, then one
/// with too few copies, then one whose copies are only misplaced.
pub mod priority {
    /// Fewer complete copies than `min_size` (Ceph's
    /// `OSD_BACKFILL_INACTIVE_PRIORITY_BASE`).
    pub const BELOW_MIN_SIZE: u8 = 220;
    /// Fewer complete copies than the pool's size
    /// (`OSD_BACKFILL_DEGRADED_PRIORITY_BASE`).
    pub const DEGRADED: u8 = 140;
    /// Enough copies, in the wrong place (`OSD_BACKFILL_PRIORITY_BASE`).
    pub const MISPLACED: u8 = 100;
}

/// One OSD's slots of one kind.
#[derive(Debug)]
pub struct Reserver<T> {
    max: usize,
    granted: BTreeMap<PgId, (u8, T)>,
    /// Waiting, highest priority first, then by arrival.
    queue: BTreeMap<(Reverse<u8>, u64), (PgId, T)>,
    next_seq: u64,
}

impl<T: Clone> Reserver<T> {
    pub fn new(max: usize) -> Self {
        Reserver {
            max,
            granted: BTreeMap::new(),
            queue: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Asks a slot for `pg`; returns the requests granted now (maybe this
    /// one). A PG asking again replaces its earlier request (its payload
    /// and priority), whether that was waiting or granted; a granted PG
    /// asking again is granted again at once.
    pub fn request(&mut self, pg: PgId, prio: u8, payload: T) -> Vec<(PgId, T)> {
        if let Some(g) = self.granted.get_mut(&pg) {
            *g = (prio, payload.clone());
            return vec![(pg, payload)];
        }
        self.dequeue(pg);
        self.queue
            .insert((Reverse(prio), self.next_seq), (pg, payload));
        self.next_seq += 1;
        self.grant()
    }

    /// Gives back `pg`'s slot, or withdraws its request; returns the
    /// requests granted in its place.
    pub fn release(&mut self, pg: PgId) -> Vec<(PgId, T)> {
        self.granted.remove(&pg);
        self.dequeue(pg);
        self.grant()
    }

    /// Changes the number of slots (a config change); returns the
    /// requests granted now. Slots already granted are kept.
    pub fn set_max(&mut self, max: usize) -> Vec<(PgId, T)> {
        self.max = max;
        self.grant()
    }

    pub fn is_granted(&self, pg: PgId) -> bool {
        self.granted.contains_key(&pg)
    }

    pub fn granted(&self) -> usize {
        self.granted.len()
    }

    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    fn dequeue(&mut self, pg: PgId) {
        self.queue.retain(|_, (p, _)| *p != pg);
    }

    fn grant(&mut self) -> Vec<(PgId, T)> {
        let mut out = Vec::new();
        while self.granted.len() < self.max {
            let Some(((Reverse(prio), _), (pg, payload))) = self.queue.pop_first() else {
                break;
            };
            self.granted.insert(pg, (prio, payload.clone()));
            out.push((pg, payload));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pg(seed: u32) -> PgId {
        PgId { pool: 1, seed }
    }

    #[test]
    fn grants_up_to_max_then_by_priority() {
        let mut r = Reserver::new(1);
        assert_eq!(r.request(pg(1), priority::MISPLACED, 1), vec![(pg(1), 1)]);
        assert!(r.request(pg(2), priority::MISPLACED, 2).is_empty());
        assert!(r.request(pg(3), priority::BELOW_MIN_SIZE, 3).is_empty());
        assert!(r.request(pg(4), priority::DEGRADED, 4).is_empty());
        // The PG below min_size goes before the ones that came earlier.
        assert_eq!(r.release(pg(1)), vec![(pg(3), 3)]);
        assert_eq!(r.release(pg(3)), vec![(pg(4), 4)]);
        assert_eq!(r.release(pg(4)), vec![(pg(2), 2)]);
        assert_eq!(r.waiting(), 0);
    }

    #[test]
    fn asking_again_replaces_the_request() {
        let mut r = Reserver::new(1);
        r.request(pg(1), priority::MISPLACED, 10);
        assert!(r.request(pg(2), priority::MISPLACED, 20).is_empty());
        assert!(r.request(pg(2), priority::MISPLACED, 21).is_empty());
        assert_eq!(r.waiting(), 1);
        // A granted PG asking again gets its slot again, with the new payload.
        assert_eq!(r.request(pg(1), priority::DEGRADED, 11), vec![(pg(1), 11)]);
        assert_eq!(r.granted(), 1);
        assert_eq!(r.release(pg(1)), vec![(pg(2), 21)]);
    }

    #[test]
    fn withdrawing_a_waiting_request_grants_nothing() {
        let mut r = Reserver::new(1);
        r.request(pg(1), priority::MISPLACED, ());
        r.request(pg(2), priority::MISPLACED, ());
        assert!(r.release(pg(2)).is_empty());
        assert!(r.release(pg(1)).is_empty());
        assert_eq!((r.granted(), r.waiting()), (0, 0));
    }

    #[test]
    fn raising_max_grants_waiting_requests() {
        let mut r = Reserver::new(0);
        assert!(r.request(pg(1), priority::MISPLACED, ()).is_empty());
        assert_eq!(r.set_max(2), vec![(pg(1), ())]);
    }

    proptest! {
        /// Whatever the requests and releases, no more than `max` are
        /// granted, a slot is never left free while someone waits, and
        /// every grant goes to the highest priority waiting.
        #[test]
        fn never_over_max_never_idle(
            max in 1usize..4,
            steps in proptest::collection::vec((0u32..8, any::<bool>(), 0u8..3), 1..200),
        ) {
            let prios = [priority::MISPLACED, priority::DEGRADED, priority::BELOW_MIN_SIZE];
            let mut r = Reserver::new(max);
            for (seed, ask, p) in steps {
                let waiting_best = r.queue.keys().next().map(|(Reverse(p), _)| *p);
                let granted = if ask {
                    r.request(pg(seed), prios[p as usize], ())
                } else {
                    r.release(pg(seed))
                };
                if let (Some(best), Some((g, _))) = (waiting_best, granted.first()) {
                    if *g != pg(seed) {
                        prop_assert_eq!(r.granted[g].0, best);
                    }
                }
                prop_assert!(r.granted() <= max);
                prop_assert!(r.waiting() == 0 || r.granted() == max);
            }
        }
    }
}
