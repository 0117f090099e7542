//! The data path on a real cluster (one monitor, three OSDs, a size-3
//! pool), through the client library and `strados`: objects of many sizes
//! read back identical and sit on exactly their acting OSDs; compound ops
//! are atomic; guards, xattrs, omap and listing; concurrent clients; PG
//! statistics; one OSD down keeps I/O going, two stop it with a clear
//! error until one returns, and the one that missed writes is recovered.

mod common;

use std::process::Command;
use std::time::Duration;

use client::{ClientError, IoCtx, ObjVersion, ObjectOperation, Rados};
use cluster::msg::ErrorCode;
use common::{bin, wait_for, Cluster};

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn code(e: ClientError) -> ErrorCode {
    e.code()
}

async fn connect(c: &Cluster, timeout: Duration) -> Rados {
    let creds = auth::Credentials::load(&c.path().join("client.admin.keyring")).unwrap();
    let opts = config::load(&c.conf, "client.admin", &[]).unwrap();
    let mc = client::MonClient::from_options(&opts, &creds, None, None).unwrap();
    Rados::with_monclient(mc, timeout).await.unwrap()
}

async fn objects_and_ops(pool: &IoCtx) {
    // Sizes around block and inline edges, and several MiB.
    let sizes = [
        0usize,
        1,
        4095,
        4096,
        4097,
        16384,
        65535,
        65536,
        65537,
        3 * 1024 * 1024 + 7,
    ];
    for (i, n) in sizes.iter().enumerate() {
        let name = format!("size-{n}");
        let data = pattern(*n, i as u8);
        let v = pool.write_full(&name, &data).await.unwrap();
        assert_eq!(pool.read(&name, 0, 0).await.unwrap(), data, "{name}");
        let st = pool.stat(&name).await.unwrap();
        assert_eq!((st.size, st.version), (*n as u64, v), "{name}");
    }
    // Partial reads, writes at offsets, append, truncate, zero.
    pool.write_full("edit", b"0123456789").await.unwrap();
    assert_eq!(pool.read("edit", 2, 3).await.unwrap(), b"234");
    pool.write("edit", 8, b"abcd").await.unwrap();
    pool.append("edit", b"!").await.unwrap();
    assert_eq!(pool.read("edit", 0, 0).await.unwrap(), b"01234567abcd!");
    pool.zero("edit", 1, 2).await.unwrap();
    pool.truncate("edit", 5).await.unwrap();
    assert_eq!(pool.read("edit", 0, 0).await.unwrap(), b"0\x00\x0034");
    let v1 = pool.stat("edit").await.unwrap().version;
    let v2 = pool.append("edit", b"x").await.unwrap();
    assert!(v2 > v1, "versions grow: {v1:?} -> {v2:?}");

    // Create exclusive, remove, missing objects.
    assert_eq!(
        code(pool.create("edit", true).await.unwrap_err()),
        ErrorCode::Exists
    );
    pool.create("edit", false).await.unwrap();
    pool.create("fresh", true).await.unwrap();
    assert_eq!(pool.stat("fresh").await.unwrap().size, 0);
    pool.remove("fresh").await.unwrap();
    let e = pool.read("fresh", 0, 0).await.unwrap_err();
    assert!(e.to_string().contains("fresh"), "{e}");
    assert_eq!(code(e), ErrorCode::NotFound);
    assert_eq!(
        code(pool.remove("fresh").await.unwrap_err()),
        ErrorCode::NotFound
    );

    // Xattrs.
    pool.set_xattr("edit", "color", b"blue").await.unwrap();
    pool.set_xattr("edit", "shape", b"round").await.unwrap();
    assert_eq!(pool.get_xattr("edit", "color").await.unwrap(), b"blue");
    let names: Vec<String> = pool
        .list_xattrs("edit")
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(names, vec!["color", "shape"]);
    pool.rm_xattr("edit", "color").await.unwrap();
    assert_eq!(
        code(pool.get_xattr("edit", "color").await.unwrap_err()),
        ErrorCode::NotFound
    );

    // Omap.
    let entries: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("k{i:02}"), format!("v{i}").into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    pool.omap_set("index", &refs).await.unwrap();
    pool.omap_set("index", &[("other", b"x")]).await.unwrap();
    let got = pool
        .omap_get_keys("index", &["k03", "nope", "k29"])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![
            ("k03".to_string(), b"v3".to_vec()),
            ("k29".to_string(), b"v29".to_vec())
        ]
    );
    let (page, more) = pool.omap_get_range("index", "k05", "k", 10).await.unwrap();
    assert!(more);
    assert_eq!(page.first().unwrap().0, "k06");
    assert_eq!(page.len(), 10);
    let (page, more) = pool.omap_get_range("index", "k25", "k", 10).await.unwrap();
    assert!(!more);
    assert_eq!(
        page.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        vec!["k26", "k27", "k28", "k29"]
    );
    pool.omap_rm_keys("index", &["k00", "k01"]).await.unwrap();
    pool.omap_set_header("index", b"hdr").await.unwrap();
    assert_eq!(pool.omap_get_header("index").await.unwrap(), b"hdr");
    let (all, _) = pool.omap_get_range("index", "", "", 1000).await.unwrap();
    assert_eq!(all.len(), 29);
    pool.omap_clear("index").await.unwrap();
    assert!(pool
        .omap_get_range("index", "", "", 1000)
        .await
        .unwrap()
        .0
        .is_empty());

    // A compound op is atomic; a failing guard leaves everything as it was.
    let r = pool
        .operate(
            "atomic",
            ObjectOperation::new()
                .write_full(b"one")
                .set_xattr("a", b"1")
                .omap_set(&[("k", b"v")]),
        )
        .await
        .unwrap();
    let v = r.version;
    let bad = ObjectOperation::new()
        .assert_version(ObjVersion {
            epoch: v.epoch,
            counter: v.counter + 100,
        })
        .write_full(b"two")
        .set_xattr("a", b"2");
    assert_eq!(
        code(pool.operate("atomic", bad).await.unwrap_err()),
        ErrorCode::Mismatch
    );
    assert_eq!(pool.read("atomic", 0, 0).await.unwrap(), b"one");
    assert_eq!(pool.get_xattr("atomic", "a").await.unwrap(), b"1");
    let e = pool
        .operate(
            "atomic",
            ObjectOperation::new().cmpext(0, b"onX").write_full(b"two"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), ErrorCode::Mismatch);
    pool.operate(
        "atomic",
        ObjectOperation::new()
            .cmpext(0, b"one")
            .assert_version(v)
            .write_full(b"two"),
    )
    .await
    .unwrap();
    assert_eq!(pool.read("atomic", 0, 0).await.unwrap(), b"two");
    let e = pool
        .operate(
            "ghost",
            ObjectOperation::new().assert_exists().write_full(b"x"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), ErrorCode::NotFound);
    assert_eq!(
        code(pool.stat("ghost").await.unwrap_err()),
        ErrorCode::NotFound
    );
    // Reads and writes do not mix in one op.
    let e = pool
        .operate("atomic", ObjectOperation::new().write_full(b"x").read(0, 0))
        .await
        .unwrap_err();
    assert_eq!(code(e), ErrorCode::Invalid);
}

