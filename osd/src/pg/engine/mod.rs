//! The PG engine: one placement group on one OSD, as a state machine
//! without I/O. It takes [`Event`]s (a map epoch, a peer's message, a
//! client op, a store commit, a timer tick) and returns [`Effect`]s (send a
//! message, apply a store transaction, answer a client, ask the monitors
//! for `up_thru`). It reads the store directly (reads are local and
//! synchronous) but never writes it: every change is a `Store` effect,
//! applied by the caller in the order given, and reported back with
//! [`Event::Committed`]. Reads of one object are safe while its own writes
//! are in flight (an object is held until they commit); work that reads
//! the whole PG (adopting a log, listing objects for a member to take
//! anew) waits until every transaction the engine emitted has committed. The OSD daemon wires it to QUIC and RocksDB; the
//! simulation in `osd/tests/` wires it to an in-process network with
//! faults and an in-memory store that loses what was not committed.
//!
//! Peering follows Ceph's `PeeringState` (`peering.rs`): on every new
//! interval the primary queries the prior set (GetInfo), fetches the
//! authoritative log if another member holds it (GetLog), waits until the
//! monitors recorded its `up_thru` (WaitUpThru), then activates the acting
//! members (Activating) and goes Active; replicas (`replica.rs`) adopt the
//! authoritative log, rolling back divergent entries. Client writes
//! (`ops.rs`) are versioned, logged and sent to every acting member, and
//! answered once all have committed; many writes are in flight at once,
//! one per object. Recovery (`recovery.rs`) copies objects to the members
//! that miss them, an object touched by a client first.
//!
//! Only complete copies serve: when a member of the up set is behind the
//! authoritative log's tail (or new), the primary asks the monitors for a
//! temporary acting set of complete copies (Ceph's pg_temp, `acting.rs`)
//! and backfills the up members from it in the store's hash order
//! (`backfill.rs`), then gives the PG back to its up set; copies left on
//! OSDs outside it are removed once the PG is clean there.
//!
//! When a pool's pg_num grows, the host splits each PG before handing it
//! the epoch (`split.rs`): the children start as copies of the parent's
//! state for their objects, and the pool change starts a new interval in
//! which parent and children peer on their own.

mod acting;
mod backfill;
mod interface;
mod lifecycle;
mod ops;
mod peering;
mod query;
mod recovery;
mod replica;
mod reservation;
mod split;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use interface::{ClientOp, Effect, Event, OpDone, OpFailed, OpReply, PgConfig, Phase, ResKind};

use cluster::{PgId, ReqId, Version};

use super::info::{meta, PgInfo, PgState};
use super::interval::{PastInterval, PgEpoch, PriorSet};
use super::messages::{ObjectState, PeerEnvelope, PeerMsg};
use crate::store::{CollectionId, ObjectId, ObjectStore, Transaction};

/// What to do when a store transaction commits.
#[derive(Debug)]
enum OnCommit {
    Nothing,
    /// A client write committed here.
    LocalWrite(Version),
    /// Send this once durable.
    Send(i32, PeerEnvelope),
    /// A replica's write committed: remember, then ack.
    RepCommitted(Version, i32, PeerEnvelope),
    /// The primary's own activation is durable.
    Activated,
    /// A pulled object is durable here.
    Pulled(ObjectId),
    /// The primary adopted the authoritative log: on to WaitUpThru.
    Adopted,
}

/// A peer in the acting set, as the primary knows it.
#[derive(Debug, Default)]
struct Peer {
    info: PgInfo,
    missing: BTreeMap<ObjectId, Version>,
    activated: bool,
    /// Tick the activation was (last) sent at.
    activate_sent: u64,
    /// A backfill target: its watermark (see `PgInfo::last_backfill`).
    backfill: Option<Vec<u8>>,
}

/// A client write in flight.
#[derive(Debug)]
struct Inflight {
    obj: ObjectId,
    handles: Vec<u64>,
    /// Steps of the client's op (a write answers each with no output).
    steps: usize,
    reqid: ReqId,
    waiting: BTreeSet<i32>,
    local: bool,
    sent: u64,
    /// The write as sent, kept for resends.
    msg: std::sync::Arc<PeerEnvelope>,
}

/// An object being recovered.
#[derive(Debug)]
enum Recovery {
    /// The primary pulls it from `from` (having tried `tried`).
    Pulling {
        from: i32,
        tried: BTreeSet<i32>,
        need: Version,
        sent: u64,
    },
    /// Applying the pulled copy here.
    Applying,
    /// Pushing it to members that miss it.
    Pushing {
        waiting: BTreeSet<i32>,
        /// The pushes as sent (one message per version asked for, shared
        /// by the members that asked for it), kept for resends.
        sent_msgs: Vec<(Vec<i32>, std::sync::Arc<PeerEnvelope>)>,
        /// Bytes of object data in one push.
        bytes: u64,
        sent: u64,
    },
}

