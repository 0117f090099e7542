//! Client ops on the primary. A resend of an applied write is answered
//! from the log (or joins the write still in flight) before any guard is
//! looked at. Ops on one object run one at a time (a write holds its
//! object until every acting member committed it); ops on different
//! objects overlap freely. An object some member still misses is
//! recovered before an op may touch it.

use cluster::msg::osd::OpOutput;
use cluster::msg::RemoteError;
use cluster::osdmap::Fullness;
use cluster::Version;

use super::{ClientOp, Inflight, OnCommit, OpDone, OpFailed, OpReply, Pg, Phase};
use crate::pg::log::{LogEntry, LogKind};
use crate::pg::messages::PeerMsg;
use crate::pg::ops as client_ops;
use crate::store::{ObjectStore, Op, StoreError, Transaction};

type StepError = (Option<u32>, RemoteError);

impl Pg {
    fn reply(&mut self, handle: u64, result: Result<OpDone, OpFailed>) {
        let interval = self.interval();
        self.out.push(super::Effect::Reply(OpReply {
            handle,
            result,
            interval,
        }));
    }

    fn fail(&mut self, handle: u64, error: RemoteError, step: Option<u32>) {
        self.reply(handle, Err(OpFailed { error, step }));
    }

    pub(super) fn on_op(&mut self, store: &dyn ObjectStore, op: ClientOp) {
        if op.epoch > self.cur.epoch {
            if self.early_ops.len() < self.cfg.max_waiting_ops {
                self.early_ops.push(op);
            } else {
                self.fail(
                    op.handle,
                    RemoteError::again("too many ops waiting for a newer map"),
                    None,
                );
            }
            return;
        }
        if !self.is_primary() {
            let e = RemoteError::again(format!(
                "osd.{} is not the primary of PG {} at epoch {} (acting {:?})",
                self.me, self.pgid, self.cur.epoch, self.cur.acting
            ));
            self.fail(op.handle, e, None);
            return;
        }
        match self.phase {
            Phase::Active => {}
            Phase::Deleted => {
                let e = RemoteError::not_found(format!("the pool of PG {} was deleted", self.pgid));
                self.fail(op.handle, e, None);
                return;
            }
            Phase::Down | Phase::Incomplete => {
                let e = RemoteError::again(format!(
                    "PG {} is {}: waiting for osd {:?}",
                    self.pgid,
                    self.state_name(),
                    self.blocked_by()
                ));
                self.fail(op.handle, e, None);
                return;
            }
            _ => {
                if self.waiting.len() >= self.cfg.max_waiting_ops {
                    let e = RemoteError::again(format!("PG {} is peering", self.pgid));
                    self.fail(op.handle, e, None);
                } else {
                    self.waiting.push_back(op);
                }
                return;
            }
        }
        if op.writes() && !op.only_removes() {
            let full: Vec<i32> = self
                .cur
                .acting
                .iter()
                .copied()
                .filter(|o| self.cur.osds.fullness(*o) == Fullness::Full)
                .collect();
            if !full.is_empty() {
                let e = RemoteError::full(format!(
                    "cluster full: osd {full:?} of PG {} (acting {:?}) is past the full ratio; \
                     writes to its objects are refused until space is freed (removes and reads work) \
                     or the ratio is raised (osd set-full-ratio)",
                    self.pgid, self.cur.acting
                ));
                self.fail(op.handle, e, None);
                return;
            }
        }
        if self.cur.acting.len() < self.cur.min_size() {
            let e = RemoteError::again(format!(
                "PG {} has {} of {} OSDs up, below min_size {}: I/O waits until more OSDs are up",
                self.pgid,
                self.cur.acting.len(),
                self.cur.pool.map_or(0, |p| p.size),
                self.cur.min_size()
            ));
            self.fail(op.handle, e, None);
            return;
        }
        self.execute(store, op);
    }

