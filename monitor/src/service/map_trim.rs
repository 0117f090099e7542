//! Which OSDMap epochs the monitors may forget. An OSD that comes back
//! replays the epochs its PGs went through while it was away, to learn
//! the intervals in which others may have written; those epochs matter
//! until every PG has been clean since (Ceph trims to the cluster's
//! oldest `last_epoch_clean` the same way). So the leader trims to the
//! oldest epoch any PG has been clean through, as their primaries report
//! it, and always keeps `mon_min_osdmap_epochs`. A PG nobody has
//! reported yet (a new leader, a new pool) holds trimming back.

use std::collections::HashMap;

use cluster::OsdMap;

/// The epoch through which maps may be folded into the base map, if
/// that is newer than `first` (the oldest epoch kept now).
pub fn trim_target(
    map: &OsdMap,
    clean_through: &HashMap<(u64, u32), u32>,
    first: u32,
    min_keep: u32,
) -> Option<u32> {
    let mut floor = map.epoch;
    for (id, pool) in &map.pools {
        for seed in 0..pool.pg_num {
            floor = floor.min(*clean_through.get(&(*id, seed))?);
        }
    }
    let to = floor.min(map.epoch.saturating_sub(min_keep));
    (to > first).then_some(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::Pool;

    fn map(epoch: u32, pools: &[(u64, u32)]) -> OsdMap {
        let mut m = OsdMap {
            epoch,
            ..Default::default()
        };
        for &(id, pg_num) in pools {
            m.pools.insert(id, Pool::replicated(id, "p", pg_num));
        }
        m
    }

    #[test]
    fn trims_to_the_oldest_clean_epoch_and_keeps_the_minimum() {
        let m = map(1000, &[(1, 2), (2, 1)]);
        let mut lec = HashMap::from([((1, 0), 900), ((1, 1), 700), ((2, 0), 950)]);
        assert_eq!(trim_target(&m, &lec, 10, 100), Some(700));
        assert_eq!(
            trim_target(&m, &lec, 700, 100),
            None,
            "nothing newer to trim"
        );
        // Every PG clean now: the minimum kept decides.
        lec.insert((1, 1), 1000);
        assert_eq!(trim_target(&m, &lec, 10, 100), Some(900));
        lec.insert((1, 0), 1000);
        lec.insert((2, 0), 1000);
        assert_eq!(trim_target(&m, &lec, 10, 100), Some(900));
        assert_eq!(
            trim_target(&m, &lec, 10, 5000),
            None,
            "fewer epochs than the minimum"
        );
    }

    #[test]
    fn a_pg_not_reported_holds_trimming_back() {
        let m = map(1000, &[(1, 2)]);
        let lec = HashMap::from([((1, 0), 900)]);
        assert_eq!(trim_target(&m, &lec, 10, 100), None);
        // No pools: only the minimum kept counts.
        assert_eq!(trim_target(&map(1000, &[]), &lec, 10, 100), Some(900));
    }
}
