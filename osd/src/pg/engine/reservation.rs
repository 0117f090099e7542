//! Before backfilling, a primary reserves a slot on its own OSD (local)
//! and then one on each target (remote), one target at a time in
//! ascending OSD order (see `pg::reserver` for why this cannot deadlock),
//! so that no OSD backfills more than `osd_max_backfills` PGs in or out at
//! once. A target past the backfillfull ratio rejects the request; the
//! primary then gives back what it holds and tries again later
//! (`backfill_toofull`). Everything held is given back when backfill is
//! done or the interval changes (a target gives its slot back itself on a
//! new interval, and when the last batch arrives).
//!
//! Background steps (a backfill batch, the recovery of one object) each
//! wait for a turn from the OSD's background worker, which paces them
//! (`osd_recovery_sleep`, a bandwidth limit) behind client I/O. Recovery
//! of an object a client op waits for does not wait for a turn.

use std::collections::BTreeSet;

use cluster::osdmap::Fullness;

use super::interface::ResKind;
use super::{Effect, Pg};
use crate::pg::messages::PeerMsg;
use crate::pg::reserver::priority;

/// A primary's backfill reservations in this interval.
#[derive(Debug, Default)]
pub(super) enum Reservation {
    #[default]
    None,
    /// Asked for the local slot (request `id`).
    WaitLocal { id: u64 },
    /// Holding the local slot; asking `asking` for its remote slot.
    WaitRemote {
        granted: BTreeSet<i32>,
        asking: i32,
        sent: u64,
    },
    /// Holding the local slot and every target's.
    Held { granted: BTreeSet<i32> },
    /// A target had no room: nothing held until tick `until`.
    Toofull { until: u64 },
}

/// A background turn: asked of the OSD's worker, or granted and unused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Turn {
    #[default]
    None,
    Asked,
    Have,
}

/// Ticks a primary waits after a target rejected backfill for lack of
/// room (Ceph's `osd_backfill_retry_interval`, 30 s; ours is shorter
/// because the fullness is re-checked against the map first).
const TOOFULL_RETRY_TICKS: u64 = 100;

impl Pg {
    /// The priority of this PG's background work (Ceph's: below
    /// min_size, then degraded, then misplaced).
    pub(super) fn background_priority(&self) -> u8 {
        let acting = self.cur.acting.len();
        if acting < self.cur.min_size() {
            priority::BELOW_MIN_SIZE
        } else if self.cur.pool.is_some_and(|p| (acting as u32) < p.size) {
            priority::DEGRADED
        } else {
            priority::MISPLACED
        }
    }

    /// Whether the primary holds every reservation backfill needs; asks
    /// for what it lacks.
    pub(super) fn backfill_reserved(&mut self, targets: &[i32]) -> bool {
        match &self.pr.reservation {
            Reservation::Held { granted } => {
                if targets.iter().all(|t| granted.contains(t)) {
                    return true;
                }
                // A new target (the up set changed within the interval
                // cannot happen, but a target may have been re-added):
                // start over.
                self.release_backfill();
                false
            }
            Reservation::None => {
                let id = self.next_id;
                self.next_id += 1;
                let prio = self.background_priority();
                self.out.push(Effect::Reserve {
                    kind: ResKind::Local,
                    prio,
                    id,
                });
                self.pr.reservation = Reservation::WaitLocal { id };
                false
            }
            Reservation::Toofull { until } if *until <= self.now => {
                self.pr.reservation = Reservation::None;
                self.backfill_reserved(targets)
            }
            _ => false,
        }
    }

    /// The OSD granted a reservation asked with `id`.
    pub(super) fn on_reserved(&mut self, kind: ResKind, id: u64) {
        match kind {
            ResKind::Local => {
                if !matches!(self.pr.reservation, Reservation::WaitLocal { id: want } if want == id)
                {
                    return;
                }
                self.pr.reservation = Reservation::WaitRemote {
                    granted: BTreeSet::new(),
                    asking: -1,
                    sent: 0,
                };
                self.ask_next_target();
            }
            ResKind::Remote => {
                if self.rep.remote != Some((id, false)) {
                    return;
                }
                self.rep.remote = Some((id, true));
                let primary = self.cur.primary;
                self.send(primary, PeerMsg::BackfillGrant);
            }
        }
    }

