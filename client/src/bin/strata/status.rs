//! `strata status` (Ceph's `ceph -s`): health, services, data with the
//! degraded and misplaced object counts, the recovery rate and the
//! progress of the recovery under way; and `strata -w` / `strata watch`,
//! which prints the status, then one line per change (health, OSDs up,
//! down, in, out, PG states, recovery) as Ceph's cluster log does.

use std::collections::BTreeMap;
use std::time::Duration;

use cluster::msg::mon::ClusterView;
use serde_json::{json, Value};

use crate::print::{checks_json, human, json, num_pgs, quorum_ranks};
use crate::Format;

/// Object copies across the cluster (objects times their pool's size),
/// and those degraded and misplaced.
struct Copies {
    objects: u64,
    bytes: u64,
    total: u64,
    degraded: u64,
    misplaced: u64,
}

fn copies(v: &ClusterView) -> Copies {
    let mut c = Copies {
        objects: 0,
        bytes: 0,
        total: 0,
        degraded: 0,
        misplaced: 0,
    };
    for s in &v.pg_stats {
        let size = v.osdmap.pools.get(&s.pool).map_or(0, |p| u64::from(p.size));
        c.objects += s.num_objects;
        c.bytes += s.num_bytes;
        c.total += s.num_objects * size;
        c.degraded += s.num_objects_degraded;
        c.misplaced += s.num_objects_misplaced;
    }
    c.total = c.total.max(c.degraded).max(c.misplaced);
    c
}

fn ratio(n: u64, total: u64) -> f64 {
    n as f64 / total.max(1) as f64
}

fn secs(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

/// The progress event, Ceph's way: a title with its age and a bar with
/// the time left at the current rate.
fn progress_lines(v: &ClusterView, c: &Copies) -> Option<(String, String, f64)> {
    let (age, done) = v.recovery.progress?;
    let width = 28;
    let filled = ((done * width as f64).round() as usize).min(width);
    let left = c.degraded + c.misplaced;
    let eta = if v.recovery.objects_per_sec > 0.0 {
        secs(left as f64 / v.recovery.objects_per_sec)
    } else {
        "unknown".to_string()
    };
    Some((
        format!("Global Recovery Event ({})", secs(age)),
        format!(
            "[{}{}] (remaining: {eta})",
            "=".repeat(filled),
            ".".repeat(width - filled)
        ),
        done,
    ))
}

pub fn status(v: &ClusterView, fmt: Format) {
    let m = &v.osdmap;
    let c = copies(v);
    let progress = progress_lines(v, &c);
    if fmt == Format::Json {
        let mut events = serde_json::Map::new();
        if let Some((title, bar, done)) = &progress {
            events.insert(
                "global-recovery".into(),
                json!({"message": format!("{title}\n      {bar}"), "progress": done}),
            );
        }
        json(&json!({
            "fsid": m.fsid,
            "health": checks_json(v, false),
            "election_epoch": v.raft_term,
            "quorum": quorum_ranks(v),
            "quorum_names": v.quorum,
            "quorum_leader_name": v.leader,
            "monmap": {"epoch": v.monmap.epoch, "num_mons": v.monmap.mons.len()},
            "osdmap": {
                "epoch": m.epoch,
                "first_committed": v.osdmap_first_committed,
                "num_osds": m.osds.len(),
                "num_up_osds": m.num_up(),
                "num_in_osds": m.num_in(),
                "num_pools": m.pools.len(),
                "num_remapped_pgs": v.pg_stats.iter().filter(|s| s.up != s.acting).count(),
            },
            "pgmap": {
                "num_pgs": num_pgs(v),
                "num_pools": m.pools.len(),
                "num_objects": c.objects,
                "data_bytes": c.bytes,
                "degraded_objects": c.degraded,
                "degraded_total": c.total,
                "degraded_ratio": ratio(c.degraded, c.total),
                "misplaced_objects": c.misplaced,
                "misplaced_total": c.total,
                "misplaced_ratio": ratio(c.misplaced, c.total),
                "recovering_objects_per_sec": v.recovery.objects_per_sec,
                "recovering_bytes_per_sec": v.recovery.bytes_per_sec,
                "pgs_by_state": v.pgs_by_state.iter()
                    .map(|(s, n)| json!({"state_name": s, "count": n})).collect::<Vec<_>>(),
            },
            "progress_events": Value::Object(events),
        }));
        return;
    }
    println!("  cluster:");
    println!("    id:     {}", m.fsid);
    println!("    health: {}", v.health_status());
    for h in &v.health {
        println!("            {}", h.summary);
    }
    println!();
    println!("  services:");
    println!(
        "    mon: {} daemons, quorum {} (leader {}, term {})",
        v.monmap.mons.len(),
        v.quorum.join(","),
        v.leader.as_deref().unwrap_or("none"),
        v.raft_term
    );
    let remapped = v.pg_stats.iter().filter(|s| s.up != s.acting).count();
    println!(
        "    osd: {} osds: {} up, {} in; epoch e{}{}",
        m.osds.len(),
        m.num_up(),
        m.num_in(),
        m.epoch,
        if remapped > 0 {
            format!("; {remapped} remapped pgs")
        } else {
            String::new()
        }
    );
    println!();
    println!("  data:");
    println!("    pools:   {} pools, {} pgs", m.pools.len(), num_pgs(v));
    println!("    objects: {} objects, {}", c.objects, human(c.bytes));
    let mut pg_lines = Vec::new();
    if c.degraded > 0 {
        pg_lines.push(format!(
            "{}/{} objects degraded ({:.3}%)",
            c.degraded,
            c.total,
            100.0 * ratio(c.degraded, c.total)
        ));
    }
    if c.misplaced > 0 {
        pg_lines.push(format!(
            "{}/{} objects misplaced ({:.3}%)",
            c.misplaced,
            c.total,
            100.0 * ratio(c.misplaced, c.total)
        ));
    }
    pg_lines.extend(v.pgs_by_state.iter().map(|(s, n)| format!("{n} {s}")));
    for (i, l) in pg_lines.iter().enumerate() {
        let lead = if i == 0 {
            "    pgs:     "
        } else {
            "             "
        };
        println!("{lead}{l}");
    }
    if v.recovery.objects_per_sec > 0.0 {
        println!();
        println!("  io:");
        println!(
            "    recovery: {}/s, {:.0} objects/s",
            human(v.recovery.bytes_per_sec as u64),
            v.recovery.objects_per_sec
        );
    }
    if let Some((title, bar, _)) = progress {
        println!();
        println!("  progress:");
        println!("    {title}");
        println!("      {bar}");
    }
}

/// What `watch` compares between two looks at the cluster.
#[derive(PartialEq)]
struct Seen {
    health: BTreeMap<String, String>,
    osds: BTreeMap<u32, (bool, bool)>,
    pgs: String,
    epoch: u32,
}

fn seen(v: &ClusterView) -> Seen {
    Seen {
        health: v
            .health
            .iter()
            .map(|h| (h.code.clone(), h.summary.clone()))
            .collect(),
        osds: v
            .osdmap
            .osds
            .values()
            .map(|o| (o.id, (o.up, o.is_in())))
            .collect(),
        pgs: v
            .pgs_by_state
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", "),
        epoch: v.osdmap.epoch,
    }
}

