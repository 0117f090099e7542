//! The monitor's Prometheus gauges (served with the messenger's counters
//! and the process metrics by `messenger::metrics::serve`).

use std::sync::LazyLock;

use openraft::{RaftMetrics, ServerState};
use prometheus::IntGauge;

use crate::service::Monitor;

fn gauge(name: &str, help: &str) -> IntGauge {
    prometheus::register_int_gauge!(name, help).expect("metric registers once")
}

static EPOCH: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "strata_osdmap_epoch",
        "The OSDMap epoch this monitor has applied",
    )
});
static TERM: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("strata_mon_raft_term", "This monitor's current Raft term"));
static LEADER: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("strata_mon_is_leader", "1 if this monitor leads the quorum"));
static LEADER_RANK: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "strata_mon_leader_rank",
        "Rank of the leader this monitor knows (-1: none)",
    )
});
static COMMIT: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "strata_mon_raft_applied_index",
        "Index of the last Raft entry applied here",
    )
});
static QUORUM: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "strata_mon_quorum_size",
        "Monitors in the quorum (as the leader sees it; 0 on followers)",
    )
});
static OSDS: LazyLock<IntGauge> = LazyLock::new(|| gauge("strata_osds", "OSDs in the OSDMap"));
static OSDS_UP: LazyLock<IntGauge> = LazyLock::new(|| gauge("strata_osds_up", "OSDs up"));
static OSDS_IN: LazyLock<IntGauge> = LazyLock::new(|| gauge("strata_osds_in", "OSDs in"));
static POOLS: LazyLock<IntGauge> = LazyLock::new(|| gauge("strata_pools", "Pools"));

pub fn update(mon: &Monitor, m: &RaftMetrics<u64, openraft::BasicNode>) {
    TERM.set(m.current_term as i64);
    let leading = m.state == ServerState::Leader;
    LEADER.set(leading as i64);
    LEADER_RANK.set(m.current_leader.map_or(-1, |l| l as i64));
    COMMIT.set(m.last_applied.map_or(0, |l| l.index as i64));
    QUORUM.set(if leading {
        mon.quorum().len() as i64
    } else {
        0
    });
    mon.shared.read(|s| {
        EPOCH.set(s.osdmap.epoch as i64);
        OSDS.set(s.osdmap.osds.len() as i64);
        OSDS_UP.set(s.osdmap.num_up() as i64);
        OSDS_IN.set(s.osdmap.num_in() as i64);
        POOLS.set(s.osdmap.pools.len() as i64);
    });
}
