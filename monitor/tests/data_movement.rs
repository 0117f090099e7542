//! Data movement on real processes: four OSDs holding objects of mixed
//! sizes; one is marked out, then in, a fifth joins, then one is killed
//! and marked out. After each step every PG is active+clean, every object
//! reads back identical through the client, and every OSD holds exactly
//! the PGs it is in the acting set of (copies left behind are removed);
//! at the end each stopped OSD's store lists exactly its acting PGs.

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
    wait_for(240, &format!("{step}: {PGS} PGs active+clean"), || {
        let s = c.status()?;
        let by = s["pgmap"]["pgs_by_state"].as_array()?.clone();
        let ok = by.len() == 1 && by[0]["state_name"] == "active+clean" && by[0]["count"] == PGS;
        if !ok {
            eprintln!("{step}: {}", serde_json::Value::Array(by));
        }
        ok.then_some(())
    });
    for i in 0..n {
        let got = rt.block_on(pool.read(&format!("obj-{i}"), 0, 0)).unwrap();
        assert!(got == content(i), "{step}: obj-{i} reads back identical");
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

    c.kill_osd(1);
    c.ok(&["osd", "down", "1"]);
    c.ok(&["osd", "out", "1"]);
    settle(&c, &rt, &r, &pool, n, "osd.1 killed and out");

    // Stopped, each store lists exactly its acting PGs.
    let want = rt.block_on(acting_by_osd(&r));
    drop(r);
    for osd in [0u32, 2, 3, 4] {
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
