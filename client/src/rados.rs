//! The client library, librados-shaped: [`Rados`] is a connection to a
//! cluster, [`IoCtx`] a handle on one pool (and namespace) with a method
//! per operation, [`ObjectOperation`] a compound op applied atomically.
//!
//! The client computes placement itself (`cluster::place_pg`, the same
//! function the OSDs use) and sends each op to its PG's primary. When the
//! map moves under it (an OSD died, a PG's primary changed, the OSD is on a
//! newer epoch) the OSD answers EAGAIN; the client refreshes its map and
//! resends, until its op timeout.
//!
//! ```no_run
//! # async fn demo() -> Result<(), client::ClientError> {
//! let rados = client::Rados::connect(std::path::Path::new("/etc/strata/strata.yaml"), None).await?;
//! let pool = rados.pool("data").await?;
//! let v = pool.write_full("greeting", b"hello").await?;
//! assert_eq!(pool.read("greeting", 0, 0).await?, b"hello");
//! let st = pool.stat("greeting").await?;
//! assert_eq!((st.size, st.version), (5, v));
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth::EntityName;
use cluster::msg::msg_type;
use cluster::msg::osd::{ListObjects, ListReply, OpOutput, OsdOp, OsdOpReply};
use cluster::msg::{ErrorCode, RemoteError};
use cluster::{OsdMap, PgId, Pool};
use crush::CrushMap;
use messenger::Message;

use crate::operation::{ObjectOperation, OpResult};
use crate::{ClientError, MonClient};

/// An object's version: the map epoch of its last write and the PG's counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjVersion {
    pub epoch: u32,
    pub counter: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjStat {
    pub size: u64,
    pub mtime_ns: u64,
    pub version: ObjVersion,
}

/// Per pool usage from a cluster view: bytes and objects summed over the
/// primaries' PG reports; used = stored times the copies.
pub fn pool_usage(v: &cluster::msg::mon::ClusterView) -> Vec<PoolUsage> {
    v.osdmap
        .pools
        .values()
        .map(|p| {
            let (stored, objects) = v
                .pg_stats
                .iter()
                .filter(|s| s.pool == p.id)
                .fold((0u64, 0u64), |(b, o), s| {
                    (b + s.num_bytes, o + s.num_objects)
                });
            PoolUsage {
                id: p.id,
                name: p.name.clone(),
                stored,
                objects,
                used: stored * u64::from(p.size),
                copies: u64::from(p.size),
            }
        })
        .collect()
}

/// One pool's usage ([`Rados::df`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolUsage {
    pub id: u64,
    pub name: String,
    pub stored: u64,
    pub objects: u64,
    /// `stored` times the number of copies.
    pub used: u64,
    pub copies: u64,
}

struct Inner {
    mc: Arc<MonClient>,
    op_timeout: Duration,
    /// This client instance's nonce: with the tid and the entity the
    /// OSD authenticated, it names a request for its whole life.
    nonce: u64,
    reqid: AtomicU64,
    crush: Mutex<Option<(u32, Arc<CrushMap>)>>,
}

/// A connection to a cluster.
#[derive(Clone)]
pub struct Rados {
    inner: Arc<Inner>,
}

impl Rados {
    /// Connects with the config at `conf` as its `keyring` (default: the
    /// config's), and fetches the maps.
    pub async fn connect(conf: &Path, keyring: Option<&Path>) -> Result<Rados, ClientError> {
        let opts = config::load(conf, "client.admin", &[])
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let kr = keyring
            .map(Path::to_path_buf)
            .or(opts.keyring.clone())
            .ok_or_else(|| {
                ClientError::Config(format!("{}: no keyring configured", conf.display()))
            })?;
        let creds = auth::Credentials::load(&kr).map_err(|e| ClientError::Config(e.to_string()))?;
        let mc = MonClient::from_options(&opts, &creds, None, None)?;
        Rados::with_monclient(mc, Duration::from_secs_f64(opts.client_mon_timeout)).await
    }

