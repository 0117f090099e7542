//! A deterministic simulation of a whole cluster's PG layer in one
//! process: N OSDs, each running the real PG engines over the in-memory
//! store; a map sequencer standing in for the monitors; a network with
//! seeded random delay, reordering, loss, duplication and partitions;
//! OSD crashes that lose every store transaction not yet committed; and
//! clients checked against a model of acknowledged state. One seed
//! determines everything, so a failing seed replays exactly.
//!
//! Invariants checked as it runs: every read returns the latest
//! acknowledged state (so no acknowledged write is lost or rolled back);
//! a write is acknowledged by at most one primary per PG interval; the
//! store accepts every transaction the engines emit. After the faults
//! stop, every PG must become active+clean with identical members that
//! equal the model.

#![allow(dead_code)]

mod check;
pub mod client;
mod effects;
mod faults;
mod map_flow;
pub mod maps;
mod workload;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;

use ::cluster::PgId;
use osd::pg::engine::{ClientOp, Event, OpReply, Pg, PgConfig, ResKind};
use osd::pg::interval::{PoolParams, RecoveryFlags};
use osd::pg::messages::PeerEnvelope;
use osd::pg::reserver::Reserver;
use osd::store::{CollectionId, MemStore, ObjectStore, StoreOptions, Transaction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use client::Client;
use maps::Maps;

/// The shape of one run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub osds: usize,
    pub pgs: u32,
    pub size: u32,
    pub min_size: u32,
    pub clients: u32,
    pub objects_per_client: usize,
    /// Virtual milliseconds with faults.
    pub fault_ms: u64,
    /// Virtual milliseconds allowed to settle after.
    pub settle_ms: u64,
    pub loss: f64,
    pub dup: f64,
    pub log_max: usize,
    /// OSDs (the highest ids) that join during the run instead of at
    /// the start.
    pub spare_osds: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            osds: 5,
            pgs: 4,
            size: 3,
            min_size: 2,
            clients: 4,
            objects_per_client: 3,
            fault_ms: 20_000,
            settle_ms: 60_000,
            loss: 0.01,
            dup: 0.01,
            log_max: 40,
            spare_osds: 1,
        }
    }
}

#[derive(Debug)]
enum Ev {
    Deliver {
        to: i32,
        gen: u64,
        from: i32,
        env: PeerEnvelope,
    },
    /// The OSD's map catches up with the sequencer's.
    MapArrive {
        osd: i32,
        gen: u64,
    },
    StoreApply {
        osd: i32,
        gen: u64,
    },
    Tick {
        osd: i32,
        gen: u64,
    },
    /// A client's op reaches an OSD.
    OpArrive {
        osd: i32,
        gen: u64,
        client: u32,
        op: ClientOp,
    },
    OpReply {
        client: u32,
        reply: OpReply,
        osd: i32,
    },
    ClientWake {
        client: u32,
    },
    UpThru {
        osd: i32,
        epoch: u32,
    },
    PgTemp {
        osd: i32,
        pg: PgId,
        want: Vec<i32>,
    },
    Fault,
    MarkDown {
        osd: i32,
        gen: u64,
    },
    Restart {
        osd: i32,
    },
    /// The OSD granted a PG's backfill reservation.
    Reserved {
        osd: i32,
        gen: u64,
        pg: PgId,
        kind: ResKind,
        id: u64,
    },
    /// The OSD's background worker gives a PG a turn.
    Turn {
        osd: i32,
        gen: u64,
        pg: PgId,
    },
}

/// Backfill slots per OSD in the simulation (Ceph's default, 1): PGs
/// queue for them, so a reservation bug shows as a PG that never settles.
const MAX_BACKFILLS: usize = 1;

struct SimOsd {
    id: i32,
    alive: bool,
    gen: u64,
    store: Arc<MemStore>,
    pgs: BTreeMap<PgId, Pg>,
    epoch: u32,
    /// Store transactions not yet applied: (pg, effect id, txn).
    queue: VecDeque<(PgId, u64, Transaction)>,
    applying: bool,
    /// Peer messages for epochs this OSD has not seen yet.
    early: Vec<(i32, PeerEnvelope)>,
    /// Map delivery is held back until this time (a slow monitor link).
    map_hold_until: u64,
    /// Backfill slots as primary and as target (request ids granted).
    local: Reserver<u64>,
    remote: Reserver<u64>,
}

impl SimOsd {
    fn reserver(&mut self, kind: ResKind) -> &mut Reserver<u64> {
        match kind {
            ResKind::Local => &mut self.local,
            ResKind::Remote => &mut self.remote,
        }
    }
}

