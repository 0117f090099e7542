//! The state machine's commands, applied directly.

mod epochs;
mod pools;

use super::*;
use cluster::msg::ErrorCode;
use cluster::{MonInfo, PgId};

fn seed(chooseleaf: u32) -> Seed {
    Seed {
        fsid: "fsid-1".into(),
        monmap: MonMap::new(
            "fsid-1",
            vec![MonInfo {
                name: "a".into(),
                addr: "127.0.0.1:3300".into(),
            }],
        ),
        admin_entity: "client.admin".into(),
        admin: AuthRecord {
            caps: auth::Caps::admin().to_string(),
            cert_pem: "c".into(),
            key_pem: "k".into(),
        },
        chooseleaf_type: chooseleaf,
        max_incrementals: 3,
    }
}

const D: PoolDefaults = PoolDefaults {
    size: 3,
    min_size: 2,
};

fn cmd(s: &mut ClusterState, c: MonCommand) -> Result<Done, RemoteError> {
    let op = ClusterOp {
        now_ms: 1000,
        kind: OpKind::Command {
            cmd: c,
            issued: Some(("cert".into(), "key".into())),
            pool_defaults: D,
        },
    };
    match s.apply(&op) {
        OpOutcome::Ok(d) => Ok(d),
        OpOutcome::Err(e) => Err(e),
    }
}

/// Creates a replicated pool with the default rule.
fn create_pool(s: &mut ClusterState, name: &str, pg_num: u32) {
    cmd(
        s,
        MonCommand::PoolCreate {
            name: name.into(),
            pg_num,
            erasure_profile: None,
            crush_rule: None,
        },
    )
    .unwrap();
}

fn booted(osds: u32) -> ClusterState {
    let mut s = ClusterState::default();
    s.apply(&ClusterOp {
        now_ms: 1,
        kind: OpKind::Bootstrap(seed(0)),
    });
    for i in 0..osds {
        let d = cmd(
            &mut s,
            MonCommand::OsdNew {
                uuid: format!("aa{i}"),
            },
        )
        .unwrap();
        assert_eq!(d.osd_id, Some(i));
        cmd(
            &mut s,
            MonCommand::OsdBoot {
                id: i,
                uuid: format!("aa{i}"),
                addr: format!("127.0.0.1:{}", 6800 + i),
                host: format!("h{i}"),
                weight: 0x10000,
            },
        )
        .unwrap();
    }
    s
}

#[test]
fn bootstrap_makes_epoch_one_once() {
    let mut s = ClusterState::default();
    assert_eq!(
        cmd(&mut s, MonCommand::OsdNew { uuid: "ab".into() })
            .unwrap_err()
            .code,
        ErrorCode::Again
    );
    s.apply(&ClusterOp {
        now_ms: 5,
        kind: OpKind::Bootstrap(seed(1)),
    });
    assert_eq!(s.osdmap.epoch, 1);
    assert!(s
        .osdmap
        .crush_text
        .contains("step chooseleaf firstn 0 type host"));
    let one_host = crush::text::parse(&initial_crush_text(0)).unwrap();
    let rule = one_host.rule(0).unwrap();
    assert_eq!(rule.name, "replicated_rule");
    assert_eq!(one_host.item_name(-1), Some("default"));
    assert_eq!(one_host.tunables.choose_total_tries, 50);
    assert!(initial_crush_text(0).contains("firstn 0 type osd"));
    assert!(
        initial_crush_text(11).contains("type host"),
        "root is no failure domain"
    );
    assert!(s.auth.contains_key("client.admin"));
    let before = s.clone();
    s.apply(&ClusterOp {
        now_ms: 6,
        kind: OpKind::Bootstrap(seed(0)),
    });
    assert_eq!(s, before);
}

