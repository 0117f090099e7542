//! Peering on real processes: the defects the PG engine was built to fix,
//! reproduced as an operator would (one monitor, three OSDs, the real
//! client), and a write stream under repeated kill -9 of its primary.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use client::{IoCtx, Rados};
use common::{wait_for, Cluster};

async fn connect(c: &Cluster, timeout: Duration) -> Rados {
    let creds = auth::Credentials::load(&c.path().join("client.admin.keyring")).unwrap();
    let opts = config::load(&c.conf, "client.admin", &[]).unwrap();
    let mc = client::MonClient::from_options(&opts, &creds, None, None).unwrap();
    Rados::with_monclient(mc, timeout).await.unwrap()
}

fn cluster(extra: &[&str]) -> Cluster {
    let mut opts = vec![
        "osd_heartbeat_interval=1",
        "osd_heartbeat_grace=3",
        "osd_mon_report_interval=1",
    ];
    opts.extend_from_slice(extra);
    let mut c = Cluster::new(1, &opts);
    c.add_osds(3);
    c
}

/// The primary of the PG `name` maps to in `pool`, by the client's map.
async fn primary_of(r: &Rados, pool: &str, name: &str) -> i32 {
    let map = r.monclient().refresh_map().await.unwrap();
    let p = map.pool_by_name(pool).unwrap().clone();
    let pg = cluster::object_pg(&p, cluster::object_hash("", name));
    let crush = map.crush().unwrap();
    map.place_pg(&crush, &p, pg, &map.osd_states())
        .acting_primary
        .unwrap()
}

/// Every PG of the cluster in `state` (as the primaries report).
fn wait_pgs(c: &Cluster, n: u64, state: &str, secs: u64) {
    wait_for(secs, &format!("{n} PGs {state}"), || {
        let s = c.status()?;
        let by = s["pgmap"]["pgs_by_state"].as_array()?.clone();
        (by.len() == 1 && by[0]["state_name"] == state && by[0]["count"] == n).then_some(())
    });
}

async fn read_all(pool: &IoCtx, names: &[String]) {
    for n in names {
        assert_eq!(
            pool.read(n, 0, 0).await.unwrap(),
            n.as_bytes(),
            "object {n} reads back"
        );
    }
}