pub struct Sim {
    pub seed: u64,
    cfg: SimConfig,
    rng: StdRng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, Ev>,
    maps: Maps,
    osds: Vec<SimOsd>,
    clients: Vec<Client>,
    /// Pairs of OSDs that cannot talk, until a time.
    partitions: BTreeMap<(i32, i32), u64>,
    faults: bool,
    /// Which OSD acknowledged writes in each (PG, interval).
    ackers: BTreeMap<(PgId, u32), i32>,
    pub stats: Stats,
    pgcfg: PgConfig,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub acked_writes: u64,
    pub reads_checked: u64,
    pub crashes: u64,
    pub epochs: u32,
    pub messages: u64,
    pub dropped: u64,
    pub settle_ms: u64,
    pub backfill_batches: u64,
    pub strays_removed: u64,
    /// Object bytes sent by recovery and backfill.
    pub recovery_bytes: u64,
    /// PG copies split by a pg_num growth.
    pub splits: u64,
}

fn coll(pg: PgId) -> CollectionId {
    CollectionId::new(pg.pool, pg.seed)
}

impl Sim {
    pub fn new(seed: u64, cfg: SimConfig) -> Sim {
        let pool = PoolParams {
            size: cfg.size,
            min_size: cfg.min_size,
            pg_num: cfg.pgs,
        };
        let pgcfg = PgConfig {
            log_max: cfg.log_max,
            dups_max: cfg.log_max * 4,
            resend_ticks: 5,
            // Small batches: a backfill takes several, with writes between.
            backfill_max_objects: 2,
            ..PgConfig::default()
        };
        let mut sim = Sim {
            seed,
            rng: StdRng::seed_from_u64(seed),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            maps: Maps::new(cfg.osds, cfg.spare_osds, pool),
            osds: (0..cfg.osds as i32)
                .map(|id| SimOsd {
                    id,
                    alive: true,
                    gen: 0,
                    store: Arc::new(MemStore::new(StoreOptions::default())),
                    pgs: BTreeMap::new(),
                    epoch: 0,
                    queue: VecDeque::new(),
                    applying: false,
                    early: Vec::new(),
                    map_hold_until: 0,
                    local: Reserver::new(MAX_BACKFILLS),
                    remote: Reserver::new(MAX_BACKFILLS),
                })
                .collect(),
            clients: (0..cfg.clients)
                .map(|i| Client::new(i, cfg.objects_per_client))
                .collect(),
            partitions: BTreeMap::new(),
            faults: true,
            ackers: BTreeMap::new(),
            stats: Stats::default(),
            pgcfg,
            cfg,
        };
        let first_spare = (sim.cfg.osds - sim.cfg.spare_osds) as i32;
        for o in first_spare..sim.cfg.osds as i32 {
            sim.osds[o as usize].alive = false;
        }
        for o in 0..first_spare {
            sim.at(0, Ev::MapArrive { osd: o, gen: 0 });
            let t = sim.rng.random_range(0..100);
            sim.at(t, Ev::Tick { osd: o, gen: 0 });
        }
        for c in 0..sim.cfg.clients {
            let t = sim.rng.random_range(0..50);
            sim.at(t, Ev::ClientWake { client: c });
        }
        sim.at(1000, Ev::Fault);
        sim
    }