/// Now, as Ceph's cluster log stamps it: `2026-12-05T09:10:11.123+0000`.
fn stamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// The events between two looks, as cluster log lines.
fn events(before: &Seen, now: &Seen, v: &ClusterView) -> Vec<String> {
    let mut out = Vec::new();
    let who = v.leader.as_deref().unwrap_or("?");
    let mut log = |level: &str, msg: String| {
        out.push(format!("{} mon.{who} [{level}] {msg}", stamp()));
    };
    for (id, (up, inn)) in &now.osds {
        match before.osds.get(id) {
            None => {
                log("INF", format!("osd.{id} created"));
                if *up {
                    log("INF", format!("osd.{id} boot"));
                }
            }
            Some((was_up, was_in)) => {
                if up != was_up {
                    let what = if *up { "boot" } else { "marked down" };
                    log(if *up { "INF" } else { "WRN" }, format!("osd.{id} {what}"));
                }
                if inn != was_in {
                    let what = if *inn { "in" } else { "out" };
                    log("INF", format!("osd.{id} marked {what}"));
                }
            }
        }
    }
    for id in before.osds.keys().filter(|i| !now.osds.contains_key(i)) {
        log("INF", format!("osd.{id} removed"));
    }
    for (code, summary) in &now.health {
        if before.health.get(code) != Some(summary) {
            let verb = if before.health.contains_key(code) {
                "Health check update"
            } else {
                "Health check failed"
            };
            log("WRN", format!("{verb}: {summary} ({code})"));
        }
    }
    for (code, summary) in &before.health {
        if !now.health.contains_key(code) {
            log(
                "INF",
                format!("Health check cleared: {code} (was: {summary})"),
            );
        }
    }
    if now.health.is_empty() && !before.health.is_empty() {
        log("INF", "Cluster is now healthy".to_string());
    }
    if now.pgs != before.pgs {
        let mut line = format!("pgmap e{}: {}", now.epoch, now.pgs);
        if v.recovery.objects_per_sec > 0.0 {
            line += &format!(
                "; recovery: {}/s, {:.0} objects/s",
                human(v.recovery.bytes_per_sec as u64),
                v.recovery.objects_per_sec
            );
        }
        log("DBG", line);
    }
    out
}

/// `strata -w`: the status, then the cluster's events as they happen,
/// until interrupted.
pub async fn watch(mc: &client::MonClient, fmt: Format) -> Result<(), client::ClientError> {
    let first = mc.status().await?;
    status(&first, fmt);
    println!();
    let mut before = seen(&first);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let v = match mc.status().await {
            Ok(v) => v,
            Err(e) => {
                println!("{} [WRN] status: {e}", stamp());
                continue;
            }
        };
        let now = seen(&v);
        if now != before {
            for l in events(&before, &now, &v) {
                println!("{l}");
            }
            before = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_ceph_prints_them() {
        assert_eq!(secs(4.4), "4s");
        assert_eq!(secs(125.0), "2m");
        assert_eq!(secs(7300.0), "2h");
    }

    #[test]
    fn stamps_look_like_the_cluster_log() {
        let s = stamp();
        assert_eq!(s.len(), "2026-12-05T09:10:11.123+0000".len(), "{s}");
        assert!(s.ends_with("+0000") && s.as_bytes()[10] == b'T', "{s}");
    }
}