    /// A client over an existing monitor client; ops give up after `op_timeout`.
    pub async fn with_monclient(
        mc: Arc<MonClient>,
        op_timeout: Duration,
    ) -> Result<Rados, ClientError> {
        mc.refresh_map().await?;
        mc.keep_subscribed(Duration::from_secs(2));
        Ok(Rados {
            inner: Arc::new(Inner {
                mc,
                op_timeout,
                nonce: rand::random::<u64>(),
                reqid: AtomicU64::new(1),
                crush: Mutex::new(None),
            }),
        })
    }

    /// `pg query`: the PG's peering state from its primary, as JSON.
    pub async fn pg_query(&self, pg: PgId) -> Result<String, ClientError> {
        use cluster::msg::osd::{PgQuery, PgQueryReply};
        self.to_primary(
            pg.pool,
            |_| pg,
            |map, pg| Message {
                msg_type: msg_type::OSD_PG_QUERY,
                body: cluster::codec::encode(&PgQuery {
                    epoch: map.epoch,
                    pool: pg.pool,
                    pg_seed: pg.seed,
                }),
                data: Vec::new(),
            },
            |m| {
                let r: PgQueryReply =
                    cluster::codec::decode("pg query reply", &m.body).map_err(|e| {
                        ClientError::Protocol {
                            from: "osd".into(),
                            what: e.to_string(),
                        }
                    })?;
                Ok((r.error, r.json))
            },
        )
        .await
    }

    pub fn monclient(&self) -> &Arc<MonClient> {
        &self.inner.mc
    }

    /// Pools as (id, name).
    pub async fn list_pools(&self) -> Result<Vec<(u64, String)>, ClientError> {
        let m = self.map().await?;
        Ok(m.pools.values().map(|p| (p.id, p.name.clone())).collect())
    }

    /// Per pool: bytes stored, objects, and bytes used with every copy,
    /// from the primaries' PG reports (a few seconds old at most).
    pub async fn df(&self) -> Result<Vec<PoolUsage>, ClientError> {
        Ok(pool_usage(&self.inner.mc.status().await?))
    }

    /// A handle on pool `name` (ENOENT if it does not exist).
    pub async fn pool(&self, name: &str) -> Result<IoCtx, ClientError> {
        let m = self.map().await?;
        let p = m.pool_by_name(name).ok_or_else(|| {
            ClientError::Remote(RemoteError::not_found(format!(
                "pool '{name}' does not exist"
            )))
        })?;
        Ok(IoCtx {
            rados: self.clone(),
            pool: p.id,
            pool_name: p.name.clone(),
            ns: String::new(),
        })
    }

    async fn map(&self) -> Result<Arc<OsdMap>, ClientError> {
        match self.inner.mc.osdmap() {
            Some(m) => Ok(m),
            None => self.inner.mc.refresh_map().await,
        }
    }

    /// Resolves (with the new epoch) once a map newer than `epoch` gives
    /// `pg` an acting primary other than `osd`; never otherwise.
    async fn primary_moved(&self, pool: &Pool, pg: PgId, osd: i32, epoch: u32) -> u32 {
        let mut maps = self.inner.mc.watch_map();
        loop {
            if maps.changed().await.is_err() {
                return std::future::pending().await;
            }
            let Some(m) = maps.borrow_and_update().clone() else {
                continue;
            };
            if m.epoch <= epoch {
                continue;
            }
            let Some(pool) = m.pools.get(&pool.id).cloned() else {
                return m.epoch;
            };
            let Ok(crush) = self.crush(&m) else {
                continue;
            };
            if m.place_pg(&crush, &pool, pg, &m.osd_states())
                .acting_primary
                != Some(osd)
            {
                return m.epoch;
            }
        }
    }

