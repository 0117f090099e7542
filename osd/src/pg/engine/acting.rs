//! Which OSDs serve the PG (Ceph's `choose_acting`), and the copies left
//! outside it.
//!
//! Only a complete copy may be in the acting set: one that is not in the
//! middle of a backfill and whose log reaches the authoritative log's
//! tail (so the log alone can bring it up to date). When a member of the
//! up set is not complete, the primary asks the monitors for a temporary
//! acting set of complete copies (pg_temp: the up primary if it can serve,
//! else the authority; then the complete up members; then other complete
//! copies, up to the pool's size) and waits for the map that has it. The
//! up members outside the acting set become backfill targets; once they
//! are whole, the primary asks for the up set back.
//!
//! A copy on an OSD outside the up and acting sets is a stray: it tells
//! the primary it exists, and is told to delete itself once the PG is
//! clean on its up set.

use cluster::Version;

use super::{Effect, Pg, Phase};
use crate::pg::info::PgInfo;
use crate::pg::messages::PeerMsg;

impl Pg {
    /// Whether `o`'s copy may serve: up, complete, and its log reaching
    /// the authority's tail.
    fn can_serve(&self, o: i32, auth_tail: Version) -> bool {
        self.cur.osds.is_up(o)
            && self
                .pr
                .infos
                .get(&o)
                .is_some_and(|i| i.is_complete() && i.last_update >= auth_tail)
    }

    /// The acting set this PG should have, with `best` holding the
    /// authoritative log.
    pub(super) fn wanted_acting(&self, best: i32) -> Vec<i32> {
        let auth_tail = self
            .pr
            .infos
            .get(&best)
            .map_or(Version::ZERO, |i| i.log_tail);
        let size = self.cur.pool.map_or(0, |p| p.size as usize);
        let primary = match self.cur.up.first() {
            Some(&p) if self.can_serve(p, auth_tail) => p,
            _ => best,
        };
        let mut want = vec![primary];
        let candidates: Vec<i32> = self
            .cur
            .up
            .iter()
            .chain(&self.cur.acting)
            .chain(self.pr.infos.keys())
            .copied()
            .collect();
        for o in candidates {
            if want.len() >= size {
                break;
            }
            if !want.contains(&o) && self.can_serve(o, auth_tail) {
                want.push(o);
            }
        }
        want
    }

    /// With the authority chosen: true if the acting set is the one
    /// wanted; else asks the monitors for it and waits.
    pub(super) fn choose_acting(&mut self, best: i32) -> bool {
        let want = self.wanted_acting(best);
        if want == self.cur.acting {
            return true;
        }
        self.request_acting(want);
        false
    }

    /// Asks the monitors for `want` as the acting set (the up set when it
    /// is the up set) and waits for the map.
    pub(super) fn request_acting(&mut self, want: Vec<i32>) {
        let want = if want == self.cur.up {
            Vec::new()
        } else {
            want
        };
        tracing::info!(
            pg = %self.pgid,
            "osd.{}: acting {:?}, up {:?}: asking for acting set {:?}",
            self.me,
            self.cur.acting,
            self.cur.up,
            want
        );
        self.phase = Phase::WaitActingChange;
        self.pr.temp_asked = Some((want.clone(), self.now));
        self.out.push(Effect::PgTemp { want });
    }

    /// Asks again for an acting set the monitors have not given yet; and,
    /// once every up member is whole, for the up set back.
    pub(super) fn acting_tick(&mut self) {
        let due = |sent: u64, now: u64, every: u64| sent + every <= now;
        let every = self.cfg.resend_ticks;
        if self.phase == Phase::WaitActingChange {
            if let Some((want, sent)) = self.pr.temp_asked.clone() {
                if due(sent, self.now, every) {
                    self.pr.temp_asked = Some((want.clone(), self.now));
                    self.out.push(Effect::PgTemp { want });
                }
            }
            return;
        }
        if self.phase != Phase::Active || self.cur.up == self.cur.acting || !self.up_is_whole() {
            return;
        }
        // The up set, topped up with the acting copies while it is short.
        let size = self.cur.pool.map_or(0, |p| p.size as usize);
        let mut want = self.cur.up.clone();
        for o in &self.cur.acting {
            if want.len() < size && !want.contains(o) {
                want.push(*o);
            }
        }
        if want == self.cur.acting {
            return;
        }
        let want = if want == self.cur.up {
            Vec::new()
        } else {
            want
        };
        if self
            .pr
            .temp_asked
            .as_ref()
            .is_some_and(|(w, sent)| *w == want && !due(*sent, self.now, every))
        {
            return;
        }
        tracing::info!(
            pg = %self.pgid,
            "osd.{}: up set {:?} is whole: asking for acting set {:?} (empty: the up set; acting {:?})",
            self.me,
            self.cur.up,
            want,
            self.cur.acting
        );
        self.pr.temp_asked = Some((want.clone(), self.now));
        self.out.push(Effect::PgTemp { want });
    }

    /// Every up member holds every object.
    fn up_is_whole(&self) -> bool {
        self.st.missing.is_empty()
            && self.cur.up.iter().all(|o| {
                *o == self.me
                    || self
                        .pr
                        .peers
                        .get(o)
                        .is_some_and(|p| p.backfill.is_none() && p.missing.is_empty())
            })
    }

    /// A stray tells the primary it holds a copy.
    pub(super) fn notify_stray(&mut self) {
        if self.is_member() || self.cur.primary < 0 || self.cur.primary == self.me {
            return;
        }
        let info = self.st.info.clone();
        let primary = self.cur.primary;
        self.send(primary, PeerMsg::Stray { info });
    }

    /// Strays say so again now and then (the primary may have missed it).
    pub(super) fn stray_tick(&mut self) {
        if self.now.is_multiple_of(self.cfg.resend_ticks * 5) {
            self.notify_stray();
        }
    }

    pub(super) fn on_stray(&mut self, from: i32, info: PgInfo) {
        if !self.is_primary() || self.cur.up.contains(&from) || self.cur.acting.contains(&from) {
            return;
        }
        if self.phase == Phase::Active && info.holds_copy() {
            // A copy outside the acting set may hold an object no member
            // has (it was the only one to commit it before it left):
            // recovery asks it for unfound objects (Ceph's
            // might_have_unfound).
            self.pr.infos.entry(from).or_insert(info);
        }
        self.pr.strays.insert(from);
        self.purge_strays();
    }

    /// Once the PG is clean on its up set, the copies outside it go.
    pub(super) fn purge_strays(&mut self) {
        if !self.pr.clean || self.cur.up != self.cur.acting {
            return;
        }
        let mut strays: Vec<i32> = self
            .pr
            .infos
            .iter()
            .filter(|(_, i)| i.holds_copy())
            .map(|(o, _)| *o)
            .chain(self.pr.strays.iter().copied())
            .filter(|o| *o != self.me && !self.cur.acting.contains(o))
            .collect();
        strays.sort_unstable();
        strays.dedup();
        for o in strays {
            self.pr.infos.remove(&o);
            self.pr.strays.remove(&o);
            self.send(o, PeerMsg::Remove);
        }
    }
}