#[test]
fn osds_join_and_are_placed_in_crush() {
    let s = booted(3);
    assert_eq!(s.osdmap.num_up(), 3);
    let crush = s.osdmap.crush().unwrap();
    for i in 0..3 {
        let id = crush.item_id(&format!("osd.{i}")).unwrap();
        assert_eq!(
            crush.item_name(crush.parent_of(id).unwrap().id),
            Some(format!("h{i}").as_str())
        );
    }
    // The same uuid gets the same id; placement works on the map.
    let mut s = s;
    assert_eq!(
        cmd(&mut s, MonCommand::OsdNew { uuid: "aa1".into() })
            .unwrap()
            .osd_id,
        Some(1)
    );
    create_pool(&mut s, "rbd", 8);
    let pool = s.osdmap.pool_by_name("rbd").unwrap().clone();
    assert_eq!((pool.size, pool.min_size, pool.id), (3, 2, 1));
    let p = cluster::place_pg(
        &crush,
        &pool,
        cluster::PgId { pool: 1, seed: 0 },
        &s.osdmap.osd_states(),
    );
    assert_eq!(p.acting.len(), 3);
}

#[test]
fn refused_commands_change_nothing() {
    let mut s = booted(2);
    let before = s.clone();
    let cases: Vec<(MonCommand, ErrorCode, &str)> = vec![
        (
            MonCommand::OsdOut { ids: vec![7] },
            ErrorCode::NotFound,
            "osd.7 does not exist",
        ),
        (
            MonCommand::OsdRm { ids: vec![0] },
            ErrorCode::Busy,
            "osd.0 is still up",
        ),
        (
            MonCommand::SetFlag {
                flag: "nofun".into(),
                on: true,
            },
            ErrorCode::Invalid,
            "unknown flag 'nofun'",
        ),
        (
            MonCommand::PoolCreate {
                name: "x".into(),
                pg_num: 0,
                erasure_profile: None,
                crush_rule: None,
            },
            ErrorCode::Invalid,
            "pg_num 0",
        ),
        (
            MonCommand::PoolCreate {
                name: "x".into(),
                pg_num: 8,
                erasure_profile: None,
                crush_rule: Some("nope".into()),
            },
            ErrorCode::NotFound,
            "crush rule nope",
        ),
        (
            MonCommand::PoolSet {
                name: "none".into(),
                key: "size".into(),
                value: "2".into(),
            },
            ErrorCode::NotFound,
            "pool 'none'",
        ),
        (
            MonCommand::PoolRm {
                name: "none".into(),
                confirm: "none".into(),
                really: false,
            },
            ErrorCode::PermissionDenied,
            "yes-i-really",
        ),
        (
            MonCommand::CrushRm {
                name: "default".into(),
            },
            ErrorCode::Invalid,
            "not empty",
        ),
        (
            MonCommand::CrushAddBucket {
                name: "h0".into(),
                bucket_type: "host".into(),
            },
            ErrorCode::Exists,
            "h0",
        ),
        (
            MonCommand::SetCrushMap {
                text: "garbage {".into(),
            },
            ErrorCode::Invalid,
            "does not parse",
        ),
        (
            MonCommand::EcProfileSet {
                name: "p".into(),
                params: vec![("k".into(), "x".into())],
                force: false,
            },
            ErrorCode::Invalid,
            "k=x: must be a whole number",
        ),
        (
            MonCommand::AuthGetOrCreate {
                entity: "osd.1".into(),
                caps: "mon 'allow r'".into(),
            },
            ErrorCode::Invalid,
            "only client",
        ),
        (
            MonCommand::AuthGetOrCreate {
                entity: "client.x".into(),
                caps: "mon 'allow q'".into(),
            },
            ErrorCode::Invalid,
            "client.x",
        ),
        (
            MonCommand::AuthRm {
                entity: "client.admin".into(),
            },
            ErrorCode::Busy,
            "last entity",
        ),
        (
            MonCommand::OsdBoot {
                id: 1,
                uuid: "bb".into(),
                addr: "127.0.0.1:1".into(),
                host: "h".into(),
                weight: 1,
            },
            ErrorCode::Invalid,
            "wrong data directory",
        ),
    ];
    for (c, code, text) in cases {
        let e = cmd(&mut s, c.clone()).unwrap_err();
        assert_eq!(e.code, code, "{c:?}: {e}");
        assert!(e.message.contains(text), "{c:?}: {e}");
        assert_eq!(s, before, "{c:?} changed the state");
    }
}

