//! The cluster as the leader sees it (`strata status`, `health`,
//! `quorum_status`): maps, which monitors answer, and health checks with
//! Ceph's codes.

use std::time::Duration;

use cluster::msg::mon::{ClusterView, HealthCheck, PgStat};
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
            let (pgs_by_state, pg_stats) = self.pg_states(&s.osdmap);
            pg_health(&pgs_by_state, &mut health);
            let totals = ObjectTotals::of(&s.osdmap, &pg_stats);
            totals.health(&mut health);
            space_health(&s.osdmap, &pg_stats, &mut health);
            let osd_stats = self
                .osd_stats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(id, (st, _))| (*id, st.clone()))
                .collect();
            let recovery = self
                .recovery
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .view(
                    totals.degraded + totals.misplaced,
                    std::time::Instant::now(),
                );
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
                pg_stats,
                osdmap_first_committed: s.first_epoch(),
                recovery,
                osd_stats,
            }
        })
    }

    /// Every PG's state from the primaries' reports: a PG nobody reported
    /// is `unknown`; one whose reporter is down, or whose report is older
    /// than three report intervals (or predates a change of its pool), is
    /// `stale+` what it last was.
    fn pg_states(&self, map: &cluster::OsdMap) -> (Vec<(String, u32)>, Vec<PgStat>) {
        let fresh =
            std::time::Duration::from_secs_f64(self.opts.osd_mon_report_interval * 3.0 + 5.0);
        let all = self.pg_stats.lock().unwrap_or_else(|p| p.into_inner());
        let mut counts: std::collections::BTreeMap<String, u32> = Default::default();
        let mut stats = Vec::new();
        for pool in map.pools.values() {
            for seed in 0..pool.pg_num {
                let state = match all.get(&(pool.id, seed)) {
                    None => "unknown".to_string(),
                    Some((st, at, osd)) => {
                        let mut st = st.clone();
                        if !map.is_up(*osd) || at.elapsed() > fresh {
                            st.state = format!("stale+{}", st.state);
                        }
                        let s = st.state.clone();
                        stats.push(st);
                        s
                    }
                };
                *counts.entry(state).or_default() += 1;
            }
        }
        (counts.into_iter().collect(), stats)
    }
}

/// Ceph's PG health checks: PGs not active, and PGs with fewer copies
/// than their pool's size.
fn pg_health(by_state: &[(String, u32)], health: &mut Vec<HealthCheck>) {
    let count = |f: &dyn Fn(&str) -> bool| -> (u32, Vec<String>) {
        let hits: Vec<&(String, u32)> = by_state.iter().filter(|(s, _)| f(s)).collect();
        (
            hits.iter().map(|(_, n)| n).sum(),
            hits.iter().map(|(s, n)| format!("{n} pgs {s}")).collect(),
        )
    };
    let (inactive, detail) =
        count(&|s: &str| !s.split('+').any(|w| w == "active") || s.starts_with("stale"));
    if inactive > 0 {
        health.push(HealthCheck {
            code: "PG_AVAILABILITY".into(),
            severity: "HEALTH_WARN".into(),
            summary: format!("Reduced data availability: {inactive} pgs inactive"),
            detail,
        });
    }
    let (degraded, detail) =
        count(&|s: &str| s.split('+').any(|w| w == "degraded" || w == "undersized"));
    if degraded > 0 {
        health.push(HealthCheck {
            code: "PG_DEGRADED".into(),
            severity: "HEALTH_WARN".into(),
            summary: format!("Degraded data redundancy: {degraded} pgs degraded"),
            detail,
        });
    }
}

