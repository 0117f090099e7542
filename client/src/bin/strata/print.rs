//! Text and JSON renderings of what the monitors answer. JSON uses Ceph's
//! field names where Ceph has the field.

use client::ClientError;
use cluster::msg::mon::ClusterView;
use cluster::msg::RemoteError;
use cluster::{OsdMap, PoolKind};
use serde_json::{json, Value};

use crate::Format;

pub fn json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values print")
    );
}

pub fn checks_json(v: &ClusterView, detail: bool) -> Value {
    let mut checks = serde_json::Map::new();
    for h in &v.health {
        let mut c = json!({
            "severity": h.severity,
            "summary": {"message": h.summary},
        });
        if detail {
            c["detail"] = json!(h
                .detail
                .iter()
                .map(|d| json!({"message": d}))
                .collect::<Vec<_>>());
        }
        checks.insert(h.code.clone(), c);
    }
    json!({"status": v.health_status(), "checks": checks})
}

pub fn quorum_ranks(v: &ClusterView) -> Vec<usize> {
    v.quorum.iter().filter_map(|n| v.monmap.rank(n)).collect()
}

pub fn num_pgs(v: &ClusterView) -> u32 {
    v.pgs_by_state.iter().map(|(_, n)| n).sum()
}

pub fn health(v: &ClusterView, detail: bool, fmt: Format) {
    if fmt == Format::Json {
        json(&checks_json(v, detail));
        return;
    }
    let summary: Vec<&str> = v.health.iter().map(|h| h.summary.as_str()).collect();
    if summary.is_empty() {
        println!("{}", v.health_status());
    } else {
        println!("{} {}", v.health_status(), summary.join("; "));
    }
    if detail {
        for h in &v.health {
            let level = h.severity.strip_prefix("HEALTH_").unwrap_or(&h.severity);
            println!("[{level}] {}: {}", h.code, h.summary);
            for d in &h.detail {
                println!("    {d}");
            }
        }
    }
}

pub fn quorum_status(v: &ClusterView, fmt: Format) {
    let mons: Vec<Value> = v
        .monmap
        .mons
        .iter()
        .enumerate()
        .map(|(r, m)| json!({"rank": r, "name": m.name, "addr": m.addr}))
        .collect();
    let out = json!({
        "election_epoch": v.raft_term,
        "quorum": quorum_ranks(v),
        "quorum_names": v.quorum,
        "quorum_leader_name": v.leader,
        "monmap": {"epoch": v.monmap.epoch, "fsid": v.monmap.fsid, "mons": mons},
    });
    if fmt == Format::Json {
        json(&out);
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values print")
        );
    }
}

pub fn mon_stat(v: &ClusterView, fmt: Format) {
    if fmt == Format::Json {
        quorum_status(v, fmt);
        return;
    }
    let addrs: Vec<String> = v
        .monmap
        .mons
        .iter()
        .map(|m| format!("{}={}", m.name, m.addr))
        .collect();
    let leader_rank = v.leader.as_deref().and_then(|l| v.monmap.rank(l));
    println!(
        "e{}: {} mons at {{{}}}, election epoch {}, leader {} {}, quorum {} {}",
        v.monmap.epoch,
        v.monmap.mons.len(),
        addrs.join(","),
        v.raft_term,
        leader_rank.map_or("-".to_string(), |r| r.to_string()),
        v.leader.as_deref().unwrap_or("none"),
        quorum_ranks(v)
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(","),
        v.quorum.join(",")
    );
}

fn pool_type(k: PoolKind) -> (u32, &'static str) {
    match k {
        PoolKind::Replicated => (1, "replicated"),
        PoolKind::Erasure { .. } => (3, "erasure"),
    }
}

fn rule_name(m: &OsdMap, id: u32) -> String {
    m.crush()
        .ok()
        .and_then(|c| c.rule(id).map(|r| r.name.clone()))
        .unwrap_or_else(|| id.to_string())
}