#[test]
fn down_out_in_and_flags() {
    let mut s = booted(2);
    let e0 = s.osdmap.epoch;
    s.apply(&ClusterOp {
        now_ms: 2000,
        kind: OpKind::MarkDown { ids: vec![1] },
    });
    assert!(!s.osdmap.osds[&1].up);
    assert_eq!(s.osdmap.osds[&1].down_since_ms, 2000);
    assert_eq!(s.osdmap.epoch, e0 + 1);
    cmd(
        &mut s,
        MonCommand::SetFlag {
            flag: "noout".into(),
            on: true,
        },
    )
    .unwrap();
    s.apply(&ClusterOp {
        now_ms: 3000,
        kind: OpKind::MarkOut { ids: vec![1] },
    });
    assert!(s.osdmap.osds[&1].is_in(), "noout keeps it in");
    cmd(
        &mut s,
        MonCommand::SetFlag {
            flag: "noout".into(),
            on: false,
        },
    )
    .unwrap();
    s.apply(&ClusterOp {
        now_ms: 3000,
        kind: OpKind::MarkOut { ids: vec![1] },
    });
    assert!(!s.osdmap.osds[&1].is_in());
    // Booting again brings an automatically-out OSD back up and in.
    cmd(
        &mut s,
        MonCommand::OsdBoot {
            id: 1,
            uuid: "aa1".into(),
            addr: "127.0.0.1:7001".into(),
            host: "h1".into(),
            weight: 0x10000,
        },
    )
    .unwrap();
    assert!(s.osdmap.osds[&1].up && s.osdmap.osds[&1].is_in());
    // An operator's out sticks across a boot.
    cmd(&mut s, MonCommand::OsdOut { ids: vec![0] }).unwrap();
    cmd(
        &mut s,
        MonCommand::OsdBoot {
            id: 0,
            uuid: "aa0".into(),
            addr: "127.0.0.1:7000".into(),
            host: "h0".into(),
            weight: 0x10000,
        },
    )
    .unwrap();
    assert!(!s.osdmap.osds[&0].is_in());
    // A no-op makes no epoch.
    let e = s.osdmap.epoch;
    cmd(&mut s, MonCommand::OsdOut { ids: vec![0] }).unwrap();
    assert_eq!(s.osdmap.epoch, e);
}

#[test]
fn up_thru_is_raised_only_for_an_up_osd_and_never_lowered() {
    let mut s = booted(2);
    let e = s.osdmap.epoch;
    cmd(&mut s, MonCommand::OsdAlive { id: 1, epoch: e }).unwrap();
    assert_eq!(s.osdmap.osds[&1].up_thru, e);
    assert_eq!(s.osdmap.epoch, e + 1, "a new epoch records it");
    // Asking again, or for less, changes nothing.
    cmd(
        &mut s,
        MonCommand::OsdAlive {
            id: 1,
            epoch: e - 1,
        },
    )
    .unwrap();
    assert_eq!(s.osdmap.osds[&1].up_thru, e);
    // Not beyond the current epoch, not for an OSD that is down or absent.
    let err = cmd(
        &mut s,
        MonCommand::OsdAlive {
            id: 1,
            epoch: e + 50,
        },
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    cmd(&mut s, MonCommand::OsdDown { ids: vec![0] }).unwrap();
    let err = cmd(&mut s, MonCommand::OsdAlive { id: 0, epoch: 1 }).unwrap_err();
    assert_eq!(err.code, ErrorCode::Again);
    assert!(err.message.contains("osd.0 is down"), "{}", err.message);
    let err = cmd(&mut s, MonCommand::OsdAlive { id: 9, epoch: 1 }).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn a_boot_is_a_new_incarnation_even_if_the_map_shows_it_up() {
    let mut s = booted(1);
    let before = s.osdmap.osds[&0].up_from;
    cmd(
        &mut s,
        MonCommand::OsdBoot {
            id: 0,
            uuid: "aa0".into(),
            addr: "127.0.0.1:6800".into(),
            host: "h0".into(),
            weight: 0x10000,
        },
    )
    .unwrap();
    let o = &s.osdmap.osds[&0];
    assert!(
        o.up && o.up_from > before,
        "up_from {} -> {}",
        before,
        o.up_from
    );
}
