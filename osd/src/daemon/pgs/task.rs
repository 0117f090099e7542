//! One PG's task: it owns the PG's engine, feeds it events one at a time
//! (map epochs, peer messages, client ops, store commits, a tick every
//! 100 ms) and carries out its effects: messages go out one-way over the
//! messenger, store transactions go to the OSD's store writer (applied in
//! order, group-committed, reported back as committed), replies go to the
//! waiting client request, up_thru and pg_temp requests go to the
//! monitors, and a PG whose copy here is no longer needed hands itself to
//! the OSD's PG removal and ends. No lock
//! is held across the network: a write waiting for its replicas is just
//! state in the engine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use auth::EntityName;
use cluster::msg::mon::{MonCommand, PgStat};
use cluster::msg::{msg_type, RemoteError};

use tokio::sync::{mpsc, oneshot};

use super::Shared;
use crate::pg::engine::{ClientOp, Effect, Event, OpReply, Pg, Phase};
use crate::store::{CollectionId, ListCursor, ListPage, ObjectStore, Transaction};

/// How often a PG's engine ticks (resends, recovery pacing).
pub const TICK: Duration = Duration::from_millis(100);

pub enum Cmd {
    Event(Event),
    Op(ClientOp, oneshot::Sender<OpReply>),
    List {
        cursor: Option<ListCursor>,
        max: usize,
        reply: oneshot::Sender<Result<ListPage, RemoteError>>,
    },
    Stat(oneshot::Sender<Option<PgStat>>),
    Query(oneshot::Sender<serde_json::Value>),
    /// The pool now has `pg_num` PGs: split off this PG's children (none
    /// if it is already split for that many) and hand them back.
    Split {
        pg_num: u32,
        reply: oneshot::Sender<Vec<Pg>>,
    },
}

pub struct PgTask {
    pg: Pg,
    shared: Arc<Shared>,
    replies: HashMap<u64, oneshot::Sender<OpReply>>,
    /// This PG's own inbox, for the store writer's commit reports.
    inbox: mpsc::UnboundedSender<Cmd>,
    /// The engine said its copy here is to be removed.
    deleted: bool,
    /// The state last seen while primary (a change is reported soon).
    state: String,
}

/// Starts a PG's task; returns its inbox.
pub fn spawn(pg: Pg, first: Vec<Effect>, shared: Arc<Shared>) -> mpsc::UnboundedSender<Cmd> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut task = PgTask {
        pg,
        shared,
        replies: HashMap::new(),
        inbox: tx.clone(),
        deleted: false,
        state: String::new(),
    };
    task.run_effects(first);
    tokio::spawn(task.run(rx));
    tx
}

