//! The PGs this OSD holds, each an engine in a task of its own
//! ([`task`]). The host follows the map epoch by epoch (fetching any it
//! missed from the monitors) and hands every epoch to every PG; it creates
//! a PG when the map makes this OSD a member, loads the PGs on disk at
//! start, and routes peer messages and client ops to their PG. Until the
//! OSD has booted and loaded its PGs it takes neither (peers resend). A
//! copy no longer needed is removed in the background ([`removal`]).

mod client_ops;
mod removal;
mod report;
pub mod task;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::{EntityKind, EntityName};
use cluster::msg::RemoteError;
use cluster::PgId;
use messenger::Message;
use monclient::MonClient;
use tokio::sync::mpsc;

use super::background;
use super::background::reservations::Reservations;
use super::background::turns::{TurnQueue, TurnWorker};
use super::caps::CapsCache;
use super::maps::{EpochView, MapHistory};
use super::store_writer::StoreWriter;
use crate::pg::engine::{answer_without_pg, Event, Pg, PgConfig};
use crate::pg::messages::{PeerEnvelope, PeerMsg};
use crate::store::{CollectionId, ObjectStore, RocksStore};
use task::Cmd;

/// What every PG task shares.
pub struct Shared {
    pub id: u32,
    pub store: Arc<RocksStore>,
    /// Applies every PG's transactions, in order, group-committed.
    pub writer: StoreWriter,
    pub mc: Arc<MonClient>,
    stop: tokio::sync::watch::Sender<Option<String>>,
    /// PG copies being removed (not created again until they are gone).
    removing: Mutex<BTreeSet<PgId>>,
    removals: mpsc::UnboundedSender<PgId>,
    /// The OSD's backfill slots.
    pub reservations: Reservations,
    /// PGs waiting for a recovery or backfill turn.
    pub turns: Arc<TurnQueue>,
    /// A PG this OSD leads changed state: report to the monitors soon
    /// rather than at the next interval.
    pub report_soon: tokio::sync::Notify,
}

impl Shared {
    /// Hands a PG copy to the removal worker.
    pub fn remove_pg(&self, pg: PgId) {
        self.removing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pg);
        let _ = self.removals.send(pg);
    }

    /// Stops the OSD: its disk can no longer be trusted to take writes.
    pub fn fatal(&self, why: String) {
        tracing::error!("{why}; stopping");
        let _ = self.stop.send(Some(why));
    }

    /// Sends a peer message one-way (lost messages are resent by the
    /// engine on its tick).
    pub fn send_peer(self: &Arc<Self>, to: i32, env: PeerEnvelope) {
        self.broadcast_peer(&[to], &env);
    }

    /// Sends one message to several OSDs, encoded once.
    pub fn broadcast_peer(self: &Arc<Self>, to: &[i32], env: &PeerEnvelope) {
        let Some(map) = self.mc.osdmap() else {
            return;
        };
        let msg = Arc::new(task::peer_message(env));
        let bulk = matches!(env.msg, PeerMsg::Push { .. } | PeerMsg::Backfill { .. });
        for &osd in to {
            let Some(addr) = map
                .osds
                .get(&(osd as u32))
                .and_then(|o| o.addr.parse::<std::net::SocketAddr>().ok())
            else {
                continue;
            };
            let (me, msg) = (self.clone(), msg.clone());
            let pg = PgId {
                pool: env.pool,
                seed: env.seed,
            };
            tokio::spawn(async move {
                let m = &me.mc.messenger;
                let to = task::osd_entity(osd);
                if let Err(e) = m.send_outgoing(addr, &to, &msg, bulk).await {
                    tracing::debug!("PG {pg}: to osd.{osd}: {e}");
                }
            });
        }
    }
}

/// How long the host waits for things, and how much background work it
/// lets run.
#[derive(Clone, Debug)]
pub struct HostTiming {
    /// A client op's answer from its PG.
    pub op_timeout: Duration,
    /// Between batches of a PG copy's removal (`osd_delete_sleep`).
    pub delete_pause: Duration,
    /// PGs backfilled at once, in and out (`osd_max_backfills`).
    pub max_backfills: usize,
    /// After each recovery or backfill step (`osd_recovery_sleep`).
    pub recovery_sleep: Duration,
    /// Recovery bytes per second, 0: no limit
    /// (`osd_recovery_max_bytes_per_sec`).
    pub recovery_rate: u64,
}

