//! A replica's side: adopting the primary's log at activation, applying
//! its writes strictly in log order (early ones wait, repeated ones are
//! acknowledged again once committed), taking recovered objects and
//! backfill batches (a backfill target applies a write's object ops only
//! below its watermark; the rest come with the backfill), and removing a
//! stray copy when the primary says the PG is clean without it.

use cluster::Version;

use super::{OnCommit, Pg, Phase};
use crate::pg::info::meta;
use crate::pg::log::LogEntry;
use crate::pg::messages::{ObjectState, PeerEnvelope, PeerMsg};
use crate::store::{ObjectId, ObjectStore, Transaction};

/// At most this many writes wait for the ones before them.
const MAX_EARLY: usize = 4096;

impl Pg {
    /// Activate, RepOp or Push from the current primary of this interval.
    pub(super) fn on_from_primary(
        &mut self,
        store: &dyn ObjectStore,
        from: i32,
        env: PeerEnvelope,
    ) {
        match env.msg {
            PeerMsg::Activate {
                activation_epoch,
                record,
                auth_tail,
                entries,
                backfill,
                history,
            } => {
                if self.phase == Phase::ReplicaActive {
                    // A repeat: answer again once what we did is durable
                    // (the store applies in order, so this follows it).
                    let reply = self.activated_msg();
                    let t = self.txn();
                    self.store_txn(t, OnCommit::Send(from, reply));
                    return;
                }
                let mut t = if backfill && self.st.info.is_complete() {
                    // A copy that was complete but is behind the log (or
                    // new): backfill it from the start.
                    self.restart_backfill(auth_tail, entries)
                } else {
                    let keep = entries.clone();
                    match self.adopt_log(store, auth_tail, entries, None) {
                        Some(t) => t,
                        None => self.restart_backfill(auth_tail, keep),
                    }
                };
                if !self.st.info.is_complete() {
                    // Objects past the watermark come with the backfill.
                    let skip: Vec<ObjectId> = self
                        .st
                        .missing
                        .keys()
                        .filter(|o| !self.st.info.backfilled(o))
                        .cloned()
                        .collect();
                    for o in skip {
                        self.st.missing.remove(&o);
                        t.meta.push(meta::found(&o));
                    }
                    self.refresh_info();
                }
                self.st.info.history.merge(&history);
                if record {
                    self.st.info.last_epoch_started = activation_epoch;
                }
                let les = self.st.info.history.last_epoch_started;
                self.st.past.prune(les);
                t.meta.push(meta::info(&self.st.info));
                t.meta.push(meta::past(&self.st.past));
                let reply = self.activated_msg();
                self.store_txn(t, OnCommit::Send(from, reply));
                self.phase = Phase::ReplicaActive;
                self.rep.committed = Version::ZERO;
            }
            PeerMsg::History { history } => {
                if self.phase != Phase::ReplicaActive {
                    return;
                }
                self.st.info.history.merge(&history);
                let les = self.st.info.history.last_epoch_started;
                self.st.past.prune(les);
                self.persist_info(true);
            }
            PeerMsg::RepOp { .. } => {
                if self.phase != Phase::ReplicaActive {
                    return;
                }
                self.rep_op(from, env);
                // Writes that arrived early may follow now.
                while let Some((&v, _)) = self.rep.early.first_key_value() {
                    let head = self.st.log.head();
                    let (_, (f, e)) = self.rep.early.pop_first().expect("non-empty");
                    if let PeerMsg::RepOp { prev, .. } = &e.msg {
                        if *prev > head {
                            self.rep.early.insert(v, (f, e));
                            break;
                        }
                    }
                    self.rep_op(f, e);
                }
                if let Some((f, e)) = self.rep.early_backfill.take() {
                    self.on_backfill_batch(store, f, e);
                }
            }
            PeerMsg::Backfill { .. } if self.phase == Phase::ReplicaActive => {
                self.on_backfill_batch(store, from, env);
            }
            PeerMsg::Remove => {
                if self.is_member() || self.phase != Phase::Stray {
                    return;
                }
                tracing::info!(
                    pg = %self.pgid,
                    "osd.{}: PG is clean on {:?} without this copy: removing it",
                    self.me,
                    self.cur.acting
                );
                self.phase = Phase::Deleted;
                self.out.push(super::Effect::Delete);
            }
            PeerMsg::Push {
                object,
                need,
                state,
            } => {
                if self.phase != Phase::ReplicaActive {
                    return;
                }
                let Some(state) = state else { return };
                if !self.st.missing.contains_key(&object) {
                    // Already recovered (a repeat): acknowledge again.
                    if self.have(store, &object) == Some(state.version) {
                        let reply = self.envelope(PeerMsg::PushDone {
                            object,
                            version: state.version,
                        });
                        let t = self.txn();
                        self.store_txn(t, OnCommit::Send(from, reply));
                    }
                    return;
                }
                if state.version != need || self.st.missing.get(&object) != Some(&need) {
                    return;
                }
                let version = state.version;
                let mut t = Transaction::new(self.coll, version);
                put_object(&mut t, &object, state);
                t.meta.push(meta::found(&object));
                self.st.missing.remove(&object);
                self.refresh_info();
                t.meta.push(meta::info(&self.st.info));
                let reply = self.envelope(PeerMsg::PushDone { object, version });
                self.store_txn(t, OnCommit::Send(from, reply));
            }
            _ => {}
        }
    }

