//! Log-based recovery on the primary, in the background of an active PG:
//! an object the primary misses is pulled from a member that has it at the
//! version needed (an acting member, else any OSD that answered peering),
//! then pushed to the acting members that miss it. A few objects at a
//! time; an object a client op waits for goes first. An object nobody
//! reachable has is "unfound": ops on it wait, and it is looked for again
//! on every tick.

use std::collections::{BTreeMap, BTreeSet};

use cluster::Version;

use super::replica::put_object;
use super::{Effect, OnCommit, Pg, Phase, Recovery};
use crate::pg::info::meta;
use crate::pg::messages::{ObjectState, PeerMsg};
use crate::store::{ObjectId, ObjectStore, Transaction};

impl Pg {
    /// Starts recovering objects up to the concurrency limit.
    pub(super) fn start_recovery(&mut self, store: &dyn ObjectStore) {
        if self.phase != Phase::Active {
            return;
        }
        let mut todo: BTreeSet<ObjectId> = self.st.missing.keys().cloned().collect();
        for p in self.pr.peers.values() {
            todo.extend(p.missing.keys().cloned());
        }
        if self.cur.osds.flags.norecover {
            // Only what client ops wait for (`execute` recovers those).
            todo.clear();
        }
        // One turn starts as many objects as the window allows
        // (`osd_recovery_max_active`): the pacing sleep comes between
        // windows, not objects.
        let mut turn = false;
        for obj in todo {
            if self.pr.recovering.len() >= self.cfg.recovery_max_active {
                break;
            }
            if self.pr.recovering.contains_key(&obj) || self.pr.locked.contains_key(&obj) {
                continue;
            }
            if !turn && !self.take_turn() {
                break;
            }
            turn = true;
            self.recover_object(store, &obj);
        }
        self.update_clean();
        self.backfill_step(store);
    }

    /// Recovers one object now (pull it, or push it).
    pub(super) fn recover_object(&mut self, store: &dyn ObjectStore, obj: &ObjectId) {
        if self.pr.recovering.contains_key(obj) {
            return;
        }
        self.pr.locked.entry(obj.clone()).or_default();
        if let Some(need) = self.st.missing.get(obj).copied() {
            self.pull(obj, need, BTreeSet::new());
        } else {
            self.push(store, obj);
        }
    }

    /// Who may have `obj` at `need`: acting members that do not miss it,
    /// then every other OSD that answered peering and is up, then the
    /// backfill targets. A copy taken anew keeps its old objects until the
    /// backfill replaces them, and one of them may hold the only copy of
    /// an acknowledged write: its primary wrote it, the next interval's
    /// members took the log entry but not yet the object, and it came
    /// back too far behind to join the log (the simulation's seeds 99845
    /// and 107571 left such an object unfound for good). A pull is
    /// answered only with the exact version asked for, so any of them is
    /// safe to ask.
    fn sources(&self, obj: &ObjectId, tried: &BTreeSet<i32>) -> Vec<i32> {
        let mut out: Vec<i32> = self
            .pr
            .peers
            .iter()
            .filter(|(_, p)| p.backfill.is_none() && !p.missing.contains_key(obj))
            .map(|(o, _)| *o)
            .collect();
        for o in self.pr.infos.keys() {
            if *o != self.me && !self.pr.peers.contains_key(o) && self.cur.osds.is_up(*o) {
                out.push(*o);
            }
        }
        out.extend(
            self.pr
                .peers
                .iter()
                .filter(|(_, p)| p.backfill.is_some())
                .map(|(o, _)| *o),
        );
        out.retain(|o| !tried.contains(o));
        out
    }

    fn pull(&mut self, obj: &ObjectId, need: Version, tried: BTreeSet<i32>) {
        match self.sources(obj, &tried).first() {
            Some(&from) => {
                self.pr.unfound.remove(obj);
                self.pr.recovering.insert(
                    obj.clone(),
                    Recovery::Pulling {
                        from,
                        tried,
                        need,
                        sent: self.now,
                    },
                );
                self.send(
                    from,
                    PeerMsg::Pull {
                        object: obj.clone(),
                        need,
                    },
                );
            }
            None => {
                if self.pr.unfound.insert(obj.clone()) {
                    tracing::warn!(pg = %self.pgid, "object {obj} at {need} is unfound");
                }
                self.pr.recovering.remove(obj);
            }
        }
    }

    fn push(&mut self, store: &dyn ObjectStore, obj: &ObjectId) {
        let waiting: BTreeSet<i32> = self
            .pr
            .peers
            .iter()
            .filter(|(_, p)| p.missing.contains_key(obj))
            .map(|(o, _)| *o)
            .collect();
        if waiting.is_empty() {
            self.pr.recovering.remove(obj);
            self.finish_object(store, obj);
            return;
        }
        let Some(state) = self.local_state(store, obj) else {
            // The authority does not hold it: nothing to give them.
            tracing::warn!(
                pg = %self.pgid,
                "object {obj} is missing on osd {waiting:?} but absent on the primary"
            );
            for o in &waiting {
                if let Some(p) = self.pr.peers.get_mut(o) {
                    p.missing.remove(obj);
                }
            }
            self.pr.recovering.remove(obj);
            self.finish_object(store, obj);
            return;
        };
        let bytes = state.data.len() as u64;
        self.out.push(Effect::Spent {
            bytes: bytes * waiting.len() as u64,
        });
        // One message per version asked for (members normally all ask
        // for the same), encoded once for all who asked for it.
        let mut by_need: BTreeMap<Version, Vec<i32>> = BTreeMap::new();
        for o in &waiting {
            by_need
                .entry(self.pr.peers[o].missing[obj])
                .or_default()
                .push(*o);
        }
        let mut state = Some(state);
        let groups = by_need.len();
        let mut sent_msgs = Vec::with_capacity(groups);
        for (i, (need, to)) in by_need.into_iter().enumerate() {
            let st = if i + 1 == groups {
                state.take()
            } else {
                state.clone()
            };
            let env = std::sync::Arc::new(self.envelope(PeerMsg::Push {
                object: obj.clone(),
                need,
                state: st,
            }));
            self.out.push(Effect::Broadcast {
                to: to.clone(),
                env: env.clone(),
            });
            sent_msgs.push((to, env));
        }
        self.pr.recovering.insert(
            obj.clone(),
            Recovery::Pushing {
                waiting,
                sent_msgs,
                bytes,
                sent: self.now,
            },
        );
    }

