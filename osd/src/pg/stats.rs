//! PG statistics: every `osd_mon_report_interval` a primary tells the
//! monitors the state, object count and bytes of each PG it leads (as
//! Ceph's OSDs report to the manager). A PG is `active+clean` with its
//! whole acting set, `active+undersized+degraded` with fewer but at least
//! min_size, `undersized+degraded+peered` below min_size (no I/O), and
//! `peering` while its members disagree or cannot be reached.

use std::sync::Arc;
use std::time::Duration;

use cluster::msg::mon::{MonRequest, PgStat};
use cluster::PgId;

use super::{coll_of, PgService};
use crate::store::ObjectStore;

impl PgService {
    /// Counts a PG's objects and bytes by listing it.
    fn count(&self, pg: PgId) -> (u64, u64) {
        let c = coll_of(pg);
        if !self.store.collection_exists(&c).unwrap_or(false) {
            return (0, 0);
        }
        let (mut objects, mut bytes) = (0u64, 0u64);
        let mut cursor = None;
        while let Ok(page) = self.store.list_objects(&c, cursor.as_ref(), 1000) {
            for o in &page.objects {
                objects += 1;
                bytes += self.store.stat(&c, o).map_or(0, |s| s.size);
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        (objects, bytes)
    }

    /// The stats of every PG this OSD is primary for.
    pub async fn collect_stats(&self) -> Vec<PgStat> {
        let Some(map) = self.mc.osdmap() else {
            return Vec::new();
        };
        let Ok(crush) = self.crush_for(&map) else {
            return Vec::new();
        };
        let states = map.osd_states();
        let mut out = Vec::new();
        for pool in map.pools.values().filter(|p| p.can_shift_osds()) {
            for seed in 0..pool.pg_num {
                let pg = PgId {
                    pool: pool.id,
                    seed,
                };
                let p = cluster::place_pg(&crush, pool, pg, &states);
                if p.acting_primary != Some(self.id as i32) {
                    continue;
                }
                let lock = self.pg(pg);
                let mut st = lock.lock().await;
                let n = p.acting.len() as u32;
                let placed = super::Placed {
                    map: map.clone(),
                    pool: pool.clone(),
                    acting: p.acting.clone(),
                };
                let state = if n < pool.min_size {
                    "undersized+degraded+peered".to_string()
                } else if self.peer(&mut st, pg, &placed).await.is_err() {
                    "peering".to_string()
                } else if n < pool.size {
                    "active+undersized+degraded".to_string()
                } else {
                    "active+clean".to_string()
                };
                if st.usage.is_none() {
                    st.usage = Some(self.count(pg));
                }
                let (num_objects, num_bytes) = st.usage.unwrap_or((0, 0));
                let last = st.info.as_ref().map(|i| i.last_update).unwrap_or_default();
                out.push(PgStat {
                    pool: pool.id,
                    seed,
                    state,
                    num_objects,
                    num_bytes,
                    up: p.up.clone(),
                    acting: p.acting.clone(),
                    last_update: (last.epoch, last.counter),
                    reported_epoch: map.epoch,
                });
            }
        }
        out
    }

    /// Reports PG stats to the monitors every `every`.
    pub fn spawn_reporter(self: &Arc<Self>, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let stats = me.collect_stats().await;
                let epoch = me.mc.osdmap().map_or(0, |m| m.epoch);
                let req = MonRequest::PgStats {
                    osd: me.id,
                    epoch,
                    stats,
                };
                if let Err(e) = me.mc.request(&req).await {
                    tracing::debug!("reporting PG stats: {e}");
                }
            }
        });
    }
}
