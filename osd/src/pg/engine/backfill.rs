//! Backfill: copying a PG to up members whose copy the log cannot bring
//! up to date (new members, or ones behind the log's tail), scanning the
//! primary's objects in the store's hash order.
//!
//! Each target has a watermark (`last_backfill`, persisted in its info):
//! the objects up to it are whole there. The primary takes the next range
//! of its objects after the lowest watermark (at most
//! `backfill_max_objects` objects or `backfill_max_bytes` bytes) and sends
//! every target behind it one batch: the objects of the range as the
//! primary holds them. The target replaces its own objects of that range
//! with them, removes the ones the primary does not have, and moves its
//! watermark, all before it acknowledges; a target that restarts resumes
//! from its watermark. While a batch is in flight, writes to its range
//! wait (so a batch never races a write); writes elsewhere go on, and a
//! target applies a write's object ops only below its watermark (the
//! range above it comes with the backfill). Backfill starts once log
//! recovery is done.

use std::collections::{BTreeMap, BTreeSet};

use cluster::osdmap::Fullness;

use super::replica::put_object;
use super::{Effect, OnCommit, Pg, Phase};
use crate::pg::info::meta;
use crate::pg::messages::{ObjectState, PeerEnvelope, PeerMsg};
use crate::store::{ListCursor, ObjectId, ObjectStore, Op, Transaction};

/// The backfill batch in flight.
#[derive(Debug)]
pub(super) struct Batch {
    /// The range is `(after, upto]`; `after` is the lowest watermark.
    after: Vec<u8>,
    upto: Option<Vec<u8>>,
    /// Targets that have not acknowledged, with the batch sent to each.
    waiting: BTreeMap<i32, PeerEnvelope>,
    /// Objects of the range held: ops on them run once the batch is done.
    held: BTreeSet<ObjectId>,
    sent: u64,
}

impl Batch {
    fn covers(&self, key: &[u8]) -> bool {
        key > self.after.as_slice() && self.upto.as_ref().is_none_or(|u| key <= u.as_slice())
    }
}

impl Pg {
    /// Whether a batch in flight covers `obj` (writes to it must wait).
    pub(super) fn backfill_holds(&self, obj: &ObjectId) -> bool {
        self.pr
            .backfill
            .as_ref()
            .is_some_and(|b| b.held.contains(obj) || b.covers(&obj.sort_key()))
    }

    /// Holds `obj` until the batch in flight is done.
    pub(super) fn hold_for_backfill(&mut self, obj: &ObjectId) {
        if let Some(b) = self.pr.backfill.as_mut() {
            b.held.insert(obj.clone());
        }
    }

    /// Up members being backfilled, with their watermarks.
    fn backfill_targets(&self) -> Vec<(i32, Vec<u8>)> {
        self.pr
            .peers
            .iter()
            .filter_map(|(o, p)| p.backfill.clone().map(|k| (*o, k)))
            .collect()
    }

    /// Backfill targets past the backfillfull ratio: nothing is copied
    /// into them until they have room (Ceph's `backfill_toofull`).
    pub(super) fn backfill_toofull(&self) -> bool {
        self.pr.peers.iter().any(|(o, p)| {
            p.backfill.is_some() && self.cur.osds.fullness(*o) >= Fullness::Backfillfull
        })
    }

