//! The simulated cluster's control plane: a map sequencer standing in for
//! the monitors (OSDs up/down, in/out, up_thru; every change a new epoch)
//! and a placement function in CRUSH's spirit (each PG ranks the OSDs
//! that are in by a hash; the first `size` are its up set, minus the
//! ones that are down) with pg_temp overrides of the acting set, as the
//! monitors keep them.

use std::collections::BTreeMap;
use std::sync::Arc;

use ::cluster::PgId;
use osd::pg::interval::{OsdEpoch, OsdEpochState, PgEpoch, PoolParams, RecoveryFlags};

pub const POOL: u64 = 1;

#[derive(Clone, Debug)]
pub struct OsdMapState {
    pub up: bool,
    pub inn: bool,
    pub up_from: u32,
    pub up_thru: u32,
    /// Its share of PGs relative to the others (CRUSH weight x reweight).
    pub weight: f64,
}

#[derive(Clone, Debug)]
pub struct SimMap {
    pub epoch: u32,
    pub osds: BTreeMap<i32, OsdMapState>,
    pub pool: PoolParams,
    /// PGs placed apart (new PGs from a pg_num growth stay on their
    /// parents' OSDs until this follows).
    pub pgp_num: u32,
    pub pg_temp: BTreeMap<PgId, Vec<i32>>,
    /// The operator's brakes on recovery and backfill.
    pub flags: RecoveryFlags,
    osd_epoch: Arc<OsdEpoch>,
}

impl SimMap {
    fn seal(mut self) -> SimMap {
        self.osd_epoch = Arc::new(OsdEpoch {
            osds: self
                .osds
                .iter()
                .map(|(id, o)| {
                    (
                        *id,
                        OsdEpochState {
                            up: o.up,
                            up_from: o.up_from,
                            up_thru: o.up_thru,
                            fullness: Default::default(),
                        },
                    )
                })
                .collect(),
            flags: self.flags,
        });
        self
    }

    pub fn is_up(&self, osd: i32) -> bool {
        self.osds.get(&osd).is_some_and(|o| o.up)
    }