/// The primary's peering and serving state for the current interval.
#[derive(Debug, Default)]
struct Primary {
    prior: PriorSet,
    /// While incomplete: the OSDs of the intervals since the PG last went
    /// active that are not up.
    incomplete_by: BTreeSet<i32>,
    infos: BTreeMap<i32, PgInfo>,
    /// Queries not answered yet, with the tick they were sent.
    asked: BTreeMap<i32, u64>,
    log_asked: u64,
    upthru_asked: Option<u64>,
    peers: BTreeMap<i32, Peer>,
    activation_epoch: u32,
    self_activated: bool,
    inflight: BTreeMap<Version, Inflight>,
    /// Objects with a write or recovery in flight, and ops waiting on them.
    locked: BTreeMap<ObjectId, VecDeque<ClientOp>>,
    recovering: BTreeMap<ObjectId, Recovery>,
    /// Missing objects no member we know of has.
    unfound: BTreeSet<ObjectId>,
    clean: bool,
    /// The backfill batch in flight.
    backfill: Option<backfill::Batch>,
    /// OSDs outside the acting set that hold a copy, to remove once clean.
    strays: BTreeSet<i32>,
    /// The acting set asked of the monitors, and when.
    temp_asked: Option<(Vec<i32>, u64)>,
    /// Backfill reservations held or asked.
    reservation: reservation::Reservation,
}

/// Object copies that are not where they should be (for `pg stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyCounts {
    /// Copies missing for the pool's size.
    pub degraded: u64,
    /// Copies still to be backfilled while enough copies exist.
    pub misplaced: u64,
    pub unfound: u64,
}

/// A replica's state for the current interval.
#[derive(Debug, Default)]
struct Replica {
    /// Writes that arrived before the ones they follow.
    early: BTreeMap<Version, (i32, PeerEnvelope)>,
    /// A backfill batch that follows writes not applied here yet.
    early_backfill: Option<(i32, PeerEnvelope)>,
    /// Newest write committed here.
    committed: Version,
    /// As a backfill target: the remote slot asked (request id) and
    /// whether it was granted.
    remote: Option<(u64, bool)>,
}

pub struct Pg {
    pgid: PgId,
    coll: CollectionId,
    me: i32,
    cfg: PgConfig,
    st: PgState,
    cur: PgEpoch,
    phase: Phase,
    now: u64,
    next_id: u64,
    on_commit: BTreeMap<u64, OnCommit>,
    /// Messages and ops from epochs newer than ours.
    early_msgs: Vec<(i32, PeerEnvelope)>,
    early_ops: Vec<ClientOp>,
    /// Messages that read the whole PG from the store (a log to adopt, an
    /// activation, a request for our log and object list), held until
    /// every store transaction we emitted has committed: the store must
    /// show what our memory does.
    settling: Vec<(i32, PeerEnvelope)>,
    /// Ops that arrived while the PG was not active.
    waiting: VecDeque<ClientOp>,
    /// Objects and bytes copied to other members (recovery and backfill)
    /// since this engine started.
    recovered: (u64, u64),
    /// A background turn asked of the OSD, or granted.
    turn: reservation::Turn,
    pr: Primary,
    rep: Replica,
    out: Vec<Effect>,
}

/// What an OSD that does not hold a PG answers for it: a query gets an
/// empty info (nothing here), a pull gets "not here". Other messages need
/// no answer.
pub fn answer_without_pg(env: &PeerEnvelope, epoch: u32) -> Option<PeerEnvelope> {
    let msg = match &env.msg {
        PeerMsg::Query => PeerMsg::Notify {
            info: PgInfo::default(),
        },
        PeerMsg::Pull { object, need } => PeerMsg::Push {
            object: object.clone(),
            need: *need,
            state: None,
        },
        _ => return None,
    };
    Some(PeerEnvelope {
        pool: env.pool,
        seed: env.seed,
        epoch,
        interval: env.interval,
        msg,
    })
}

