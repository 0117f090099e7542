//! Placement groups on this OSD: the primary's side of a client op
//! (checks, ordering, versions, replication, reply) and a replica's side.
//!
//! Each PG's ops run one at a time under its lock, so versions grow in
//! order. A write is one store transaction (the object ops, a PG-log
//! entry, the PG info) applied on every acting OSD before the client is
//! answered. Before a primary serves a PG with a new acting set it asks
//! every member for its last update (peering) and recovers the ones
//! behind from the PG log ([`recovery`]); until that succeeds the PG
//! refuses I/O with a clear, retryable error rather than serve stale data.

mod caps;
pub mod ops;
mod recovery;
mod stats;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::EntityName;
use client::MonClient;
use cluster::msg::msg_type;
use cluster::msg::osd::{
    ListObjects, ListReply, OsdOp, OsdOpReply, PgQuery, PgQueryReply, RepOp, RepOpReply,
};
use cluster::msg::{ErrorCode, RemoteError};
use cluster::{OsdMap, PgId};
use crush::CrushMap;
use messenger::Message;

use crate::store::{
    CollectionId, ListCursor, LogKind, ObjectId, ObjectStore, PgInfo, PgLogEntry, RocksStore,
    Transaction, Version,
};

/// How long a primary waits for a replica.
const REPLICA_TIMEOUT: Duration = Duration::from_secs(30);

struct PgState {
    info: Option<PgInfo>,
    /// The acting set this primary last peered with.
    peered: Option<Vec<i32>>,
    /// Recent writes by (client, request id): a client that resends after
    /// a timeout or EAGAIN gets the version its first try made, instead of
    /// the write being applied twice. Kept in memory only (lost when the
    /// OSD restarts).
    recent: HashMap<(String, u64), Version>,
    recent_order: std::collections::VecDeque<(String, u64)>,
    /// Objects and bytes in the PG (counted once, then kept up to date by
    /// each write).
    usage: Option<(u64, u64)>,
    /// Why the last peering failed, if it did.
    blocked: Option<String>,
}

/// How many request ids each PG remembers.
const RECENT_REQS: usize = 4096;

impl PgState {
    fn remember(&mut self, key: (String, u64), v: Version) {
        if self.recent.insert(key.clone(), v).is_none() {
            self.recent_order.push_back(key);
            if self.recent_order.len() > RECENT_REQS {
                if let Some(old) = self.recent_order.pop_front() {
                    self.recent.remove(&old);
                }
            }
        }
    }
}

/// How a write failed: before it was applied here, or after (when only a
/// replica failed, and a resend must not apply it twice).
enum Commit {
    LocalFailed(RemoteError),
    ReplicaFailed(RemoteError),
}

impl Commit {
    fn into_error(self) -> RemoteError {
        match self {
            Commit::LocalFailed(e) | Commit::ReplicaFailed(e) => e,
        }
    }
}

pub struct PgService {
    pub id: u32,
    pub store: Arc<RocksStore>,
    pub mc: Arc<MonClient>,
    pgs: Mutex<HashMap<PgId, Arc<tokio::sync::Mutex<PgState>>>>,
    crush: Mutex<Option<(u32, Arc<CrushMap>)>>,
    caps: caps::CapsCache,
}

fn reply_msg<T>(ty: u16, v: &T, data: Vec<u8>) -> Message
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            rkyv::util::AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rkyv::rancor::Error,
        >,
    >,
{
    Message {
        msg_type: ty,
        body: cluster::codec::encode(v),
        data,
    }
}

fn again(m: impl Into<String>) -> RemoteError {
    RemoteError::again(m)
}

fn coll_of(pg: PgId) -> CollectionId {
    CollectionId {
        pool: pg.pool,
        seed: pg.seed,
        shard: None,
    }
}

struct Placed {
    map: Arc<OsdMap>,
    pool: cluster::Pool,
    acting: Vec<i32>,
}

impl PgService {
    pub fn new(id: u32, store: Arc<RocksStore>, mc: Arc<MonClient>) -> PgService {
        PgService {
            id,
            store,
            mc,
            pgs: Mutex::new(HashMap::new()),
            crush: Mutex::new(None),
            caps: caps::CapsCache::default(),
        }
    }

