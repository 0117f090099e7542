//! `osd df`: each OSD's size, use, PGs and space state, from the OSDs'
//! last reports to the monitors, with Ceph's columns and JSON fields.

use client::ClientError;
use cluster::msg::mon::{ClusterView, OsdStat};
use serde_json::{json, Value};

use crate::print::{human, json};
use crate::Format;

struct Row {
    id: u32,
    class: String,
    crush_weight: f64,
    reweight: f64,
    stat: OsdStat,
    status: &'static str,
    state: &'static str,
}

impl Row {
    fn utilization(&self) -> f64 {
        if self.stat.total_bytes == 0 {
            0.0
        } else {
            100.0 * self.stat.used_bytes as f64 / self.stat.total_bytes as f64
        }
    }
    fn avail(&self) -> u64 {
        self.stat.total_bytes.saturating_sub(self.stat.used_bytes)
    }
}

pub fn print(v: &ClusterView, fmt: Format) -> Result<(), ClientError> {
    let m = &v.osdmap;
    let c = m.crush().map_err(|e| ClientError::Protocol {
        from: "monitor".into(),
        what: format!("the CRUSH map does not parse: {e}"),
    })?;
    let rows: Vec<Row> = m
        .osds
        .values()
        .map(|o| {
            let id = o.id as i32;
            let crush_weight = c
                .buckets()
                .find_map(|b| {
                    b.items
                        .iter()
                        .position(|i| *i == id)
                        .map(|p| f64::from(b.weights[p]) / 65536.0)
                })
                .unwrap_or(0.0);
            Row {
                id: o.id,
                class: c
                    .devices
                    .get(&id)
                    .and_then(|d| d.class)
                    .and_then(|k| c.class_name(k))
                    .unwrap_or("")
                    .to_string(),
                crush_weight,
                reweight: f64::from(o.reweight) / 65536.0,
                stat: v
                    .osd_stats
                    .iter()
                    .find(|(i, _)| *i == o.id)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default(),
                status: if o.up { "up" } else { "down" },
                state: o.fullness.name(),
            }
        })
        .collect();
    let total: u64 = rows.iter().map(|r| r.stat.total_bytes).sum();
    let used: u64 = rows.iter().map(|r| r.stat.used_bytes).sum();
    let avg = if total == 0 {
        0.0
    } else {
        100.0 * used as f64 / total as f64
    };
    let var = |r: &Row| {
        if avg > 0.0 {
            r.utilization() / avg
        } else {
            0.0
        }
    };
    let reporting: Vec<&Row> = rows.iter().filter(|r| r.stat.total_bytes > 0).collect();
    let min_var = reporting
        .iter()
        .map(|r| var(r))
        .fold(f64::INFINITY, f64::min);
    let max_var = reporting.iter().map(|r| var(r)).fold(0.0, f64::max);
    let min_var = if min_var.is_finite() { min_var } else { 0.0 };
    let dev = if reporting.is_empty() {
        0.0
    } else {
        (reporting
            .iter()
            .map(|r| (r.utilization() - avg).powi(2))
            .sum::<f64>()
            / reporting.len() as f64)
            .sqrt()
    };
    if fmt == Format::Json {
        let nodes: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "device_class": r.class, "name": format!("osd.{}", r.id),
                    "type": "osd", "type_id": 0, "crush_weight": r.crush_weight,
                    "depth": 0, "reweight": r.reweight,
                    "kb": r.stat.total_bytes / 1024, "kb_used": r.stat.used_bytes / 1024,
                    "kb_used_data": r.stat.used_bytes / 1024, "kb_used_omap": 0,
                    "kb_used_meta": 0, "kb_avail": r.avail() / 1024,
                    "utilization": r.utilization(), "var": var(r), "pgs": r.stat.num_pgs,
                    "status": r.status, "space": r.state,
                })
            })
            .collect();
        json(&json!({
            "nodes": nodes,
            "stray": [],
            "summary": {
                "total_kb": total / 1024, "total_kb_used": used / 1024,
                "total_kb_used_data": used / 1024, "total_kb_used_omap": 0,
                "total_kb_used_meta": 0, "total_kb_avail": total.saturating_sub(used) / 1024,
                "average_utilization": avg, "min_var": min_var, "max_var": max_var, "dev": dev,
            },
        }));
        return Ok(());
    }
    println!(
        "{:>3} {:>6} {:>8} {:>8} {:>10} {:>10} {:>10} {:>6} {:>5} {:>4} {:>6} {:<12}",
        "ID",
        "CLASS",
        "WEIGHT",
        "REWEIGHT",
        "SIZE",
        "RAW USE",
        "AVAIL",
        "%USE",
        "VAR",
        "PGS",
        "STATUS",
        "SPACE"
    );
    for r in &rows {
        println!(
            "{:>3} {:>6} {:>8.5} {:>8.5} {:>10} {:>10} {:>10} {:>6.2} {:>5.2} {:>4} {:>6} {:<12}",
            r.id,
            r.class,
            r.crush_weight,
            r.reweight,
            human(r.stat.total_bytes),
            human(r.stat.used_bytes),
            human(r.avail()),
            r.utilization(),
            var(r),
            r.stat.num_pgs,
            r.status,
            r.state
        );
    }
    println!(
        "{:>29} {:>10} {:>10} {:>10} {:>6.2}",
        "TOTAL",
        human(total),
        human(used),
        human(total.saturating_sub(used)),
        avg
    );
    println!("MIN/MAX VAR: {min_var:.2}/{max_var:.2}  STDDEV: {dev:.2}");
    Ok(())
}
