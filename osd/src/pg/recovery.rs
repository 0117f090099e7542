//! Log-based recovery, run by the primary while it peers. The members
//! whose last update is behind the newest are brought up to it: the
//! objects named in the newest member's log after a laggard's last update
//! are copied whole (data, xattrs, omap, version) from that member, then
//! the log entries and PG info follow in the last transaction, so a crash
//! midway only repeats the work. A laggard whose last update is older than
//! the source's log tail would need backfill (copying the whole PG), which
//! is not built: such a PG keeps refusing I/O and says so.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use auth::EntityName;
use cluster::msg::msg_type;
use cluster::msg::osd::{PgLogReply, PgLogRequest, Pull, PullReply, RepOp, RepOpReply};
use cluster::msg::{ErrorCode, RemoteError};
use cluster::PgId;
use messenger::Message;

use super::{again, coll_of, ops, reply_msg, PgService, Placed};
use crate::store::{LogKind, ObjectId, ObjectStore, Op, PgLogEntry, Transaction, Version};

const RPC: Duration = Duration::from_secs(30);

/// An object as the authoritative member has it.
struct ObjectState {
    exists: bool,
    version: Version,
    mtime_ns: u64,
    data: Vec<u8>,
    xattrs: Vec<(String, Vec<u8>)>,
    omap: Vec<(Vec<u8>, Vec<u8>)>,
    header: Vec<u8>,
}

fn ver(v: (u32, u64)) -> Version {
    Version {
        epoch: v.0,
        counter: v.1,
    }
}

impl PgService {
    async fn call(&self, placed: &Placed, osd: i32, msg: Message) -> Result<Message, RemoteError> {
        let addr: SocketAddr = Self::addr_of(&placed.map, osd)
            .ok_or_else(|| again(format!("osd.{osd} has no address")))?;
        self.mc
            .messenger
            .request(addr, &EntityName::osd(osd as u32), &msg, RPC)
            .await
            .map_err(|e| again(format!("osd.{osd}: {e}")))
    }

    /// Brings every member in `versions` up to the newest one.
    pub(super) async fn recover(
        &self,
        pg: PgId,
        placed: &Placed,
        versions: &[(i32, Version)],
    ) -> Result<(), RemoteError> {
        let newest = versions.iter().map(|(_, v)| *v).max().unwrap_or_default();
        // Prefer ourselves as the source.
        let source = versions
            .iter()
            .filter(|(_, v)| *v == newest)
            .map(|(o, _)| *o)
            .min_by_key(|o| (*o != self.id as i32, *o))
            .expect("the newest has a member");
        for (osd, v) in versions.iter().filter(|(_, v)| *v != newest) {
            tracing::info!(
                "PG {pg}: recovering osd.{osd} from {}.{} to {}.{} (source osd.{source})",
                v.epoch,
                v.counter,
                newest.epoch,
                newest.counter
            );
            let entries = self.log_after(pg, placed, source, *v).await?;
            let info_after = entries.last().map(|e| e.version).unwrap_or(newest);
            // The last entry of each object says what to copy.
            let mut last: BTreeMap<ObjectId, LogKind> = BTreeMap::new();
            for e in &entries {
                last.insert(e.object.clone(), e.kind);
            }
            let mut txns = Vec::new();
            for obj in last.keys() {
                let st = self.object_state(pg, placed, source, obj).await?;
                let mut t = Transaction::new(coll_of(pg), st.version);
                t.mtime_ns = st.mtime_ns;
                t.ops.push(Op::Discard { obj: obj.clone() });
                if st.exists {
                    t.ops.push(Op::Create {
                        obj: obj.clone(),
                        exclusive: false,
                    });
                    if !st.data.is_empty() {
                        t.ops.push(Op::WriteFull {
                            obj: obj.clone(),
                            data: st.data,
                        });
                    }
                    for (name, value) in st.xattrs {
                        t.ops.push(Op::SetXattr {
                            obj: obj.clone(),
                            name,
                            value,
                        });
                    }
                    if !st.header.is_empty() {
                        t.ops.push(Op::OmapSetHeader {
                            obj: obj.clone(),
                            header: st.header,
                        });
                    }
                    if !st.omap.is_empty() {
                        t.ops.push(Op::OmapSet {
                            obj: obj.clone(),
                            entries: st.omap,
                        });
                    }
                }
                txns.push(t);
            }
            // The log and info go with the last transaction.
            let mut info = self
                .store
                .pg_info(&coll_of(pg))
                .map_err(ops::store_err)?
                .unwrap_or_else(|| crate::store::PgInfo::new(coll_of(pg)));
            info.last_update = info_after;
            info.last_complete = info_after;
            let mut tail = txns
                .pop()
                .unwrap_or_else(|| Transaction::new(coll_of(pg), info_after));
            tail.log = entries;
            tail.info = Some(info);
            txns.push(tail);
            for t in txns {
                self.apply_on(pg, placed, *osd, t).await?;
            }
        }
        Ok(())
    }

