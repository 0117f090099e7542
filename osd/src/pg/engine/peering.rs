//! The primary's peering, Ceph's way: GetInfo (ask the prior set), the
//! authoritative log (Ceph's `find_best_info`: among the members with the
//! newest `last_epoch_started`, the newest `last_update`, then ourselves,
//! then the longest log), GetLog (adopt it when another member holds it),
//! choose the acting set (`acting.rs`: only complete copies; ask the
//! monitors for another one and wait if it differs), WaitUpThru (the
//! monitors must record that we were alive in this interval before it
//! may write), Activating (every acting member and backfill target adopts
//! the log and reports what it misses), Active.

use std::cmp::Reverse;

use cluster::Version;

use super::{Effect, OnCommit, Peer, Pg, Phase};
use crate::pg::info::meta;
use crate::pg::log::{object_fixes, LogEntry, Merge};
use crate::pg::messages::PeerMsg;
use crate::store::{ListCursor, ObjectId, ObjectStore, Op, Transaction};

impl Pg {
    pub(super) fn start_peering(&mut self) {
        self.phase = super::Phase::GetInfo;
        let mine = self.st.info.clone();
        self.pr.infos.insert(self.me, mine);
        self.query_prior();
        // Nobody to ask (or a writable interval with nobody up): decide now.
        self.evaluate_infos();
    }

    /// (Re)computes the prior set and queries whoever in it has not
    /// answered yet.
    fn query_prior(&mut self) {
        let les = self.st.info.history.last_epoch_started;
        self.pr.prior = self.st.past.prior_set(&self.cur, les);
        let ask: Vec<i32> = self
            .pr
            .prior
            .probe
            .iter()
            .copied()
            .filter(|o| {
                *o != self.me && !self.pr.infos.contains_key(o) && !self.pr.asked.contains_key(o)
            })
            .collect();
        for o in ask {
            self.pr.asked.insert(o, self.now);
            self.send(o, PeerMsg::Query);
        }
    }

    pub(super) fn on_notify(&mut self, from: i32, info: crate::pg::info::PgInfo) {
        if !self.is_primary()
            || !matches!(self.phase, Phase::GetInfo | Phase::Down | Phase::Incomplete)
        {
            return;
        }
        if self.pr.asked.remove(&from).is_none() {
            return;
        }
        let les = self.st.info.history.last_epoch_started;
        self.st.info.history.merge(&info.history);
        self.pr.infos.insert(from, info);
        if self.st.info.history.last_epoch_started > les {
            // The PG went active later than we knew: older intervals no
            // longer matter.
            let les = self.st.info.history.last_epoch_started;
            self.st.past.prune(les);
        }
        self.query_prior();
        self.evaluate_infos();
    }

    /// With every probed member's info in hand, picks the authoritative
    /// log; a past interval without a member up keeps the PG down.
    fn evaluate_infos(&mut self) {
        let waiting = self
            .pr
            .prior
            .probe
            .iter()
            .any(|o| *o != self.me && !self.pr.infos.contains_key(o));
        if self.pr.prior.is_down() {
            self.phase = Phase::Down;
            return;
        }
        self.phase = Phase::GetInfo;
        if waiting {
            return;
        }
        // A copy in the middle of a backfill cannot be the authority.
        let max_les = self
            .pr
            .infos
            .values()
            .filter(|i| i.is_complete())
            .map(|i| i.last_epoch_started)
            .max()
            .unwrap_or(0);
        let went_active = self.st.info.history.last_epoch_started;
        if max_les < went_active {
            // Some member's history says the PG went active at
            // `went_active`, yet nobody who answered activated then: the
            // writes of that interval may be on none of them.
            self.pr.incomplete_by = self.st.past.members_down(&self.cur, went_active);
            tracing::warn!(
                pg = %self.pgid,
                "osd.{}: incomplete: went active at epoch {went_active}, the newest log here is from {max_les}; waiting for osd {:?}",
                self.me,
                self.pr.incomplete_by
            );
            self.phase = Phase::Incomplete;
            return;
        }
        let me = self.me;
        let best = self
            .pr
            .infos
            .iter()
            .filter(|(_, i)| i.is_complete() && i.last_epoch_started == max_les)
            .max_by_key(|(o, i)| (i.last_update, **o == me, Reverse(i.log_tail), Reverse(**o)))
            .map(|(o, _)| *o)
            .unwrap_or(me);
        tracing::debug!(
            pg = %self.pgid,
            "osd.{me}: infos {:?}; authoritative: osd.{best}",
            self.pr
                .infos
                .iter()
                .map(|(o, i)| (*o, i.last_epoch_started, i.last_update))
                .collect::<Vec<_>>()
        );
        if !self.choose_acting(best) {
            return;
        }
        if best == me {
            self.check_up_thru();
        } else {
            let list = self.st.log.head() < self.pr.infos[&best].log_tail;
            self.phase = Phase::GetLog(best);
            self.pr.log_asked = self.now;
            self.send(best, PeerMsg::GetLog { list });
        }
    }

