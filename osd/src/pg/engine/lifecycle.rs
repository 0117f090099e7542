//! A PG's life on one OSD: created new or loaded from the store, brought
//! through map epochs (each new interval is recorded as a past interval and
//! resets whatever was in flight), then started as primary (peering) or as
//! a stray waiting for its primary.

use cluster::msg::RemoteError;

use super::{
    meta, reservation, Effect, OnCommit, OpFailed, OpReply, Pg, PgConfig, PgState, Phase, Primary,
    Replica,
};
use crate::pg::interval::{PastInterval, PgEpoch};
use crate::store::{CollectionId, ObjectStore, StoreError};
use cluster::PgId;
use std::collections::{BTreeMap, VecDeque};

impl Pg {
    /// A PG new to this OSD, brought through every epoch since its pool
    /// was created (`epochs[0]` is the pool's first epoch). The caller
    /// creates its collection first.
    pub fn create(pgid: PgId, me: i32, cfg: PgConfig, epochs: &[PgEpoch]) -> (Pg, Vec<Effect>) {
        let first = epochs[0].clone();
        let mut st = PgState::default();
        st.info.history.epoch_created = first.epoch;
        st.info.history.same_interval_since = first.epoch;
        let mut pg = Pg::with_state(pgid, me, cfg, st, first);
        for e in &epochs[1..] {
            pg.advance(e.clone());
        }
        pg.st.pg_num = pg.cur.pool.map_or(0, |p| p.pg_num);
        pg.persist_info(true);
        pg.start();
        let out = std::mem::take(&mut pg.out);
        (pg, out)
    }

    /// A PG this OSD holds, loaded from the store, brought through the
    /// epochs since its interval began (`epochs[0]` is the epoch
    /// `same_interval_since` names). `None` if the store has no PG state.
    pub fn load(
        pgid: PgId,
        me: i32,
        cfg: PgConfig,
        store: &dyn ObjectStore,
        epochs: &[PgEpoch],
    ) -> Result<Option<(Pg, Vec<Effect>)>, StoreError> {
        let coll = CollectionId::new(pgid.pool, pgid.seed);
        let Some(st) = crate::pg::info::load(store, &coll)? else {
            return Ok(None);
        };
        let Some(first) = epochs
            .iter()
            .find(|e| e.epoch == st.info.history.same_interval_since)
            .or(epochs.first())
            .cloned()
        else {
            return Ok(None);
        };
        let mut pg = Pg::with_state(pgid, me, cfg, st, first);
        let from = pg.cur.epoch;
        let mut changed = false;
        for e in epochs.iter().filter(|e| e.epoch > from) {
            changed |= pg.advance(e.clone());
        }
        if changed {
            pg.persist_info(true);
        }
        pg.start();
        let out = std::mem::take(&mut pg.out);
        Ok(Some((pg, out)))
    }

    pub(super) fn with_state(pgid: PgId, me: i32, cfg: PgConfig, st: PgState, cur: PgEpoch) -> Pg {
        Pg {
            pgid,
            coll: CollectionId::new(pgid.pool, pgid.seed),
            me,
            cfg,
            st,
            cur,
            phase: Phase::Stray,
            now: 0,
            next_id: 1,
            on_commit: BTreeMap::new(),
            early_msgs: Vec::new(),
            early_ops: Vec::new(),
            settling: Vec::new(),
            waiting: VecDeque::new(),
            recovered: (0, 0),
            turn: reservation::Turn::None,
            pr: Primary::default(),
            rep: Replica::default(),
            out: Vec::new(),
        }
    }

    /// Persists the info (and, with `past`, the past intervals).
    pub(super) fn persist_info(&mut self, past: bool) {
        let mut t = self.txn();
        t.meta.push(meta::info(&self.st.info));
        if past {
            t.meta.push(meta::past(&self.st.past));
            t.meta.push(meta::pg_num(self.st.pg_num));
        }
        self.store_txn(t, OnCommit::Nothing);
    }

    /// Takes the next epoch; says whether it began a new interval (the
    /// caller then resets the PG).
    pub(super) fn advance(&mut self, next: PgEpoch) -> bool {
        if next.epoch <= self.cur.epoch {
            return false;
        }
        let new = self.cur.new_interval(&next);
        if new {
            let first = self.interval();
            let ended = PastInterval::ended(first, &self.cur);
            tracing::debug!(
                pg = %self.pgid,
                "osd.{}: interval {first}..{} acting {:?} ended (maybe went rw: {}); now {:?} from {}",
                self.me,
                ended.last,
                ended.acting,
                ended.maybe_went_rw,
                next.acting,
                next.epoch
            );
            self.st.past.push(ended);
            self.st.past.prune(self.st.info.history.last_epoch_started);
            self.st.info.history.same_interval_since = next.epoch;
        }
        self.cur = next;
        new
    }

    /// A new interval: whatever was in flight is abandoned (clients resend
    /// to the new primary; de-duplication keeps a resend from applying
    /// twice).
    pub(super) fn reset(&mut self) {
        let interval = self.interval();
        let mut handles: Vec<u64> = self.waiting.drain(..).map(|o| o.handle).collect();
        for (_, f) in std::mem::take(&mut self.pr.inflight) {
            handles.extend(f.handles);
        }
        for (_, q) in std::mem::take(&mut self.pr.locked) {
            handles.extend(q.into_iter().map(|o| o.handle));
        }
        for h in handles {
            self.out.push(Effect::Reply(OpReply {
                handle: h,
                result: Err(OpFailed {
                    error: RemoteError::again(format!(
                        "PG {} changed interval at epoch {interval}; resend",
                        self.pgid
                    )),
                    step: None,
                }),
                interval,
            }));
        }
        self.release_backfill();
        self.release_remote();
        self.pr = Primary::default();
        self.rep = Replica::default();
        self.settling.clear();
        self.phase = Phase::Stray;
    }

    pub(super) fn start(&mut self) {
        if self.cur.pool.is_none() {
            self.phase = Phase::Deleted;
            self.out.push(Effect::Delete);
            return;
        }
        if self.is_primary() {
            self.start_peering();
        } else {
            self.phase = Phase::Stray;
            self.notify_stray();
        }
    }
}
