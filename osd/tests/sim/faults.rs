//! The faults the simulation injects: crashes (losing every store
//! transaction not yet committed), restarts, out/in, partitions, slow
//! map delivery, a new OSD joining, reweights, pool size changes, pg_num
//! and pgp_num growth and the operator's recovery flags.

use ::cluster::PgId;
use osd::pg::engine::Pg;
use osd::store::ObjectStore;
use rand::Rng;

use super::{trace, Ev, Sim};

impl Sim {
    pub(super) fn fault(&mut self) {
        let n = self.cfg.osds as i32;
        match self.rng.random_range(0..13) {
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
            12 => {
                // The pool grows: pg_num first (PGs split where they
                // are), pgp_num later (the new PGs move).
                let m = self.maps.latest();
                let (pg_num, pgp_num) = (m.pool.pg_num, m.pgp_num);
                if pgp_num < pg_num {
                    trace!(self, "PGP_NUM {pgp_num} -> {pg_num}");
                    self.maps.next(|m| m.pgp_num = m.pool.pg_num);
                    self.broadcast_map();
                } else if pg_num < 16 {
                    let to = pg_num + self.rng.random_range(1..=pg_num);
                    trace!(self, "PG_NUM {pg_num} -> {to}");
                    self.maps.next(|m| {
                        // As the monitors do: children of a parent on a
                        // temporary acting set start on it too.
                        let temps: Vec<(PgId, Vec<i32>)> = m
                            .pg_temp
                            .iter()
                            .flat_map(|(pg, t)| {
                                ::cluster::split_children(pg.seed, pg_num, to)
                                    .into_iter()
                                    .map(move |seed| (PgId { seed, ..*pg }, t.clone()))
                            })
                            .collect();
                        m.pg_temp.extend(temps);
                        m.pool.pg_num = to;
                    });
                    self.broadcast_map();
                }
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
        // As the daemon does: a copy split for fewer PGs than a later
        // epoch has loads up to that epoch; catching up splits it.
        let mut resume = latest + 1;
        for c in colls {
            let pg = c.pg();
            let epochs = self.maps.pg_epochs(pg, 1, latest);
            let (split_for, cut) = osd::pg::split::load_limit(store.as_ref(), &c, &epochs)
                .map_err(|e| format!("osd.{osd} cannot read PG {pg}: {e}"))?;
            let loaded = Pg::load(pg, osd, self.pgcfg.clone(), store.as_ref(), &epochs[..cut])
                .map_err(|e| format!("osd.{osd} cannot load PG {pg}: {e}"))?;
            match loaded {
                Some((mut p, eff)) => {
                    // Only a copy that loaded has epochs left to take (an
                    // empty one records no PG count and would look split
                    // for the pool's first).
                    if let Some(e) = epochs.get(cut) {
                        resume = resume.min(e.epoch);
                    }
                    p.set_split_for(split_for);
                    self.osds[osd as usize].pgs.insert(pg, p);
                    self.run_effects(osd, pg, eff)?;
                }
                // Created, but killed before its first state was durable:
                // it holds nothing.
                None => store.remove_collection(&c).map_err(|e| e.to_string())?,
            }
        }
        self.osds[osd as usize].epoch = resume - 1;
        self.catch_up_creating(osd, false)?;
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