#[test]
fn replicated_pool_end_to_end() {
    let mut c = Cluster::new(
        1,
        &[
            "osd_heartbeat_interval=1",
            "osd_heartbeat_grace=3",
            "osd_max_object_size=4194304",
        ],
    );
    c.add_osds(3);
    c.ok(&["osd", "pool", "create", "data", "16"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rados = rt.block_on(connect(&c, Duration::from_secs(60)));
    let pool = rt.block_on(rados.pool("data")).unwrap();
    rt.block_on(objects_and_ops(&pool));

    // Beyond the maximum object size.
    let e = rt
        .block_on(pool.write_full("huge", &vec![1u8; 4 * 1024 * 1024 + 1]))
        .unwrap_err();
    assert_eq!(code(e), ErrorCode::TooBig);

    // Namespaces and listing.
    let mut other = pool.clone();
    other.set_namespace("tenant");
    rt.block_on(other.write_full("edit", b"same name, other namespace"))
        .unwrap();
    assert_eq!(rt.block_on(pool.read("edit", 0, 1)).unwrap(), b"0");
    let in_default = rt.block_on(pool.list_objects(false)).unwrap();
    assert!(in_default.iter().all(|(ns, _)| ns.is_empty()));
    assert!(in_default.iter().any(|(_, n)| n == "size-65536"));
    let in_tenant = rt.block_on(other.list_objects(false)).unwrap();
    assert_eq!(in_tenant, vec![("tenant".to_string(), "edit".to_string())]);
    assert_eq!(
        rt.block_on(pool.list_objects(true)).unwrap().len(),
        in_default.len() + 1
    );

    // Concurrent clients.
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..4u8 {
            let r = connect(&c, Duration::from_secs(60)).await;
            tasks.push(tokio::spawn(async move {
                let p = r.pool("data").await.unwrap();
                for i in 0..15 {
                    let name = format!("c{t}-{i}");
                    p.write_full(&name, &pattern(1000 + i, t)).await.unwrap();
                    p.append(&name, b"+").await.unwrap();
                }
                p
            }));
        }
        for (t, task) in tasks.into_iter().enumerate() {
            let p = task.await.unwrap();
            for i in 0..15 {
                let mut want = pattern(1000 + i, t as u8);
                want.push(b'+');
                assert_eq!(p.read(&format!("c{t}-{i}"), 0, 0).await.unwrap(), want);
            }
        }
    });

    // strados: put/get round trip, errors name the object and the pool.
    let file = c.path().join("in.bin");
    std::fs::write(&file, pattern(200_000, 9)).unwrap();
    let strados = |args: &[&str]| {
        Command::new(bin("strados"))
            .arg("--conf")
            .arg(&c.conf)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(
        strados(&["-p", "data", "put", "cli", file.to_str().unwrap()])
            .status
            .success()
    );
    let out = strados(&["-p", "data", "get", "cli", "-"]);
    assert_eq!(out.stdout, pattern(200_000, 9));
    let out = strados(&["-p", "data", "get", "missing", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    let out = strados(&["-p", "nosuch", "ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pool 'nosuch' does not exist"));
    assert!(
        String::from_utf8_lossy(&strados(&["-p", "data", "stat", "cli"]).stdout)
            .contains("size 200000")
    );

    // Erasure-coded pools exist in the map but their data path does not yet:
    // a clear refusal.
    c.ok(&[
        "osd",
        "erasure-code-profile",
        "set",
        "k2m1",
        "k=2",
        "m=1",
        "crush-failure-domain=osd",
    ]);
    c.ok(&["osd", "pool", "create", "ecpool", "4", "erasure", "k2m1"]);
    let out = strados(&["-p", "ecpool", "put", "x", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(22), "EINVAL");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("erasure-coded data path is not built yet")
    );

    // Caps are enforced by the OSDs: read-only on this pool, or rights on
    // another pool only.
    let ro = c.path().join("ro.keyring");
    let other_kr = c.path().join("other.keyring");
    c.ok(&[
        "auth",
        "get-or-create",
        "client.ro",
        "mon",
        "allow r",
        "osd",
        "allow r pool=data",
        "-o",
        ro.to_str().unwrap(),
    ]);
    c.ok(&[
        "auth",
        "get-or-create",
        "client.other",
        "mon",
        "allow r",
        "osd",
        "allow rw pool=elsewhere",
        "-o",
        other_kr.to_str().unwrap(),
    ]);
    let as_ro = |args: &[&str]| strados(&[&["--keyring", ro.to_str().unwrap()], args].concat());
    let as_other =
        |args: &[&str]| strados(&[&["--keyring", other_kr.to_str().unwrap()], args].concat());
    let out = as_ro(&["-p", "data", "get", "cli", "-"]);
    assert_eq!(
        out.stdout,
        pattern(200_000, 9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_ro(&["-p", "data", "put", "ro-write", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "EPERM");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("client.ro may not write to pool 'data'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_other(&["-p", "data", "get", "cli", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not read pool 'data'"));
    assert_eq!(as_other(&["-p", "data", "ls"]).status.code(), Some(1));

    // PG statistics: every PG active+clean, the objects and bytes counted.
    let listed = rt.block_on(pool.list_objects(true)).unwrap();
    let total_bytes: u64 = listed
        .iter()
        .map(|(ns, n)| {
            let mut p = pool.clone();
            p.set_namespace(ns);
            rt.block_on(p.stat(n)).unwrap().size
        })
        .sum();
    wait_for(30, "PG stats of every object", || {
        let s = c.json(&["pg", "stat"])?;
        (s["num_objects"] == listed.len() as u64 && s["num_bytes"] == total_bytes).then_some(())
    });
    let st = c.status().unwrap();
    assert_eq!(
        st["pgmap"]["pgs_by_state"],
        serde_json::json!([{"state_name": "active+clean", "count": 16}, {"state_name": "unknown", "count": 4}]),
        "{st}"
    );
    let dump = c.json(&["pg", "dump"]).unwrap();
    assert_eq!(dump["pg_map"]["pg_stats"].as_array().unwrap().len(), 16);
    let df = c.json(&["df"]).unwrap();
    assert_eq!(df["pools"][0]["stats"]["objects"], listed.len() as u64);
    assert_eq!(df["pools"][0]["stats"]["bytes_used"], total_bytes * 3);
    let usage = rt.block_on(rados.df()).unwrap();
    assert_eq!(
        (usage[0].objects, usage[0].stored),
        (listed.len() as u64, total_bytes)
    );

    // One OSD down: I/O continues (size 3, min_size 2).
    let down1 = 2;
    c.kill_osd(down1);
    wait_for(60, "osd.2 down", || (!c.osd_up(down1)?).then_some(()));
    let degraded = rt.block_on(connect(&c, Duration::from_secs(60)));
    let dp = rt.block_on(degraded.pool("data")).unwrap();
    for i in 0..10 {
        let name = format!("degraded-{i}");
        rt.block_on(dp.write_full(&name, &pattern(5000, i)))
            .unwrap();
        assert_eq!(rt.block_on(dp.read(&name, 0, 0)).unwrap(), pattern(5000, i));
    }
    assert_eq!(
        rt.block_on(dp.read("size-65537", 0, 0)).unwrap(),
        pattern(65537, 8)
    );

    // Two down: below min_size, I/O is refused with a clear error.
    let down2 = 1;
    c.kill_osd(down2);
    wait_for(60, "osd.1 down", || (!c.osd_up(down2)?).then_some(()));
    let short = rt.block_on(connect(&c, Duration::from_secs(4)));
    let sp = rt.block_on(short.pool("data")).unwrap();
    let e = rt.block_on(sp.write_full("refused", b"x")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("below min_size 2"), "{msg}");
    // The OSD that went down last has every acknowledged write: bring it
    // back and I/O resumes.
    c.start_osd(down2);
    wait_for(60, "osd.1 up", || c.osd_up(down2)?.then_some(()));
    rt.block_on(dp.write_full("resumed", b"back")).unwrap();
    assert_eq!(
        rt.block_on(dp.read("degraded-3", 0, 0)).unwrap(),
        pattern(5000, 3)
    );

    // The OSD that went down first missed writes: back, it is recovered
    // from the others (log-based recovery while its PGs peer).
    c.start_osd(down1);
    wait_for(60, "osd.2 up", || c.osd_up(down1)?.then_some(()));
    rt.block_on(dp.write_full("after-recovery", b"all three"))
        .unwrap();
    for i in 0..10 {
        assert_eq!(
            rt.block_on(dp.read(&format!("degraded-{i}"), 0, 0))
                .unwrap(),
            pattern(5000, i)
        );
    }
    wait_for(60, "every PG active+clean", || {
        let s = c.status()?;
        (s["pgmap"]["pgs_by_state"][0]
            == serde_json::json!({"state_name": "active+clean", "count": 16}))
        .then_some(())
    });

    // Each object's copies are on exactly its acting OSDs.
    let map = rt.block_on(rados.monclient().refresh_map()).unwrap();
    let crush = map.crush().unwrap();
    let pool_def = map.pool_by_name("data").unwrap().clone();
    let mut expected: Vec<(u32, String)> = Vec::new();
    for (ns, name) in rt.block_on(pool.list_objects(true)).unwrap() {
        let pg = cluster::object_pg(&pool_def, cluster::object_hash(&ns, &name));
        let acting = map
            .place_pg(&crush, &pool_def, pg, &map.osd_states())
            .acting;
        assert_eq!(acting.len(), 3);
        for osd in acting {
            expected.push((osd as u32, format!("{ns}/{name}")));
        }
    }
    drop(rados);
    for i in 0..3 {
        c.kill_osd(i);
    }
    for osd in [0u32, 1, 2] {
        let out = Command::new(bin("strata-objectstore-tool"))
            .arg("--data-path")
            .arg(c.path().join(format!("osd{osd}")).join("store"))
            .arg("list")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let have: std::collections::BTreeSet<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!(
                    "{}/{}",
                    v["namespace"].as_str().unwrap(),
                    v["oid"].as_str().unwrap()
                )
            })
            .collect();
        let want: std::collections::BTreeSet<String> = expected
            .iter()
            .filter(|(o, _)| *o == osd)
            .map(|(_, n)| n.clone())
            .collect();
        assert_eq!(
            have, want,
            "osd.{osd} holds exactly the copies CRUSH gives it"
        );
    }
}
