//! The OSD's map history: every epoch, in order, since the oldest one
//! the monitors hold. PGs must see every epoch (an interval is a run of
//! epochs; skipping one could hide an interval that wrote), and a PG this
//! OSD loads or newly joins replays the epochs since its interval began
//! or its pool was created. What a PG needs of an epoch is a [`PgEpoch`]:
//! its up and acting sets by CRUSH, its pool's parameters, and every OSD's
//! up/up_from/up_thru.

use std::collections::BTreeMap;
use std::sync::Arc;

use cluster::msg::mon::MapUpdate;
use cluster::{OsdMap, PgId, PoolKind};
use crush::CrushMap;

use crate::pg::interval::{OsdEpoch, OsdEpochState, PgEpoch, PoolParams, RecoveryFlags};

/// One epoch, ready for placement.
pub struct EpochView {
    pub map: Arc<OsdMap>,
    pub crush: Option<Arc<CrushMap>>,
    pub osds: Arc<OsdEpoch>,
}

impl EpochView {
    fn new(map: OsdMap, prev: Option<&EpochView>) -> EpochView {
        let crush = match prev {
            Some(p) if p.map.crush_text == map.crush_text => p.crush.clone(),
            _ => match map.crush() {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    tracing::error!("the CRUSH map of epoch {} does not parse: {e}", map.epoch);
                    None
                }
            },
        };
        let osds = Arc::new(OsdEpoch {
            osds: map
                .osds
                .values()
                .map(|o| {
                    (
                        o.id as i32,
                        OsdEpochState {
                            up: o.up,
                            up_from: o.up_from,
                            up_thru: o.up_thru,
                            fullness: o.fullness,
                        },
                    )
                })
                .collect(),
            flags: RecoveryFlags::from_map(&map.flags),
        });
        EpochView {
            map: Arc::new(map),
            crush,
            osds,
        }
    }

    pub fn epoch(&self) -> u32 {
        self.map.epoch
    }

    /// The PGs of replicated pools (erasure-coded pools have no data path
    /// yet).
    pub fn pgs(&self) -> impl Iterator<Item = PgId> + '_ {
        self.map
            .pools
            .values()
            .filter(|p| p.kind == PoolKind::Replicated)
            .flat_map(|p| (0..p.pg_num).map(move |seed| PgId { pool: p.id, seed }))
    }

    /// What this epoch says about one PG.
    pub fn pg_epoch(&self, pg: PgId) -> PgEpoch {
        let pool = self
            .map
            .pools
            .get(&pg.pool)
            .filter(|p| pg.seed < p.pg_num && p.kind == PoolKind::Replicated);
        let (pool, placement) = match (pool, &self.crush) {
            (Some(p), Some(c)) => (
                Some(PoolParams {
                    size: p.size,
                    min_size: p.min_size,
                    pg_num: p.pg_num,
                }),
                Some(self.map.place_pg(c, p, pg, &self.map.osd_states())),
            ),
            _ => (None, None),
        };
        let (up, acting, primary) = match placement {
            Some(p) => (p.up, p.acting, p.acting_primary.unwrap_or(-1)),
            None => (Vec::new(), Vec::new(), -1),
        };
        PgEpoch {
            epoch: self.map.epoch,
            pool,
            up,
            acting,
            primary,
            osds: self.osds.clone(),
        }
    }
}

#[derive(Default)]
pub struct MapHistory {
    epochs: BTreeMap<u32, Arc<EpochView>>,
}

impl MapHistory {
    pub fn latest(&self) -> Option<&Arc<EpochView>> {
        self.epochs.values().next_back()
    }

    pub fn latest_epoch(&self) -> u32 {
        self.latest().map_or(0, |v| v.epoch())
    }

    pub fn get(&self, epoch: u32) -> Option<&Arc<EpochView>> {
        self.epochs.get(&epoch)
    }

    pub fn oldest_epoch(&self) -> Option<u32> {
        self.epochs.keys().next().copied()
    }

    /// Adds the epochs an update carries that follow what we hold (a full
    /// map we cannot join to ours starts the history over). Returns the
    /// new epochs in order.
    pub fn absorb(&mut self, u: &MapUpdate) -> Result<Vec<u32>, String> {
        let mut added = Vec::new();
        let mut cur: Option<OsdMap> = self.latest().map(|v| (*v.map).clone());
        if let Some(full) = &u.full {
            let joins = cur.as_ref().is_some_and(|c| full.epoch <= c.epoch);
            if !joins {
                if cur.as_ref().is_some_and(|c| full.epoch > c.epoch + 1) {
                    tracing::warn!(
                        "map history: a gap from epoch {} to {}; starting over from {}",
                        self.latest_epoch(),
                        full.epoch,
                        full.epoch
                    );
                    self.epochs.clear();
                }
                let prev = self.latest().cloned();
                let v = Arc::new(EpochView::new(full.clone(), prev.as_deref()));
                if self.epochs.insert(full.epoch, v).is_none() {
                    added.push(full.epoch);
                }
                cur = Some(full.clone());
            }
        }
        let Some(mut m) = cur else {
            return Ok(added);
        };
        for inc in &u.incrementals {
            if inc.epoch <= m.epoch {
                continue;
            }
            m.apply(inc)?;
            let prev = self.latest().cloned();
            let v = Arc::new(EpochView::new(m.clone(), prev.as_deref()));
            self.epochs.insert(m.epoch, v);
            added.push(m.epoch);
        }
        Ok(added)
    }

    /// The PG's epochs from `from` (or the oldest held) to `to`.
    pub fn pg_epochs(&self, pg: PgId, from: u32, to: u32) -> Vec<PgEpoch> {
        self.epochs
            .range(from..=to)
            .map(|(_, v)| v.pg_epoch(pg))
            .collect()
    }

    /// The first epoch held in which the pool exists at or after `from`.
    pub fn pool_first_seen(&self, pool: u64) -> Option<u32> {
        self.epochs
            .iter()
            .find(|(_, v)| v.map.pools.contains_key(&pool))
            .map(|(e, _)| *e)
    }

    /// Forgets epochs before `keep_from`, always keeping the newest `min`.
    pub fn trim(&mut self, keep_from: u32, min: usize) {
        while self.epochs.len() > min {
            match self.epochs.keys().next().copied() {
                Some(e) if e < keep_from => {
                    self.epochs.remove(&e);
                }
                _ => break,
            }
        }
    }
}