    /// Answers a primary's GetLog: our whole log, and our objects if asked.
    pub(super) fn send_log(&mut self, store: &dyn ObjectStore, to: i32, list: bool) {
        let entries: Vec<LogEntry> = self.st.log.entries().cloned().collect();
        let objects = list.then(|| self.auth_listing(store));
        let info = self.st.info.clone();
        self.send(
            to,
            PeerMsg::Log {
                info,
                entries,
                objects,
            },
        );
    }

    pub(super) fn on_log(
        &mut self,
        store: &dyn ObjectStore,
        from: i32,
        info: crate::pg::info::PgInfo,
        entries: Vec<LogEntry>,
        objects: Option<Vec<(ObjectId, Version)>>,
    ) {
        if self.phase != Phase::GetLog(from) {
            return;
        }
        match self.adopt_log(store, info.log_tail, entries, objects) {
            Some(t) => {
                self.st.info.history.merge(&info.history);
                // Activation lists our objects: wait until the store
                // shows the adopted log's changes.
                self.store_txn(t, OnCommit::Adopted);
            }
            None => {
                // Our history does not join theirs: take everything.
                self.pr.log_asked = self.now;
                self.send(from, PeerMsg::GetLog { list: true });
            }
        }
    }

    /// Every object we hold as the authority has it: what is on disk,
    /// with what we still miss at the version we need.
    pub(super) fn auth_listing(&self, store: &dyn ObjectStore) -> Vec<(ObjectId, Version)> {
        let mut all = std::collections::BTreeMap::new();
        for o in self.all_objects(store) {
            if let Some(v) = self.have(store, &o) {
                all.insert(o, v);
            }
        }
        for (o, v) in &self.st.missing {
            all.insert(o.clone(), *v);
        }
        all.into_iter().collect()
    }