/// Ceph's space checks: OSDs past each ratio, and pools with a PG on a
/// full OSD (writes to them are refused).
fn space_health(map: &cluster::OsdMap, stats: &[PgStat], health: &mut Vec<HealthCheck>) {
    use cluster::osdmap::Fullness;
    for (f, code, sev) in [
        (Fullness::Full, "OSD_FULL", "HEALTH_ERR"),
        (Fullness::Backfillfull, "OSD_BACKFILLFULL", "HEALTH_WARN"),
        (Fullness::Nearfull, "OSD_NEARFULL", "HEALTH_WARN"),
    ] {
        let osds: Vec<u32> = map
            .osds
            .values()
            .filter(|o| o.fullness == f)
            .map(|o| o.id)
            .collect();
        if !osds.is_empty() {
            health.push(HealthCheck {
                code: code.into(),
                severity: sev.into(),
                summary: format!("{} {} osd(s)", osds.len(), f.name()),
                detail: osds
                    .iter()
                    .map(|o| format!("osd.{o} is {}", f.name()))
                    .collect(),
            });
        }
    }
    let full = |o: &i32| {
        *o >= 0
            && map
                .osds
                .get(&(*o as u32))
                .is_some_and(|i| i.fullness == Fullness::Full)
    };
    let mut pools: Vec<u64> = stats
        .iter()
        .filter(|s| s.acting.iter().any(full))
        .map(|s| s.pool)
        .collect();
    pools.dedup();
    if !pools.is_empty() {
        health.push(HealthCheck {
            code: "POOL_FULL".into(),
            severity: "HEALTH_WARN".into(),
            summary: format!("{} pool(s) full", pools.len()),
            detail: pools
                .iter()
                .map(|p| {
                    let name = map.pools.get(p).map_or("?", |p| p.name.as_str());
                    format!("pool '{name}' is full (an OSD it uses is full)")
                })
                .collect(),
        });
    }
}

/// Object copies across the cluster, as Ceph counts them: copies are
/// objects times their pool's size.
#[derive(Default)]
struct ObjectTotals {
    copies: u64,
    degraded: u64,
    misplaced: u64,
    objects: u64,
    unfound: u64,
}

impl ObjectTotals {
    fn of(map: &cluster::OsdMap, stats: &[PgStat]) -> ObjectTotals {
        let mut t = ObjectTotals::default();
        for s in stats {
            let size = map.pools.get(&s.pool).map_or(0, |p| u64::from(p.size));
            t.objects += s.num_objects;
            t.copies += s.num_objects * size;
            t.degraded += s.num_objects_degraded;
            t.misplaced += s.num_objects_misplaced;
            t.unfound += s.num_objects_unfound;
        }
        t
    }

    fn ratio(&self, n: u64) -> String {
        format!("{n}/{} objects", self.copies.max(n))
    }

    fn pct(&self, n: u64) -> f64 {
        100.0 * n as f64 / self.copies.max(n).max(1) as f64
    }

    /// Ceph's object-level checks; PG_DEGRADED gains the object counts.
    fn health(&self, health: &mut Vec<HealthCheck>) {
        if self.degraded > 0 {
            let what = format!(
                "{} degraded ({:.3}%)",
                self.ratio(self.degraded),
                self.pct(self.degraded)
            );
            match health.iter_mut().find(|h| h.code == "PG_DEGRADED") {
                Some(h) => {
                    h.summary = h.summary.replacen(
                        "Degraded data redundancy: ",
                        &format!("Degraded data redundancy: {what}, "),
                        1,
                    )
                }
                None => health.push(HealthCheck {
                    code: "PG_DEGRADED".into(),
                    severity: "HEALTH_WARN".into(),
                    summary: format!("Degraded data redundancy: {what}"),
                    detail: Vec::new(),
                }),
            }
        }
        if self.misplaced > 0 {
            health.push(HealthCheck {
                code: "OBJECT_MISPLACED".into(),
                severity: "HEALTH_WARN".into(),
                summary: format!(
                    "{} misplaced ({:.3}%)",
                    self.ratio(self.misplaced),
                    self.pct(self.misplaced)
                ),
                detail: Vec::new(),
            });
        }
        if self.unfound > 0 {
            health.push(HealthCheck {
                code: "OBJECT_UNFOUND".into(),
                severity: "HEALTH_WARN".into(),
                summary: format!(
                    "{}/{} objects unfound ({:.3}%)",
                    self.unfound,
                    self.objects.max(self.unfound),
                    100.0 * self.unfound as f64 / self.objects.max(self.unfound).max(1) as f64
                ),
                detail: Vec::new(),
            });
        }
    }
}