    fn at(&mut self, delay: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((self.now + delay, self.seq)));
        self.events.insert(self.seq, ev);
    }

    /// The pool's PGs now.
    fn pgs(&self) -> Vec<PgId> {
        self.maps.latest().pgs().collect()
    }

    fn blocked(&self, a: i32, b: i32) -> bool {
        let k = (a.min(b), a.max(b));
        self.partitions
            .get(&k)
            .is_some_and(|until| *until > self.now)
    }

    /// Runs the faults phase, then lets the cluster settle; returns an
    /// error describing the first violation.
    pub fn run(&mut self) -> Result<Stats, String> {
        let fault_end = self.cfg.fault_ms;
        let deadline = fault_end + self.cfg.settle_ms;
        let mut healed = false;
        while let Some(Reverse((t, seq))) = self.queue.pop() {
            if t > deadline {
                break;
            }
            self.now = t;
            if !healed && self.now >= fault_end {
                healed = true;
                self.heal();
            }
            let ev = self
                .events
                .remove(&seq)
                .expect("every queued event is stored");
            self.step(ev)?;
            if healed && self.settled() {
                break;
            }
        }
        if !self.settled() {
            return Err(format!(
                "the cluster did not settle within {} ms after the faults stopped:\n{}",
                self.cfg.settle_ms,
                self.describe()
            ));
        }
        self.stats.settle_ms = self.now.saturating_sub(fault_end);
        self.check_final()?;
        self.stats.acked_writes = self.clients.iter().map(|c| c.acked_writes).sum();
        self.stats.reads_checked = self.clients.iter().map(|c| c.reads_checked).sum();
        self.stats.epochs = self.maps.latest().epoch;
        Ok(self.stats.clone())
    }

    fn heal(&mut self) {
        self.faults = false;
        self.partitions.clear();
        self.cfg.loss = 0.0;
        self.cfg.dup = 0.0;
        let (size, flags) = (self.cfg.size, RecoveryFlags::default());
        if self.maps.latest().pool.size != size || self.maps.latest().flags != flags {
            self.maps.next(|m| {
                m.pool.size = size;
                m.flags = flags;
            });
            self.broadcast_map();
        }
        for o in 0..self.cfg.osds as i32 {
            self.osds[o as usize].map_hold_until = 0;
            if !self.osds[o as usize].alive {
                self.at(0, Ev::Restart { osd: o });
            }
            if let Some(_e) = self.maps.set_in(o, true) {
                self.broadcast_map();
            }
        }
    }

    /// Every client idle with nothing pending, every PG active+clean on
    /// its primary, every OSD up to date.
    fn step(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::Deliver { to, gen, from, env } => {
                let o = &self.osds[to as usize];
                if !o.alive || o.gen != gen || self.blocked(from, to) {
                    self.stats.dropped += 1;
                    return Ok(());
                }
                self.deliver(to, from, env)?;
            }
            Ev::MapArrive { osd, gen } => {
                let o = &self.osds[osd as usize];
                if !o.alive || o.gen != gen {
                    return Ok(());
                }
                if o.map_hold_until > self.now {
                    let wait = o.map_hold_until - self.now;
                    self.at(wait, Ev::MapArrive { osd, gen });
                    return Ok(());
                }
                self.catch_up(osd)?;
            }
            Ev::StoreApply { osd, gen } => {
                let o = &mut self.osds[osd as usize];
                if !o.alive || o.gen != gen {
                    return Ok(());
                }
                o.applying = false;
                let Some((pg, id, txn)) = o.queue.pop_front() else {
                    return Ok(());
                };
                if !o.pgs.contains_key(&pg) {
                    return Ok(());
                }
                let what = format!(
                    "{:?}",
                    txn.ops
                        .iter()
                        .map(|o| o.object().name.clone())
                        .collect::<Vec<_>>()
                );
                trace!(
                    self,
                    "STORE osd.{osd} PG {pg} v{} ops {:?}",
                    txn.version,
                    txn.ops
                        .iter()
                        .map(|o| format!("{o:?}").chars().take(60).collect::<String>())
                        .collect::<Vec<_>>()
                );
                o.store.submit(txn).map_err(|e| {
                    format!("osd.{osd} PG {pg}: the store refused a transaction ({what}): {e}")
                })?;
                let effects =
                    self.with_pg(osd, pg, |pg, store| pg.handle(store, Event::Committed(id)));
                self.run_effects(osd, pg, effects)?;
                self.kick_store(osd);
            }
            Ev::Tick { osd, gen } => {
                let o = &self.osds[osd as usize];
                if !o.alive || o.gen != gen {
                    return Ok(());
                }
                let pgs: Vec<PgId> = o.pgs.keys().copied().collect();
                for pg in pgs {
                    let eff = self.with_pg(osd, pg, |p, s| p.handle(s, Event::Tick));
                    self.run_effects(osd, pg, eff)?;
                }
                self.at(100, Ev::Tick { osd, gen });
            }
            Ev::OpArrive {
                osd,
                gen,
                client,
                op,
            } => {
                let o = &self.osds[osd as usize];
                if !o.alive || o.gen != gen {
                    return Ok(());
                }
                let pg = self.pg_of(&op.obj);
                let handle = op.handle;
                if o.pgs.contains_key(&pg) {
                    let eff = self.with_pg(osd, pg, |p, s| p.handle(s, Event::Op(op)));
                    self.run_effects(osd, pg, eff)?;
                } else {
                    let reply = OpReply {
                        handle,
                        result: Err(osd::pg::engine::OpFailed {
                            error: ::cluster::msg::RemoteError::again("no such PG here"),
                            step: None,
                        }),
                        interval: 0,
                    };
                    let d = self.net_delay();
                    self.at(d, Ev::OpReply { client, reply, osd });
                }
            }
            Ev::OpReply { client, reply, osd } => self.on_reply(client, reply, osd)?,
            Ev::ClientWake { client } => self.client_wake(client),
            Ev::UpThru { osd, epoch } => {
                if self.maps.up_thru(osd, epoch).is_some() {
                    self.broadcast_map();
                }
            }
            Ev::PgTemp { osd, pg, want } => {
                if self.osds[osd as usize].alive && self.maps.pg_temp(osd, pg, want).is_some() {
                    self.broadcast_map();
                }
            }
            Ev::Fault => {
                if self.faults {
                    self.fault();
                    let next = self.rng.random_range(300..1500);
                    self.at(next, Ev::Fault);
                }
            }
            Ev::MarkDown { osd, gen } => {
                // Failure detection: only if that incarnation is still dead.
                let o = &self.osds[osd as usize];
                if o.gen == gen && !o.alive && self.maps.mark_down(osd).is_some() {
                    self.broadcast_map();
                }
            }
            Ev::Restart { osd } => self.restart(osd)?,
            Ev::Reserved {
                osd,
                gen,
                pg,
                kind,
                id,
            } => self.pg_event(osd, gen, pg, Event::Reserved { kind, id })?,
            Ev::Turn { osd, gen, pg } => self.pg_event(osd, gen, pg, Event::Turn)?,
        }
        Ok(())
    }

    /// Feeds one event to a PG of a live incarnation, if it still has it.
    fn pg_event(&mut self, osd: i32, gen: u64, pg: PgId, ev: Event) -> Result<(), String> {
        let o = &self.osds[osd as usize];
        if !o.alive || o.gen != gen || !o.pgs.contains_key(&pg) {
            return Ok(());
        }
        let eff = self.with_pg(osd, pg, |p, s| p.handle(s, ev));
        self.run_effects(osd, pg, eff)
    }

    fn pg_of(&self, obj: &osd::store::ObjectId) -> PgId {
        self.maps.latest().pg_of(obj)
    }

    fn net_delay(&mut self) -> u64 {
        if self.rng.random_bool(0.05) {
            self.rng.random_range(20..200)
        } else {
            self.rng.random_range(1..10)
        }
    }

    fn with_pg<T>(
        &mut self,
        osd: i32,
        pg: PgId,
        f: impl FnOnce(&mut Pg, &dyn ObjectStore) -> T,
    ) -> T {
        let o = &mut self.osds[osd as usize];
        let store = o.store.clone();
        let p = o.pgs.get_mut(&pg).expect("caller checked the PG exists");
        f(p, store.as_ref())
    }

    fn send(&mut self, from: i32, to: i32, env: PeerEnvelope) {
        self.stats.messages += 1;
        if matches!(env.msg, osd::pg::messages::PeerMsg::Backfill { .. }) {
            self.stats.backfill_batches += 1;
        }
        if self.rng.random_bool(self.cfg.loss) {
            self.stats.dropped += 1;
            return;
        }
        let gen = self.osds[to as usize].gen;
        let copies = if self.rng.random_bool(self.cfg.dup) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let d = self.net_delay();
            self.at(
                d,
                Ev::Deliver {
                    to,
                    gen,
                    from,
                    env: env.clone(),
                },
            );
        }
    }

    fn deliver(&mut self, to: i32, from: i32, env: PeerEnvelope) -> Result<(), String> {
        let pg = PgId {
            pool: env.pool,
            seed: env.seed,
        };
        let o = &mut self.osds[to as usize];
        if env.epoch > o.epoch {
            o.early.push((from, env));
            return Ok(());
        }
        if o.pgs.contains_key(&pg) {
            let eff = self.with_pg(to, pg, |p, s| p.handle(s, Event::Peer { from, env }));
            return self.run_effects(to, pg, eff);
        }
        // Not a PG we hold: say so.
        let epoch = o.epoch;
        if let Some(reply) = osd::pg::engine::answer_without_pg(&env, epoch) {
            self.send(to, from, reply);
        }
        Ok(())
    }
}

pub fn trace_on() -> bool {
    std::env::var_os("STRATA_SIM_TRACE").is_some()
}

macro_rules! trace {
    ($sim:expr, $($arg:tt)*) => {
        if $crate::sim::trace_on() {
            eprintln!("[{:>6} ms] {}", $sim.now, format!($($arg)*));
        }
    };
}
pub(crate) use trace;

/// Runs one seed, with its description on failure.
pub fn run_seed(seed: u64, cfg: SimConfig) -> Result<Stats, String> {
    if trace_on() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("osd=debug")
            .without_time()
            .with_writer(std::io::stderr)
            .try_init();
    }
    Sim::new(seed, cfg)
        .run()
        .map_err(|e| format!("seed {seed} failed (replay: STRATA_SIM_SEED={seed}): {e}"))
}