    /// Sends the next batch, if backfill is due and nothing blocks it.
    pub(super) fn backfill_step(&mut self, store: &dyn ObjectStore) {
        let recovering = !self.st.missing.is_empty()
            || !self.pr.recovering.is_empty()
            || self.pr.peers.values().any(|p| !p.missing.is_empty());
        if self.phase != Phase::Active || self.pr.backfill.is_some() || recovering {
            return;
        }
        let flags = self.cur.osds.flags;
        let degraded = self
            .cur
            .pool
            .is_some_and(|p| (self.cur.acting.len() as u32) < p.size);
        if flags.nobackfill || (flags.norebalance && !degraded) {
            return;
        }
        let targets: Vec<(i32, Vec<u8>)> = self
            .backfill_targets()
            .into_iter()
            .filter(|(o, _)| self.cur.osds.fullness(*o) < Fullness::Backfillfull)
            .collect();
        let Some(after) = targets.iter().map(|(_, k)| k.clone()).min() else {
            return;
        };
        let ids: Vec<i32> = targets.iter().map(|(o, _)| *o).collect();
        if !self.backfill_reserved(&ids) {
            return;
        }
        let cursor = (!after.is_empty()).then(|| ListCursor::after_key(&self.coll, &after));
        let page =
            match store.list_objects(&self.coll, cursor.as_ref(), self.cfg.backfill_max_objects) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(pg = %self.pgid, "backfill: listing objects: {e}");
                    return;
                }
            };
        let mut objects = Vec::new();
        let mut bytes = 0u64;
        let mut whole_page = true;
        for o in &page.objects {
            if !objects.is_empty() && bytes >= self.cfg.backfill_max_bytes {
                whole_page = false;
                break;
            }
            bytes += store.stat(&self.coll, o).map_or(0, |s| s.size);
            objects.push(o.clone());
        }
        let upto = if whole_page && page.next.is_none() {
            None
        } else {
            objects.last().map(|o| o.sort_key())
        };
        let range = Batch {
            after,
            upto,
            waiting: BTreeMap::new(),
            held: BTreeSet::new(),
            sent: self.now,
        };
        // Writes in flight (or queued) in the range finish first.
        let busy = self.pr.locked.keys().any(|o| range.covers(&o.sort_key()))
            || self
                .pr
                .inflight
                .values()
                .any(|f| range.covers(&f.obj.sort_key()));
        if busy || !self.take_turn() {
            return;
        }
        let mut states = Vec::with_capacity(objects.len());
        for o in objects {
            match ObjectState::read(store, &self.coll, &o) {
                Ok(Some(s)) => states.push((o.sort_key(), o, s)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(pg = %self.pgid, "backfill: reading {o}: {e}");
                    return;
                }
            }
        }
        let mut batch = range;
        let prev = self.st.log.head();
        let mut spent = 0u64;
        for (t, lb) in targets {
            if batch.upto.as_ref().is_some_and(|u| lb >= *u) {
                continue;
            }
            let objects: Vec<(ObjectId, ObjectState)> = states
                .iter()
                .filter(|(k, _, _)| *k > lb)
                .map(|(_, o, s)| (o.clone(), s.clone()))
                .collect();
            spent += objects
                .iter()
                .map(|(_, s)| s.data.len() as u64)
                .sum::<u64>();
            let env = self.envelope(PeerMsg::Backfill {
                after: lb,
                upto: batch.upto.clone(),
                prev,
                objects,
            });
            self.out.push(Effect::Send {
                to: t,
                env: env.clone(),
            });
            batch.waiting.insert(t, env);
        }
        for (_, o, _) in states {
            self.pr.locked.entry(o.clone()).or_default();
            batch.held.insert(o);
        }
        tracing::debug!(
            pg = %self.pgid,
            "osd.{}: backfill batch of {} objects to {:?}, through {}",
            self.me,
            batch.held.len(),
            batch.waiting.keys().collect::<Vec<_>>(),
            batch.upto.as_ref().map_or("the end".to_string(), hex::encode)
        );
        self.pr.backfill = Some(batch);
        self.out.push(Effect::Spent { bytes: spent });
    }

    pub(super) fn on_backfill_done(
        &mut self,
        store: &dyn ObjectStore,
        from: i32,
        upto: Option<Vec<u8>>,
    ) {
        let Some(b) = self.pr.backfill.as_mut() else {
            return;
        };
        if b.upto != upto {
            return;
        }
        let Some(sent) = b.waiting.remove(&from) else {
            return;
        };
        if let PeerMsg::Backfill { objects, .. } = &sent.msg {
            self.recovered.0 += objects.len() as u64;
            self.recovered.1 += objects
                .iter()
                .map(|(_, s)| s.data.len() as u64)
                .sum::<u64>();
        }
        if let Some(p) = self.pr.peers.get_mut(&from) {
            if upto.is_none() {
                tracing::info!(pg = %self.pgid, "osd.{}: backfill of osd.{from} done", self.me);
            }
            p.backfill = upto;
        }
        if !b.waiting.is_empty() {
            return;
        }
        let b = self.pr.backfill.take().expect("checked");
        for o in b.held {
            self.unlock(store, &o);
        }
        if self.backfill_targets().is_empty() {
            self.release_backfill();
            self.update_clean();
            self.acting_tick();
        } else {
            self.backfill_step(store);
        }
    }

    /// Resends a batch nobody acknowledged; starts one if none is out.
    pub(super) fn backfill_tick(&mut self, store: &dyn ObjectStore) {
        if self.phase != Phase::Active {
            return;
        }
        let (now, every) = (self.now, self.cfg.resend_ticks);
        match self.pr.backfill.as_mut() {
            Some(b) if b.sent + every <= now => {
                b.sent = now;
                let again: Vec<(i32, PeerEnvelope)> =
                    b.waiting.iter().map(|(o, e)| (*o, e.clone())).collect();
                for (to, env) in again {
                    self.out.push(Effect::Send { to, env });
                }
            }
            Some(_) => {}
            None => self.backfill_step(store),
        }
    }

    /// A target's side: applies a batch in log order (after the writes
    /// up to `prev`), then acknowledges once it is durable.
    pub(super) fn on_backfill_batch(
        &mut self,
        store: &dyn ObjectStore,
        from: i32,
        env: PeerEnvelope,
    ) {
        let PeerMsg::Backfill {
            after,
            upto,
            prev,
            objects,
        } = env.msg
        else {
            return;
        };
        let done = PeerMsg::BackfillDone { upto: upto.clone() };
        let applied = match &self.st.info.last_backfill {
            None => true,
            Some(lb) => upto.as_ref().is_some_and(|u| lb >= u),
        };
        if applied {
            // A repeat: acknowledge again once what we did is durable.
            let reply = self.envelope(done);
            let t = self.txn();
            self.store_txn(t, OnCommit::Send(from, reply));
            return;
        }
        if self.st.info.last_backfill.as_ref() != Some(&after) {
            tracing::warn!(
                pg = %self.pgid,
                "osd.{}: backfill batch after {} does not follow our watermark; ignored",
                self.me,
                hex::encode(&after)
            );
            return;
        }
        if prev > self.st.log.head() {
            let msg = PeerMsg::Backfill {
                after,
                upto,
                prev,
                objects,
            };
            self.rep.early_backfill = Some((from, PeerEnvelope { msg, ..env }));
            return;
        }
        let covers =
            |k: &[u8]| k > after.as_slice() && upto.as_ref().is_none_or(|u| k <= u.as_slice());
        let keep: BTreeSet<ObjectId> = objects.iter().map(|(o, _)| o.clone()).collect();
        let mut gone = Vec::new();
        let mut cursor = (!after.is_empty()).then(|| ListCursor::after_key(&self.coll, &after));
        'scan: loop {
            let page = match store.list_objects(&self.coll, cursor.as_ref(), 1024) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(pg = %self.pgid, "backfill: listing objects: {e}");
                    return;
                }
            };
            for o in page.objects {
                if !covers(&o.sort_key()) {
                    break 'scan;
                }
                if !keep.contains(&o) {
                    gone.push(o);
                }
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        // One transaction per object (each carries its object's version
        // and mtime), then the watermark: the store applies them in order,
        // so a crash before the last leaves the watermark where it was.
        if !gone.is_empty() {
            let mut t = self.txn();
            t.ops = gone.into_iter().map(|obj| Op::Discard { obj }).collect();
            self.store_txn(t, OnCommit::Nothing);
        }
        for (o, s) in objects {
            let mut t = Transaction::new(self.coll, s.version);
            put_object(&mut t, &o, s);
            self.store_txn(t, OnCommit::Nothing);
        }
        if upto.is_none() {
            // The last batch: this target's backfill is done.
            self.release_remote();
        }
        self.st.info.last_backfill = upto;
        self.refresh_info();
        let mut t = self.txn();
        t.meta.push(meta::info(&self.st.info));
        let reply = self.envelope(done);
        self.store_txn(t, OnCommit::Send(from, reply));
    }
}
