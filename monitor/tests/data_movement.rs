//! Data movement on real processes: four OSDs holding objects of mixed
//! sizes; one is marked out, then in, a fifth joins, two are reweighted
//! (override and CRUSH weight), then one is killed, marked out and
//! purged. After each step every PG is active+clean, every object
//! reads back identical through the client, and every OSD holds exactly
//! the PGs it is in the acting set of (copies left behind are removed);
//! at the end each stopped OSD's store lists exactly its acting PGs.
//! A second test kills a backfill's target and then its source with
//! kill -9 halfway, and checks that backfill resumes, no OSD ever holds
//! more backfill slots than `osd_max_backfills`, and nothing is lost.
//! A third grows a pool's pg_num while an OSD is down (PGs split in
//! place, the returning OSD splits what it loads), then pgp_num (the new
//! PGs move).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use client::{IoCtx, Rados};
use common::{bin, scrape, wait_for, Cluster};

const PGS: u64 = 16;

async fn connect(c: &Cluster) -> Rados {
    let creds = auth::Credentials::load(&c.path().join("client.admin.keyring")).unwrap();
    let opts = config::load(&c.conf, "client.admin", &[]).unwrap();
    let mc = client::MonClient::from_options(&opts, &creds, None, None).unwrap();
    Rados::with_monclient(mc, Duration::from_secs(120))
        .await
        .unwrap()
}

/// Object `i`'s bytes: sizes from empty to past the store's blob threshold.
fn content(i: usize) -> Vec<u8> {
    const SIZES: [usize; 7] = [0, 1, 1000, 4096, 65_536, 300_000, (1 << 20) + 3];
    let n = SIZES[i % SIZES.len()];
    (0..n).map(|j| (j * 31 + i * 7) as u8).collect()
}

/// Which PGs each OSD is in the acting set of, by the current map.
async fn acting_by_osd(r: &Rados) -> BTreeMap<i32, BTreeSet<String>> {
    let map = r.monclient().refresh_map().await.unwrap();
    let crush = map.crush().unwrap();
    let pool = map.pool_by_name("p").unwrap().clone();
    let mut out: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
    for o in map.osds.keys() {
        out.insert(*o as i32, BTreeSet::new());
    }
    for seed in 0..pool.pg_num {
        let pg = cluster::PgId {
            pool: pool.id,
            seed,
        };
        for o in map.place_pg(&crush, &pool, pg, &map.osd_states()).acting {
            out.entry(o).or_default().insert(pg.to_string());
        }
    }
    out
}

