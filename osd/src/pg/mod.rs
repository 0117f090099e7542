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
pub mod engine;
pub mod info;
pub mod interval;
pub mod log;
pub mod messages;
pub mod ops;
mod primary;
mod recovery;
mod replica;
mod stats;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::EntityName;
use client::MonClient;
use cluster::msg::msg_type;
use cluster::msg::osd::{ListObjects, ListReply, PgQuery, PgQueryReply};
use cluster::msg::{ErrorCode, RemoteError};
use cluster::{OsdMap, PgId};
use crush::CrushMap;
use messenger::Message;

use crate::store::{CollectionId, ListCursor, ObjectStore, PgInfo, RocksStore, Version};

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
