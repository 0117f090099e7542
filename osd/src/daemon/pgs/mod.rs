//! The PGs this OSD holds, each an engine in a task of its own
//! ([`task`]). The host follows the map epoch by epoch (fetching any it
//! missed from the monitors) and hands every epoch to every PG; it creates
//! a PG when the map makes this OSD a member, loads the PGs on disk at
//! start, and routes peer messages and client ops to their PG. Until the
//! OSD has booted and loaded its PGs it takes neither (peers resend). A
//! copy no longer needed is removed in the background ([`removal`]).

mod removal;
pub mod task;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::{EntityKind, EntityName};
use cluster::msg::mon::{MonRequest, PgStat};
use cluster::msg::osd::{ListObjects, ListReply, OsdOp, OsdOpReply};
use cluster::msg::{msg_type, RemoteError};
use cluster::{PgId, ReqId};
use messenger::Message;
use monclient::MonClient;
use tokio::sync::{mpsc, oneshot};

use super::caps::CapsCache;
use super::maps::{EpochView, MapHistory};
use super::store_writer::StoreWriter;
use crate::pg::engine::{answer_without_pg, ClientOp, Event, OpReply, Pg, PgConfig};
use crate::pg::messages::PeerEnvelope;
use crate::store::{CollectionId, ListCursor, ObjectId, ObjectStore, RocksStore};
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
                if let Err(e) = me
                    .mc
                    .messenger
                    .send(addr, &task::osd_entity(osd), &msg)
                    .await
                {
                    tracing::debug!("PG {pg}: to osd.{osd}: {e}");
                }
            });
        }
    }
}