    fn crush_for(&self, map: &OsdMap) -> Result<Arc<CrushMap>, RemoteError> {
        let mut c = self.crush.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((e, m)) = c.as_ref() {
            if *e == map.epoch {
                return Ok(m.clone());
            }
        }
        let m = Arc::new(map.crush().map_err(|e| {
            RemoteError::new(
                ErrorCode::Io,
                format!("the CRUSH map of epoch {} does not parse: {e}", map.epoch),
            )
        })?);
        *c = Some((map.epoch, m.clone()));
        Ok(m)
    }

    fn pg(&self, pg: PgId) -> Arc<tokio::sync::Mutex<PgState>> {
        self.pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(pg)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(PgState {
                    info: None,
                    peered: None,
                    recent: HashMap::new(),
                    recent_order: Default::default(),
                    usage: None,
                    blocked: None,
                }))
            })
            .clone()
    }

    /// The map at least as new as `epoch` (refreshing once), the pool and
    /// the PG's acting set.
    async fn place(&self, epoch: u32, pool: u64, pg: PgId) -> Result<Placed, RemoteError> {
        let mut map = self
            .mc
            .osdmap()
            .ok_or_else(|| again("this OSD has no map yet"))?;
        if epoch > map.epoch {
            if let Ok(m) = self.mc.refresh_map().await {
                map = m;
            }
        }
        let p = map.pools.get(&pool).cloned().ok_or_else(|| {
            RemoteError::not_found(format!("pool {pool} does not exist (epoch {})", map.epoch))
        })?;
        if matches!(p.kind, cluster::PoolKind::Erasure { .. }) {
            return Err(RemoteError::invalid(format!(
                "pool '{}' is erasure-coded; the erasure-coded data path is not built yet",
                p.name
            )));
        }
        if pg.seed >= p.pg_num {
            return Err(again(format!(
                "PG {pg} does not exist in pool '{}' at epoch {}",
                p.name, map.epoch
            )));
        }
        let crush = self.crush_for(&map)?;
        let placement = cluster::place_pg(&crush, &p, pg, &map.osd_states());
        Ok(Placed {
            map,
            pool: p,
            acting: placement.acting,
        })
    }

    fn addr_of(map: &OsdMap, osd: i32) -> Option<SocketAddr> {
        map.osds.get(&(osd as u32))?.addr.parse().ok()
    }

    /// Loads the PG's info, creating its collection on first use.
    fn ensure_pg(&self, st: &mut PgState, pg: PgId) -> Result<PgInfo, RemoteError> {
        if let Some(i) = &st.info {
            return Ok(i.clone());
        }
        let c = coll_of(pg);
        if !self.store.collection_exists(&c).map_err(ops::store_err)? {
            self.store.create_collection(&c).map_err(ops::store_err)?;
        }
        let info = self
            .store
            .pg_info(&c)
            .map_err(ops::store_err)?
            .unwrap_or_else(|| PgInfo::new(c));
        st.info = Some(info.clone());
        Ok(info)
    }

    /// Asks every other acting OSD for its last update; all must match ours.
    async fn peer(&self, st: &mut PgState, pg: PgId, placed: &Placed) -> Result<(), RemoteError> {
        let r = self.try_peer(st, pg, placed).await;
        st.blocked = r.as_ref().err().map(|e| e.message.clone());
        r
    }

    async fn try_peer(
        &self,
        st: &mut PgState,
        pg: PgId,
        placed: &Placed,
    ) -> Result<(), RemoteError> {
        if st.peered.as_ref() == Some(&placed.acting) {
            return Ok(());
        }
        let mine = self.ensure_pg(st, pg)?.last_update;
        let mut versions = Vec::new();
        for osd in placed.acting.iter().filter(|o| **o != self.id as i32) {
            let addr = Self::addr_of(&placed.map, *osd)
                .ok_or_else(|| again(format!("PG {pg}: osd.{osd} has no address")))?;
            let q = PgQuery {
                epoch: placed.map.epoch,
                pool: pg.pool,
                pg_seed: pg.seed,
            };
            let r = self
                .mc
                .messenger
                .request(
                    addr,
                    &EntityName::osd(*osd as u32),
                    &reply_msg(msg_type::PG_QUERY, &q, Vec::new()),
                    Duration::from_secs(10),
                )
                .await
                .map_err(|e| again(format!("PG {pg} is peering: osd.{osd}: {e}")))?;
            let rep: PgQueryReply = cluster::codec::decode("PG query reply", &r.body)
                .map_err(|e| again(format!("PG {pg}: osd.{osd}: {e}")))?;
            if let Some(e) = rep.error {
                return Err(again(format!(
                    "PG {pg} is peering: osd.{osd}: {}",
                    e.message
                )));
            }
            let theirs = Version {
                epoch: rep.last_update.0,
                counter: rep.last_update.1,
            };
            versions.push((*osd, theirs));
        }
        if versions.iter().any(|(_, v)| *v != mine) {
            versions.push((self.id as i32, mine));
            self.recover(pg, placed, &versions).await?;
            // Our info may have moved: read it again.
            st.info = None;
            self.ensure_pg(st, pg)?;
        }
        st.peered = Some(placed.acting.clone());
        Ok(())
    }

    /// A client's op, on the PG's primary.
    pub async fn handle_op(&self, from: &EntityName, msg: &Message) -> Message {
        let (reply, data) = match cluster::codec::decode::<OsdOp>("OSD op", &msg.body) {
            Ok(op) => self.run_op(from, &op, &msg.data).await,
            Err(e) => (
                self.failure(RemoteError::invalid(e.to_string()), None),
                Vec::new(),
            ),
        };
        reply_msg(msg_type::OSD_OP_REPLY, &reply, data)
    }

    fn failure(&self, e: RemoteError, step: Option<u32>) -> OsdOpReply {
        OsdOpReply {
            error: Some(e),
            failed_step: step,
            epoch: 0,
            counter: 0,
            outputs: Vec::new(),
            osd_epoch: self.mc.osdmap().map_or(0, |m| m.epoch),
        }
    }

    async fn run_op(&self, from: &EntityName, op: &OsdOp, data: &[u8]) -> (OsdOpReply, Vec<u8>) {
        match self.try_op(from, op, data).await {
            Ok(r) => r,
            Err((e, step)) => (self.failure(e, step), Vec::new()),
        }
    }

    async fn try_op(
        &self,
        from: &EntityName,
        op: &OsdOp,
        data: &[u8],
    ) -> Result<(OsdOpReply, Vec<u8>), (RemoteError, Option<u32>)> {
        let whole = |e: RemoteError| (e, None);
        let pg = PgId {
            pool: op.pool,
            seed: op.pg_seed,
        };
        let placed = self.place(op.epoch, op.pool, pg).await.map_err(whole)?;
        let hash = cluster::object_hash(&op.ns, &op.name);
        let right = cluster::object_pg(&placed.pool, hash);
        if right != pg {
            return Err(whole(again(format!(
                "object {} belongs to PG {right}, not {pg}, at epoch {}",
                op.name, placed.map.epoch
            ))));
        }
        if placed.acting.first() != Some(&(self.id as i32)) {
            return Err(whole(again(format!(
                "osd.{} is not the primary of PG {pg} at epoch {} (acting {:?})",
                self.id, placed.map.epoch, placed.acting
            ))));
        }
        if (placed.acting.len() as u32) < placed.pool.min_size {
            return Err(whole(again(format!(
                "PG {pg} has {} of {} OSDs up, below min_size {}: I/O waits until more OSDs are up",
                placed.acting.len(),
                placed.pool.size,
                placed.pool.min_size
            ))));
        }
        if op.ops.is_empty() {
            return Err(whole(RemoteError::invalid("an op needs at least one step")));
        }
        let writes = op.ops.iter().any(|o| o.is_write());
        if writes {
            if let Some(i) = op.ops.iter().position(|o| !o.is_write() && !o.is_guard()) {
                return Err((
                    RemoteError::invalid("a write op may not also read (use a separate read op)"),
                    Some(i as u32),
                ));
            }
        }
        self.caps
            .check(&self.mc, from, &placed.pool.name, writes)
            .await
            .map_err(whole)?;
        let payloads = ops::payloads(&op.ops, data).map_err(whole)?;
        let obj = ObjectId::new(op.ns.clone(), op.name.clone());
        let coll = coll_of(pg);
        let lock = self.pg(pg);
        let mut st = lock.lock().await;
        self.peer(&mut st, pg, &placed).await.map_err(whole)?;
        ops::check_guards(self.store.as_ref(), &coll, &obj, &op.ops, &payloads)
            .map_err(|(s, e)| (e, Some(s)))?;
        if !writes {
            let mut out = Vec::new();
            let outputs = ops::run_reads(self.store.as_ref(), &coll, &obj, &op.ops, &mut out)
                .map_err(|(s, e)| (e, Some(s)))?;
            let v = self
                .store
                .stat(&coll, &obj)
                .map(|s| s.version)
                .unwrap_or_default();
            return Ok((
                OsdOpReply {
                    error: None,
                    failed_step: None,
                    epoch: v.epoch,
                    counter: v.counter,
                    outputs,
                    osd_epoch: placed.map.epoch,
                },
                out,
            ));
        }
        let key = (from.to_string(), op.reqid);
        if let Some(v) = st.recent.get(&key).copied() {
            // A resend of a write that is already applied.
            return Ok((
                OsdOpReply {
                    error: None,
                    failed_step: None,
                    epoch: v.epoch,
                    counter: v.counter,
                    outputs: vec![cluster::msg::osd::OpOutput::None; op.ops.len()],
                    osd_epoch: placed.map.epoch,
                },
                Vec::new(),
            ));
        }
        let info = self.ensure_pg(&mut st, pg).map_err(whole)?;
        let before = self.store.stat(&coll, &obj).ok();
        let prior = before.map(|s| s.version).unwrap_or_default();
        let version = Version {
            epoch: placed.map.epoch,
            counter: info.last_update.counter + 1,
        };
        let store_ops = ops::to_store_ops(&obj, &op.ops, &payloads);
        let deletes = matches!(store_ops.last(), Some(crate::store::Op::Remove { .. }));
        let mut t = Transaction::new(coll, version);
        let mut new_info = info.clone();
        new_info.last_update = version;
        new_info.last_complete = version;
        t.log.push(PgLogEntry {
            version,
            prior_version: prior,
            object: obj.clone(),
            kind: if deletes {
                LogKind::Delete
            } else {
                LogKind::Modify
            },
            reqid: op.reqid,
            mtime_ns: t.mtime_ns,
        });
        t.ops = store_ops;
        t.info = Some(new_info.clone());
        let r = self.replicate_and_commit(&placed, pg, t).await;
        if !matches!(r, Err(Commit::LocalFailed(_))) {
            // Applied here: a resend must not apply it again.
            st.remember(key, version);
        }
        if let Err(e) = r {
            // Some members may have it and some not: peer again (and
            // reload our info) before taking more I/O.
            st.peered = None;
            st.info = None;
            return Err(whole(e.into_error()));
        }
        st.info = Some(new_info);
        if let Some((objects, bytes)) = st.usage.as_mut() {
            let after = self.store.stat(&coll, &obj).ok();
            *objects = (*objects + after.is_some() as u64).saturating_sub(before.is_some() as u64);
            *bytes =
                (*bytes + after.map_or(0, |s| s.size)).saturating_sub(before.map_or(0, |s| s.size));
        }
        Ok((
            OsdOpReply {
                error: None,
                failed_step: None,
                epoch: version.epoch,
                counter: version.counter,
                outputs: vec![cluster::msg::osd::OpOutput::None; op.ops.len()],
                osd_epoch: placed.map.epoch,
            },
            Vec::new(),
        ))
    }

    /// Sends the transaction to every other acting OSD and applies it
    /// here, in parallel; succeeds when all have committed it durably.
    async fn replicate_and_commit(
        &self,
        placed: &Placed,
        pg: PgId,
        t: Transaction,
    ) -> Result<(), Commit> {
        let bytes = cluster::codec::encode(&t);
        let rep = RepOp {
            epoch: placed.map.epoch,
            pool: pg.pool,
            pg_seed: pg.seed,
        };
        let mut sends = Vec::new();
        for osd in placed.acting.iter().filter(|o| **o != self.id as i32) {
            let addr = Self::addr_of(&placed.map, *osd).ok_or_else(|| {
                Commit::LocalFailed(again(format!("PG {pg}: osd.{osd} has no address")))
            })?;
            let m = self.mc.messenger.clone();
            let msg = reply_msg(msg_type::REP_OP, &rep, bytes.clone());
            let osd = *osd;
            sends.push(tokio::spawn(async move {
                let r = m
                    .request(addr, &EntityName::osd(osd as u32), &msg, REPLICA_TIMEOUT)
                    .await;
                let r = r.map_err(|e| e.to_string()).and_then(|m| {
                    cluster::codec::decode::<RepOpReply>("replica reply", &m.body)
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.error.map_or(Ok(()), |e| Err(e.message)))
                });
                (osd, r)
            }));
        }
        let store = self.store.clone();
        let local = tokio::task::spawn_blocking(move || store.submit(t));
        let mut failed = Vec::new();
        for s in sends {
            if let Ok((osd, Err(e))) = s.await {
                failed.push(format!("osd.{osd}: {e}"));
            }
        }
        match local.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Commit::LocalFailed(ops::store_err(e))),
            Err(e) => {
                return Err(Commit::LocalFailed(RemoteError::new(
                    ErrorCode::Io,
                    e.to_string(),
                )))
            }
        }
        if !failed.is_empty() {
            return Err(Commit::ReplicaFailed(again(format!(
                "PG {pg}: replication failed ({}); retry",
                failed.join("; ")
            ))));
        }
        Ok(())
    }

    /// A replica applying its primary's transaction.
    pub async fn handle_repop(&self, from: &EntityName, msg: &Message) -> Message {
        let r = self.apply_repop(from, msg).await;
        reply_msg(
            msg_type::REP_OP_REPLY,
            &RepOpReply { error: r.err() },
            Vec::new(),
        )
    }

    async fn apply_repop(&self, from: &EntityName, msg: &Message) -> Result<(), RemoteError> {
        let rep: RepOp = cluster::codec::decode("replica op", &msg.body)
            .map_err(|e| RemoteError::invalid(e.to_string()))?;
        if from.kind != auth::EntityKind::Osd {
            return Err(RemoteError::denied(format!(
                "{from} may not send replica ops"
            )));
        }
        let t: Transaction = cluster::codec::decode("replica transaction", &msg.data)
            .map_err(|e| RemoteError::invalid(e.to_string()))?;
        let pg = PgId {
            pool: rep.pool,
            seed: rep.pg_seed,
        };
        if t.coll != coll_of(pg) {
            return Err(RemoteError::invalid(format!(
                "transaction for {} sent as PG {pg}",
                t.coll
            )));
        }
        let lock = self.pg(pg);
        let mut st = lock.lock().await;
        self.ensure_pg(&mut st, pg)?;
        let info = t.info.clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.submit(t))
            .await
            .map_err(|e| RemoteError::new(ErrorCode::Io, e.to_string()))?
            .map_err(ops::store_err)?;
        st.info = info;
        // A replica that takes writes from a primary is not the primary's
        // peer view; if it becomes primary it peers again.
        st.peered = None;
        Ok(())
    }

    pub async fn handle_query(&self, msg: &Message) -> Message {
        let r = async {
            let q: PgQuery = cluster::codec::decode("PG query", &msg.body)
                .map_err(|e| RemoteError::invalid(e.to_string()))?;
            let pg = PgId {
                pool: q.pool,
                seed: q.pg_seed,
            };
            let lock = self.pg(pg);
            let mut st = lock.lock().await;
            let i = self.ensure_pg(&mut st, pg)?;
            // Another OSD leads this PG now: whatever we peered is stale.
            st.peered = None;
            Ok::<_, RemoteError>((i.last_update.epoch, i.last_update.counter))
        }
        .await;
        let reply = match r {
            Ok(v) => PgQueryReply {
                error: None,
                last_update: v,
            },
            Err(e) => PgQueryReply {
                error: Some(e),
                last_update: (0, 0),
            },
        };
        reply_msg(msg_type::PG_QUERY_REPLY, &reply, Vec::new())
    }

    /// Lists a PG's objects (on its primary).
    pub async fn handle_list(&self, from: &EntityName, msg: &Message) -> Message {
        let r = async {
            let l: ListObjects = cluster::codec::decode("list request", &msg.body)
                .map_err(|e| RemoteError::invalid(e.to_string()))?;
            let pg = PgId {
                pool: l.pool,
                seed: l.pg_seed,
            };
            let placed = self.place(l.epoch, l.pool, pg).await?;
            self.caps
                .check(&self.mc, from, &placed.pool.name, false)
                .await?;
            if placed.acting.first() != Some(&(self.id as i32)) {
                return Err(again(format!(
                    "osd.{} is not the primary of PG {pg}",
                    self.id
                )));
            }
            let lock = self.pg(pg);
            let mut st = lock.lock().await;
            self.peer(&mut st, pg, &placed).await?;
            let coll = coll_of(pg);
            let cursor = (!l.cursor.is_empty()).then(|| ListCursor(l.cursor.clone()));
            let page = self
                .store
                .list_objects(&coll, cursor.as_ref(), l.max.clamp(1, 10_000) as usize)
                .map_err(ops::store_err)?;
            let objects = page
                .objects
                .into_iter()
                .filter(|o| l.ns.as_ref().is_none_or(|n| *n == o.ns))
                .map(|o| (o.ns, o.name))
                .collect();
            Ok(ListReply {
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
        reply_msg(msg_type::OSD_LIST_REPLY, &reply, Vec::new())
    }
}