pub fn osd_dump(m: &OsdMap, fmt: Format) {
    let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    if fmt == Format::Json {
        let pools: Vec<Value> = m
            .pools
            .values()
            .map(|p| {
                json!({
                    "pool": p.id, "pool_name": p.name, "type": pool_type(p.kind).0,
                    "size": p.size, "min_size": p.min_size, "pg_num": p.pg_num,
                    "pg_placement_num": p.pgp_num, "crush_rule": p.crush_rule,
                    "erasure_code_profile": p.ec_profile, "stripe_width": m.stripe_width(p),
                })
            })
            .collect();
        let osds: Vec<Value> = m
            .osds
            .values()
            .map(|o| {
                json!({
                    "osd": o.id, "uuid": o.uuid, "up": o.up as u8, "in": o.is_in() as u8,
                    "weight": f64::from(o.reweight) / 65536.0, "up_from": o.up_from,
                    "public_addr": o.addr,
                    "state": osd_states(o),
                })
            })
            .collect();
        json(&json!({
            "epoch": m.epoch, "fsid": m.fsid, "flags": flags.join(","),
            "pool_max": m.pool_max, "max_osd": m.osds.keys().next_back().map_or(0, |x| x + 1),
            "full_ratio": ratio(m.full_ratios.full_ppm),
            "backfillfull_ratio": ratio(m.full_ratios.backfillfull_ppm),
            "nearfull_ratio": ratio(m.full_ratios.nearfull_ppm),
            "pg_temp": m.pg_temp.iter()
                .map(|(pg, osds)| json!({"pgid": pg.to_string(), "osds": osds}))
                .collect::<Vec<_>>(),
            "pools": pools, "osds": osds,
        }));
        return;
    }
    println!("epoch {}", m.epoch);
    println!("fsid {}", m.fsid);
    println!("flags {}", flags.join(","));
    println!("pool_max {}", m.pool_max);
    println!("full_ratio {}", ratio(m.full_ratios.full_ppm));
    println!(
        "backfillfull_ratio {}",
        ratio(m.full_ratios.backfillfull_ppm)
    );
    println!("nearfull_ratio {}", ratio(m.full_ratios.nearfull_ppm));
    println!();
    for p in m.pools.values() {
        pool_line(m, p);
    }
    println!();
    for o in m.osds.values() {
        println!(
            "osd.{} {} {} weight {:.5} up_from {} {} {} {}",
            o.id,
            if o.up { "up  " } else { "down" },
            if o.is_in() { "in " } else { "out" },
            f64::from(o.reweight) / 65536.0,
            o.up_from,
            if o.addr.is_empty() { "-" } else { &o.addr },
            o.uuid,
            osd_states(o).join(",")
        );
    }
    for (pg, osds) in &m.pg_temp {
        println!("pg_temp {pg} {osds:?}");
    }
}

fn ratio(ppm: u32) -> f64 {
    f64::from(ppm) / 1_000_000.0
}

/// Ceph's OSD state words: exists, up, and the space state past ok.
fn osd_states(o: &cluster::osdmap::OsdInfo) -> Vec<&'static str> {
    let mut s = vec!["exists"];
    if o.up {
        s.push("up");
    }
    if o.fullness != cluster::osdmap::Fullness::Ok {
        s.push(o.fullness.name());
    }
    s
}

fn pool_line(m: &OsdMap, p: &cluster::Pool) {
    let profile = if p.ec_profile.is_empty() {
        String::new()
    } else {
        format!(" erasure_code_profile {}", p.ec_profile)
    };
    println!(
        "pool {} '{}' {} size {} min_size {} crush_rule {} ({}) pg_num {} pgp_num {} stripe_width {}{}",
        p.id,
        p.name,
        pool_type(p.kind).1,
        p.size,
        p.min_size,
        p.crush_rule,
        rule_name(m, p.crush_rule),
        p.pg_num,
        p.pgp_num,
        m.stripe_width(p),
        profile
    );
}

pub fn pool_ls(m: &OsdMap, detail: bool, fmt: Format) {
    if fmt == Format::Json {
        if detail {
            osd_dump_pools(m);
        } else {
            json(&json!(m
                .pools
                .values()
                .map(|p| &p.name)
                .collect::<Vec<_>>()));
        }
        return;
    }
    for p in m.pools.values() {
        if detail {
            pool_line(m, p);
        } else {
            println!("{}", p.name);
        }
    }
}

fn osd_dump_pools(m: &OsdMap) {
    let v: Vec<Value> = m
        .pools
        .values()
        .map(|p| {
            json!({"pool_id": p.id, "pool_name": p.name, "type": pool_type(p.kind).1, "size": p.size,
                   "min_size": p.min_size, "pg_num": p.pg_num, "pg_placement_num": p.pgp_num,
                   "crush_rule": p.crush_rule, "erasure_code_profile": p.ec_profile,
                   "stripe_width": m.stripe_width(p)})
        })
        .collect();
    json(&json!(v));
}

pub fn pool_get(m: &OsdMap, name: &str, key: &str, fmt: Format) -> Result<(), ClientError> {
    let p = m.pool_by_name(name).ok_or_else(|| {
        ClientError::Remote(RemoteError::not_found(format!(
            "pool '{name}' does not exist"
        )))
    })?;
    let value: Value = match key {
        "size" => json!(p.size),
        "min_size" => json!(p.min_size),
        "pg_num" => json!(p.pg_num),
        "pgp_num" => json!(p.pgp_num),
        "crush_rule" => json!(rule_name(m, p.crush_rule)),
        "erasure_code_profile" => json!(p.ec_profile),
        other => {
            return Err(ClientError::Remote(RemoteError::invalid(format!(
                "pool '{name}': unknown key '{other}' (size, min_size, pg_num, pgp_num, crush_rule, erasure_code_profile)"
            ))))
        }
    };
    if fmt == Format::Json {
        let mut o = serde_json::Map::new();
        o.insert("pool".into(), json!(p.name));
        o.insert("pool_id".into(), json!(p.id));
        o.insert(key.into(), value);
        json(&Value::Object(o));
    } else {
        let shown = match &value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        println!("{key}: {shown}");
    }
    Ok(())
}