    fn crush(&self, m: &OsdMap) -> Result<Arc<CrushMap>, ClientError> {
        let mut c = self.inner.crush.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((e, map)) = c.as_ref() {
            if *e == m.epoch {
                return Ok(map.clone());
            }
        }
        let map = Arc::new(m.crush().map_err(|e| ClientError::Protocol {
            from: "monitor".into(),
            what: format!("the CRUSH map does not parse: {e}"),
        })?);
        *c = Some((m.epoch, map.clone()));
        Ok(map)
    }

    /// Sends `msg_for(map, pool, pg)` to the PG's primary until it gets an
    /// answer that is not EAGAIN, refreshing the map between tries.
    async fn to_primary<R>(
        &self,
        pool_id: u64,
        pg_of: impl Fn(&Pool) -> PgId,
        msg_for: impl Fn(&OsdMap, PgId) -> Message,
        decode: impl Fn(&Message) -> Result<(Option<RemoteError>, R), ClientError>,
    ) -> Result<R, ClientError> {
        let deadline = Instant::now() + self.inner.op_timeout;
        let mut last = String::from("no attempt");
        let mut pause = Duration::from_millis(20);
        loop {
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    secs: self.inner.op_timeout.as_secs_f64(),
                    last,
                });
            }
            let map = self.map().await?;
            let pool = map.pools.get(&pool_id).cloned().ok_or_else(|| {
                ClientError::Remote(RemoteError::not_found(format!(
                    "pool {pool_id} does not exist (epoch {})",
                    map.epoch
                )))
            })?;
            let pg = pg_of(&pool);
            let crush = self.crush(&map)?;
            let placement = map.place_pg(&crush, &pool, pg, &map.osd_states());
            let target = placement
                .acting_primary
                .and_then(|p| Some((p, map.osds.get(&(p as u32))?.addr.parse().ok()?)));
            let outcome: Result<(), String> = match target {
                None => Err(format!("PG {pg} has no OSD up at epoch {}", map.epoch)),
                Some((osd, addr)) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let (msg, to) = (msg_for(&map, pg), EntityName::osd(osd as u32));
                    let request = self.inner.mc.messenger.request(addr, &to, &msg, left);
                    tokio::select! {
                        r = request => match r {
                            Ok(reply) => match decode(&reply)? {
                                (None, r) => return Ok(r),
                                (Some(e), _) if e.code == ErrorCode::Again => Err(e.message),
                                (Some(e), _) => return Err(ClientError::Remote(e)),
                            },
                            Err(e) => Err(format!("osd.{osd}: {e}")),
                        },
                        // As librados does: a map that gives the PG another
                        // primary (this one died, say) sends the op there
                        // at once instead of waiting for this one's answer.
                        // A write both may have applied is applied once:
                        // the PG log knows its request id.
                        e = self.primary_moved(&pool, pg, osd, map.epoch) => {
                            Err(format!("PG {pg} left osd.{osd} at epoch {e}"))
                        }
                    }
                }
            };
            if let Err(e) = outcome {
                last = e;
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_millis(500));
            let _ = self.inner.mc.refresh_map().await;
        }
    }
}

/// A page of omap entries (key, value), and whether more follow.
pub type OmapPage = (Vec<(String, Vec<u8>)>, bool);

/// A handle on one pool and namespace.
#[derive(Clone)]
pub struct IoCtx {
    rados: Rados,
    pool: u64,
    pool_name: String,
    ns: String,
}

impl IoCtx {
    pub fn pool_name(&self) -> &str {
        &self.pool_name
    }

    pub fn pool_id(&self) -> u64 {
        self.pool
    }

    /// Objects named from now on live in namespace `ns` ("" is the default).
    pub fn set_namespace(&mut self, ns: &str) {
        self.ns = ns.to_string();
    }

