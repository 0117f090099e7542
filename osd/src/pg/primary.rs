//! The primary's side of a client op: checks, peering, guards, the
//! version and PG-log entry, replication to the acting set, the reply.

use auth::EntityName;
use cluster::msg::msg_type;
use cluster::msg::osd::{OpOutput, OsdOp, OsdOpReply, RepOp, RepOpReply};
use cluster::msg::{ErrorCode, RemoteError};
use cluster::PgId;
use messenger::Message;

use super::{again, coll_of, ops, reply_msg, PgService, Placed, REPLICA_TIMEOUT};
use crate::store::{LogKind, ObjectId, ObjectStore, PgLogEntry, Transaction, Version};

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

/// The reply to an op that succeeded: the object's version and each step's
/// output.
fn success(v: Version, outputs: Vec<OpOutput>, osd_epoch: u32) -> OsdOpReply {
    OsdOpReply {
        error: None,
        failed_step: None,
        epoch: v.epoch,
        counter: v.counter,
        outputs,
        osd_epoch,
    }
}

/// A write's steps return nothing.
fn no_outputs(op: &OsdOp) -> Vec<OpOutput> {
    vec![OpOutput::None; op.ops.len()]
}

impl PgService {
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
            return Ok((success(v, outputs, placed.map.epoch), out));
        }
        let key = (from.to_string(), op.reqid);
        if let Some(v) = st.recent.get(&key).copied() {
            // A resend of a write that is already applied.
            return Ok((success(v, no_outputs(op), placed.map.epoch), Vec::new()));
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
            success(version, no_outputs(op), placed.map.epoch),
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
        let rep = RepOp {
            epoch: placed.map.epoch,
            pool: pg.pool,
            pg_seed: pg.seed,
        };
        // One encoded message shared by every replica's send: the
        // transaction carries the written bytes, which are not copied again.
        let msg = std::sync::Arc::new(reply_msg(
            msg_type::REP_OP,
            &rep,
            cluster::codec::encode(&t),
        ));
        let mut sends = Vec::new();
        for osd in placed.acting.iter().filter(|o| **o != self.id as i32) {
            let addr = Self::addr_of(&placed.map, *osd).ok_or_else(|| {
                Commit::LocalFailed(again(format!("PG {pg}: osd.{osd} has no address")))
            })?;
            let m = self.mc.messenger.clone();
            let msg = msg.clone();
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
}