    /// Every object this PG holds here.
    fn all_objects(&self, store: &dyn ObjectStore) -> Vec<ObjectId> {
        let mut out = Vec::new();
        let mut cursor: Option<ListCursor> = None;
        while let Ok(page) = store.list_objects(&self.coll, cursor.as_ref(), 1024) {
            out.extend(page.objects);
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        out
    }

    /// Makes the authoritative log ours: rolls back divergent entries,
    /// adopts the newer ones, notes the objects to recover and discards
    /// the ones the authority does not have. Returns the transaction, or
    /// `None` when our history cannot be joined and `resync` (the
    /// authority's object list) is needed.
    pub(super) fn adopt_log(
        &mut self,
        store: &dyn ObjectStore,
        auth_tail: Version,
        entries: Vec<LogEntry>,
        resync: Option<Vec<(ObjectId, Version)>>,
    ) -> Option<Transaction> {
        if !crate::pg::log::well_ordered(auth_tail, &entries) {
            // Bytes from a peer: never let a malformed log into ours.
            tracing::warn!(
                pg = %self.pgid,
                "osd.{}: refusing a log whose entries are not in order after {auth_tail}",
                self.me
            );
            return None;
        }
        let mut t = self.txn();
        match crate::pg::log::plan_merge(&self.st.log, auth_tail, &entries) {
            Merge::Resync => {
                let list = resync?;
                tracing::info!(
                    pg = %self.pgid,
                    "osd.{}: log {}..{} does not join the authority's {}..; taking all {} objects anew",
                    self.me,
                    self.st.log.tail(),
                    self.st.log.head(),
                    auth_tail,
                    list.len()
                );
                for o in self.all_objects(store) {
                    t.ops.push(Op::Discard { obj: o });
                }
                t.meta.extend(meta::clear_log());
                t.meta.push(meta::clear_missing());
                for e in &entries {
                    t.meta.push(meta::entry(e));
                }
                self.st.log.reset(auth_tail, entries);
                self.st.missing = list.into_iter().collect();
                for (o, v) in &self.st.missing {
                    t.meta.push(meta::missing(o, *v));
                }
            }
            Merge::Extend {
                common,
                divergent,
                adopt,
            } => {
                if let Some(last) = divergent.last() {
                    tracing::info!(
                        pg = %self.pgid,
                        "osd.{}: rolling back {} divergent entries after {common}",
                        self.me,
                        divergent.len()
                    );
                    t.meta.push(meta::drop_entries(common, last.version));
                    self.st.log.rewind(common);
                }
                let fixes = object_fixes(&divergent, &adopt, |o| self.have(store, o));
                let touched: Vec<ObjectId> = divergent
                    .iter()
                    .chain(&adopt)
                    .map(|e| e.object.clone())
                    .collect();
                for o in touched {
                    if !fixes.missing.contains_key(&o) && self.st.missing.remove(&o).is_some() {
                        t.meta.push(meta::found(&o));
                    }
                }
                for o in fixes.discard {
                    t.ops.push(Op::Discard { obj: o });
                }
                for (o, v) in fixes.missing {
                    t.meta.push(meta::missing(&o, v));
                    self.st.missing.insert(o, v);
                }
                for e in adopt {
                    t.meta.push(meta::entry(&e));
                    self.st.log.append(e);
                }
            }
        }
        self.refresh_info();
        t.meta.push(meta::info(&self.st.info));
        Some(t)
    }

    /// Brings the info's log bounds up to date with the log and missing set.
    pub(super) fn refresh_info(&mut self) {
        let i = &mut self.st.info;
        i.last_update = self.st.log.head();
        i.log_tail = self.st.log.tail();
        if self.st.missing.is_empty() {
            i.last_complete = i.last_update;
        } else {
            i.last_complete = i.last_complete.min(i.last_update);
        }
    }

    /// Takes the authority's log wholesale and becomes a backfill target
    /// with an empty watermark: the log cannot be joined to ours, or our
    /// copy was not complete anyway. Objects stay until backfill replaces
    /// or removes them; none counts as whole until then.
    pub(super) fn restart_backfill(
        &mut self,
        auth_tail: Version,
        entries: Vec<LogEntry>,
    ) -> Transaction {
        tracing::info!(
            pg = %self.pgid,
            "osd.{}: log {}..{} does not join the authority's {}..; backfilling from the start",
            self.me,
            self.st.log.tail(),
            self.st.log.head(),
            auth_tail
        );
        let mut t = self.txn();
        t.meta.extend(meta::clear_log());
        t.meta.push(meta::clear_missing());
        for e in &entries {
            t.meta.push(meta::entry(e));
        }
        self.st.log.reset(auth_tail, entries);
        self.st.missing.clear();
        self.st.info.last_backfill = Some(Vec::new());
        self.st.info.last_complete = Version::ZERO;
        self.refresh_info();
        t.meta.push(meta::info(&self.st.info));
        t
    }

    pub(super) fn on_adopted(&mut self) {
        if matches!(self.phase, Phase::GetLog(_)) {
            self.check_up_thru();
        }
    }

    fn check_up_thru(&mut self) {
        let want = self.interval();
        if self.cur.osds.up_thru(self.me) >= want {
            self.activate();
            return;
        }
        self.phase = Phase::WaitUpThru;
        if self.pr.upthru_asked.is_none() {
            self.pr.upthru_asked = Some(self.now);
            self.out.push(Effect::UpThru { epoch: want });
        }
    }

    /// After a map in the same interval: up_thru may have come, or an OSD
    /// of a past interval may be back.
    pub(super) fn after_map(&mut self) {
        if !self.is_primary() {
            return;
        }
        match self.phase {
            Phase::WaitUpThru => self.check_up_thru(),
            Phase::GetInfo | Phase::Down | Phase::Incomplete => {
                self.query_prior();
                self.evaluate_infos();
            }
            _ => {}
        }
    }

    fn activate(&mut self) {
        let epoch = self.cur.epoch;
        tracing::debug!(
            pg = %self.pgid,
            "osd.{}: activating at {epoch} with {:?}, log {}..{}, {} missing; prior {:?}",
            self.me,
            self.cur.acting,
            self.st.log.tail(),
            self.st.log.head(),
            self.st.missing.len(),
            self.pr.prior
        );
        let record = self.cur.acting.len() >= self.cur.min_size();
        self.pr.activation_epoch = epoch;
        if record {
            self.st.info.last_epoch_started = epoch;
        }
        let mut t = self.txn();
        t.meta.push(meta::info(&self.st.info));
        self.store_txn(t, OnCommit::Activated);
        let peers: Vec<i32> = self
            .cur
            .acting
            .iter()
            .chain(&self.cur.up)
            .copied()
            .filter(|o| *o != self.me)
            .collect();
        for p in peers {
            if self.pr.peers.contains_key(&p) {
                continue;
            }
            let info = self.pr.infos.get(&p).cloned().unwrap_or_default();
            let backfill = (!self.cur.acting.contains(&p))
                .then(|| info.last_backfill.clone().unwrap_or_default());
            self.pr.peers.insert(
                p,
                Peer {
                    info,
                    backfill,
                    ..Peer::default()
                },
            );
            self.send_activate(p);
        }
        self.phase = Phase::Activating;
    }

    /// Sends a member the log it needs: the entries after its last
    /// update when our log holds that point, else the whole log (it works
    /// out its divergence), with our object list when it is behind our tail.
    fn send_activate(&mut self, p: i32) {
        let Some(peer) = self.pr.peers.get_mut(&p) else {
            return;
        };
        peer.activate_sent = self.now;
        let lu = peer.info.last_update;
        let backfill = peer.backfill.is_some();
        let from = if lu >= self.st.log.tail()
            && (lu == self.st.log.tail() || self.st.log.get(lu).is_some())
        {
            lu
        } else {
            Version::ZERO
        };
        let entries: Vec<LogEntry> = self.st.log.after(from).cloned().collect();
        let msg = PeerMsg::Activate {
            activation_epoch: self.pr.activation_epoch,
            record: self.cur.acting.len() >= self.cur.min_size(),
            // Entries after `from`; history up to it is shared.
            auth_tail: from.max(self.st.log.tail()),
            entries,
            backfill,
            history: self.st.info.history,
        };
        self.send(p, msg);
    }

    pub(super) fn on_activated(
        &mut self,
        store: &dyn ObjectStore,
        from: i32,
        info: crate::pg::info::PgInfo,
        missing: Vec<(ObjectId, Version)>,
    ) {
        if self.phase != Phase::Activating {
            return;
        }
        let acting = self.cur.acting.contains(&from);
        let Some(p) = self.pr.peers.get_mut(&from) else {
            return;
        };
        if acting && !info.is_complete() {
            // Its log did not join ours after all: it must be backfilled,
            // and only complete copies may be acting.
            let want: Vec<i32> = self
                .cur
                .acting
                .iter()
                .copied()
                .filter(|o| *o != from)
                .collect();
            self.request_acting(want);
            return;
        }
        p.backfill = (!acting).then(|| info.last_backfill.clone().unwrap_or_default());
        p.info = info;
        p.missing = missing.into_iter().collect();
        p.activated = true;
        self.maybe_all_activated(store);
    }

    pub(super) fn resend_activations(&mut self) {
        if self.phase != Phase::Activating {
            return;
        }
        let late: Vec<i32> = self
            .pr
            .peers
            .iter()
            .filter(|(_, p)| !p.activated && p.activate_sent + self.cfg.resend_ticks <= self.now)
            .map(|(o, _)| *o)
            .collect();
        for p in late {
            self.send_activate(p);
        }
    }

    /// Every acting member persisted the activation: the PG is active.
    pub(super) fn maybe_all_activated(&mut self, store: &dyn ObjectStore) {
        if self.phase != Phase::Activating
            || !self.pr.self_activated
            || self.pr.peers.values().any(|p| !p.activated)
        {
            return;
        }
        if self.cur.acting.len() >= self.cur.min_size() {
            let les = self.pr.activation_epoch;
            self.st.info.history.last_epoch_started = les;
            self.st.past.prune(les);
            self.persist_info(true);
            self.share_history();
        }
        self.phase = Phase::Active;
        tracing::debug!(pg = %self.pgid, "osd.{} active at epoch {}", self.me, self.cur.epoch);
        self.start_recovery(store);
        let waiting: Vec<_> = self.waiting.drain(..).collect();
        for op in waiting {
            self.on_op(store, op);
        }
    }

    /// Tells the acting members the PG's history.
    pub(super) fn share_history(&mut self) {
        let history = self.st.info.history;
        let peers: Vec<i32> = self.pr.peers.keys().copied().collect();
        for p in peers {
            self.send(p, PeerMsg::History { history });
        }
    }

    pub(super) fn peering_tick(&mut self) {
        let (resend, now) = (self.cfg.resend_ticks, self.now);
        let due = move |sent: u64| sent + resend <= now;
        let late: Vec<i32> = self
            .pr
            .asked
            .iter()
            .filter(|(_, t)| due(**t))
            .map(|(o, _)| *o)
            .collect();
        for o in late {
            self.pr.asked.insert(o, self.now);
            self.send(o, PeerMsg::Query);
        }
        if let Phase::GetLog(from) = self.phase {
            if due(self.pr.log_asked) {
                self.pr.log_asked = self.now;
                let list = self.st.log.head() < self.pr.infos[&from].log_tail;
                self.send(from, PeerMsg::GetLog { list });
            }
        }
        if self.phase == Phase::WaitUpThru && self.pr.upthru_asked.is_some_and(due) {
            self.pr.upthru_asked = Some(self.now);
            self.out.push(Effect::UpThru {
                epoch: self.interval(),
            });
        }
    }
}