    /// Asks the next target (in OSD order) for its slot, or, when all
    /// granted, holds the reservation.
    fn ask_next_target(&mut self) {
        let targets: BTreeSet<i32> = self
            .pr
            .peers
            .iter()
            .filter(|(_, p)| p.backfill.is_some())
            .map(|(o, _)| *o)
            .collect();
        let Reservation::WaitRemote { granted, .. } = &self.pr.reservation else {
            return;
        };
        let granted = granted.clone();
        match targets.iter().find(|t| !granted.contains(t)) {
            Some(&next) => {
                let prio = self.background_priority();
                self.send(next, PeerMsg::BackfillReserve { prio });
                self.pr.reservation = Reservation::WaitRemote {
                    granted,
                    asking: next,
                    sent: self.now,
                };
            }
            None => self.pr.reservation = Reservation::Held { granted },
        }
    }

    /// A target granted its slot.
    pub(super) fn on_backfill_grant(&mut self, from: i32, store: &dyn crate::store::ObjectStore) {
        let Reservation::WaitRemote {
            granted, asking, ..
        } = &mut self.pr.reservation
        else {
            return;
        };
        if *asking != from {
            return;
        }
        granted.insert(from);
        self.ask_next_target();
        self.backfill_step(store);
    }

    /// A target has no room: give everything back and retry later.
    pub(super) fn on_backfill_reject(&mut self, from: i32) {
        if !matches!(&self.pr.reservation, Reservation::WaitRemote { asking, .. } if *asking == from)
        {
            return;
        }
        tracing::info!(
            pg = %self.pgid,
            "osd.{from} has no room to backfill into (backfill_toofull); retrying later"
        );
        self.release_backfill();
        self.pr.reservation = Reservation::Toofull {
            until: self.now + TOOFULL_RETRY_TICKS,
        };
    }

    /// Gives back the local slot and every remote one held or asked.
    pub(super) fn release_backfill(&mut self) {
        let mut tell = BTreeSet::new();
        match std::mem::take(&mut self.pr.reservation) {
            Reservation::None | Reservation::Toofull { .. } => return,
            Reservation::WaitLocal { .. } => {}
            Reservation::WaitRemote {
                granted, asking, ..
            } => {
                tell = granted;
                tell.insert(asking);
            }
            Reservation::Held { granted } => tell = granted,
        }
        self.out.push(Effect::Unreserve {
            kind: ResKind::Local,
        });
        for t in tell {
            self.send(t, PeerMsg::BackfillRelease);
        }
    }

    /// Resends an unanswered remote request.
    pub(super) fn reservation_tick(&mut self) {
        let every = self.cfg.resend_ticks;
        if let Reservation::WaitRemote { asking, sent, .. } = &mut self.pr.reservation {
            if *sent + every <= self.now {
                *sent = self.now;
                let to = *asking;
                let prio = self.background_priority();
                self.send(to, PeerMsg::BackfillReserve { prio });
            }
        }
    }

    /// Whether the PG waits for a target with no room.
    pub(super) fn reservation_toofull(&self) -> bool {
        matches!(self.pr.reservation, Reservation::Toofull { .. })
    }

    /// A target's side: the primary asks for a slot.
    pub(super) fn on_backfill_reserve(&mut self, from: i32, prio: u8) {
        if self.cur.osds.fullness(self.me) >= Fullness::Backfillfull {
            self.send(from, PeerMsg::BackfillReject);
            return;
        }
        match self.rep.remote {
            Some((_, true)) => self.send(from, PeerMsg::BackfillGrant),
            Some((_, false)) => {}
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.rep.remote = Some((id, false));
                self.out.push(Effect::Reserve {
                    kind: ResKind::Remote,
                    prio,
                    id,
                });
            }
        }
    }

    /// A target's side: gives its slot back (or withdraws its request).
    pub(super) fn release_remote(&mut self) {
        if self.rep.remote.take().is_some() {
            self.out.push(Effect::Unreserve {
                kind: ResKind::Remote,
            });
        }
    }

    /// Whether a background step may run now; asks the OSD's worker for
    /// a turn when not.
    pub(super) fn take_turn(&mut self) -> bool {
        match self.turn {
            Turn::Have => {
                self.turn = Turn::None;
                true
            }
            Turn::Asked => false,
            Turn::None => {
                self.turn = Turn::Asked;
                let prio = self.background_priority();
                self.out.push(Effect::WantTurn { prio });
                false
            }
        }
    }
}