/// How long the host waits for things.
pub struct HostTiming {
    /// A client op's answer from its PG.
    pub op_timeout: Duration,
    /// Between batches of a PG copy's removal (`osd_delete_sleep`).
    pub delete_pause: Duration,
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
    /// The removal worker's queue until `start` runs it, and its pause.
    remover: Mutex<Option<mpsc::UnboundedReceiver<PgId>>>,
    delete_pause: Duration,
}

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
        let HostTiming {
            op_timeout,
            delete_pause,
        } = timing;
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
            }),
            cfg,
            pgs: Mutex::new(BTreeMap::new()),
            maps: tokio::sync::Mutex::new(MapHistory::default()),
            epoch: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            fetching: Arc::new(AtomicBool::new(false)),
            next_handle: AtomicU64::new(1),
            caps: CapsCache::default(),
            op_timeout,
            remover: Mutex::new(Some(remover)),
            delete_pause,
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
            self.spawn_remover(rx, self.delete_pause);
        }
        let mut maps = self.maps.lock().await;
        maps.absorb(&u)?;
        let latest = maps.latest_epoch();
        let colls = self
            .shared
            .store
            .list_collections()
            .map_err(|e| format!("listing PGs: {e}"))?;
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
            match Pg::load(pg, self.me(), self.cfg.clone(), store.as_ref(), &epochs) {
                Ok(Some((p, eff))) => self.install(pg, p, eff),
                // Created, but stopped before its first state was durable:
                // it holds nothing.
                Ok(None) => self.shared.remove_pg(pg),
                Err(e) => return Err(format!("loading PG {pg}: {e}")),
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
            self.feed(&maps, &v);
            self.epoch.store(u64::from(e), Ordering::SeqCst);
        }
        let keep = maps.latest_epoch().saturating_sub(2000);
        maps.trim(keep, 100);
        Ok(())
    }

    /// Hands one epoch to every PG held, and creates new ones.
    fn feed(&self, maps: &MapHistory, v: &EpochView) {
        let held: Vec<(PgId, mpsc::UnboundedSender<Cmd>)> = self
            .pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, t)| (*k, t.clone()))
            .collect();
        for (pg, tx) in held {
            let _ = tx.send(Cmd::Event(Event::Map(v.pg_epoch(pg))));
        }
        self.create_new(maps, v);
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
            // We may become a member at that epoch: the sender resends.
            return;
        }
        if let Some(reply) = answer_without_pg(&env, epoch) {
            self.shared.send_peer(osd, reply);
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

    /// A client's op: checks, then its PG's engine.
    pub async fn handle_op(&self, from: &EntityName, msg: Message) -> Message {
        let (reply, data) = match cluster::codec::decode::<OsdOp>("OSD op", &msg.body) {
            Ok(op) => match self.run_op(from, op, msg.data).await {
                Ok(r) => r,
                Err((e, step)) => (self.failure(e, step), Vec::new()),
            },
            Err(e) => (
                self.failure(RemoteError::invalid(e.to_string()), None),
                Vec::new(),
            ),
        };
        Message {
            msg_type: msg_type::OSD_OP_REPLY,
            body: cluster::codec::encode(&reply),
            data,
        }
    }

    fn failure(&self, e: RemoteError, step: Option<u32>) -> OsdOpReply {
        OsdOpReply {
            error: Some(e),
            failed_step: step,
            epoch: 0,
            counter: 0,
            outputs: Vec::new(),
            osd_epoch: self.epoch.load(Ordering::SeqCst) as u32,
        }
    }

    /// The map at least as new as `epoch` (asking the monitors once).
    async fn map_for(&self, epoch: u32) -> Result<Arc<cluster::OsdMap>, RemoteError> {
        let mc = &self.shared.mc;
        let mut map = mc
            .osdmap()
            .ok_or_else(|| again("this OSD has no map yet"))?;
        if epoch > map.epoch {
            if let Ok(m) = mc.refresh_map().await {
                map = m;
            }
        }
        Ok(map)
    }

    async fn run_op(
        &self,
        from: &EntityName,
        op: OsdOp,
        data: Vec<u8>,
    ) -> Result<(OsdOpReply, Vec<u8>), (RemoteError, Option<u32>)> {
        let whole = |e: RemoteError| (e, None);
        if !self.ready.load(Ordering::SeqCst) {
            return Err(whole(again(format!(
                "osd.{} is starting up",
                self.shared.id
            ))));
        }
        let map = self.map_for(op.epoch).await.map_err(whole)?;
        let pool = map.pools.get(&op.pool).ok_or_else(|| {
            whole(RemoteError::not_found(format!(
                "pool {} does not exist (epoch {})",
                op.pool, map.epoch
            )))
        })?;
        if matches!(pool.kind, cluster::PoolKind::Erasure { .. }) {
            return Err(whole(RemoteError::invalid(format!(
                "pool '{}' is erasure-coded; the erasure-coded data path is not built yet",
                pool.name
            ))));
        }
        let pg = PgId {
            pool: op.pool,
            seed: op.pg_seed,
        };
        let right = cluster::object_pg(pool, cluster::object_hash(&op.ns, &op.name));
        if right != pg {
            return Err(whole(again(format!(
                "object {} belongs to PG {right}, not {pg}, at epoch {}",
                op.name, map.epoch
            ))));
        }
        if op.ops.is_empty() {
            return Err(whole(RemoteError::invalid("an op needs at least one step")));
        }
        let writes = op.ops.iter().any(|o| o.is_write());
        self.caps
            .check(&self.shared.mc, from, &pool.name, writes)
            .await
            .map_err(whole)?;
        let Some(tx) = self.pg(pg) else {
            return Err(whole(again(format!(
                "osd.{} does not hold PG {pg} at epoch {}",
                self.shared.id, map.epoch
            ))));
        };
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        let cop = ClientOp {
            handle,
            reqid: ReqId {
                client: from.to_string(),
                nonce: op.nonce,
                tid: op.reqid,
            },
            obj: ObjectId::new(op.ns, op.name),
            ops: op.ops,
            data,
            epoch: op.epoch,
        };
        let (rtx, rrx) = oneshot::channel();
        if tx.send(Cmd::Op(cop, rtx)).is_err() {
            return Err(whole(again(format!("PG {pg} is shutting down"))));
        }
        let r: OpReply = match tokio::time::timeout(self.op_timeout, rrx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => return Err(whole(again(format!("PG {pg} went away; resend")))),
            // Still peering, or waiting for an object to be recovered: the
            // client resends (the same request id, so it applies once).
            Err(_) => {
                return Err(whole(again(format!(
                    "PG {pg} did not answer within {:?}; resend",
                    self.op_timeout
                ))))
            }
        };
        let epoch = self.epoch.load(Ordering::SeqCst) as u32;
        match r.result {
            Ok(d) => Ok((
                OsdOpReply {
                    error: None,
                    failed_step: None,
                    epoch: d.version.epoch,
                    counter: d.version.counter,
                    outputs: d.outputs,
                    osd_epoch: epoch,
                },
                d.data,
            )),
            Err(f) => Err((f.error, f.step)),
        }
    }

    /// Lists a PG's objects (on its active primary).
    pub async fn handle_list(&self, from: &EntityName, msg: &Message) -> Message {
        let r = async {
            let l: ListObjects = cluster::codec::decode("list request", &msg.body)
                .map_err(|e| RemoteError::invalid(e.to_string()))?;
            let map = self.map_for(l.epoch).await?;
            let pool = map
                .pools
                .get(&l.pool)
                .ok_or_else(|| RemoteError::not_found(format!("pool {} does not exist", l.pool)))?;
            self.caps
                .check(&self.shared.mc, from, &pool.name, false)
                .await?;
            let pg = PgId {
                pool: l.pool,
                seed: l.pg_seed,
            };
            let tx = self
                .pg(pg)
                .ok_or_else(|| again(format!("osd.{} does not hold PG {pg}", self.shared.id)))?;
            let (rtx, rrx) = oneshot::channel();
            let cursor = (!l.cursor.is_empty()).then(|| ListCursor(l.cursor.clone()));
            let max = l.max.clamp(1, 10_000) as usize;
            let _ = tx.send(Cmd::List {
                cursor,
                max,
                reply: rtx,
            });
            let page = rrx
                .await
                .map_err(|_| again(format!("PG {pg} went away")))??;
            let objects = page
                .objects
                .into_iter()
                .filter(|o| l.ns.as_ref().is_none_or(|n| *n == o.ns))
                .map(|o| (o.ns, o.name))
                .collect();
            Ok::<_, RemoteError>(ListReply {
                error: None,
                objects,
                next: page.next.map(|c| c.0).unwrap_or_default(),
            })
        }
        .await;
        let reply = r.unwrap_or_else(|e| ListReply {
            error: Some(e),
            objects: Vec::new(),
            next: Vec::new(),
        });
        Message {
            msg_type: msg_type::OSD_LIST_REPLY,
            body: cluster::codec::encode(&reply),
            data: Vec::new(),
        }
    }

    /// `pg query`: the PG's state as its primary (or any member) has it.
    pub async fn handle_pg_query(&self, from: &EntityName, msg: &Message) -> Message {
        let r = async {
            let q: cluster::msg::osd::PgQuery = cluster::codec::decode("pg query", &msg.body)
                .map_err(|e| RemoteError::invalid(e.to_string()))?;
            let map = self.map_for(q.epoch).await?;
            let pool = map
                .pools
                .get(&q.pool)
                .ok_or_else(|| RemoteError::not_found(format!("pool {} does not exist", q.pool)))?;
            self.caps
                .check(&self.shared.mc, from, &pool.name, false)
                .await?;
            let pg = PgId {
                pool: q.pool,
                seed: q.pg_seed,
            };
            let tx = self
                .pg(pg)
                .ok_or_else(|| again(format!("osd.{} does not hold PG {pg}", self.shared.id)))?;
            let (rtx, rrx) = oneshot::channel();
            let _ = tx.send(Cmd::Query(rtx));
            let v = rrx.await.map_err(|_| again(format!("PG {pg} went away")))?;
            Ok::<_, RemoteError>(v.to_string())
        }
        .await;
        let reply = match r {
            Ok(json) => cluster::msg::osd::PgQueryReply { error: None, json },
            Err(e) => cluster::msg::osd::PgQueryReply {
                error: Some(e),
                json: String::new(),
            },
        };
        Message {
            msg_type: msg_type::OSD_PG_QUERY_REPLY,
            body: cluster::codec::encode(&reply),
            data: Vec::new(),
        }
    }

    /// The stats of every PG this OSD is primary for.
    pub async fn collect_stats(&self) -> Vec<PgStat> {
        let held: Vec<mpsc::UnboundedSender<Cmd>> = self
            .pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out = Vec::new();
        for tx in held {
            let (rtx, rrx) = oneshot::channel();
            if tx.send(Cmd::Stat(rtx)).is_ok() {
                if let Ok(Some(s)) = rrx.await {
                    out.push(s);
                }
            }
        }
        out
    }

    /// Reports PG stats to the monitors every `every`.
    pub fn spawn_reporter(self: &Arc<Self>, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let stats = me.collect_stats().await;
                let epoch = me.epoch.load(Ordering::SeqCst) as u32;
                let req = MonRequest::PgStats {
                    osd: me.shared.id,
                    epoch,
                    stats,
                };
                if let Err(e) = me.shared.mc.request(&req).await {
                    tracing::debug!("reporting PG stats: {e}");
                }
            }
        });
    }
}