    /// A straw2-style draw: each OSD's hash scaled by its weight, so a
    /// weight change moves only PGs to or from that OSD.
    fn rank(pg: PgId, osd: i32, weight: f64) -> f64 {
        let h = splitmix(u64::from(pg.seed) * 0x1_0000 + osd as u64 + (pg.pool << 40));
        let u = ((h >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        u.ln() / weight
    }

    /// The PGs of the pool at this epoch.
    pub fn pgs(&self) -> impl Iterator<Item = PgId> {
        (0..self.pool.pg_num).map(|seed| PgId { pool: POOL, seed })
    }

    /// The PG an object belongs to at this epoch.
    pub fn pg_of(&self, obj: &osd::store::ObjectId) -> PgId {
        PgId {
            pool: POOL,
            seed: osd::pg::split::seed_of(obj, self.pool.pg_num),
        }
    }

    pub fn pg_epoch(&self, pg: PgId) -> PgEpoch {
        // As placement does: the seed folded onto pgp_num.
        let placed = PgId {
            seed: ::cluster::stable_mod(pg.seed, self.pgp_num, ::cluster::mask_for(self.pgp_num)),
            ..pg
        };
        let mut cand: Vec<(f64, i32)> = self
            .osds
            .iter()
            .filter(|(_, o)| o.inn && o.weight > 0.0)
            .map(|(id, o)| (Self::rank(placed, *id, o.weight), *id))
            .collect();
        cand.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut cand: Vec<i32> = cand.into_iter().map(|(_, o)| o).collect();
        cand.truncate(self.pool.size as usize);
        let up: Vec<i32> = cand.into_iter().filter(|o| self.is_up(*o)).collect();
        let temp: Vec<i32> = self
            .pg_temp
            .get(&pg)
            .map(|t| t.iter().copied().filter(|o| self.is_up(*o)).collect())
            .unwrap_or_default();
        let acting = if temp.is_empty() { up.clone() } else { temp };
        PgEpoch {
            epoch: self.epoch,
            pool: Some(self.pool),
            primary: acting.first().copied().unwrap_or(-1),
            acting,
            up,
            osds: self.osd_epoch.clone(),
        }
    }
}

pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Every epoch since the pool was created (epoch 1).
pub struct Maps {
    pub all: Vec<Arc<SimMap>>,
}

impl Maps {
    /// `osds` OSDs, the last `spare` of them not booted yet (never up,
    /// not in: they join during the run).
    pub fn new(osds: usize, spare: usize, pool: PoolParams) -> Maps {
        let first_spare = osds.saturating_sub(spare) as i32;
        let m = SimMap {
            epoch: 1,
            osds: (0..osds as i32)
                .map(|i| {
                    let booted = i < first_spare;
                    (
                        i,
                        OsdMapState {
                            up: booted,
                            inn: booted,
                            up_from: u32::from(booted),
                            up_thru: 0,
                            weight: 1.0,
                        },
                    )
                })
                .collect(),
            pgp_num: pool.pg_num,
            pool,
            pg_temp: BTreeMap::new(),
            flags: RecoveryFlags::default(),
            osd_epoch: Arc::default(),
        }
        .seal();
        Maps {
            all: vec![Arc::new(m)],
        }
    }

    pub fn latest(&self) -> &Arc<SimMap> {
        self.all.last().expect("epoch 1 exists")
    }

    pub fn get(&self, epoch: u32) -> &Arc<SimMap> {
        &self.all[epoch as usize - 1]
    }

    /// Publishes the next epoch with `change` applied.
    pub fn next(&mut self, change: impl FnOnce(&mut SimMap)) -> u32 {
        let mut m = (**self.latest()).clone();
        m.epoch += 1;
        change(&mut m);
        let m = m.seal();
        let e = m.epoch;
        self.all.push(Arc::new(m));
        e
    }

    pub fn mark_down(&mut self, osd: i32) -> Option<u32> {
        if !self.latest().is_up(osd) {
            return None;
        }
        Some(self.next(|m| m.osds.get_mut(&osd).expect("osd exists").up = false))
    }

    /// Boot: an OSD the map still shows up is, with `two_step`, marked
    /// down first (Ceph's way); else it is up again in the same epoch
    /// with a new `up_from` only.
    pub fn boot(&mut self, osd: i32, two_step: bool) -> u32 {
        if two_step {
            self.mark_down(osd);
        }
        self.next(|m| {
            let e = m.epoch;
            let o = m.osds.get_mut(&osd).expect("osd exists");
            o.up = true;
            o.up_from = e;
        })
    }

    pub fn set_in(&mut self, osd: i32, inn: bool) -> Option<u32> {
        if self.latest().osds[&osd].inn == inn {
            return None;
        }
        Some(self.next(|m| m.osds.get_mut(&osd).expect("osd exists").inn = inn))
    }

    /// The monitors record that `osd` was alive through `epoch`.
    pub fn up_thru(&mut self, osd: i32, epoch: u32) -> Option<u32> {
        let o = &self.latest().osds[&osd];
        if !o.up || o.up_thru >= epoch {
            return None;
        }
        Some(self.next(|m| m.osds.get_mut(&osd).expect("osd exists").up_thru = epoch))
    }

    /// A primary's pg_temp request, applied as the monitors do: only from
    /// the PG's acting primary, only naming up OSDs.
    pub fn pg_temp(&mut self, osd: i32, pg: PgId, want: Vec<i32>) -> Option<u32> {
        let m = self.latest();
        let pe = m.pg_epoch(pg);
        if pe.primary != osd || want.iter().any(|o| !m.is_up(*o)) {
            return None;
        }
        let clear = want.is_empty() || want == pe.up;
        let same = match m.pg_temp.get(&pg) {
            None => clear,
            Some(t) => *t == want,
        };
        if same {
            return None;
        }
        Some(self.next(|m| {
            if clear {
                m.pg_temp.remove(&pg);
            } else {
                m.pg_temp.insert(pg, want);
            }
        }))
    }

    pub fn pg_epochs(&self, pg: PgId, from: u32, to: u32) -> Vec<PgEpoch> {
        (from..=to).map(|e| self.get(e).pg_epoch(pg)).collect()
    }
}
