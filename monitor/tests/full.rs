//! A cluster filling up, on real processes: three OSDs with a small
//! capacity and the full ratio just above what they use. Writes go on
//! until the OSDs are past it; then writes fail with ENOSPC ("cluster
//! full") while reads and removes work, health says OSD_FULL and
//! POOL_FULL, `osd df` shows the state, and raising the ratio lets writes
//! through again.

mod common;

use std::time::Duration;

use client::{ClientError, Rados};
use cluster::msg::ErrorCode;
use common::{wait_for, Cluster};

async fn connect(c: &Cluster) -> Rados {
    let creds = auth::Credentials::load(&c.path().join("client.admin.keyring")).unwrap();
    let opts = config::load(&c.conf, "client.admin", &[]).unwrap();
    let mc = client::MonClient::from_options(&opts, &creds, None, None).unwrap();
    Rados::with_monclient(mc, Duration::from_secs(30))
        .await
        .unwrap()
}

fn health_codes(c: &Cluster) -> Vec<String> {
    c.json(&["health", "--format", "json"])
        .and_then(|h| h["checks"].as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default()
}

#[test]
fn a_full_cluster_refuses_writes_and_serves_reads_and_removes() {
    let mut c = Cluster::new(1, &["osd_mon_report_interval=1"]);
    c.osd_opts
        .push(format!("osd_capacity_bytes={}", 400u64 << 20));
    c.add_osds(3);
    c.ok(&["osd", "pool", "create", "p", "8"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(connect(&c));
    let pool = rt.block_on(r.pool("p")).unwrap();
    rt.block_on(pool.write_full("first", b"first")).unwrap();
    // What the OSDs use now, as they report it.
    let used = wait_for(30, "every OSD's space reported", || {
        let df = c.json(&["osd", "df", "--format", "json"])?;
        let u: Vec<f64> = df["nodes"]
            .as_array()?
            .iter()
            .filter_map(|n| (n["kb"].as_u64()? > 0).then(|| n["utilization"].as_f64())?)
            .collect();
        (u.len() == 3).then(|| u.into_iter().fold(0.0, f64::max))
    });
    let full = (used + 5.0) / 100.0;
    assert!(full < 0.85, "the OSDs already use {used}% of 400 MiB");
    c.ok(&["osd", "set-nearfull-ratio", &format!("{}", full - 0.02)]);
    c.ok(&["osd", "set-backfillfull-ratio", &format!("{}", full - 0.01)]);
    c.ok(&["osd", "set-full-ratio", &format!("{full}")]);
    let bad = c.strata(&["osd", "set-nearfull-ratio", "0.99"]);
    assert!(!bad.status.success(), "out of order ratios are refused");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must be ordered"));

    // Fill: 1 MiB objects until the cluster says it is full.
    let data = vec![0x5au8; 1 << 20];
    let mut written = Vec::new();
    let err = rt.block_on(async {
        for i in 0..200 {
            let name = format!("fill-{i}");
            match pool.write_full(&name, &data).await {
                Ok(_) => written.push(name),
                Err(e) => return Some(e),
            }
        }
        None
    });
    let err = err.expect("writes stop once the OSDs are full");
    match &err {
        ClientError::Remote(e) => {
            assert_eq!(e.code, ErrorCode::Full, "{e}");
            assert!(e.message.contains("cluster full"), "{e}");
        }
        other => panic!("expected ENOSPC, got {other}"),
    }
    assert!(!written.is_empty(), "some writes went in before it filled");
    eprintln!(
        "{} MiB written before the cluster was full (the OSDs used {used:.1}%, full at {:.1}%)",
        written.len(),
        full * 100.0
    );
    let codes = wait_for(30, "OSD_FULL and POOL_FULL", || {
        let h = health_codes(&c);
        (h.contains(&"OSD_FULL".to_string()) && h.contains(&"POOL_FULL".to_string())).then_some(h)
    });
    assert!(codes.contains(&"OSD_FULL".to_string()));
    let df = c.json(&["osd", "df", "--format", "json"]).unwrap();
    assert!(
        df["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["space"] == "full"),
        "{df}"
    );
    // Reads and removes still work; writes do not.
    rt.block_on(async {
        assert_eq!(pool.read("first", 0, 0).await.unwrap(), b"first");
        for n in &written {
            assert_eq!(pool.read(n, 0, 0).await.unwrap().len(), 1 << 20, "{n}");
        }
        pool.remove(&written[0]).await.unwrap();
        let e = pool.write_full("after", b"x").await.unwrap_err();
        assert!(
            matches!(&e, ClientError::Remote(r) if r.code == ErrorCode::Full),
            "{e}"
        );
    });
    // More room (a higher ratio): writes go through again.
    c.ok(&["osd", "set-full-ratio", "0.97"]);
    wait_for(30, "OSD_FULL cleared", || {
        (!health_codes(&c).contains(&"OSD_FULL".to_string())).then_some(())
    });
    wait_for(30, "writes accepted again", || {
        rt.block_on(pool.write_full("after", b"x")).ok()
    });
}
