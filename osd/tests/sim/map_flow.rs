//! Maps reaching OSDs: each OSD takes every epoch in order, splitting
//! its PGs first when the pool's pg_num grew, and creating the PGs the
//! epoch makes it a member of.

use std::collections::VecDeque;

use ::cluster::PgId;
use osd::pg::engine::{Event, Pg};
use osd::store::ObjectStore;
use rand::Rng;

use super::{coll, trace, Ev, Sim};

impl Sim {
    /// Brings an OSD's map (and its PGs) up to the sequencer's newest,
    /// epoch by epoch, creating the PGs it is now a member of.
    pub(super) fn catch_up(&mut self, osd: i32) -> Result<(), String> {
        self.catch_up_creating(osd, true)
    }

    /// As [`Sim::catch_up`]; with `create_each` false (a restart
    /// replaying the epochs it was away for, as the daemon does), PGs
    /// are created only at the newest epoch: an empty copy created at an
    /// old epoch is never needed, and splitting it later would collide
    /// with a child this OSD already holds (seed 120692).
    pub(super) fn catch_up_creating(&mut self, osd: i32, create_each: bool) -> Result<(), String> {
        let latest = self.maps.latest().epoch;
        while self.osds[osd as usize].epoch < latest {
            let e = self.osds[osd as usize].epoch + 1;
            self.osds[osd as usize].epoch = e;
            let map = self.maps.get(e).clone();
            self.split_grown(osd, e)?;
            let create = create_each || e == latest;
            for pg in map.pgs() {
                let pe = map.pg_epoch(pg);
                let o = &mut self.osds[osd as usize];
                if let Some(p) = o.pgs.get_mut(&pg) {
                    let store = o.store.clone();
                    let eff = p.handle(store.as_ref(), Event::Map(pe));
                    self.run_effects(osd, pg, eff)?;
                } else if create && (pe.up.contains(&osd) || pe.acting.contains(&osd)) {
                    let c = coll(pg);
                    if !o.store.collection_exists(&c).unwrap_or(false) {
                        o.store.create_collection(&c).map_err(|e| e.to_string())?;
                    }
                    let epochs = self.maps.pg_epochs(pg, 1, e);
                    let (p, eff) = Pg::create(pg, osd, self.pgcfg.clone(), &epochs);
                    self.osds[osd as usize].pgs.insert(pg, p);
                    self.run_effects(osd, pg, eff)?;
                }
            }
            // Messages that waited for this epoch.
            let o = &mut self.osds[osd as usize];
            let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut o.early)
                .into_iter()
                .partition(|(_, env)| env.epoch <= e);
            o.early = later;
            for (from, env) in ready {
                self.deliver(osd, from, env)?;
            }
        }
        Ok(())
    }

    /// Before an OSD takes an epoch in which the pool has more PGs: each
    /// PG it holds splits, in memory and in its store, after the
    /// transactions it queued before (applied now, their commits
    /// reported after the split, as the daemon's store writer does).
    pub(super) fn split_grown(&mut self, osd: i32, e: u32) -> Result<(), String> {
        let pg_num = self.maps.get(e).pool.pg_num;
        if e < 2 || self.maps.get(e - 1).pool.pg_num >= pg_num {
            return Ok(());
        }
        let held: Vec<PgId> = self.osds[osd as usize].pgs.keys().copied().collect();
        for pg in held {
            let o = &mut self.osds[osd as usize];
            let have = o.pgs[&pg].split_for();
            if have == 0 || have >= pg_num {
                continue;
            }
            let (mine, rest): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut o.queue)
                .into_iter()
                .partition(|(p, _, _)| *p == pg);
            o.queue = rest;
            let mut ids = Vec::new();
            for (_, id, txn) in mine {
                o.store
                    .submit(txn)
                    .map_err(|e| format!("osd.{osd} PG {pg}: before its split: {e}"))?;
                ids.push(id);
            }
            let p = o.pgs.get_mut(&pg).expect("held");
            let (sp, children) = p.split(pg_num);
            let moved = o
                .store
                .split_collection(&sp)
                .map_err(|e| format!("osd.{osd} PG {pg}: split for {pg_num} PGs: {e}"))?;
            trace!(
                self,
                "SPLIT osd.{osd} PG {pg} for {pg_num}: {moved} objects to {:?}",
                children
                    .iter()
                    .map(|c| c.pgid().to_string())
                    .collect::<Vec<_>>()
            );
            self.stats.splits += 1;
            for c in children {
                self.osds[osd as usize].pgs.insert(c.pgid(), c);
            }
            for id in ids {
                let eff = self.with_pg(osd, pg, |p, s| p.handle(s, Event::Committed(id)));
                self.run_effects(osd, pg, eff)?;
            }
        }
        Ok(())
    }

    pub(super) fn broadcast_map(&mut self) {
        let m = self.maps.latest().clone();
        trace!(
            self,
            "MAP {}: {}",
            m.epoch,
            m.pgs()
                .map(|pg| format!("{pg}={:?}", m.pg_epoch(pg).acting))
                .collect::<Vec<_>>()
                .join(" ")
        );
        for o in 0..self.cfg.osds as i32 {
            let s = &self.osds[o as usize];
            if s.alive {
                let gen = s.gen;
                let d = self.rng.random_range(1..30);
                self.at(d, Ev::MapArrive { osd: o, gen });
            }
        }
    }
}