impl Pg {
    pub fn pgid(&self) -> PgId {
        self.pgid
    }
    pub fn phase(&self) -> &Phase {
        &self.phase
    }
    pub fn info(&self) -> &PgInfo {
        &self.st.info
    }
    pub fn epoch(&self) -> u32 {
        self.cur.epoch
    }
    pub fn interval(&self) -> u32 {
        self.st.info.history.same_interval_since
    }
    pub fn is_primary(&self) -> bool {
        self.cur.primary == self.me
    }
    pub fn acting(&self) -> &[i32] {
        &self.cur.acting
    }
    /// What the newest epoch says about this PG.
    pub fn pg_epoch(&self) -> &PgEpoch {
        &self.cur
    }
    pub fn missing(&self) -> &BTreeMap<ObjectId, Version> {
        &self.st.missing
    }
    pub fn past_intervals(&self) -> &[PastInterval] {
        &self.st.past.intervals
    }
    /// OSDs a down PG waits for.
    pub fn blocked_by(&self) -> Vec<i32> {
        let by = match self.phase {
            Phase::Incomplete => &self.pr.incomplete_by,
            _ => &self.pr.prior.blocked_by,
        };
        by.iter().copied().collect()
    }
    /// Objects each acting peer misses (primary only).
    pub fn peer_missing(&self) -> BTreeMap<i32, usize> {
        self.pr
            .peers
            .iter()
            .map(|(o, p)| (*o, p.missing.len()))
            .collect()
    }
    pub fn unfound(&self) -> usize {
        self.pr.unfound.len()
    }

    /// Objects and bytes this engine copied to other members so far.
    pub fn recovered(&self) -> (u64, u64) {
        self.recovered
    }

    /// Degraded, misplaced and unfound object copies (primary only),
    /// given the sort keys of the objects the primary holds.
    pub fn copy_counts(&self, keys: &[Vec<u8>]) -> CopyCounts {
        let n = keys.len() as u64;
        let size = self.cur.pool.map_or(0, |p| p.size as u64);
        let acting = self.cur.acting.len() as u64;
        let mut missing = self.st.missing.len() as u64;
        let mut backfilled = 0u64;
        let mut to_backfill = 0u64;
        for p in self.pr.peers.values() {
            match &p.backfill {
                None => missing += p.missing.len() as u64,
                Some(lb) => {
                    let done = keys.iter().filter(|k| *k <= lb).count() as u64;
                    backfilled += done;
                    to_backfill += n - done;
                }
            }
        }
        let short = size.saturating_sub(acting) * n;
        CopyCounts {
            degraded: missing + short.saturating_sub(backfilled),
            misplaced: if short == 0 { to_backfill } else { 0 },
            unfound: self.pr.unfound.len() as u64,
        }
    }

    /// Active with every acting member holding every object.
    pub fn is_clean(&self) -> bool {
        self.phase == Phase::Active && self.pr.clean
    }

    /// The PG's state in Ceph's words (`active+clean`, `peering`,
    /// `active+recovering+degraded`, `undersized+degraded+peered`, ...).
    pub fn state_name(&self) -> String {
        let undersized = self
            .cur
            .pool
            .is_some_and(|p| (self.cur.acting.len() as u32) < p.size);
        let below_min = self.cur.acting.len() < self.cur.min_size();
        match &self.phase {
            Phase::Stray => "stray".into(),
            Phase::ReplicaActive => "replica".into(),
            Phase::Deleted => "deleted".into(),
            Phase::GetInfo | Phase::GetLog(_) | Phase::WaitUpThru => "peering".into(),
            Phase::WaitActingChange => "remapped+peering".into(),
            Phase::Activating => "activating".into(),
            Phase::Down => "down".into(),
            Phase::Incomplete => "incomplete".into(),
            Phase::Active => {
                let mut s = vec![if below_min { "peered" } else { "active" }];
                let missing = !self.st.missing.is_empty()
                    || self.pr.peers.values().any(|p| !p.missing.is_empty());
                let backfilling = self.pr.peers.values().any(|p| p.backfill.is_some());
                if !self.pr.unfound.is_empty() {
                    s.push("recovery_unfound");
                } else if !self.pr.recovering.is_empty() {
                    s.push("recovering");
                } else if missing {
                    s.push("recovery_wait");
                }
                if backfilling {
                    let reserved =
                        matches!(self.pr.reservation, reservation::Reservation::Held { .. });
                    s.push(if self.pr.backfill.is_some() || reserved {
                        "backfilling"
                    } else if self.backfill_toofull() || self.reservation_toofull() {
                        "backfill_toofull"
                    } else {
                        "backfill_wait"
                    });
                }
                if undersized {
                    s.push("undersized");
                }
                if missing || undersized {
                    s.push("degraded");
                }
                if self.cur.up != self.cur.acting {
                    s.push("remapped");
                }
                if self.pr.clean {
                    s.push("clean");
                }
                if below_min {
                    // Ceph puts "peered" last: undersized+degraded+peered.
                    let first = s.remove(0);
                    s.push(first);
                }
                s.join("+")
            }
        }
    }