pub struct PgHost {
    shared: Arc<Shared>,
    cfg: PgConfig,
    pgs: Mutex<BTreeMap<PgId, mpsc::UnboundedSender<Cmd>>>,
    maps: tokio::sync::Mutex<MapHistory>,
    /// Newest epoch every PG has been given.
    epoch: AtomicU64,
    ready: AtomicBool,
    /// A map fetch prompted by a peer on a newer epoch is under way.
    fetching: Arc<AtomicBool>,
    next_handle: AtomicU64,
    caps: CapsCache,
    op_timeout: Duration,
    /// The removal worker's queue until `start` runs it.
    remover: Mutex<Option<mpsc::UnboundedReceiver<PgId>>>,
    /// Peer messages of an epoch not taken yet, for a PG not held (yet:
    /// that epoch may create it), handed on once the epoch is taken.
    early: Mutex<Vec<(i32, PeerEnvelope)>>,
    timing: HostTiming,
}

/// Most peer messages kept for an epoch not taken yet (the senders
/// resend what does not fit).
const MAX_EARLY: usize = 4096;

fn again(m: impl Into<String>) -> RemoteError {
    RemoteError::again(m)
}

impl PgHost {
    pub fn new(
        id: u32,
        store: Arc<RocksStore>,
        writer: StoreWriter,
        mc: Arc<MonClient>,
        cfg: PgConfig,
        timing: HostTiming,
        stop: tokio::sync::watch::Sender<Option<String>>,
    ) -> Arc<PgHost> {
        let (removals, remover) = mpsc::unbounded_channel();
        Arc::new(PgHost {
            shared: Arc::new(Shared {
                id,
                writer,
                store,
                mc,
                stop,
                removing: Mutex::new(BTreeSet::new()),
                removals,
                reservations: Reservations::new(timing.max_backfills),
                turns: Arc::new(TurnQueue::default()),
                report_soon: tokio::sync::Notify::new(),
            }),
            cfg,
            pgs: Mutex::new(BTreeMap::new()),
            maps: tokio::sync::Mutex::new(MapHistory::default()),
            epoch: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            fetching: Arc::new(AtomicBool::new(false)),
            next_handle: AtomicU64::new(1),
            caps: CapsCache::default(),
            op_timeout: timing.op_timeout,
            remover: Mutex::new(Some(remover)),
            early: Mutex::new(Vec::new()),
            timing,
        })
    }

    fn me(&self) -> i32 {
        self.shared.id as i32
    }