fn gauge(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Every PG active+clean, every object identical, every running OSD
/// holding exactly its acting PGs.
fn settle(
    c: &Cluster,
    rt: &tokio::runtime::Runtime,
    r: &Rados,
    pool: &IoCtx,
    n: usize,
    step: &str,
) {
    settle_pgs(c, rt, r, pool, n, PGS, step, &content);
}

/// `settle` for `pgs` PGs whose object `i` holds `want(i)`.
#[allow(clippy::too_many_arguments)]
fn settle_pgs(
    c: &Cluster,
    rt: &tokio::runtime::Runtime,
    r: &Rados,
    pool: &IoCtx,
    n: usize,
    pgs: u64,
    step: &str,
    want: &dyn Fn(usize) -> Vec<u8>,
) {
    wait_for(240, &format!("{step}: {pgs} PGs active+clean"), || {
        let s = c.status()?;
        let by = s["pgmap"]["pgs_by_state"].as_array()?.clone();
        let ok = by.len() == 1 && by[0]["state_name"] == "active+clean" && by[0]["count"] == pgs;
        if !ok {
            eprintln!("{step}: {}", serde_json::Value::Array(by));
        }
        ok.then_some(())
    });
    for i in 0..n {
        let got = rt.block_on(pool.read(&format!("obj-{i}"), 0, 0)).unwrap();
        assert!(got == want(i), "{step}: obj-{i} reads back identical");
    }
    wait_for(
        120,
        &format!("{step}: every OSD holds exactly its acting PGs"),
        || {
            let want = rt.block_on(acting_by_osd(r));
            for (osd, pgs) in &want {
                if !c.runs_osd(*osd as u32) {
                    continue;
                }
                let m = scrape(&c.osd_metrics_addr(*osd as u32))?;
                let held = gauge(&m, "strata_osd_numpg")?;
                let removing = gauge(&m, "strata_osd_numpg_removing")?;
                if held != pgs.len() as u64 || removing != 0 {
                    eprintln!(
                    "{step}: osd.{osd} holds {held} PGs ({removing} being removed), acting for {}",
                    pgs.len()
                );
                    return None;
                }
            }
            Some(())
        },
    );
}

#[test]
fn data_moves_on_out_in_add_and_failure_and_nothing_is_left_behind() {
    let mut c = Cluster::new(
        1,
        &[
            "osd_heartbeat_interval=1",
            "osd_heartbeat_grace=3",
            "osd_mon_report_interval=1",
            "osd_min_pg_log_entries=8",
        ],
    );
    c.add_osds(4);
    c.ok(&["osd", "pool", "create", "p", &PGS.to_string()]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(connect(&c));
    let pool = rt.block_on(r.pool("p")).unwrap();
    let n = 70;
    // Each object written three times: the PG logs (8 entries) no longer
    // reach back to the start, so new copies are backfilled.
    rt.block_on(async {
        for round in 0..3 {
            for i in 0..n {
                let mut data = content(i);
                if round < 2 {
                    data.push(round as u8);
                }
                pool.write_full(&format!("obj-{i}"), &data).await.unwrap();
            }
        }
    });
    settle(&c, &rt, &r, &pool, n, "written");

    c.ok(&["osd", "out", "0"]);
    settle(&c, &rt, &r, &pool, n, "osd.0 out");
    let moved = rt.block_on(acting_by_osd(&r));
    assert!(moved[&0].is_empty(), "osd.0 serves nothing once out");

    c.ok(&["osd", "in", "0"]);
    settle(&c, &rt, &r, &pool, n, "osd.0 in");

    c.add_osds(1);
    settle(&c, &rt, &r, &pool, n, "osd.4 added");
    assert!(
        !rt.block_on(acting_by_osd(&r))[&4].is_empty(),
        "the new OSD takes PGs"
    );

    c.ok(&["osd", "reweight", "2", "0.5"]);
    settle(&c, &rt, &r, &pool, n, "osd.2 reweighted to 0.5");
    c.ok(&["osd", "crush", "reweight", "osd.3", "0.5"]);
    settle(&c, &rt, &r, &pool, n, "osd.3 crush-reweighted");

    c.kill_osd(1);
    c.ok(&["osd", "down", "1"]);
    let refused = c.strata(&["osd", "purge", "1", "--yes-i-really-mean-it"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("still in"),
        "purging an OSD still in is refused: {err}"
    );
    c.ok(&["osd", "out", "1"]);
    settle(&c, &rt, &r, &pool, n, "osd.1 killed and out");
    let refused = c.strata(&["osd", "purge", "1"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("--yes-i-really-mean-it"),
        "purge asks for confirmation: {err}"
    );
    c.ok(&["osd", "purge", "1", "--yes-i-really-mean-it"]);
    settle(&c, &rt, &r, &pool, n, "osd.1 purged");
    let tree = c.ok(&["osd", "tree"]);
    assert!(
        !tree.contains("osd.1 "),
        "osd.1 is gone from CRUSH:\n{tree}"
    );

    stopped_stores_hold_their_acting_pgs(&mut c, &rt, r, &[0, 2, 3, 4]);
}

/// Stopped, each store lists exactly its acting PGs.
fn stopped_stores_hold_their_acting_pgs(
    c: &mut Cluster,
    rt: &tokio::runtime::Runtime,
    r: Rados,
    osds: &[u32],
) {
    let want = rt.block_on(acting_by_osd(&r));
    drop(r);
    for &osd in osds {
        c.kill_osd(osd);
        let out = Command::new(bin("strata-objectstore-tool"))
            .arg("--data-path")
            .arg(c.path().join(format!("osd{osd}")).join("store"))
            .arg("list-pgs")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let have: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(have, want[&(osd as i32)], "osd.{osd}'s PGs on disk");
    }
}

#[test]
fn pg_num_growth_splits_pgs_in_place_then_pgp_num_moves_them() {
    let mut c = Cluster::new(
        1,
        &[
            "osd_heartbeat_interval=1",
            "osd_heartbeat_grace=3",
            "osd_mon_report_interval=1",
            "osd_min_pg_log_entries=8",
        ],
    );
    c.add_osds(4);
    c.ok(&["osd", "pool", "create", "p", "8"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(connect(&c));
    let pool = rt.block_on(r.pool("p")).unwrap();
    let n = 60;
    // Every third object first gets other bytes, rewritten after the
    // split: a lost or misplaced write would read back the old ones.
    let first = |i: usize| {
        let mut data = content(i);
        if i.is_multiple_of(3) {
            data.push(9);
        }
        data
    };
    rt.block_on(async {
        for i in 0..n {
            pool.write_full(&format!("obj-{i}"), &first(i))
                .await
                .unwrap();
        }
    });
    settle_pgs(&c, &rt, &r, &pool, n, 8, "written", &first);

    // osd.3 is down while the pool grows: it splits its copies when it
    // comes back, from what it loads.
    c.kill_osd(3);
    c.ok(&["osd", "down", "3"]);
    let out = c.strata(&["osd", "pool", "set", "p", "pg_num", "32"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("pgp_num"), "{said}");
    rt.block_on(async {
        for i in (0..n).step_by(3) {
            pool.write_full(&format!("obj-{i}"), &content(i))
                .await
                .unwrap();
        }
    });
    c.start_osd(3);
    settle_pgs(&c, &rt, &r, &pool, n, 32, "split to 32 PGs", &content);
    // osd.3 split the copies it loaded (the log is how we can tell).
    let log = std::fs::read_to_string(c.path().join("osd.3.log")).unwrap();
    assert!(
        log.contains("split for 32 PGs"),
        "osd.3 splits its PGs when it comes back"
    );
    // Nothing moved: every new PG sits where its parent does.
    let by = rt.block_on(acting_by_osd(&r));
    let map = rt.block_on(r.monclient().refresh_map()).unwrap();
    let pool_id = map.pool_by_name("p").unwrap().id;
    for seed in 8..32u32 {
        let pg = cluster::PgId {
            pool: pool_id,
            seed,
        }
        .to_string();
        let parent = cluster::PgId {
            pool: pool_id,
            seed: seed % 8,
        }
        .to_string();
        for pgs in by.values() {
            assert_eq!(
                pgs.contains(&pg),
                pgs.contains(&parent),
                "{pg} with {parent}"
            );
        }
    }

    let refused = c.strata(&["osd", "pool", "set", "p", "pg_num", "16"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("decreasing pg_num"),
        "merging PGs is refused: {err}"
    );

    c.ok(&["osd", "pool", "set", "p", "pgp_num", "32"]);
    settle_pgs(&c, &rt, &r, &pool, n, 32, "pgp_num 32", &content);
    stopped_stores_hold_their_acting_pgs(&mut c, &rt, r, &[0, 1, 2, 3]);
}

/// The labelled sample `name{labels}` of a metrics text.
fn sample(text: &str, name_and_labels: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// A PG backfilling now, with its acting primary and up set.
fn backfilling(c: &Cluster) -> Option<(String, i64, Vec<i64>)> {
    let d = c.json(&["pg", "dump"])?;
    d["pg_map"]["pg_stats"].as_array()?.iter().find_map(|s| {
        let st = s["state"].as_str()?;
        st.contains("backfilling").then(|| {
            let up = s["up"].as_array().map_or(Vec::new(), |a| {
                a.iter().filter_map(|v| v.as_i64()).collect()
            });
            (
                s["pgid"].as_str().unwrap_or("").to_string(),
                s["acting_primary"].as_i64().unwrap_or(-1),
                up,
            )
        })
    })
}

/// No running OSD holds more backfill slots of either kind than allowed;
/// returns whether some PG waited for one (`backfill_wait`, or an OSD's
/// count of waits).
fn check_slots(c: &Cluster, osds: &[u32], max: u64) -> bool {
    let mut waited = false;
    for &o in osds {
        if !c.runs_osd(o) {
            continue;
        }
        let Some(m) = scrape(&c.osd_metrics_addr(o)) else {
            continue;
        };
        for kind in ["local", "remote"] {
            let key =
                format!("strata_osd_backfill_reservations{{kind=\"{kind}\",state=\"granted\"}}");
            if let Some(n) = sample(&m, &key) {
                assert!(
                    n <= max,
                    "osd.{o} holds {n} {kind} backfill slots (max {max})"
                );
            }
            // A wait too short for a PG report to show it still counts.
            let key = format!("strata_osd_backfill_reservation_waits_total{{kind=\"{kind}\"}}");
            if sample(&m, &key).is_some_and(|n| n > 0) {
                waited = true;
            }
        }
    }
    waited
        || c.json(&["pg", "dump"]).is_some_and(|d| {
            d["pg_map"]["pg_stats"].as_array().is_some_and(|a| {
                a.iter().any(|s| {
                    s["state"]
                        .as_str()
                        .is_some_and(|st| st.contains("backfill_wait"))
                })
            })
        })
}

#[test]
fn backfill_resumes_after_kill_9_of_its_target_and_its_source() {
    let mut c = Cluster::new(
        1,
        &[
            "osd_heartbeat_interval=1",
            "osd_heartbeat_grace=3",
            "osd_mon_report_interval=1",
            "osd_min_pg_log_entries=8",
            // Slow enough that the kills land halfway: about 1 MB/s of
            // backfill per OSD, a pause after each step.
            "osd_recovery_sleep=0.05",
            "osd_recovery_max_bytes_per_sec=1000000",
            "osd_max_backfills=1",
        ],
    );
    c.add_osds(4);
    c.ok(&["osd", "pool", "create", "p", &PGS.to_string()]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(connect(&c));
    let pool = rt.block_on(r.pool("p")).unwrap();
    let n = 160;
    rt.block_on(async {
        for round in 0..2 {
            for i in 0..n {
                let mut data = content(i);
                if round == 0 {
                    data.push(7);
                }
                pool.write_full(&format!("obj-{i}"), &data).await.unwrap();
            }
        }
    });
    settle(&c, &rt, &r, &pool, n, "written");

    // A new OSD: the PGs CRUSH moves to it are backfilled into it.
    c.add_osds(1);
    let all = [0u32, 1, 2, 3, 4];
    let started = std::time::Instant::now();
    let mut waited = false;
    let (pg, _, _) = wait_for(120, "a PG backfilling into osd.4", || {
        waited |= check_slots(&c, &all, 1);
        backfilling(&c).filter(|(_, _, up)| up.contains(&4))
    });
    eprintln!("PG {pg} backfilling into osd.4: killing it");
    c.kill_osd(4);
    c.start_osd(4);

    // Then the source: the primary of a PG backfilling.
    let (pg, primary, _) = wait_for(120, "a PG backfilling again", || {
        waited |= check_slots(&c, &all, 1);
        backfilling(&c).filter(|(_, p, _)| *p >= 0)
    });
    eprintln!("PG {pg} backfilling from osd.{primary}: killing it");
    c.kill_osd(primary as u32);
    c.start_osd(primary as u32);

    // Writes go on while it recovers.
    rt.block_on(async {
        for i in (0..n).step_by(7) {
            pool.write_full(&format!("obj-{i}"), &content(i))
                .await
                .unwrap();
        }
    });
    wait_for(240, "every PG active+clean", || {
        waited |= check_slots(&c, &all, 1);
        let by = c.status()?["pgmap"]["pgs_by_state"].as_array()?.clone();
        (by.len() == 1 && by[0]["state_name"] == "active+clean").then_some(())
    });
    eprintln!(
        "backfill into osd.4 done {:.1} s after it joined",
        started.elapsed().as_secs_f64()
    );
    assert!(
        waited,
        "with osd_max_backfills=1, PGs moving into one OSD wait their turn (backfill_wait)"
    );
    settle(&c, &rt, &r, &pool, n, "after the kills");
    assert!(
        !rt.block_on(acting_by_osd(&r))[&4].is_empty(),
        "the new OSD took PGs"
    );
}