    /// Runs an op now, or queues it behind its object.
    pub(super) fn execute(&mut self, store: &dyn ObjectStore, op: ClientOp) {
        if let Some(e) = self.misdirected(&op.obj) {
            // Sent (or queued) for the PG before a split moved the object
            // to a child: running it here would recreate the object in the
            // wrong PG. (The simulation's seed 97195 found a queued write
            // doing so.)
            return self.fail(op.handle, e, None);
        }
        let writes = op.writes();
        if writes {
            if let Some(f) = self.pr.inflight.values_mut().find(|f| f.reqid == op.reqid) {
                // A resend of a write still in flight: answer both at once.
                f.handles.push(op.handle);
                return;
            }
            if let Some(v) = self.st.log.lookup(&op.reqid) {
                let outputs = vec![OpOutput::None; op.ops.len()];
                self.reply(
                    op.handle,
                    Ok(OpDone {
                        version: v,
                        outputs,
                        data: Vec::new(),
                    }),
                );
                return;
            }
        }
        if let Some(q) = self.pr.locked.get_mut(&op.obj) {
            q.push_back(op);
            return;
        }
        if writes && self.backfill_holds(&op.obj) {
            // A backfill batch covers it: the write follows the batch.
            let obj = op.obj.clone();
            self.hold_for_backfill(&obj);
            self.pr.locked.entry(obj).or_default().push_back(op);
            return;
        }
        let missing_here = self.st.missing.contains_key(&op.obj);
        let missing_elsewhere = self
            .pr
            .peers
            .values()
            .any(|p| p.missing.contains_key(&op.obj));
        // A write waits until every member holds the object: were it
        // applied here first, the only copy of the object's acknowledged
        // state could be overwritten by a write that then rolls back.
        // (Carrying the object with the write lost data that way: the
        // simulation's seed 103887.)
        if missing_here || (writes && missing_elsewhere) {
            let obj = op.obj.clone();
            self.pr.locked.entry(obj.clone()).or_default().push_back(op);
            self.recover_object(store, &obj);
            return;
        }
        if writes {
            self.write(store, op);
        } else {
            self.read(store, op);
        }
    }

    /// The error for an op on an object this PG does not hold with its
    /// pool's current PG count (the client resends with a newer map).
    fn misdirected(&self, obj: &crate::store::ObjectId) -> Option<RemoteError> {
        let pg_num = self.st.pg_num;
        if pg_num == 0 {
            return None;
        }
        let seed = crate::pg::split::seed_of(obj, pg_num);
        (seed != self.pgid.seed).then(|| {
            let home = cluster::PgId {
                pool: self.pgid.pool,
                seed,
            };
            RemoteError::again(format!(
                "object {obj} is in PG {home} since the pool has {pg_num} PGs, not in PG {}: \
                 resend with the newer map",
                self.pgid
            ))
        })
    }

    fn read(&mut self, store: &dyn ObjectStore, op: ClientOp) {
        let r = (|| -> Result<OpDone, StepError> {
            let payloads = client_ops::payloads(&op.ops, &op.data).map_err(|e| (None, e))?;
            client_ops::check_guards(store, &self.coll, &op.obj, &op.ops, &payloads)
                .map_err(|(s, e)| (Some(s), e))?;
            let mut data = Vec::new();
            let outputs = client_ops::run_reads(store, &self.coll, &op.obj, &op.ops, &mut data)
                .map_err(|(s, e)| (Some(s), e))?;
            let version = self.have(store, &op.obj).unwrap_or_default();
            Ok(OpDone {
                version,
                outputs,
                data,
            })
        })();
        self.reply(
            op.handle,
            r.map_err(|(step, error)| OpFailed { error, step }),
        );
    }