    /// Applies `op` to object `name`, atomically.
    pub async fn operate(&self, name: &str, op: ObjectOperation) -> Result<OpResult, ClientError> {
        if name.is_empty() {
            return Err(ClientError::Remote(RemoteError::invalid(
                "an object needs a name",
            )));
        }
        let reqid = self.rados.inner.reqid.fetch_add(1, Ordering::Relaxed);
        let hash = cluster::object_hash(&self.ns, name);
        let (pool_id, ns) = (self.pool, self.ns.clone());
        self.rados
            .to_primary(
                pool_id,
                |p| cluster::object_pg(p, hash),
                |map, pg| Message {
                    msg_type: msg_type::OSD_OP,
                    body: cluster::codec::encode(&OsdOp {
                        nonce: self.rados.inner.nonce,
                        reqid,
                        epoch: map.epoch,
                        pool: pool_id,
                        pg_seed: pg.seed,
                        ns: ns.clone(),
                        name: name.to_string(),
                        ops: op.ops.clone(),
                    }),
                    data: op.data.clone(),
                },
                |m| {
                    let r: OsdOpReply =
                        cluster::codec::decode("OSD reply", &m.body).map_err(|e| {
                            ClientError::Protocol {
                                from: "osd".into(),
                                what: e.to_string(),
                            }
                        })?;
                    Ok((
                        r.error.clone(),
                        OpResult {
                            version: ObjVersion {
                                epoch: r.epoch,
                                counter: r.counter,
                            },
                            outputs: r.outputs,
                            data: m.data.clone(),
                        },
                    ))
                },
            )
            .await
    }

    async fn write_op(&self, name: &str, op: ObjectOperation) -> Result<ObjVersion, ClientError> {
        Ok(self.operate(name, op).await?.version)
    }