    fn activated_msg(&self) -> PeerEnvelope {
        self.envelope(PeerMsg::Activated {
            info: self.st.info.clone(),
            missing: self
                .st
                .missing
                .iter()
                .map(|(o, v)| (o.clone(), *v))
                .collect(),
        })
    }

    fn rep_op(&mut self, from: i32, env: PeerEnvelope) {
        let PeerMsg::RepOp {
            prev,
            entry,
            ops,
            mtime_ns,
            trim_to,
        } = env.msg
        else {
            return;
        };
        let head = self.st.log.head();
        let v = entry.version;
        if v <= head {
            // A repeat of a write we have: acknowledge once it is durable.
            if v <= self.rep.committed {
                self.send(from, PeerMsg::RepOpDone { version: v });
            }
            return;
        }
        if prev > head {
            if self.rep.early.len() < MAX_EARLY {
                let env = PeerEnvelope {
                    msg: PeerMsg::RepOp {
                        prev,
                        entry,
                        ops,
                        mtime_ns,
                        trim_to,
                    },
                    ..env
                };
                self.rep.early.insert(v, (from, env));
            }
            return;
        }
        if prev != head {
            tracing::warn!(
                pg = %self.pgid,
                "osd.{}: write {v} follows {prev} but our log ends at {head}; ignored",
                self.me
            );
            return;
        }
        let mut t = Transaction::new(self.coll, v);
        t.mtime_ns = mtime_ns;
        if self.st.info.backfilled(&entry.object) {
            t.ops = ops;
        }
        self.log_write(&mut t, entry, trim_to);
        let reply = self.envelope(PeerMsg::RepOpDone { version: v });
        self.store_txn(t, OnCommit::RepCommitted(v, from, reply));
    }

    /// Adds a write's log entry, the trim and the info to its transaction
    /// (primary and replicas alike).
    pub(super) fn log_write(&mut self, t: &mut Transaction, entry: LogEntry, trim_to: Version) {
        t.meta.push(meta::entry(&entry));
        self.st.log.append(entry);
        if trim_to > self.st.log.tail() {
            let tr = self.st.log.trim(trim_to, self.cfg.dups_max);
            if tr.entries > 0 {
                t.meta.push(meta::drop_entries(tr.from, tr.to));
            }
            for (r, v) in &tr.new_dups {
                t.meta.push(meta::dup(r, *v));
            }
            for v in tr.forgotten {
                t.meta.push(meta::drop_dup(v));
            }
        }
        self.refresh_info();
        t.meta.push(meta::info(&self.st.info));
    }
}

/// Replaces `obj` with `state` in `t`.
pub(super) fn put_object(t: &mut Transaction, obj: &ObjectId, state: ObjectState) {
    t.mtime_ns = state.mtime_ns;
    t.ops.extend(state.put_ops(obj));
}
