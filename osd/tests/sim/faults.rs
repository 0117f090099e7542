//! The faults the simulation injects: crashes (losing every store
//! transaction not yet committed), restarts, out/in, partitions, slow
//! map delivery, a new OSD joining, reweights, pool size changes and the
//! operator's recovery flags.

use osd::pg::engine::Pg;
use osd::store::ObjectStore;
use rand::Rng;

use super::{trace, Ev, Sim};

impl Sim {
    pub(super) fn fault(&mut self) {
        let n = self.cfg.osds as i32;
        match self.rng.random_range(0..12) {
            0..=3 => {
                // Crash an OSD (keep enough alive that the run means something).
                let alive: Vec<i32> = (0..n).filter(|o| self.osds[*o as usize].alive).collect();
                if alive.len() as u32 > self.cfg.min_size {
                    let o = alive[self.rng.random_range(0..alive.len())];
                    self.crash(o);
                }
            }
            4 => {
                let o = self.rng.random_range(0..n);
                let inn = self.rng.random_bool(0.6);
                let ins = self.maps.latest().osds.values().filter(|s| s.inn).count();
                if (inn || ins > self.cfg.size as usize) && self.maps.set_in(o, inn).is_some() {
                    self.broadcast_map();
                }
            }
            5 | 6 => {
                let a = self.rng.random_range(0..n);
                let b = self.rng.random_range(0..n);
                if a != b {
                    let until = self.now + self.rng.random_range(200..3000);
                    self.partitions.insert((a.min(b), a.max(b)), until);
                }
            }
            7 => {
                // A slow link to the monitors: this OSD's maps lag.
                let o = self.rng.random_range(0..n);
                self.osds[o as usize].map_hold_until = self.now + self.rng.random_range(100..2000);
            }
            8 => {
                // norecover, nobackfill or norebalance, for a while.
                let which = self.rng.random_range(0..3);
                self.maps.next(|m| match which {
                    0 => m.flags.norecover = !m.flags.norecover,
                    1 => m.flags.nobackfill = !m.flags.nobackfill,
                    _ => m.flags.norebalance = !m.flags.norebalance,
                });
                self.broadcast_map();
            }
            9 => {
                // A new OSD joins.
                let new = (0..n).find(|o| self.maps.latest().osds[o].up_from == 0);
                if let Some(o) = new {
                    trace!(self, "ADD osd.{o}");
                    self.at(0, Ev::Restart { osd: o });
                    self.maps.set_in(o, true);
                    self.broadcast_map();
                }
            }
            10 => {
                // The pool's size goes 3 -> 2 or back.
                let size = self.maps.latest().pool.size;
                let to = if size > self.cfg.min_size {
                    size - 1
                } else {
                    self.cfg.size
                };
                self.maps.next(|m| m.pool.size = to);
                trace!(self, "SIZE {size} -> {to}");
                self.broadcast_map();
            }
            11 => {
                // An OSD reweighted (osd reweight / crush reweight).
                let o = self.rng.random_range(0..n);
                let w = [0.3, 0.6, 1.0][self.rng.random_range(0..3)];
                trace!(self, "REWEIGHT osd.{o} {w}");
                self.maps
                    .next(|m| m.osds.get_mut(&o).expect("osd exists").weight = w);
                self.broadcast_map();
            }
            _ => {}
        }
    }

    pub(super) fn crash(&mut self, osd: i32) {
        trace!(self, "CRASH osd.{osd}");
        self.stats.crashes += 1;
        let o = &mut self.osds[osd as usize];
        o.alive = false;
        o.gen += 1;
        o.pgs.clear();
        o.queue.clear();
        o.early.clear();
        o.applying = false;
        // Reservations live in the daemon's memory: gone with it.
        o.local = osd::pg::reserver::Reserver::new(super::MAX_BACKFILLS);
        o.remote = osd::pg::reserver::Reserver::new(super::MAX_BACKFILLS);
        o.store.crash();
        let gen = o.gen;
        let detect = self.rng.random_range(100..1500);
        self.at(detect, Ev::MarkDown { osd, gen });
        let back = self.rng.random_range(500..6000);
        self.at(back, Ev::Restart { osd });
    }

    pub(super) fn restart(&mut self, osd: i32) -> Result<(), String> {
        if self.osds[osd as usize].alive {
            return Ok(());
        }
        let latest = self.maps.latest().epoch;
        let o = &mut self.osds[osd as usize];
        o.alive = true;
        o.gen += 1;
        o.map_hold_until = 0;
        let gen = o.gen;
        let store = o.store.clone();
        let colls = store.list_collections().map_err(|e| e.to_string())?;
        for c in colls {
            let pg = c.pg();
            let epochs = self.maps.pg_epochs(pg, 1, latest);
            let loaded = Pg::load(pg, osd, self.pgcfg.clone(), store.as_ref(), &epochs)
                .map_err(|e| format!("osd.{osd} cannot load PG {pg}: {e}"))?;
            match loaded {
                Some((p, eff)) => {
                    self.osds[osd as usize].pgs.insert(pg, p);
                    self.run_effects(osd, pg, eff)?;
                }
                // Created, but killed before its first state was durable:
                // it holds nothing.
                None => store.remove_collection(&c).map_err(|e| e.to_string())?,
            }
        }
        self.osds[osd as usize].epoch = latest;
        // Boot: the monitors mark the new incarnation up.
        let two_step = self.rng.random_bool(0.5);
        let e = self.maps.boot(osd, two_step);
        trace!(self, "RESTART osd.{osd}: up at epoch {e}");
        self.broadcast_map();
        let t = self.rng.random_range(0..100);
        self.at(t, Ev::Tick { osd, gen });
        Ok(())
    }
}