    fn write(&mut self, store: &dyn ObjectStore, op: ClientOp) {
        let prepared = (|| -> Result<(Vec<Op>, bool), StepError> {
            if let Some(i) = op.ops.iter().position(|o| !o.is_write() && !o.is_guard()) {
                return Err((
                    Some(i as u32),
                    RemoteError::invalid("a write op may not also read (use a separate read op)"),
                ));
            }
            let payloads = client_ops::payloads(&op.ops, &op.data).map_err(|e| (None, e))?;
            client_ops::check_guards(store, &self.coll, &op.obj, &op.ops, &payloads)
                .map_err(|(s, e)| (Some(s), e))?;
            let store_ops = client_ops::to_store_ops(&op.obj, &op.ops, &payloads);
            let exists = self.precheck(store, &op, &store_ops)?;
            Ok((store_ops, exists))
        })();
        let (store_ops, exists_after) = match prepared {
            Ok(p) => p,
            Err((step, error)) => return self.fail(op.handle, error, step),
        };
        let prev = self.st.log.head();
        let version = Version::new(self.cur.epoch, prev.counter + 1);
        let prior = self.have(store, &op.obj).unwrap_or_default();
        let mut t = Transaction::new(self.coll, version);
        let mtime_ns = t.mtime_ns;
        let entry = LogEntry {
            version,
            prior_version: prior,
            object: op.obj.clone(),
            kind: if exists_after {
                LogKind::Modify
            } else {
                LogKind::Delete
            },
            reqid: Some(op.reqid.clone()),
            mtime_ns,
        };
        let trim_to = self.trim_point();
        t.ops = store_ops.clone();
        self.log_write(&mut t, entry.clone(), trim_to);
        self.store_txn(t, OnCommit::LocalWrite(version));
        let msg = PeerMsg::RepOp {
            prev,
            entry,
            ops: store_ops,
            mtime_ns,
            trim_to,
        };
        let peers: Vec<i32> = self.pr.peers.keys().copied().collect();
        let msg = std::sync::Arc::new(self.envelope(msg));
        if !peers.is_empty() {
            self.out.push(super::Effect::Broadcast {
                to: peers.clone(),
                env: msg.clone(),
            });
        }
        self.pr.locked.entry(op.obj.clone()).or_default();
        self.pr.inflight.insert(
            version,
            Inflight {
                obj: op.obj,
                handles: vec![op.handle],
                steps: op.ops.len(),
                reqid: op.reqid,
                waiting: peers.into_iter().collect(),
                local: false,
                sent: self.now,
                msg,
            },
        );
    }

    /// Where the log may be trimmed to: it keeps `log_max` entries, and
    /// trims in batches of a sixteenth.
    fn trim_point(&self) -> Version {
        let n = self.st.log.len() + 1;
        let max = self.cfg.log_max;
        if n <= max + max / 16 {
            return self.st.log.tail();
        }
        self.st.log.nth(n - max - 1).unwrap_or(self.st.log.tail())
    }