    /// The source's log entries after `after`, checked to be complete.
    async fn log_after(
        &self,
        pg: PgId,
        placed: &Placed,
        source: i32,
        after: Version,
    ) -> Result<Vec<PgLogEntry>, RemoteError> {
        let c = coll_of(pg);
        if source == self.id as i32 {
            let info = self.store.pg_info(&c).map_err(ops::store_err)?;
            let tail = info.map(|i| i.log_tail).unwrap_or_default();
            if tail > after {
                return Err(backfill(pg, after, tail));
            }
            return self
                .store
                .read_log(&c, Some(after), usize::MAX)
                .map_err(ops::store_err);
        }
        let req = PgLogRequest {
            pool: pg.pool,
            pg_seed: pg.seed,
            after: (after.epoch, after.counter),
        };
        let m = self
            .call(
                placed,
                source,
                reply_msg(msg_type::PG_LOG, &req, Vec::new()),
            )
            .await?;
        let r: PgLogReply =
            cluster::codec::decode("PG log reply", &m.body).map_err(|e| again(e.to_string()))?;
        if let Some(e) = r.error {
            return Err(again(format!("PG {pg}: osd.{source}: {}", e.message)));
        }
        if ver(r.log_tail) > after {
            return Err(backfill(pg, after, ver(r.log_tail)));
        }
        cluster::codec::decode("PG log entries", &m.data).map_err(|e| again(e.to_string()))
    }

    async fn object_state(
        &self,
        pg: PgId,
        placed: &Placed,
        source: i32,
        obj: &ObjectId,
    ) -> Result<ObjectState, RemoteError> {
        if source == self.id as i32 {
            return self.local_state(pg, obj);
        }
        let req = Pull {
            pool: pg.pool,
            pg_seed: pg.seed,
            ns: obj.ns.clone(),
            name: obj.name.clone(),
        };
        let m = self
            .call(placed, source, reply_msg(msg_type::PULL, &req, Vec::new()))
            .await?;
        let r: PullReply =
            cluster::codec::decode("pull reply", &m.body).map_err(|e| again(e.to_string()))?;
        if let Some(e) = r.error {
            return Err(again(format!(
                "PG {pg}: pulling {obj} from osd.{source}: {}",
                e.message
            )));
        }
        Ok(ObjectState {
            exists: r.exists,
            version: ver(r.version),
            mtime_ns: r.mtime_ns,
            data: m.data,
            xattrs: r.xattrs,
            omap: r.omap,
            header: r.omap_header,
        })
    }

