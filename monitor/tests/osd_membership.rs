//! OSDs join, are detected when they die, come back when restarted, boot
//! again when wrongly marked down, and are marked out after the down-out
//! interval unless noout is set. Heartbeat timings are shortened by
//! config (grace 3 s, interval 1 s) so the test runs in seconds.

mod common;

use std::time::Instant;

use common::{wait_for, Cluster};

const FAST: [&str; 3] = [
    "osd_heartbeat_interval=1",
    "osd_heartbeat_grace=3",
    "mon_osd_down_out_interval=4",
];

#[test]
fn killed_osd_is_marked_down_then_out_and_comes_back() {
    let mut c = Cluster::new(3, &FAST);
    c.add_osds(3);
    let tree = c.json(&["osd", "tree"]).unwrap();
    let names: Vec<String> = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    for i in 0..3 {
        assert!(names.contains(&format!("osd.{i}")), "{names:?}");
    }

    c.kill_osd(1);
    let killed = Instant::now();
    wait_for(60, "osd.1 marked down", || (!c.osd_up(1)?).then_some(()));
    eprintln!(
        "osd.1 killed: marked down after {:?} (grace 3 s, interval 1 s)",
        killed.elapsed()
    );
    let h = c.ok(&["health", "detail"]);
    assert!(h.contains("OSD_DOWN") && h.contains("osd.1"), "{h}");
    // After mon_osd_down_out_interval it is marked out.
    wait_for(60, "osd.1 marked out", || {
        let d = c.json(&["osd", "dump"])?;
        let o = d["osds"]
            .as_array()?
            .iter()
            .find(|o| o["osd"] == 1)?
            .clone();
        (o["in"] == 0).then_some(())
    });
    assert_eq!(c.status().unwrap()["osdmap"]["num_in_osds"], 2);

    // Restarted, it comes back up and in.
    c.start_osd(1);
    wait_for(60, "osd.1 up again", || c.osd_up(1)?.then_some(()));
    wait_for(30, "osd.1 in again", || {
        (c.status()?["osdmap"]["num_in_osds"] == 3).then_some(())
    });

    // With noout, a dead OSD stays in.
    c.ok(&["osd", "set", "noout"]);
    c.kill_osd(2);
    wait_for(60, "osd.2 marked down", || (!c.osd_up(2)?).then_some(()));
    // Past the 4 s down-out interval, polled: it stays in the whole time.
    let until = Instant::now() + std::time::Duration::from_secs(7);
    while Instant::now() < until {
        if let Some(s) = c.status() {
            assert_eq!(s["osdmap"]["num_in_osds"], 3, "noout keeps it in");
        }
    }
    c.start_osd(2);
    wait_for(60, "osd.2 up again", || c.osd_up(2)?.then_some(()));
}

#[test]
fn wrongly_marked_down_osd_boots_again_and_removal_needs_it_down() {
    let mut c = Cluster::new(1, &FAST);
    c.add_osds(2);
    let osd0 = || -> Option<serde_json::Value> {
        let d = c.json(&["osd", "dump"])?;
        d["osds"]
            .as_array()?
            .iter()
            .find(|o| o["osd"] == 0)
            .cloned()
    };
    let booted_at = osd0().unwrap()["up_from"].as_u64().unwrap();
    c.ok(&["osd", "down", "0"]);
    // The running OSD sees itself down in the map and boots again: up,
    // from a later epoch than before.
    wait_for(30, "osd.0 back up", || {
        let o = osd0()?;
        (o["up"] == 1 && o["up_from"].as_u64()? > booted_at).then_some(())
    });
    let o = c.strata(&["osd", "rm", "0"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("osd.0 is still up"));
    c.kill_osd(0);
    wait_for(60, "osd.0 down", || (!c.osd_up(0)?).then_some(()));
    c.ok(&["osd", "rm", "0"]);
    let d = c.json(&["osd", "dump"]).unwrap();
    assert_eq!(d["osds"].as_array().unwrap().len(), 1);
    assert!(!c.ok(&["osd", "tree"]).contains("osd.0 "));
    // A removed OSD's disk can no longer join.
    let out = std::process::Command::new(common::bin("strata-osd"))
        .arg("--data")
        .arg(c.path().join("osd0"))
        .arg("--conf")
        .arg(&c.conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("osd.0"), "{err}");
}