    /// What the store would refuse, found before anything is logged: the
    /// PG log must only ever hold writes that apply everywhere. Returns
    /// whether the object exists afterwards.
    fn precheck(
        &self,
        store: &dyn ObjectStore,
        op: &ClientOp,
        ops: &[Op],
    ) -> Result<bool, StepError> {
        let c = &self.coll;
        let refuse = |e: StoreError| (None, client_ops::store_err(e));
        let stat = store.stat(c, &op.obj).ok();
        let mut exists = stat.is_some();
        let mut size = stat.map_or(0, |s| s.size);
        let mut xattrs_gone = false;
        let mut set_xattrs = std::collections::BTreeMap::<String, bool>::new();
        let max = self.cfg.max_object_size;
        let too_big = |size: u64| {
            (size > max).then(|| {
                refuse(StoreError::TooLarge {
                    what: format!("object {}", op.obj),
                    size,
                    max,
                })
            })
        };
        for o in ops {
            match o {
                Op::Create { exclusive, .. } => {
                    if *exclusive && exists {
                        return Err(refuse(StoreError::ObjectExists {
                            coll: *c,
                            obj: op.obj.clone(),
                        }));
                    }
                    exists = true;
                }
                Op::Remove { .. } | Op::Discard { .. } => {
                    if !exists && matches!(o, Op::Remove { .. }) {
                        return Err(refuse(StoreError::NoSuchObject {
                            coll: *c,
                            obj: op.obj.clone(),
                        }));
                    }
                    exists = false;
                    size = 0;
                    xattrs_gone = true;
                    set_xattrs.clear();
                }
                Op::RmXattr { name, .. } => {
                    let present = exists
                        && match set_xattrs.get(name) {
                            Some(p) => *p,
                            None => !xattrs_gone && store.getxattr(c, &op.obj, name).is_ok(),
                        };
                    if !exists {
                        return Err(refuse(StoreError::NoSuchObject {
                            coll: *c,
                            obj: op.obj.clone(),
                        }));
                    }
                    if !present {
                        return Err(refuse(StoreError::NoSuchXattr {
                            coll: *c,
                            obj: op.obj.clone(),
                            name: name.clone(),
                        }));
                    }
                    set_xattrs.insert(name.clone(), false);
                }
                Op::SetXattr { name, .. } => {
                    exists = true;
                    set_xattrs.insert(name.clone(), true);
                }
                Op::Write { offset, data, .. } => {
                    exists = true;
                    size = size.max(offset.saturating_add(data.len() as u64));
                    if let Some(e) = too_big(size) {
                        return Err(e);
                    }
                }
                Op::WriteFull { data, .. } => {
                    exists = true;
                    size = data.len() as u64;
                    if let Some(e) = too_big(size) {
                        return Err(e);
                    }
                }
                Op::Append { data, .. } => {
                    exists = true;
                    size += data.len() as u64;
                    if let Some(e) = too_big(size) {
                        return Err(e);
                    }
                }
                Op::Truncate { size: s, .. } => {
                    exists = true;
                    size = *s;
                    if let Some(e) = too_big(size) {
                        return Err(e);
                    }
                }
                _ => exists = true,
            }
        }
        let mut t = Transaction::new(self.coll, Version::ZERO);
        t.ops = ops.to_vec();
        crate::store::validate(
            &t,
            &crate::store::StoreOptions {
                max_object_size: max,
                ..crate::store::StoreOptions::default()
            },
        )
        .map_err(refuse)?;
        Ok(exists)
    }

    pub(super) fn on_local_write(&mut self, store: &dyn ObjectStore, v: Version) {
        if let Some(f) = self.pr.inflight.get_mut(&v) {
            f.local = true;
        }
        self.maybe_complete(store, v);
    }

    pub(super) fn on_repop_done(&mut self, store: &dyn ObjectStore, from: i32, v: Version) {
        if let Some(f) = self.pr.inflight.get_mut(&v) {
            f.waiting.remove(&from);
        }
        self.maybe_complete(store, v);
    }

    /// A write every acting member committed: answer it and let the next
    /// op on its object run.
    fn maybe_complete(&mut self, store: &dyn ObjectStore, v: Version) {
        let done = self
            .pr
            .inflight
            .get(&v)
            .is_some_and(|f| f.local && f.waiting.is_empty());
        if !done {
            return;
        }
        let f = self.pr.inflight.remove(&v).expect("checked");
        let n = f.steps;
        for h in f.handles {
            self.reply(
                h,
                Ok(OpDone {
                    version: v,
                    outputs: vec![OpOutput::None; n],
                    data: Vec::new(),
                }),
            );
        }
        self.unlock(store, &f.obj);
    }

    /// Releases an object and runs the ops that waited for it.
    pub(super) fn unlock(&mut self, store: &dyn ObjectStore, obj: &crate::store::ObjectId) {
        if self.pr.recovering.contains_key(obj) || self.backfill_holds(obj) {
            return;
        }
        let Some(q) = self.pr.locked.remove(obj) else {
            return;
        };
        for op in q {
            self.execute(store, op);
        }
    }

    pub(super) fn resend_repops(&mut self) {
        let now = self.now;
        let due = self.cfg.resend_ticks;
        for f in self.pr.inflight.values_mut() {
            if f.sent + due <= now && !f.waiting.is_empty() {
                f.sent = now;
                tracing::debug!(pg = %self.pgid, "osd.{}: resending write of {} to {:?}", self.me, f.obj, f.waiting);
                self.out.push(super::Effect::Broadcast {
                    to: f.waiting.iter().copied().collect(),
                    env: f.msg.clone(),
                });
            }
        }
    }
}