fn crush_of(m: &OsdMap) -> Result<crush::CrushMap, ClientError> {
    m.crush().map_err(|e| ClientError::Protocol {
        from: "monitor".into(),
        what: format!("the CRUSH map does not parse: {e}"),
    })
}

pub fn rule_ls(m: &OsdMap, fmt: Format) -> Result<(), ClientError> {
    let c = crush_of(m)?;
    let names: Vec<&str> = c.rules().map(|r| r.name.as_str()).collect();
    if fmt == Format::Json {
        json(&json!(names));
    } else {
        for n in names {
            println!("{n}");
        }
    }
    Ok(())
}

/// Rules as JSON: id, name, type, and the steps in the text form's words.
pub fn rule_dump(m: &OsdMap, name: Option<&str>, _fmt: Format) -> Result<(), ClientError> {
    let c = crush_of(m)?;
    let text = crush::text::print(&c);
    let mut out = Vec::new();
    for r in c.rules() {
        if name.is_some_and(|n| n != r.name) {
            continue;
        }
        let header = format!("rule {} {{", r.name);
        let steps: Vec<String> = text
            .lines()
            .skip_while(|l| *l != header)
            .take_while(|l| *l != "}")
            .filter_map(|l| l.trim().strip_prefix("step ").map(str::to_string))
            .collect();
        out.push(json!({"rule_id": r.id, "rule_name": r.name, "type": r.rule_type.name(), "steps": steps}));
    }
    if let Some(n) = name {
        if out.is_empty() {
            return Err(ClientError::Remote(RemoteError::not_found(format!(
                "rule {n} does not exist"
            ))));
        }
        json(&out[0]);
    } else {
        json(&json!(out));
    }
    Ok(())
}

pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

pub fn pg_stat(v: &ClusterView, fmt: Format) {
    let bytes: u64 = v.pg_stats.iter().map(|s| s.num_bytes).sum();
    let objects: u64 = v.pg_stats.iter().map(|s| s.num_objects).sum();
    if fmt == Format::Json {
        json(&json!({
            "num_pgs": num_pgs(v),
            "pg_summary": {"num_pg_by_state": v.pgs_by_state.iter()
                .map(|(s, n)| json!({"name": s, "num": n})).collect::<Vec<_>>()},
            "num_bytes": bytes,
            "num_objects": objects,
        }));
        return;
    }
    let states: Vec<String> = v
        .pgs_by_state
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!(
        "{} pgs: {}; {} data, {} objects",
        num_pgs(v),
        states.join(", "),
        human(bytes),
        objects
    );
}

pub fn pg_dump(v: &ClusterView, fmt: Format) {
    let pgid = |s: &cluster::msg::mon::PgStat| format!("{}.{:x}", s.pool, s.seed);
    if fmt == Format::Json {
        let stats: Vec<Value> = v
            .pg_stats
            .iter()
            .map(|s| {
                json!({
                    "pgid": pgid(s), "state": s.state,
                    "stat_sum": {"num_objects": s.num_objects, "num_bytes": s.num_bytes},
                    "up": s.up, "acting": s.acting,
                    "up_primary": s.up.first(), "acting_primary": s.acting.first(),
                    "last_update": format!("{}'{}", s.last_update.0, s.last_update.1),
                    "reported_epoch": s.reported_epoch,
                })
            })
            .collect();
        json(&json!({"pg_ready": true, "pg_map": {"version": v.osdmap.epoch, "pg_stats": stats}}));
        return;
    }
    println!(
        "{:<8} {:>8} {:>12} {:<28} {:<12} {:<12} {:>10}",
        "PG_STAT", "OBJECTS", "BYTES", "STATE", "UP", "ACTING", "LAST"
    );
    for s in &v.pg_stats {
        println!(
            "{:<8} {:>8} {:>12} {:<28} {:<12} {:<12} {:>10}",
            pgid(s),
            s.num_objects,
            s.num_bytes,
            s.state,
            format!("{:?}", s.up),
            format!("{:?}", s.acting),
            format!("{}'{}", s.last_update.0, s.last_update.1)
        );
    }
}

/// Stored bytes and objects per pool, from the primaries' PG reports;
/// used = stored times the pool's size.
pub fn df(v: &ClusterView, fmt: Format) {
    let rows = client::pool_usage(v);
    if fmt == Format::Json {
        let pools: Vec<Value> = rows
            .iter()
            .map(|u| {
                json!({"name": u.name, "id": u.id,
                       "stats": {"stored": u.stored, "objects": u.objects, "bytes_used": u.used}})
            })
            .collect();
        json(&json!({"pools": pools}));
        return;
    }
    println!("--- POOLS ---");
    println!(
        "{:<20} {:>4} {:>6} {:>12} {:>9} {:>12}",
        "POOL", "ID", "PGS", "STORED", "OBJECTS", "USED"
    );
    for u in rows {
        let pgs = v.osdmap.pools.get(&u.id).map_or(0, |p| p.pg_num);
        println!(
            "{:<20} {:>4} {:>6} {:>12} {:>9} {:>12}",
            u.name,
            u.id,
            pgs,
            human(u.stored),
            u.objects,
            human(u.used)
        );
    }
}