    /// Feeds one event; returns what to do.
    pub fn handle(&mut self, store: &dyn ObjectStore, ev: Event) -> Vec<Effect> {
        match ev {
            Event::Map(m) => {
                if self.advance(m) {
                    self.persist_info(true);
                    self.reset();
                    self.start();
                }
                self.replay_early(store);
                self.after_map();
            }
            Event::Peer { from, env } => self.on_peer(store, from, env),
            Event::Op(op) => self.on_op(store, op),
            Event::Committed(id) => self.on_committed(store, id),
            Event::Tick => {
                self.now += 1;
                self.on_tick(store);
            }
            Event::Reserved { kind, id } => self.on_reserved(kind, id),
            Event::Turn => {
                self.turn = reservation::Turn::Have;
                self.start_recovery(store);
                // Unused (the work went away meanwhile): not kept.
                if self.turn == reservation::Turn::Have {
                    self.turn = reservation::Turn::None;
                }
            }
        }
        std::mem::take(&mut self.out)
    }

    fn envelope(&self, msg: PeerMsg) -> PeerEnvelope {
        PeerEnvelope {
            pool: self.pgid.pool,
            seed: self.pgid.seed,
            epoch: self.cur.epoch,
            interval: self.interval(),
            msg,
        }
    }

    fn send(&mut self, to: i32, msg: PeerMsg) {
        let env = self.envelope(msg);
        self.out.push(Effect::Send { to, env });
    }

    fn store_txn(&mut self, txn: Transaction, then: OnCommit) {
        let id = self.next_id;
        self.next_id += 1;
        self.on_commit.insert(id, then);
        self.out.push(Effect::Store { id, txn });
    }

    fn txn(&self) -> Transaction {
        Transaction::new(self.coll, self.st.info.last_update)
    }

    /// Whether this OSD is in the PG's up or acting set.
    pub fn is_member(&self) -> bool {
        self.cur.up.contains(&self.me) || self.cur.acting.contains(&self.me)
    }