/// Before the PG engine: an OSD that missed more writes than the PG log
/// holds came back "active+clean" with most of them missing, and they
/// were gone once it was the last copy. Now it takes the whole PG.
#[test]
fn a_member_behind_the_log_takes_the_whole_pg() {
    let mut c = cluster(&["osd_min_pg_log_entries=40"]);
    c.ok(&["osd", "pool", "create", "p", "1"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(connect(&c, Duration::from_secs(90)));
    let pool = rt.block_on(r.pool("p")).unwrap();
    rt.block_on(pool.write_full("first", b"first")).unwrap();
    c.kill_osd(2);
    c.ok(&["osd", "down", "2"]);
    wait_for(30, "osd.2 down", || (!c.osd_up(2)?).then_some(()));
    let names: Vec<String> = (0..200).map(|i| format!("obj-{i:03}")).collect();
    rt.block_on(async {
        for n in &names {
            pool.write_full(n, n.as_bytes()).await.unwrap();
        }
    });
    c.start_osd(2);
    wait_for(60, "osd.2 up", || c.osd_up(2)?.then_some(()));
    wait_pgs(&c, 1, "active+clean", 90);
    // Now osd.2 is the only copy left.
    c.kill_osd(0);
    c.kill_osd(1);
    c.ok(&["osd", "down", "0", "1"]);
    c.ok(&["osd", "pool", "set", "p", "min_size", "1"]);
    let listed: BTreeSet<String> = wait_for(90, "osd.2 serving the PG alone", || {
        rt.block_on(pool.list_objects(false))
            .ok()
            .map(|l| l.into_iter().map(|(_, n)| n).collect::<BTreeSet<_>>())
    });
    let want: BTreeSet<String> = names.iter().cloned().chain(["first".to_string()]).collect();
    assert_eq!(listed, want, "osd.2 alone holds every acknowledged object");
    rt.block_on(read_all(&pool, &names));

    // Now osd.2 dies too and osd.0 comes back alone: the last interval
    // that may have written (osd.2 alone) has no member up, so the PG is
    // down and says whom it waits for, instead of serving osd.0's copy.
    c.kill_osd(2);
    c.ok(&["osd", "down", "2"]);
    c.start_osd(0);
    wait_for(60, "osd.0 up", || c.osd_up(0)?.then_some(()));
    let q = wait_for(60, "the PG down, waiting for osd.2", || {
        let o = c.strata(&["pg", "query", "1.0"]);
        let q: serde_json::Value = serde_json::from_slice(&o.stdout).ok().or_else(|| {
            eprintln!("pg query: {}", String::from_utf8_lossy(&o.stderr));
            None
        })?;
        if q["state"] != "down" {
            eprintln!("pg query: {q}");
        }
        (q["state"] == "down").then_some(q)
    });
    assert_eq!(q["blocked_by"], serde_json::json!([2]), "{q}");
    assert!(q["waiting_on"].as_str().unwrap().contains("osd [2]"), "{q}");
    assert!(!q["past_intervals"].as_array().unwrap().is_empty(), "{q}");
    // osd.2 back: it serves again, everything there.
    c.start_osd(2);
    let q = wait_for(90, "the PG active again", || {
        let q = c.json(&["pg", "query", "1.0"])?;
        q["state"].as_str()?.starts_with("active").then_some(q)
    });
    assert!(
        q["info"]["history"]["last_epoch_started"].as_u64() > Some(0),
        "{q}"
    );
    rt.block_on(read_all(&pool, &names));
    let e = c.strata(&["pg", "query", "1.7"]);
    assert!(!e.status.success());
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("PG 1.7 does not exist"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
}

/// Before the PG engine: a primary marked out and back in skipped peering
/// (same acting set as last time) and served the copy it had before.
#[test]
fn a_primary_back_from_out_serves_the_newest_copy() {
    let c = cluster(&[]);
    c.ok(&["osd", "pool", "create", "p", "1"]);
    c.ok(&["osd", "pool", "set", "p", "size", "2"]);
    c.ok(&["osd", "pool", "set", "p", "min_size", "1"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(connect(&c, Duration::from_secs(90)));
    let pool = rt.block_on(r.pool("p")).unwrap();
    rt.block_on(pool.write_full("obj", b"v1")).unwrap();
    rt.block_on(pool.append("log", b"a")).unwrap();
    let p = rt.block_on(primary_of(&r, "p", "obj"));
    c.ok(&["osd", "out", &p.to_string()]);
    wait_for(30, "a new primary", || {
        (rt.block_on(primary_of(&r, "p", "obj")) != p).then_some(())
    });
    rt.block_on(pool.write_full("obj", b"v2")).unwrap();
    rt.block_on(pool.append("log", b"b")).unwrap();
    c.ok(&["osd", "in", &p.to_string()]);
    wait_for(30, "the old primary back", || {
        (rt.block_on(primary_of(&r, "p", "obj")) == p).then_some(())
    });
    assert_eq!(rt.block_on(pool.read("obj", 0, 0)).unwrap(), b"v2");
    rt.block_on(pool.append("log", b"c")).unwrap();
    assert_eq!(rt.block_on(pool.read("log", 0, 0)).unwrap(), b"abc");
    wait_pgs(&c, 1, "active+clean", 60);
    assert_eq!(rt.block_on(pool.read("obj", 0, 0)).unwrap(), b"v2");
}

/// kill -9 of a busy PG's primary, three times, then of a replica, under
/// a stream of appends and writes: every acknowledged write reads back, no
/// append (resent by the client with the same request id) lands twice, and
/// a dead replica holds writes up only until its failure is noticed.
#[test]
fn killing_the_primary_under_a_write_stream_keeps_every_write_once() {
    let mut c = cluster(&[]);
    c.ok(&["osd", "pool", "create", "p", "4"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(connect(&c, Duration::from_secs(120)));
    let pool = rt.block_on(r.pool("p")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let pool = pool.clone();
        let stop = stop.clone();
        rt.spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let rec = format!("{i};");
                pool.append("stream", rec.as_bytes()).await.unwrap();
                let name = format!("w-{i}");
                pool.write_full(&name, name.as_bytes()).await.unwrap();
                acked.push(i);
                i += 1;
            }
            acked
        })
    };
    for round in 0..3 {
        wait_for(60, "writes flowing", || {
            rt.block_on(pool.stat("stream")).ok().filter(|s| s.size > 0)
        });
        let p = rt.block_on(primary_of(&r, "p", "stream"));
        eprintln!("round {round}: killing osd.{p}, the primary of the stream");
        c.kill_osd(p as u32);
        wait_for(60, "the dead primary marked down", || {
            (!c.osd_up(p as u32)?).then_some(())
        });
        c.start_osd(p as u32);
        wait_for(60, "it back up", || c.osd_up(p as u32)?.then_some(()));
    }
    // A replica dies: writes wait for its failure to be noticed (a few
    // seconds with a 3 s grace), not for a replication timeout per op.
    let replica = rt.block_on(async {
        let map = r.monclient().refresh_map().await.unwrap();
        let p = map.pool_by_name("p").unwrap().clone();
        let pg = cluster::object_pg(&p, cluster::object_hash("", "stream"));
        map.place_pg(&map.crush().unwrap(), &p, pg, &map.osd_states())
            .acting[1]
    });
    eprintln!("killing osd.{replica}, a replica of the stream");
    c.kill_osd(replica as u32);
    let before = rt.block_on(pool.stat("stream")).unwrap().size;
    wait_for(30, "writes going on without the dead replica", || {
        let now = rt.block_on(pool.stat("stream")).ok()?.size;
        (now > before + 20).then_some(())
    });
    c.start_osd(replica as u32);
    wait_for(60, "the replica back up", || {
        c.osd_up(replica as u32)?.then_some(())
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acked = rt.block_on(writer).unwrap();
    assert!(
        acked.len() > 10,
        "the stream made progress: {}",
        acked.len()
    );
    let want: String = acked.iter().map(|i| format!("{i};")).collect();
    let got = String::from_utf8(rt.block_on(pool.read("stream", 0, 0)).unwrap()).unwrap();
    assert_eq!(got, want, "each acknowledged append exactly once, in order");
    let names: Vec<String> = acked.iter().map(|i| format!("w-{i}")).collect();
    rt.block_on(read_all(&pool, &names));
    wait_pgs(&c, 4, "active+clean", 90);
}

/// The monitors forget old map epochs only once every PG has been clean
/// since: an OSD that comes back replays the epochs its PGs went through
/// while it was away, so those stay while a PG is degraded.
#[test]
fn maps_are_kept_while_a_pg_is_unclean() {
    let mut c = cluster(&["mon_min_osdmap_epochs=3", "mon_max_incrementals=1000"]);
    c.ok(&["osd", "pool", "create", "p", "4"]);
    wait_pgs(&c, 4, "active+clean", 90);
    let epoch = |c: &Cluster| -> (u64, u64) {
        let s = c.status().expect("status");
        (
            s["osdmap"]["epoch"].as_u64().unwrap(),
            s["osdmap"]["first_committed"].as_u64().unwrap(),
        )
    };
    let churn = |c: &Cluster, n: usize| {
        for _ in 0..n {
            c.ok(&["osd", "set", "noscrub"]);
            c.ok(&["osd", "unset", "noscrub"]);
        }
    };
    // Clean: old epochs go (keeping the minimum).
    churn(&c, 5);
    let (e, _) = epoch(&c);
    wait_for(40, "maps trimmed while every PG is clean", || {
        let (_, first) = epoch(&c);
        (first + 3 >= e).then_some(())
    });

    // osd.2 gone: every PG degraded, so the epochs since stay.
    c.kill_osd(2);
    c.ok(&["osd", "down", "2"]);
    let (down_at, _) = epoch(&c);
    wait_for(60, "PGs degraded", || {
        let s = c.status()?;
        let by = s["pgmap"]["pgs_by_state"].as_array()?.clone();
        by.iter()
            .all(|b| {
                b["state_name"]
                    .as_str()
                    .is_some_and(|s| s.contains("degraded"))
            })
            .then_some(())
    });
    churn(&c, 5);
    // Two trim periods (10 s each) pass without the epochs going.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(25) {
        let (_, first) = epoch(&c);
        assert!(
            first <= down_at,
            "epoch {first} trimmed while PGs are degraded since {down_at}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Back and clean: they go.
    c.start_osd(2);
    wait_pgs(&c, 4, "active+clean", 90);
    churn(&c, 2);
    wait_for(40, "maps trimmed once clean again", || {
        let (_, first) = epoch(&c);
        (first > down_at).then_some(())
    });
}