    fn pg(&self, pg: PgId) -> Option<mpsc::UnboundedSender<Cmd>> {
        self.pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&pg)
            .cloned()
    }

    /// After boot: fetches the map history the monitors hold, loads the
    /// PGs on disk, brings them to the newest epoch, and starts following
    /// the map.
    pub async fn start(self: &Arc<Self>) -> Result<(), String> {
        let u = self
            .shared
            .mc
            .maps_from(0)
            .await
            .map_err(|e| format!("fetching the map history: {e}"))?;
        let rx = self
            .remover
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(rx) = rx {
            background::spawn(removal::Remover::new(self.clone(), rx));
            background::spawn(TurnWorker::new(
                self.shared.turns.clone(),
                self.timing.recovery_sleep,
                self.timing.recovery_rate,
            ));
        }
        let mut maps = self.maps.lock().await;
        maps.absorb(&u)?;
        let latest = maps.latest_epoch();
        let colls = self
            .shared
            .store
            .list_collections()
            .map_err(|e| format!("listing PGs: {e}"))?;
        let mut resume = u32::MAX;
        for c in colls.into_iter().filter(|c| c.shard.is_none()) {
            let pg = c.pg();
            let store = self.shared.store.clone();
            match crate::pg::info::is_removing(store.as_ref(), &c) {
                Ok(true) => {
                    // Killed while removing it: finish.
                    self.shared.remove_pg(pg);
                    continue;
                }
                Ok(false) => {}
                Err(e) => return Err(format!("reading PG {pg}: {e}")),
            }
            let epochs = maps.pg_epochs(pg, 0, latest);
            let pool_gone = maps.latest().is_some_and(|v| {
                v.map
                    .pools
                    .get(&pg.pool)
                    .is_none_or(|p| pg.seed >= p.pg_num)
                    && pg.pool <= v.map.pool_max
            });
            if pool_gone {
                // Its pool was deleted while this OSD was away.
                self.shared.remove_pg(pg);
                continue;
            }
            if epochs.is_empty() {
                continue;
            }
            // A copy split for fewer PGs than a later epoch has stops
            // before that epoch: the epochs from there are fed below,
            // splitting on the way.
            let (split_for, cut) = crate::pg::split::load_limit(store.as_ref(), &c, &epochs)
                .map_err(|e| format!("reading PG {pg}: {e}"))?;
            match Pg::load(
                pg,
                self.me(),
                self.cfg.clone(),
                store.as_ref(),
                &epochs[..cut],
            ) {
                Ok(Some((mut p, eff))) => {
                    // Only a copy that loaded has epochs left to take (an
                    // empty one records no PG count and would look split
                    // for the pool's first).
                    if let Some(e) = epochs.get(cut) {
                        resume = resume.min(e.epoch);
                    }
                    p.set_split_for(split_for);
                    self.install(pg, p, eff)
                }
                // Created, but stopped before its first state was durable:
                // it holds nothing.
                Ok(None) => self.shared.remove_pg(pg),
                Err(e) => return Err(format!("loading PG {pg}: {e}")),
            }
        }
        for e in resume..=latest {
            if let Some(v) = maps.get(e).cloned() {
                self.feed(&maps, &v, false).await;
            }
        }
        if let Some(v) = maps.latest().cloned() {
            self.create_new(&maps, &v);
        }
        self.epoch.store(u64::from(latest), Ordering::SeqCst);
        drop(maps);
        self.ready.store(true, Ordering::SeqCst);
        self.spawn_map_follower();
        Ok(())
    }

    fn install(&self, pg: PgId, p: Pg, first: Vec<crate::pg::engine::Effect>) {
        let tx = task::spawn(p, first, self.shared.clone());
        self.pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pg, tx);
        self.update_pg_metrics();
    }

    /// PG copies held and being removed, for the metrics.
    fn update_pg_metrics(&self) {
        let removing = self
            .shared
            .removing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let held = self
            .pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(pg, t)| !t.is_closed() && !removing.contains(pg))
            .count();
        super::metrics_pgs(held, removing.len());
    }

    /// Creates the PGs an epoch makes this OSD a member of.
    fn create_new(&self, maps: &MapHistory, v: &EpochView) {
        for pg in v.pgs() {
            if self.pg(pg).is_some()
                || self
                    .shared
                    .removing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(&pg)
            {
                continue;
            }
            let pe = v.pg_epoch(pg);
            if !pe.up.contains(&self.me()) && !pe.acting.contains(&self.me()) {
                continue;
            }
            let c = CollectionId::new(pg.pool, pg.seed);
            let store = &self.shared.store;
            if !store.collection_exists(&c).unwrap_or(false) {
                if let Err(e) = store.create_collection(&c) {
                    self.shared
                        .fatal(format!("creating the collection of PG {pg}: {e}"));
                    return;
                }
            }
            let first = maps.pool_first_seen(pg.pool).unwrap_or(v.epoch());
            let epochs = maps.pg_epochs(pg, first, v.epoch());
            let (p, eff) = Pg::create(pg, self.me(), self.cfg.clone(), &epochs);
            self.install(pg, p, eff);
        }
    }

    /// Follows the monitors' map: every new epoch, in order, to every PG.
    fn spawn_map_follower(self: &Arc<Self>) {
        let me = self.clone();
        let mut rx = self.shared.mc.watch_map();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.catch_up().await {
                    tracing::warn!("following the map: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    async fn catch_up(&self) -> Result<(), String> {
        let target = self.shared.mc.osdmap().map_or(0, |m| m.epoch);
        let mut maps = self.maps.lock().await;
        let have = maps.latest_epoch();
        if target <= have {
            return Ok(());
        }
        let u = self
            .shared
            .mc
            .maps_from(have)
            .await
            .map_err(|e| format!("fetching epochs after {have}: {e}"))?;
        let added = maps.absorb(&u)?;
        for e in added {
            let Some(v) = maps.get(e).cloned() else {
                continue;
            };
            self.feed(&maps, &v, true).await;
            self.epoch.store(u64::from(e), Ordering::SeqCst);
            self.replay_early(e);
        }
        let keep = maps.latest_epoch().saturating_sub(2000);
        maps.trim(keep, 100);
        Ok(())
    }

    fn held(&self) -> Vec<(PgId, mpsc::UnboundedSender<Cmd>)> {
        self.pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, t)| (*k, t.clone()))
            .collect()
    }

    /// Hands one epoch to every PG held (splitting those whose pool's
    /// pg_num grew first), and with `create` creates new ones.
    async fn feed(&self, maps: &MapHistory, v: &EpochView, create: bool) {
        self.split_grown(maps, v).await;
        for (pg, tx) in self.held() {
            let _ = tx.send(Cmd::Event(Event::Map(v.pg_epoch(pg))));
        }
        if create {
            self.create_new(maps, v);
        }
    }

    /// Before an epoch in which pools have more PGs than in the one
    /// before: each PG held in them splits off its children, which are
    /// then run like any PG (they see the epoch next, with their parent).
    async fn split_grown(&self, maps: &MapHistory, v: &EpochView) {
        let Some(prev) = v.epoch().checked_sub(1).and_then(|e| maps.get(e)) else {
            return;
        };
        let grown: BTreeMap<u64, u32> = v
            .map
            .pools
            .iter()
            .filter(|(id, p)| prev.map.pools.get(id).is_some_and(|o| o.pg_num < p.pg_num))
            .map(|(id, p)| (*id, p.pg_num))
            .collect();
        if grown.is_empty() {
            return;
        }
        for (pg, tx) in self.held() {
            let Some(&pg_num) = grown.get(&pg.pool) else {
                continue;
            };
            let (reply, rx) = tokio::sync::oneshot::channel();
            if tx.send(Cmd::Split { pg_num, reply }).is_err() {
                continue;
            }
            for child in rx.await.unwrap_or_default() {
                let id = child.pgid();
                if self.pg(id).is_some() {
                    tracing::error!("PG {pg} split off {id}, which this OSD already runs");
                    continue;
                }
                self.install(id, child, Vec::new());
            }
        }
    }

    /// A peer's PG message.
    pub fn on_peer(&self, from: &EntityName, msg: &Message) {
        if from.kind != EntityKind::Osd || !self.ready.load(Ordering::SeqCst) {
            return;
        }
        let Ok(osd) = from.id.parse::<i32>() else {
            return;
        };
        let env: PeerEnvelope = match cluster::codec::decode("PG message", &msg.data) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("from {from}: {e}");
                return;
            }
        };
        let pg = PgId {
            pool: env.pool,
            seed: env.seed,
        };
        let epoch = self.epoch.load(Ordering::SeqCst) as u32;
        if env.epoch > epoch {
            // A peer knows a newer map: fetch it from the monitors now
            // rather than at the next subscription renewal.
            self.fetch_newer_map();
        }
        if let Some(tx) = self.pg(pg) {
            let _ = tx.send(Cmd::Event(Event::Peer { from: osd, env }));
            return;
        }
        if env.epoch > epoch {
            // We may become a member at that epoch: kept until we take
            // it (a new member answers its primary's query at once
            // instead of at the query's resend).
            let mut early = self.early.lock().unwrap_or_else(|p| p.into_inner());
            if early.len() < MAX_EARLY {
                early.push((osd, env));
            }
            return;
        }
        if let Some(reply) = answer_without_pg(&env, epoch) {
            self.shared.send_peer(osd, reply);
        }
    }

    /// Hands on the early messages of epochs up to `epoch`.
    fn replay_early(&self, epoch: u32) {
        let ready: Vec<(i32, PeerEnvelope)> = {
            let mut early = self.early.lock().unwrap_or_else(|p| p.into_inner());
            let (ready, later) = std::mem::take(&mut *early)
                .into_iter()
                .partition(|(_, env)| env.epoch <= epoch);
            *early = later;
            ready
        };
        for (osd, env) in ready {
            let pg = PgId {
                pool: env.pool,
                seed: env.seed,
            };
            if let Some(tx) = self.pg(pg) {
                let _ = tx.send(Cmd::Event(Event::Peer { from: osd, env }));
            } else if let Some(reply) = answer_without_pg(&env, epoch) {
                self.shared.send_peer(osd, reply);
            }
        }
    }

    fn fetch_newer_map(&self) {
        if self.fetching.swap(true, Ordering::SeqCst) {
            return;
        }
        let mc = self.shared.mc.clone();
        let fetching = self.fetching.clone();
        tokio::spawn(async move {
            if let Err(e) = mc.refresh_map().await {
                tracing::debug!("fetching a newer map: {e}");
            }
            fetching.store(false, Ordering::SeqCst);
        });
    }
}
