//! What clients ask of the PGs here: ops on objects (checked against the
//! map, the pool, the caller's caps and the object's PG, then handed to
//! the PG's engine), object listings and `pg query`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use auth::EntityName;
use cluster::msg::osd::{ListObjects, ListReply, OsdOp, OsdOpReply};
use cluster::msg::{msg_type, RemoteError};
use cluster::{PgId, ReqId};
use messenger::Message;
use tokio::sync::oneshot;

use super::task::Cmd;
use super::{again, PgHost};
use crate::pg::engine::{ClientOp, OpReply};
use crate::store::{ListCursor, ObjectId};

impl PgHost {
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
}
