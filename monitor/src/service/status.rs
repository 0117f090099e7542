//! The cluster as the leader sees it (`strata status`, `health`,
//! `quorum_status`): maps, which monitors answer, and health checks with
//! Ceph's codes.

use std::time::Duration;

use cluster::msg::mon::{ClusterView, HealthCheck};
use openraft::ServerState;

use super::Monitor;

impl Monitor {
    /// Monitors heard from recently, by name: the leader itself and the
    /// peers that answered its Raft RPCs within two election timeouts.
    pub fn quorum(&self) -> Vec<String> {
        let within = Duration::from_millis(self.opts.mon_raft_election_timeout_ms * 2);
        let mut ranks = self.contact.recent(within);
        ranks.push(self.rank);
        ranks.sort_unstable();
        ranks.dedup();
        ranks
            .iter()
            .filter_map(|r| self.monmap.by_rank(*r).map(|m| m.name.clone()))
            .collect()
    }

    pub fn view(&self) -> ClusterView {
        let metrics = self.raft.metrics().borrow().clone();
        let is_leader = metrics.state == ServerState::Leader;
        let quorum = if is_leader { self.quorum() } else { Vec::new() };
        let leader = metrics
            .current_leader
            .and_then(|l| self.monmap.by_rank(l).map(|m| m.name.clone()));
        self.shared.read(|s| {
            let mut health = Vec::new();
            let down: Vec<&str> = s
                .monmap
                .mons
                .iter()
                .filter(|m| !quorum.contains(&m.name))
                .map(|m| m.name.as_str())
                .collect();
            if !down.is_empty() {
                health.push(HealthCheck {
                    code: "MON_DOWN".into(),
                    severity: "HEALTH_WARN".into(),
                    summary: format!(
                        "{}/{} mons down, quorum {}",
                        down.len(),
                        s.monmap.mons.len(),
                        quorum.join(",")
                    ),
                    detail: down
                        .iter()
                        .map(|n| format!("mon.{n} is down (out of quorum)"))
                        .collect(),
                });
            }
            let osd_down: Vec<String> = s
                .osdmap
                .osds
                .values()
                .filter(|o| !o.up && o.is_in())
                .map(|o| format!("osd.{} (host={}) is down", o.id, o.hostname))
                .collect();
            if !osd_down.is_empty() {
                health.push(HealthCheck {
                    code: "OSD_DOWN".into(),
                    severity: "HEALTH_WARN".into(),
                    summary: format!("{} osds down", osd_down.len()),
                    detail: osd_down,
                });
            }
            if !s.osdmap.flags.is_empty() {
                let flags: Vec<&str> = s.osdmap.flags.iter().map(String::as_str).collect();
                health.push(HealthCheck {
                    code: "OSDMAP_FLAGS".into(),
                    severity: "HEALTH_WARN".into(),
                    summary: format!("{} flag(s) set", flags.join(",")),
                    detail: Vec::new(),
                });
            }
            if s.osdmap.osds.is_empty() && !s.osdmap.pools.is_empty() {
                health.push(HealthCheck {
                    code: "TOO_FEW_OSDS".into(),
                    severity: "HEALTH_WARN".into(),
                    summary: "OSD count 0 < osd_pool_default_size".into(),
                    detail: Vec::new(),
                });
            }
            let num_pgs: u32 = s.osdmap.pools.values().map(|p| p.pg_num).sum();
            // PG states come from the OSDs' reports; until the data path
            // reports them, every PG is "unknown", as Ceph shows PGs no
            // OSD has reported.
            let pgs_by_state = if num_pgs > 0 {
                vec![("unknown".to_string(), num_pgs)]
            } else {
                Vec::new()
            };
            ClusterView {
                monmap: s.monmap.clone(),
                osdmap: s.osdmap.clone(),
                quorum: quorum.clone(),
                leader: leader.clone(),
                answered_by: self.name.clone(),
                raft_term: metrics.current_term,
                commit_index: metrics.last_applied.map_or(0, |l| l.index),
                health,
                pgs_by_state,
            }
        })
    }
}
