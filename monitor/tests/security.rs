//! Who may talk to the cluster: no keyring, a certificate from another
//! cluster's CA, a removed client and a client without the caps are all
//! refused; and junk sent to a daemon's port does not bring it down.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::{bin, Cluster};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn strangers_and_removed_clients_are_refused() {
    let c = Cluster::new(1, &[]);
    // No keyring at all.
    let o = c.strata(&["--keyring", "/nonexistent/keyring", "status"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/keyring"),
        "{}",
        stderr(&o)
    );

    // An admin keyring of another cluster (another CA).
    let other = tempfile::tempdir().unwrap();
    let conf2 = other.path().join("strata.yaml");
    let out = Command::new(bin("strata-mon"))
        .args(["bootstrap", "--conf"])
        .arg(&conf2)
        .args(["--mon", "a=127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let o = c.strata(&[
        "--keyring",
        other.path().join("client.admin.keyring").to_str().unwrap(),
        "status",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a foreign certificate must be refused (EPERM)"
    );
    assert!(
        stderr(&o).contains("refused the handshake"),
        "{}",
        stderr(&o)
    );

    // A client with read-only caps reads but cannot change anything.
    let kr = c.path().join("ro.keyring");
    c.ok(&[
        "auth",
        "get-or-create",
        "client.ro",
        "mon",
        "allow r",
        "-o",
        kr.to_str().unwrap(),
    ]);
    let ro = |args: &[&str]| {
        let mut a = vec!["--keyring", kr.to_str().unwrap()];
        a.extend(args);
        c.strata(&a)
    };
    assert!(ro(&["status"]).status.success());
    let o = ro(&["osd", "pool", "create", "x", "8"]);
    assert_eq!(o.status.code(), Some(1), "EPERM");
    assert!(
        stderr(&o).contains("client.ro is not allowed"),
        "{}",
        stderr(&o)
    );
    let o = ro(&["auth", "ls"]);
    assert_eq!(o.status.code(), Some(1));
    // The same caps again is fine; different caps are refused.
    c.ok(&["auth", "get-or-create", "client.ro", "mon", "allow r"]);
    assert!(!c
        .strata(&["auth", "get-or-create", "client.ro", "mon", "allow rw"])
        .status
        .success());
    assert!(c.ok(&["auth", "ls"]).contains("client.ro"));

    // Removed: refused, although its certificate still verifies.
    c.ok(&["auth", "rm", "client.ro"]);
    let o = ro(&["status"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a known entity"), "{}", stderr(&o));
    // The last administrator cannot be removed.
    let o = c.strata(&["auth", "rm", "client.admin"]);
    assert_eq!(o.status.code(), Some(16));
}

#[test]
fn junk_on_the_wire_does_not_crash_daemons() {
    let mut c = Cluster::new(1, &[]);
    c.add_osds(1);
    let mon: SocketAddr = c.mon_addr("a").parse().unwrap();
    let osd_addr: SocketAddr = {
        let d = c.json(&["osd", "dump"]).unwrap();
        d["osds"][0]["public_addr"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    // Random and truncated datagrams at the QUIC ports.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..400usize {
        let len = 1 + (i * 37) % 1400;
        let junk: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
        let _ = s.send_to(&junk, mon);
        let _ = s.send_to(&junk[..len / 2 + 1], osd_addr);
    }
    // Authenticated but malformed frames: truncated, bad magic, garbage
    // bodies, unknown types, Raft RPCs from a client.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let creds = auth::Credentials::load(&c.path().join("client.admin.keyring")).unwrap();
        let h: std::sync::Arc<dyn messenger::Handler> =
            std::sync::Arc::new(client::PushHandler::default());
        let m = messenger::Messenger::bind(
            "127.0.0.1:0".parse().unwrap(),
            &creds,
            h,
            messenger::Limits::default(),
        )
        .unwrap();
        let to_mon = auth::EntityName::mon("a");
        let to_osd = auth::EntityName::osd(0);
        let garbage: Vec<u8> = (0..300).map(|_| rand::random::<u8>()).collect();
        let good = messenger::encode_frame(
            cluster::msg::msg_type::MON_REQUEST,
            &cluster::codec::encode(&cluster::msg::mon::MonRequest::Status),
            &[],
        );
        let cases: Vec<Vec<u8>> = vec![
            good[..10].to_vec(),
            good[..good.len() - 3].to_vec(),
            garbage.clone(),
            messenger::encode_frame(cluster::msg::msg_type::MON_REQUEST, &garbage, &[]),
            messenger::encode_frame(cluster::msg::msg_type::RAFT_APPEND, b"{not json", &[]),
            messenger::encode_frame(cluster::msg::msg_type::RAFT_VOTE, b"{}", &[]),
            messenger::encode_frame(999, b"", &[]),
            messenger::encode_frame(cluster::msg::msg_type::OSD_PING, &garbage, &[]),
        ];
        for bytes in &cases {
            let _ = m
                .send_raw(mon, &to_mon, bytes, Duration::from_secs(2))
                .await;
            let _ = m
                .send_raw(osd_addr, &to_osd, bytes, Duration::from_secs(2))
                .await;
        }
        // A garbage body gets a clear error back, not silence.
        let r = m
            .request(
                mon,
                &to_mon,
                &messenger::Message {
                    msg_type: cluster::msg::msg_type::MON_REQUEST,
                    body: garbage.clone(),
                    data: vec![],
                },
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        let reply: cluster::msg::mon::MonReply = cluster::codec::decode("reply", &r.body).unwrap();
        match reply {
            cluster::msg::mon::MonReply::Error(e) => {
                assert!(e.message.contains("cannot decode monitor request"), "{e}")
            }
            other => panic!("expected an error, got {other:?}"),
        }
        // A client forging a map push (a map without the OSD, which would
        // make it stop itself), and speaking for a PG: both ignored.
        let forged = cluster::msg::mon::MapUpdate {
            monmap: Default::default(),
            full: Some(cluster::OsdMap {
                epoch: 9999,
                ..Default::default()
            }),
            incrementals: Vec::new(),
        };
        m.send(
            osd_addr,
            &to_osd,
            &messenger::Message {
                msg_type: cluster::msg::msg_type::MAP_PUSH,
                body: cluster::codec::encode(&forged),
                data: vec![],
            },
        )
        .await
        .unwrap();
        let query = osd::pg::messages::PeerEnvelope {
            pool: 77,
            seed: 3,
            epoch: 1,
            interval: 1,
            msg: osd::pg::messages::PeerMsg::Query,
        };
        m.send(
            osd_addr,
            &to_osd,
            &messenger::Message {
                msg_type: cluster::msg::msg_type::PG_PEER,
                body: vec![],
                data: cluster::codec::encode(&query),
            },
        )
        .await
        .unwrap();
    });
    let log = common::wait_for(20, "the OSD refusing the forged map push", || {
        let log = std::fs::read_to_string(c.path().join("osd.0.log")).ok()?;
        log.contains("ignoring a map pushed by a non-monitor")
            .then_some(log)
    });
    assert!(!log.contains("was removed from the cluster"), "{log}");
    // Both daemons still serve.
    let s = c.status().expect("the monitor still answers");
    assert_eq!(s["osdmap"]["num_up_osds"], 1, "the OSD is still up");
    c.ok(&["osd", "pool", "create", "still-works", "8"]);
}
