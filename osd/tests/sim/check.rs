//! What the simulation checks once the faults stop: the cluster settled
//! (every PG active+clean on its primary, every OSD on the newest map)
//! and every acting member holds exactly the acknowledged state.

use std::collections::{BTreeMap, BTreeSet};

use ::cluster::PgId;

use osd::store::ObjectStore;

use super::{client, coll, Sim};

impl Sim {
    pub(super) fn settled(&self) -> bool {
        if self.clients.iter().any(|c| c.pending.is_some()) {
            return false;
        }
        let latest = self.maps.latest();
        if self
            .osds
            .iter()
            .any(|o| !o.alive || o.epoch != latest.epoch || !latest.is_up(o.id))
        {
            return false;
        }
        self.pgs().into_iter().all(|pg| {
            let pe = latest.pg_epoch(pg);
            pe.primary >= 0
                && pe.acting.len() == self.cfg.size as usize
                && pe.acting == pe.up
                && self.holders(pg) == pe.acting.iter().copied().collect::<BTreeSet<i32>>()
                && self.osds[pe.primary as usize]
                    .pgs
                    .get(&pg)
                    .is_some_and(|p| p.is_clean())
                && pe
                    .acting
                    .iter()
                    .all(|o| self.osds[*o as usize].queue.is_empty())
        })
    }

    /// The OSDs whose store holds a copy of `pg`.
    fn holders(&self, pg: PgId) -> BTreeSet<i32> {
        self.osds
            .iter()
            .filter(|o| o.store.collection_exists(&coll(pg)).unwrap_or(false))
            .map(|o| o.id)
            .collect()
    }

    pub(super) fn describe(&self) -> String {
        let latest = self.maps.latest();
        let mut s = format!("epoch {} osds:", latest.epoch);
        for o in &self.osds {
            s += &format!(
                " osd.{}({}, map {}, {} queued)",
                o.id,
                if o.alive { "alive" } else { "dead" },
                o.epoch,
                o.queue.len()
            );
        }
        s += "\n";
        for pg in self.pgs() {
            let pe = latest.pg_epoch(pg);
            s += &format!(
                "PG {pg} up {:?} acting {:?} held by {:?}:",
                pe.up,
                pe.acting,
                self.holders(pg)
            );
            for o in self.holders(pg) {
                if !pe.acting.contains(&o) {
                    let p = self.osds[o as usize].pgs.get(&pg);
                    s += &format!(
                        " stray osd.{o}={:?} (interval {:?}, info {:?})",
                        p.map(|p| p.phase()),
                        p.map(|p| p.interval()),
                        p.map(|p| p.info())
                    );
                }
            }
            for o in &pe.acting {
                if let Some(p) = self.osds[*o as usize].pgs.get(&pg) {
                    s += &format!(
                        " osd.{o}={} (phase {:?}, interval {}, lu {}, missing {}, peers missing {:?}, unfound {}, blocked {:?})",
                        p.state_name(),
                        p.phase(),
                        p.interval(),
                        p.info().last_update,
                        p.missing().len(),
                        p.peer_missing(),
                        p.unfound(),
                        p.blocked_by()
                    );
                }
            }
            s += "\n";
        }
        for c in &self.clients {
            if let Some(p) = &c.pending {
                s += &format!(
                    "client.{} waits on {} {:?} (attempts {})\n",
                    c.id, p.reqid, p.obj, p.attempts
                );
            }
        }
        s
    }

    /// After settling: every acting member of every PG holds exactly the
    /// objects of the model, byte for byte.
    pub(super) fn check_final(&self) -> Result<(), String> {
        let latest = self.maps.latest();
        let mut want: BTreeMap<PgId, BTreeMap<String, &client::ObjModel>> = BTreeMap::new();
        for c in &self.clients {
            for (o, m) in &c.model {
                if m.exists {
                    let pg = latest.pg_of(o);
                    want.entry(pg).or_default().insert(o.name.clone(), m);
                }
            }
        }
        for pg in self.pgs() {
            let pe = latest.pg_epoch(pg);
            for o in &pe.acting {
                let dump = self.osds[*o as usize].store.dump(&coll(pg));
                let have: BTreeMap<String, client::ObjModel> = dump
                    .into_iter()
                    .map(|(id, _v, data, x, _h, omap)| {
                        (
                            id.name,
                            client::ObjModel {
                                exists: true,
                                data,
                                xattrs: x.into_iter().collect(),
                                omap: omap.into_iter().collect(),
                            },
                        )
                    })
                    .collect();
                let expect: BTreeMap<String, client::ObjModel> = want
                    .get(&pg)
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), (*v).clone())).collect())
                    .unwrap_or_default();
                if have != expect {
                    let diff: Vec<String> = expect
                        .keys()
                        .chain(have.keys())
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .filter(|k| have.get(*k) != expect.get(*k))
                        .map(|k| format!("{k}: have {:?} want {:?}", have.get(k), expect.get(k)))
                        .collect();
                    return Err(format!(
                        "PG {pg} on osd.{o} differs from the acknowledged state:\n  {}\n{}",
                        diff.join("\n  "),
                        self.describe()
                    ));
                }
            }
        }
        Ok(())
    }
}