    fn local_state(&self, pg: PgId, obj: &ObjectId) -> Result<ObjectState, RemoteError> {
        let c = coll_of(pg);
        let st = match self.store.stat(&c, obj) {
            Ok(s) => s,
            Err(crate::store::StoreError::NoSuchObject { .. }) => {
                return Ok(ObjectState {
                    exists: false,
                    version: Version::ZERO,
                    mtime_ns: 0,
                    data: Vec::new(),
                    xattrs: Vec::new(),
                    omap: Vec::new(),
                    header: Vec::new(),
                })
            }
            Err(e) => return Err(ops::store_err(e)),
        };
        let data = self
            .store
            .read(&c, obj, 0, st.size)
            .map_err(ops::store_err)?;
        let xattrs = self.store.getxattrs(&c, obj).map_err(ops::store_err)?;
        let header = self.store.omap_header(&c, obj).map_err(ops::store_err)?;
        let mut omap = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .store
                .omap_list(&c, obj, after.as_deref(), None, 10_000)
                .map_err(ops::store_err)?;
            after = page.entries.last().map(|(k, _)| k.clone());
            omap.extend(page.entries);
            if !page.more {
                break;
            }
        }
        Ok(ObjectState {
            exists: true,
            version: st.version,
            mtime_ns: st.mtime_ns,
            data,
            xattrs,
            omap,
            header,
        })
    }

    async fn apply_on(
        &self,
        pg: PgId,
        placed: &Placed,
        osd: i32,
        t: Transaction,
    ) -> Result<(), RemoteError> {
        if osd == self.id as i32 {
            let store = self.store.clone();
            return tokio::task::spawn_blocking(move || store.submit(t))
                .await
                .map_err(|e| RemoteError::new(ErrorCode::Io, e.to_string()))?
                .map_err(ops::store_err);
        }
        let rep = RepOp {
            epoch: placed.map.epoch,
            pool: pg.pool,
            pg_seed: pg.seed,
        };
        let m = self
            .call(
                placed,
                osd,
                reply_msg(msg_type::REP_OP, &rep, cluster::codec::encode(&t)),
            )
            .await?;
        let r: RepOpReply =
            cluster::codec::decode("replica reply", &m.body).map_err(|e| again(e.to_string()))?;
        r.error.map_or(Ok(()), |e| {
            Err(again(format!(
                "PG {pg}: recovering osd.{osd}: {}",
                e.message
            )))
        })
    }

    /// A peer's log entries after a version (for the primary's recovery).
    pub async fn handle_log(&self, msg: &Message) -> Message {
        let r = (|| {
            let q: PgLogRequest = cluster::codec::decode("PG log request", &msg.body)
                .map_err(|e| RemoteError::invalid(e.to_string()))?;
            let c = coll_of(PgId {
                pool: q.pool,
                seed: q.pg_seed,
            });
            let info = self.store.pg_info(&c).map_err(ops::store_err)?;
            let tail = info.map(|i| i.log_tail).unwrap_or_default();
            let entries = self
                .store
                .read_log(&c, Some(ver(q.after)), usize::MAX)
                .map_err(ops::store_err)?;
            Ok::<_, RemoteError>(((tail.epoch, tail.counter), cluster::codec::encode(&entries)))
        })();
        match r {
            Ok((tail, data)) => reply_msg(
                msg_type::PG_LOG_REPLY,
                &PgLogReply {
                    error: None,
                    log_tail: tail,
                },
                data,
            ),
            Err(e) => reply_msg(
                msg_type::PG_LOG_REPLY,
                &PgLogReply {
                    error: Some(e),
                    log_tail: (0, 0),
                },
                Vec::new(),
            ),
        }
    }

    /// One object's whole state (for the primary's recovery).
    pub async fn handle_pull(&self, msg: &Message) -> Message {
        let r = (|| {
            let q: Pull = cluster::codec::decode("pull", &msg.body)
                .map_err(|e| RemoteError::invalid(e.to_string()))?;
            self.local_state(
                PgId {
                    pool: q.pool,
                    seed: q.pg_seed,
                },
                &ObjectId::new(q.ns, q.name),
            )
        })();
        match r {
            Ok(s) => reply_msg(
                msg_type::PULL_REPLY,
                &PullReply {
                    error: None,
                    exists: s.exists,
                    version: (s.version.epoch, s.version.counter),
                    mtime_ns: s.mtime_ns,
                    xattrs: s.xattrs,
                    omap: s.omap,
                    omap_header: s.header,
                },
                s.data,
            ),
            Err(e) => reply_msg(
                msg_type::PULL_REPLY,
                &PullReply {
                    error: Some(e),
                    exists: false,
                    version: (0, 0),
                    mtime_ns: 0,
                    xattrs: Vec::new(),
                    omap: Vec::new(),
                    omap_header: Vec::new(),
                },
                Vec::new(),
            ),
        }
    }
}

fn backfill(pg: PgId, after: Version, tail: Version) -> RemoteError {
    again(format!(
        "PG {pg} needs backfill: a member is at {}.{} but the log only goes back to {}.{} (backfill is not implemented yet)",
        after.epoch, after.counter, tail.epoch, tail.counter
    ))
}