impl PgTask {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let cmd = tokio::select! {
                c = rx.recv() => match c {
                    Some(c) => c,
                    None => return,
                },
                _ = tick.tick() => Cmd::Event(Event::Tick),
            };
            let event = matches!(cmd, Cmd::Event(_) | Cmd::Op(..));
            self.on_cmd(cmd).await;
            if event {
                self.note_state();
            }
            if self.deleted {
                // Transactions already queued are applied before the
                // removal's (one writer, in order).
                self.shared.remove_pg(self.pg.pgid());
                return;
            }
        }
    }

    /// Asks for a prompt report when the PG this OSD leads changed state
    /// (an operator watching `strata status` sees it within a fraction of
    /// a second, not at the next report interval).
    fn note_state(&mut self) {
        if !self.pg.is_primary() {
            return;
        }
        let now = self.pg.state_name();
        if now != self.state {
            self.state = now;
            self.shared.report_soon.notify_one();
        }
    }

    async fn on_cmd(&mut self, cmd: Cmd) {
        let store = self.shared.store.clone();
        let effects = match cmd {
            // A recovery turn and a pull read whole objects (a backfill
            // batch: up to 8 MiB) from the store: this worker tells the
            // runtime it blocks, so the other PGs' tasks (client ops)
            // move to another worker instead of waiting behind the read.
            Cmd::Event(e) if reads_objects(&e) => {
                tokio::task::block_in_place(|| self.pg.handle(store.as_ref(), e))
            }
            Cmd::Event(e) => self.pg.handle(store.as_ref(), e),
            Cmd::Op(op, reply) => {
                self.replies.insert(op.handle, reply);
                self.pg.handle(store.as_ref(), Event::Op(op))
            }
            Cmd::List { cursor, max, reply } => {
                let _ = reply.send(self.list(cursor, max));
                return;
            }
            Cmd::Stat(reply) => {
                let _ = reply.send(self.stat());
                return;
            }
            Cmd::Query(reply) => {
                let _ = reply.send(self.pg.query());
                return;
            }
            Cmd::Split { pg_num, reply } => {
                // Waits for the store: the split reads what every queued
                // transaction wrote.
                let _ = reply.send(self.split(pg_num).await);
                return;
            }
        };
        self.run_effects(effects);
    }

    fn run_effects(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { to, env } => self.shared.send_peer(to, env),
                Effect::Broadcast { to, env } => self.shared.broadcast_peer(&to, &env),
                Effect::Store { id, txn } => self.store(id, txn),
                Effect::Reply(r) => {
                    if let Some(tx) = self.replies.remove(&r.handle) {
                        let _ = tx.send(r);
                    }
                }
                Effect::PgTemp { want } => {
                    let (shared, pg) = (self.shared.clone(), self.pg.pgid());
                    tokio::spawn(async move {
                        let cmd = MonCommand::OsdPgTemp {
                            id: shared.id,
                            pgs: vec![(pg, want)],
                        };
                        if let Err(e) = shared.mc.command(cmd).await {
                            tracing::debug!("PG {pg}: asking for pg_temp: {e}");
                        }
                    });
                }
                Effect::Delete => self.deleted = true,
                Effect::Reserve { kind, prio, id } => self.shared.reservations.reserve(
                    kind,
                    self.pg.pgid(),
                    prio,
                    id,
                    self.inbox.clone(),
                ),
                Effect::Unreserve { kind } => {
                    self.shared.reservations.unreserve(kind, self.pg.pgid())
                }
                Effect::WantTurn { prio } => {
                    self.shared
                        .turns
                        .want(self.pg.pgid(), prio, self.inbox.clone())
                }
                Effect::Spent { bytes } => self.shared.turns.spent(bytes),
                Effect::UpThru { epoch } => {
                    let shared = self.shared.clone();
                    tokio::spawn(async move {
                        let cmd = MonCommand::OsdAlive {
                            id: shared.id,
                            epoch,
                        };
                        if let Err(e) = shared.mc.command(cmd).await {
                            tracing::debug!("asking for up_thru {epoch}: {e}");
                        }
                    });
                }
            }
        }
    }

    /// Queues a transaction on the store writer; its commit comes back
    /// as an event. A store that fails a write stops the OSD.
    fn store(&self, id: u64, txn: Transaction) {
        let (inbox, shared, pgid) = (self.inbox.clone(), self.shared.clone(), self.pg.pgid());
        let done = move |r: Result<(), crate::store::StoreError>| match r {
            Ok(()) => {
                let _ = inbox.send(Cmd::Event(Event::Committed(id)));
            }
            Err(e) => shared.fatal(format!("PG {pgid}: the object store failed a write: {e}")),
        };
        self.shared.writer.submit(txn, Box::new(done));
    }

    /// Splits the PG: its state in memory at once, its store after every
    /// transaction it queued before (the writer applies in order, so an
    /// empty transaction's commit says they are all in). A store that
    /// cannot split stops the OSD: memory and disk would disagree.
    async fn split(&mut self, pg_num: u32) -> Vec<Pg> {
        let have = self.pg.split_for();
        if have == 0 || have >= pg_num {
            return Vec::new();
        }
        let (sp, children) = self.pg.split(pg_num);
        let pgid = self.pg.pgid();
        let (tx, rx) = oneshot::channel();
        self.shared.writer.submit(
            Transaction::new(self.coll(), cluster::Version::ZERO),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        let store = self.shared.store.clone();
        let done = match rx.await {
            Ok(Ok(())) => tokio::task::spawn_blocking(move || store.split_collection(&sp))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the store writer stopped".into()),
        };
        match done {
            Ok(moved) => {
                tracing::info!(
                    "PG {pgid}: split for {pg_num} PGs: {moved} objects moved to {:?}",
                    children
                        .iter()
                        .map(|c| c.pgid().to_string())
                        .collect::<Vec<_>>()
                );
                children
            }
            Err(e) => {
                self.shared
                    .fatal(format!("PG {pgid}: splitting for {pg_num} PGs: {e}"));
                Vec::new()
            }
        }
    }

    fn coll(&self) -> CollectionId {
        let p = self.pg.pgid();
        CollectionId::new(p.pool, p.seed)
    }

    fn list(&self, cursor: Option<ListCursor>, max: usize) -> Result<ListPage, RemoteError> {
        if !self.pg.is_primary() || *self.pg.phase() != Phase::Active {
            return Err(RemoteError::again(format!(
                "PG {} is {} on osd.{} (listing needs its active primary)",
                self.pg.pgid(),
                self.pg.state_name(),
                self.shared.id
            )));
        }
        self.shared
            .store
            .list_objects(&self.coll(), cursor.as_ref(), max)
            .map_err(crate::pg::ops::store_err)
    }

    /// The PG's statistics, if this OSD is its primary.
    fn stat(&self) -> Option<PgStat> {
        if !self.pg.is_primary() {
            return None;
        }
        let c = self.coll();
        let store = &self.shared.store;
        let (mut keys, mut bytes) = (Vec::new(), 0u64);
        let mut cursor = None;
        while let Ok(page) = store.list_objects(&c, cursor.as_ref(), 1000) {
            for o in &page.objects {
                keys.push(o.sort_key());
                bytes += store.stat(&c, o).map_or(0, |s| s.size);
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let pe = self.pg.pg_epoch();
        let lu = self.pg.info().last_update;
        let copies = self.pg.copy_counts(&keys);
        let (recovered_objects, recovered_bytes) = self.pg.recovered();
        Some(PgStat {
            pool: c.pool,
            seed: c.seed,
            state: self.pg.state_name(),
            num_objects: keys.len() as u64,
            num_bytes: bytes,
            up: pe.up.clone(),
            acting: pe.acting.clone(),
            last_update: (lu.epoch, lu.counter),
            reported_epoch: self.pg.epoch(),
            last_epoch_clean: if self.pg.is_clean() {
                self.pg.epoch()
            } else {
                self.pg.info().history.last_epoch_clean
            },
            num_objects_degraded: copies.degraded,
            num_objects_misplaced: copies.misplaced,
            num_objects_unfound: copies.unfound,
            recovered_objects,
            recovered_bytes,
        })
    }
}

impl Drop for PgTask {
    /// A PG task that ends gives back its backfill slots.
    fn drop(&mut self) {
        self.shared.reservations.forget(self.pg.pgid());
    }
}

/// The frame of a peer message: the envelope goes in the data section,
/// whose cap (129 MiB) fits a whole object of the largest size.
/// A peer message, encoded once (in place, never copied again) for every
/// OSD it goes to.
pub fn peer_message(env: &crate::pg::messages::PeerEnvelope) -> messenger::Outgoing {
    messenger::Outgoing {
        msg_type: msg_type::PG_PEER,
        body: Vec::new(),
        data: cluster::codec::encode_shared(env),
    }
}

pub fn osd_entity(id: i32) -> EntityName {
    EntityName::osd(id as u32)
}

/// Whether the PG engine reads whole objects from the store for this
/// event: a recovery or backfill turn on the primary, a pull on a peer.
fn reads_objects(e: &Event) -> bool {
    match e {
        Event::Turn => true,
        Event::Peer { env, .. } => matches!(env.msg, crate::pg::messages::PeerMsg::Pull { .. }),
        _ => false,
    }
}