    pub async fn create(&self, name: &str, exclusive: bool) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().create(exclusive))
            .await
    }
    pub async fn write_full(&self, name: &str, data: &[u8]) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().write_full(data))
            .await
    }
    pub async fn write(
        &self,
        name: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().write(offset, data))
            .await
    }
    pub async fn append(&self, name: &str, data: &[u8]) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().append(data))
            .await
    }
    pub async fn truncate(&self, name: &str, size: u64) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().truncate(size))
            .await
    }
    pub async fn zero(&self, name: &str, offset: u64, len: u64) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().zero(offset, len))
            .await
    }
    pub async fn remove(&self, name: &str) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().remove()).await
    }
    pub async fn set_xattr(
        &self,
        name: &str,
        key: &str,
        value: &[u8],
    ) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().set_xattr(key, value))
            .await
    }
    pub async fn rm_xattr(&self, name: &str, key: &str) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().rm_xattr(key))
            .await
    }
    pub async fn omap_set(
        &self,
        name: &str,
        entries: &[(&str, &[u8])],
    ) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().omap_set(entries))
            .await
    }
    pub async fn omap_rm_keys(&self, name: &str, keys: &[&str]) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().omap_rm_keys(keys))
            .await
    }
    pub async fn omap_clear(&self, name: &str) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().omap_clear())
            .await
    }
    pub async fn omap_set_header(&self, name: &str, h: &[u8]) -> Result<ObjVersion, ClientError> {
        self.write_op(name, ObjectOperation::new().omap_set_header(h))
            .await
    }

    /// Reads `len` bytes at `offset` (`len` 0: to the end).
    pub async fn read(&self, name: &str, offset: u64, len: u64) -> Result<Vec<u8>, ClientError> {
        let r = self
            .operate(name, ObjectOperation::new().read(offset, len))
            .await?;
        Ok(r.data(0).unwrap_or_default().to_vec())
    }

    pub async fn stat(&self, name: &str) -> Result<ObjStat, ClientError> {
        let r = self.operate(name, ObjectOperation::new().stat()).await?;
        match r.outputs.first() {
            Some(OpOutput::Stat {
                size,
                mtime_ns,
                epoch,
                counter,
            }) => Ok(ObjStat {
                size: *size,
                mtime_ns: *mtime_ns,
                version: ObjVersion {
                    epoch: *epoch,
                    counter: *counter,
                },
            }),
            other => Err(ClientError::Protocol {
                from: "osd".into(),
                what: format!("stat returned {other:?}"),
            }),
        }
    }

    pub async fn get_xattr(&self, name: &str, key: &str) -> Result<Vec<u8>, ClientError> {
        let r = self
            .operate(name, ObjectOperation::new().get_xattr(key))
            .await?;
        match r.outputs.into_iter().next() {
            Some(OpOutput::Xattrs(mut v)) if !v.is_empty() => Ok(v.remove(0).1),
            other => Err(ClientError::Protocol {
                from: "osd".into(),
                what: format!("getxattr returned {other:?}"),
            }),
        }
    }

    pub async fn list_xattrs(&self, name: &str) -> Result<Vec<(String, Vec<u8>)>, ClientError> {
        let r = self
            .operate(name, ObjectOperation::new().list_xattrs())
            .await?;
        match r.outputs.into_iter().next() {
            Some(OpOutput::Xattrs(v)) => Ok(v),
            other => Err(ClientError::Protocol {
                from: "osd".into(),
                what: format!("listxattrs returned {other:?}"),
            }),
        }
    }

    fn omap_out(r: OpResult) -> Result<OmapPage, ClientError> {
        match r.outputs.into_iter().next() {
            Some(OpOutput::Omap { entries, more }) => Ok((entries, more)),
            other => Err(ClientError::Protocol {
                from: "osd".into(),
                what: format!("omap read returned {other:?}"),
            }),
        }
    }

    pub async fn omap_get_keys(
        &self,
        name: &str,
        keys: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, ClientError> {
        Ok(Self::omap_out(
            self.operate(name, ObjectOperation::new().omap_get_keys(keys))
                .await?,
        )?
        .0)
    }

    /// Up to `max` entries after `start_after` whose keys start with
    /// `prefix`, and whether more follow.
    pub async fn omap_get_range(
        &self,
        name: &str,
        start_after: &str,
        prefix: &str,
        max: u32,
    ) -> Result<OmapPage, ClientError> {
        Self::omap_out(
            self.operate(
                name,
                ObjectOperation::new().omap_get_range(start_after, prefix, max),
            )
            .await?,
        )
    }

    pub async fn omap_get_header(&self, name: &str) -> Result<Vec<u8>, ClientError> {
        let r = self
            .operate(name, ObjectOperation::new().omap_get_header())
            .await?;
        Ok(r.data(0).unwrap_or_default().to_vec())
    }

    /// Every object in the pool (in this namespace, or all with `all_ns`),
    /// as (namespace, name), PG by PG.
    pub async fn list_objects(&self, all_ns: bool) -> Result<Vec<(String, String)>, ClientError> {
        let map = self.rados.map().await?;
        let pool = map.pools.get(&self.pool).cloned().ok_or_else(|| {
            ClientError::Remote(RemoteError::not_found(format!(
                "pool '{}' does not exist",
                self.pool_name
            )))
        })?;
        let mut out = Vec::new();
        for seed in 0..pool.pg_num {
            let mut cursor = Vec::new();
            loop {
                let ns = (!all_ns).then(|| self.ns.clone());
                let c = cursor.clone();
                let pool_id = self.pool;
                let page: ListReply = self
                    .rados
                    .to_primary(
                        pool_id,
                        |_| PgId {
                            pool: pool_id,
                            seed,
                        },
                        |map, _| Message {
                            msg_type: msg_type::OSD_LIST,
                            body: cluster::codec::encode(&ListObjects {
                                epoch: map.epoch,
                                pool: pool_id,
                                pg_seed: seed,
                                ns: ns.clone(),
                                cursor: c.clone(),
                                max: 1000,
                            }),
                            data: Vec::new(),
                        },
                        |m| {
                            let r: ListReply = cluster::codec::decode("list reply", &m.body)
                                .map_err(|e| ClientError::Protocol {
                                    from: "osd".into(),
                                    what: e.to_string(),
                                })?;
                            Ok((r.error.clone(), r))
                        },
                    )
                    .await?;
                out.extend(page.objects);
                if page.next.is_empty() {
                    break;
                }
                cursor = page.next;
            }
        }
        Ok(out)
    }
}