    fn replay_early(&mut self, store: &dyn ObjectStore) {
        let epoch = self.cur.epoch;
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early_msgs)
            .into_iter()
            .partition(|(_, e)| e.epoch <= epoch);
        self.early_msgs = later;
        for (from, env) in now {
            self.on_peer(store, from, env);
        }
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early_ops)
            .into_iter()
            .partition(|o| o.epoch <= epoch);
        self.early_ops = later;
        for op in now {
            self.on_op(store, op);
        }
    }

    fn on_peer(&mut self, store: &dyn ObjectStore, from: i32, env: PeerEnvelope) {
        if env.epoch > self.cur.epoch {
            // Wait for that map: the sender may know of an interval we
            // do not yet.
            if self.early_msgs.len() < 4096 {
                self.early_msgs.push((from, env));
            }
            return;
        }
        // A pull is a read of a given version: anyone may answer it.
        if let PeerMsg::Pull { object, need } = &env.msg {
            let state = self.local_state_at(store, object, *need);
            let (object, need) = (object.clone(), *need);
            let mut reply = self.envelope(PeerMsg::Push {
                object,
                need,
                state,
            });
            reply.interval = env.interval;
            self.out.push(Effect::Send {
                to: from,
                env: reply,
            });
            return;
        }
        if env.interval != self.interval() {
            // From another interval: an older one is stale (the sender
            // will learn of the new map), and we cannot be behind after
            // the epoch check.
            tracing::debug!(
                pg = %self.pgid,
                "dropping {} from osd.{from}: interval {} is not ours ({})",
                env.msg.name(),
                env.interval,
                self.interval()
            );
            return;
        }
        let reads_whole_pg = matches!(
            env.msg,
            PeerMsg::Log { .. } | PeerMsg::Activate { .. } | PeerMsg::GetLog { .. }
        );
        if reads_whole_pg && !self.on_commit.is_empty() {
            self.settling.push((from, env));
            return;
        }
        match env.msg {
            PeerMsg::Query => {
                let info = self.st.info.clone();
                self.send(from, PeerMsg::Notify { info });
            }
            PeerMsg::GetLog { list } => self.send_log(store, from, list),
            PeerMsg::Notify { info } => self.on_notify(from, info),
            PeerMsg::Log {
                info,
                entries,
                objects,
            } => self.on_log(store, from, info, entries, objects),
            PeerMsg::BackfillDone { upto } => self.on_backfill_done(store, from, upto),
            PeerMsg::Stray { info } => self.on_stray(from, info),
            PeerMsg::BackfillGrant => self.on_backfill_grant(from, store),
            PeerMsg::BackfillReject => self.on_backfill_reject(from),
            msg @ (PeerMsg::BackfillReserve { .. } | PeerMsg::BackfillRelease) => {
                if from != self.cur.primary {
                    tracing::warn!(
                        pg = %self.pgid,
                        "refusing {} from osd.{from}: the primary is osd.{}",
                        msg.name(),
                        self.cur.primary
                    );
                    return;
                }
                match msg {
                    PeerMsg::BackfillReserve { prio } => self.on_backfill_reserve(from, prio),
                    _ => self.release_remote(),
                }
            }
            PeerMsg::Activated { info, missing } => self.on_activated(store, from, info, missing),
            PeerMsg::RepOpDone { version } => self.on_repop_done(store, from, version),
            PeerMsg::Push {
                object,
                need,
                state,
            } if self.is_primary() => self.on_pulled(from, object, need, state),
            PeerMsg::PushDone { object, version } => {
                self.on_push_done(store, from, object, version)
            }
            msg @ (PeerMsg::Activate { .. }
            | PeerMsg::RepOp { .. }
            | PeerMsg::Push { .. }
            | PeerMsg::Backfill { .. }
            | PeerMsg::Remove
            | PeerMsg::History { .. }) => {
                if from != self.cur.primary {
                    tracing::warn!(
                        pg = %self.pgid,
                        "refusing {} from osd.{from}: the primary is osd.{}",
                        msg.name(),
                        self.cur.primary
                    );
                    return;
                }
                let env = PeerEnvelope { msg, ..env };
                self.on_from_primary(store, from, env);
            }
            PeerMsg::Pull { .. } => unreachable!("handled above"),
        }
    }

    fn on_committed(&mut self, store: &dyn ObjectStore, id: u64) {
        let Some(what) = self.on_commit.remove(&id) else {
            return;
        };
        match what {
            OnCommit::Nothing => {}
            OnCommit::Send(to, env) => self.out.push(Effect::Send { to, env }),
            OnCommit::RepCommitted(v, to, env) => {
                self.rep.committed = self.rep.committed.max(v);
                self.out.push(Effect::Send { to, env });
            }
            OnCommit::LocalWrite(v) => self.on_local_write(store, v),
            OnCommit::Activated => {
                self.pr.self_activated = true;
                self.maybe_all_activated(store);
            }
            OnCommit::Pulled(obj) => self.on_pull_applied(store, obj),
            OnCommit::Adopted => self.on_adopted(),
        }
        if self.on_commit.is_empty() && !self.settling.is_empty() {
            for (from, env) in std::mem::take(&mut self.settling) {
                self.on_peer(store, from, env);
            }
        }
    }

    fn on_tick(&mut self, store: &dyn ObjectStore) {
        match self.phase {
            Phase::GetInfo
            | Phase::Down
            | Phase::Incomplete
            | Phase::GetLog(_)
            | Phase::WaitUpThru => self.peering_tick(),
            Phase::WaitActingChange => self.acting_tick(),
            Phase::Activating | Phase::Active => {
                self.resend_activations();
                self.resend_repops();
                self.recovery_tick(store);
                self.reservation_tick();
                self.backfill_tick(store);
                self.acting_tick();
            }
            Phase::Stray => self.stray_tick(),
            _ => {}
        }
    }

    /// The state of `obj` here if it is at version `need` (and not
    /// missing). A copy being backfilled answers too, past its watermark:
    /// a version names one write of the PG's history, and an object and
    /// its version change in one transaction, so an object stored at
    /// `need` is that write's result, however stale the copy around it.
    fn local_state_at(
        &self,
        store: &dyn ObjectStore,
        obj: &ObjectId,
        need: Version,
    ) -> Option<ObjectState> {
        if self.st.missing.contains_key(obj) {
            return None;
        }
        let s = self.local_state(store, obj)?;
        (s.version == need).then_some(s)
    }

    fn local_state(&self, store: &dyn ObjectStore, obj: &ObjectId) -> Option<ObjectState> {
        ObjectState::read(store, &self.coll, obj).ok().flatten()
    }

    /// The object's version here (`None`: absent).
    fn have(&self, store: &dyn ObjectStore, obj: &ObjectId) -> Option<Version> {
        store.stat(&self.coll, obj).ok().map(|s| s.version)
    }
}