    pub(super) fn on_pulled(
        &mut self,
        from: i32,
        obj: ObjectId,
        need: Version,
        state: Option<ObjectState>,
    ) {
        let Some(Recovery::Pulling {
            from: asked,
            tried,
            need: want,
            ..
        }) = self.pr.recovering.get(&obj)
        else {
            return;
        };
        if *asked != from || *want != need {
            return;
        }
        match state {
            Some(s) if s.version == need => {
                let mut t = Transaction::new(self.coll, need);
                put_object(&mut t, &obj, s);
                t.meta.push(meta::found(&obj));
                self.st.missing.remove(&obj);
                self.refresh_info();
                t.meta.push(meta::info(&self.st.info));
                self.pr.recovering.insert(obj.clone(), Recovery::Applying);
                self.store_txn(t, OnCommit::Pulled(obj));
            }
            _ => {
                let mut tried = tried.clone();
                tried.insert(from);
                self.pull(&obj, need, tried);
            }
        }
    }

    pub(super) fn on_pull_applied(&mut self, store: &dyn ObjectStore, obj: ObjectId) {
        if !matches!(self.pr.recovering.get(&obj), Some(Recovery::Applying)) {
            return;
        }
        self.pr.recovering.remove(&obj);
        self.push(store, &obj);
    }

    pub(super) fn on_push_done(
        &mut self,
        store: &dyn ObjectStore,
        from: i32,
        obj: ObjectId,
        version: Version,
    ) {
        if let Some(p) = self.pr.peers.get_mut(&from) {
            if p.missing.get(&obj) == Some(&version) {
                p.missing.remove(&obj);
            }
        }
        let Some(Recovery::Pushing { waiting, bytes, .. }) = self.pr.recovering.get_mut(&obj)
        else {
            return;
        };
        if waiting.remove(&from) {
            self.recovered.0 += 1;
            self.recovered.1 += *bytes;
        }
        if waiting.is_empty() {
            self.pr.recovering.remove(&obj);
            self.finish_object(store, &obj);
        }
    }

    /// An object is whole everywhere: ops waiting for it run, and the next
    /// objects start.
    fn finish_object(&mut self, store: &dyn ObjectStore, obj: &ObjectId) {
        self.unlock(store, obj);
        self.start_recovery(store);
    }

    pub(super) fn update_clean(&mut self) {
        let whole =
            self.st.missing.is_empty() && self.pr.peers.values().all(|p| p.missing.is_empty());
        let full = self
            .cur
            .pool
            .is_some_and(|p| self.cur.acting.len() as u32 >= p.size);
        let backfilled = self.pr.peers.values().all(|p| p.backfill.is_none());
        let clean = self.phase == Phase::Active && whole && full && backfilled;
        if clean && !self.pr.clean {
            self.st.info.history.last_epoch_clean = self.cur.epoch;
            self.persist_info(false);
            self.share_history();
        }
        self.pr.clean = clean;
        self.purge_strays();
    }

    /// Resends pulls and pushes nobody answered; looks for unfound objects
    /// again.
    pub(super) fn recovery_tick(&mut self, store: &dyn ObjectStore) {
        if self.phase != Phase::Active {
            return;
        }
        let due = self.cfg.resend_ticks;
        let now = self.now;
        let mut sends = Vec::new();
        let mut resends = Vec::new();
        for (obj, r) in self.pr.recovering.iter_mut() {
            match r {
                Recovery::Pulling {
                    from, need, sent, ..
                } if *sent + due <= now => {
                    *sent = now;
                    sends.push((
                        *from,
                        PeerMsg::Pull {
                            object: obj.clone(),
                            need: *need,
                        },
                    ));
                }
                Recovery::Pushing {
                    waiting,
                    sent_msgs,
                    sent,
                    ..
                } if *sent + due <= now => {
                    *sent = now;
                    for (to, env) in sent_msgs.iter() {
                        let again: Vec<i32> =
                            to.iter().copied().filter(|o| waiting.contains(o)).collect();
                        if !again.is_empty() {
                            resends.push((again, env.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        for (o, m) in sends {
            tracing::debug!(pg = %self.pgid, "osd.{}: resending {} to osd.{o}", self.me, m.name());
            self.send(o, m);
        }
        for (to, env) in resends {
            tracing::debug!(pg = %self.pgid, "osd.{}: resending a push to {to:?}", self.me);
            self.out.push(Effect::Broadcast { to, env });
        }
        let unfound: Vec<ObjectId> = self.pr.unfound.iter().cloned().collect();
        for obj in unfound {
            if !self.pr.recovering.contains_key(&obj) {
                if let Some(need) = self.st.missing.get(&obj).copied() {
                    self.pull(&obj, need, BTreeSet::new());
                }
            }
        }
        self.start_recovery(store);
    }
}
