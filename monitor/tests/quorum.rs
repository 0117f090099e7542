//! A three-monitor quorum of real processes: it forms, survives the
//! leader's death (a new leader within seconds, commands keep working),
//! takes the old leader back, and keeps every pool and OSD across a
//! restart of the whole quorum.

mod common;

use std::time::{Duration, Instant};

use common::{wait_for, Cluster};

#[test]
fn leader_failover_rejoin_and_full_restart() {
    let mut c = Cluster::new(3, &["mon_raft_election_timeout_ms=1000"]);
    c.add_osds(2);
    c.ok(&["osd", "pool", "create", "before", "8"]);

    let old = c.leader();
    c.kill_mon(&old);
    let killed = Instant::now();
    // A survivor leads: watched on the survivors' metrics, which they
    // refresh every half second.
    let survivors: Vec<String> = c.mon_names.iter().filter(|n| **n != old).cloned().collect();
    let new = wait_for(30, "a new leader", || {
        survivors.iter().find_map(|n| {
            let m = common::scrape(&c.mon_metrics_addr(n))?;
            m.lines()
                .any(|l| l == "strata_mon_is_leader 1")
                .then(|| n.clone())
        })
    });
    let failover = killed.elapsed();
    c.ok(&["osd", "pool", "create", "during", "8"]);
    eprintln!(
        "leader failover: mon.{old} killed, mon.{new} leads after {failover:?}; the next command completed {:?} after the kill",
        killed.elapsed()
    );
    assert!(
        failover < Duration::from_secs(15),
        "failover took {failover:?}"
    );
    let health = c.ok(&["health", "detail"]);
    assert!(
        health.contains("MON_DOWN") && health.contains(&format!("mon.{old}")),
        "{health}"
    );

    // The old leader rejoins and catches up.
    c.start_mon(&old);
    c.wait_quorum(3);
    let pools = c.ok(&["osd", "pool", "ls"]);
    assert!(
        pools.contains("before") && pools.contains("during"),
        "{pools}"
    );

    // The whole quorum restarted keeps every pool and OSD.
    let epoch_before = c.status().unwrap()["osdmap"]["epoch"].as_u64().unwrap();
    for n in c.mon_names.clone() {
        c.kill_mon(&n);
    }
    for n in c.mon_names.clone() {
        c.start_mon(&n);
    }
    c.wait_quorum(3);
    let dump = c.json(&["osd", "dump"]).unwrap();
    let names: Vec<&str> = dump["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pool_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["before", "during"]);
    assert_eq!(dump["osds"].as_array().unwrap().len(), 2);
    assert!(dump["epoch"].as_u64().unwrap() >= epoch_before);
    c.ok(&["osd", "pool", "create", "after", "8"]);
}

#[test]
fn status_and_admin_commands_use_cephs_shapes() {
    let mut c = Cluster::new(1, &[]);
    c.add_osds(3);
    let m = wait_for(20, "mon metrics", || {
        common::scrape(&c.mon_metrics_addr("a")).filter(|m| m.contains("strata_osds_up 3"))
    });
    for series in [
        "strata_osdmap_epoch",
        "strata_mon_raft_term",
        "strata_mon_is_leader 1",
        "strata_osds_up 3",
        "strata_osds_in 3",
        "strata_messenger_frames_total",
        "strata_messenger_errors_total",
        "process_resident_memory_bytes",
    ] {
        assert!(m.contains(series), "mon metrics lack {series}:\n{m}");
    }
    let m = wait_for(20, "osd metrics", || common::scrape(&c.osd_metrics_addr(0)));
    assert!(
        m.contains("strata_osdmap_epoch") && m.contains("strata_messenger_bytes_total"),
        "{m}"
    );
    let s = c.status().unwrap();
    assert_eq!(s["osdmap"]["num_osds"], 3);
    assert_eq!(s["osdmap"]["num_in_osds"], 3);
    assert_eq!(s["quorum_names"], serde_json::json!(["a"]));
    assert_eq!(s["health"]["status"], "HEALTH_OK");

    c.ok(&["osd", "pool", "create", "rbd", "16"]);
    let o = c.strata(&["osd", "pool", "create", "rbd", "16"]);
    assert_eq!(o.status.code(), Some(17), "EEXIST");
    assert!(String::from_utf8_lossy(&o.stderr).contains("pool 'rbd' already exists"));
    let d = c.json(&["osd", "dump"]).unwrap();
    let p = &d["pools"][0];
    assert_eq!(
        (
            p["pool"].as_u64(),
            p["pool_name"].as_str(),
            p["size"].as_u64(),
            p["min_size"].as_u64(),
            p["pg_num"].as_u64(),
            p["crush_rule"].as_u64(),
            p["type"].as_u64()
        ),
        (
            Some(1),
            Some("rbd"),
            Some(3),
            Some(2),
            Some(16),
            Some(0),
            Some(1)
        )
    );
    let s = c.status().unwrap();
    assert_eq!(s["pgmap"]["num_pgs"], 16);
    let counted: u64 = s["pgmap"]["pgs_by_state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 16);

    c.ok(&["osd", "pool", "set", "rbd", "size", "2"]);
    assert_eq!(
        c.ok(&["osd", "pool", "get", "rbd", "size"]).trim(),
        "size: 2"
    );
    let bad = c.strata(&["osd", "pool", "set", "rbd", "min_size", "5"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("min_size must be 1..=2"));
    assert_eq!(
        c.ok(&["osd", "pool", "get", "rbd", "min_size"]).trim(),
        "min_size: 2",
        "a refused command changes nothing"
    );

    c.ok(&["osd", "set", "noout"]);
    let h = c.json(&["health"]).unwrap();
    assert!(h["checks"]["OSDMAP_FLAGS"].is_object(), "{h}");
    c.ok(&["osd", "unset", "noout"]);

    // CRUSH edits through the CLI.
    c.ok(&["osd", "crush", "add-bucket", "rack1", "rack"]);
    c.ok(&["osd", "crush", "move", "rack1", "root=default"]);
    c.ok(&["osd", "crush", "set-device-class", "ssd", "osd.0"]);
    c.ok(&[
        "osd",
        "crush",
        "rule",
        "create-replicated",
        "fast",
        "default",
        "osd",
        "ssd",
    ]);
    c.ok(&["osd", "crush", "reweight", "osd.1", "0.5"]);
    let rules = c.ok(&["osd", "crush", "rule", "ls"]);
    assert_eq!(
        rules.lines().collect::<Vec<_>>(),
        vec!["replicated_rule", "fast"]
    );
    let dumped = c.json(&["osd", "crush", "rule", "dump", "fast"]).unwrap();
    assert_eq!(dumped["steps"][0], "take default class ssd");
    let tree = c.json(&["osd", "tree"]).unwrap();
    let osd1 = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "osd.1")
        .unwrap()
        .clone();
    assert_eq!(osd1["crush_weight"], 0.5);
    let text = c.ok(&["osd", "getcrushmap"]);
    assert!(text.contains("rack rack1"), "{text}");
    let f = c.path().join("crush.txt");
    std::fs::write(&f, text.replace("rule fast {", "rule faster {")).unwrap();
    c.ok(&["osd", "setcrushmap", "-i", f.to_str().unwrap()]);
    assert!(c.ok(&["osd", "crush", "rule", "ls"]).contains("faster"));
    std::fs::write(&f, "not a crush map {").unwrap();
    let o = c.strata(&["osd", "setcrushmap", "-i", f.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not parse"));

    // Erasure-code profiles and pools.
    c.ok(&[
        "osd",
        "erasure-code-profile",
        "set",
        "k2m1",
        "k=2",
        "m=1",
        "crush-failure-domain=osd",
    ]);
    assert!(c
        .ok(&["osd", "erasure-code-profile", "get", "k2m1"])
        .contains("k=2"));
    c.ok(&["osd", "pool", "create", "ec", "8", "erasure", "k2m1"]);
    let detail = c.ok(&["osd", "pool", "ls", "detail"]);
    assert!(
        detail.contains("'ec' erasure size 3 min_size 3"),
        "{detail}"
    );
    assert!(
        detail.contains("stripe_width 8192 erasure_code_profile k2m1"),
        "{detail}"
    );
    let o = c.strata(&[
        "osd",
        "erasure-code-profile",
        "set",
        "odd",
        "k=3",
        "stripe_unit=3000",
    ]);
    assert_eq!(o.status.code(), Some(22), "EINVAL");
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("erasure-code-profile odd: stripe_unit 3000: must be a power of two"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = c.strata(&["osd", "erasure-code-profile", "rm", "k2m1"]);
    assert_eq!(o.status.code(), Some(16), "EBUSY: in use");

    // Pool removal needs the name twice and the flag.
    let o = c.strata(&["osd", "pool", "rm", "rbd"]);
    assert_eq!(o.status.code(), Some(1));
    c.ok(&[
        "osd",
        "pool",
        "rm",
        "rbd",
        "rbd",
        "--yes-i-really-really-mean-it",
    ]);
    assert!(!c.ok(&["osd", "pool", "ls"]).contains("rbd"));
    assert!(c.ok(&["mon", "stat"]).contains("1 mons at"));
}
