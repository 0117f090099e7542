//! The state machine's commands, applied directly.

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
    cmd(
        &mut s,
        MonCommand::PoolCreate {
            name: "rbd".into(),
            pg_num: 8,
            erasure_profile: None,
            crush_rule: None,
        },
    )
    .unwrap();
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
            "k and m",
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
fn subscribers_get_incrementals_or_a_full_map() {
    let mut s = booted(2);
    let e = s.osdmap.epoch;
    // max_incrementals is 3 in the seed.
    assert_eq!(s.incrementals.len(), 3);
    let u = s.update_since(e - 1);
    assert!(u.full.is_none());
    assert_eq!(u.incrementals.len(), 1);
    let u = s.update_since(1);
    assert!(u.full.is_some(), "too far behind: a full map");
    let u = s.update_since(0);
    assert_eq!(u.full.as_ref().unwrap().epoch, e);
    assert!(s.update_since(e).full.is_none() && s.update_since(e).incrementals.is_empty());
    // Incrementals replay to the same map.
    let old = s.clone();
    cmd(
        &mut s,
        MonCommand::PoolCreate {
            name: "p".into(),
            pg_num: 4,
            erasure_profile: None,
            crush_rule: None,
        },
    )
    .unwrap();
    cmd(&mut s, MonCommand::OsdOut { ids: vec![1] }).unwrap();
    let mut held = Some(old.osdmap.clone());
    s.update_since(old.osdmap.epoch)
        .apply_to(&mut held)
        .unwrap();
    assert_eq!(held.as_ref(), Some(&s.osdmap));
}

#[test]
fn erasure_pools_get_a_rule_and_pin_their_profile() {
    let mut s = booted(4);
    cmd(
        &mut s,
        MonCommand::EcProfileSet {
            name: "k2m1".into(),
            params: vec![
                ("k".into(), "2".into()),
                ("m".into(), "1".into()),
                ("crush-failure-domain".into(), "osd".into()),
            ],
            force: false,
        },
    )
    .unwrap();
    cmd(
        &mut s,
        MonCommand::PoolCreate {
            name: "ec".into(),
            pg_num: 8,
            erasure_profile: Some("k2m1".into()),
            crush_rule: None,
        },
    )
    .unwrap();
    let p = s.osdmap.pool_by_name("ec").unwrap();
    assert_eq!((p.size, p.min_size), (3, 3));
    assert!(s.osdmap.crush().unwrap().rule_by_name("ec").is_some());
    let e = cmd(
        &mut s,
        MonCommand::EcProfileRm {
            name: "k2m1".into(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Busy);
    cmd(
        &mut s,
        MonCommand::PoolRm {
            name: "ec".into(),
            confirm: "ec".into(),
            really: true,
        },
    )
    .unwrap();
    cmd(
        &mut s,
        MonCommand::EcProfileRm {
            name: "k2m1".into(),
        },
    )
    .unwrap();
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

#[test]
fn pg_num_grows_by_splitting_and_never_shrinks() {
    let mut s = booted(3);
    cmd(
        &mut s,
        MonCommand::PoolCreate {
            name: "p".into(),
            pg_num: 8,
            erasure_profile: None,
            crush_rule: None,
        },
    )
    .unwrap();
    let set = |s: &mut ClusterState, key: &str, value: &str| {
        cmd(
            s,
            MonCommand::PoolSet {
                name: "p".into(),
                key: key.into(),
                value: value.into(),
            },
        )
    };
    let pool = s.osdmap.pool_by_name("p").unwrap().id;
    // A parent on a temporary acting set leaves its children on it.
    s.osdmap.pg_temp.insert(PgId { pool, seed: 3 }, vec![2, 1]);
    let out = set(&mut s, "pg_num", "32").unwrap();
    assert!(out.message.contains("pgp_num"), "{}", out.message);
    let p = s.osdmap.pool_by_name("p").unwrap();
    assert_eq!(
        (p.pg_num, p.pgp_num),
        (32, 8),
        "placement waits for pgp_num"
    );
    for seed in [11, 19, 27] {
        assert_eq!(
            s.osdmap.pg_temp.get(&PgId { pool, seed }),
            Some(&vec![2, 1]),
            "child {seed} of 3"
        );
    }
    assert!(!s.osdmap.pg_temp.contains_key(&PgId { pool, seed: 12 }));
    // The new PGs sit on their parents' OSDs until pgp_num follows.
    let crush = s.osdmap.crush().unwrap();
    let (p, osds) = (s.osdmap.pool_by_name("p").unwrap(), s.osdmap.osd_states());
    let parent = s.osdmap.place_pg(&crush, p, PgId { pool, seed: 5 }, &osds);
    let child = s.osdmap.place_pg(&crush, p, PgId { pool, seed: 13 }, &osds);
    assert_eq!(parent.up, child.up);
    let before = s.clone();
    let err = set(&mut s, "pgp_num", "64").unwrap_err();
    assert!(
        err.message.contains("may not exceed pg_num"),
        "{}",
        err.message
    );
    let err = set(&mut s, "pg_num", "16").unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert!(
        err.message.contains("pool 'p'") && err.message.contains("decreasing pg_num"),
        "{}",
        err.message
    );
    assert_eq!(s.osdmap, before.osdmap, "a refused command changes nothing");
    set(&mut s, "pgp_num", "32").unwrap();
    let p = s.osdmap.pool_by_name("p").unwrap();
    assert_eq!((p.pg_num, p.pgp_num), (32, 32));
}

#[test]
fn every_retained_epoch_can_be_rebuilt() {
    // max_incrementals is 3 in the seed: most epochs are trimmed.
    let mut s = booted(3);
    let mut maps = vec![s.osdmap.clone()];
    for i in 0..3 {
        cmd(&mut s, MonCommand::OsdOut { ids: vec![i] }).unwrap();
        maps.push(s.osdmap.clone());
        cmd(&mut s, MonCommand::OsdIn { ids: vec![i] }).unwrap();
        maps.push(s.osdmap.clone());
    }
    let first = s.first_epoch();
    assert_eq!(first, s.osdmap.epoch - 3);
    for from in [0, first, first + 1, s.osdmap.epoch] {
        let u = s.maps_from(from);
        let full = u.full.clone().unwrap();
        assert_eq!(full.epoch, from.max(first));
        // The full map is exactly that epoch, and the incrementals lead
        // from it to the newest, one epoch at a time.
        if let Some(m) = maps.iter().find(|m| m.epoch == full.epoch) {
            assert_eq!(m, &full);
        }
        let mut m = full;
        for inc in &u.incrementals {
            m.apply(inc).unwrap();
        }
        assert_eq!(m, s.osdmap);
    }
}

#[test]
fn trimming_forgets_only_the_epochs_asked_for_and_keeps_serving_the_rest() {
    let mut s = booted(3);
    s.max_incrementals = 100;
    let mut maps = vec![s.osdmap.clone()];
    for i in 0..3 {
        cmd(&mut s, MonCommand::OsdOut { ids: vec![i] }).unwrap();
        maps.push(s.osdmap.clone());
    }
    let newest = s.osdmap.epoch;
    let before = s.first_epoch();
    assert!(before < newest - 2);
    let trim = |s: &mut ClusterState, to: u32| match s.apply(&ClusterOp {
        now_ms: 2000,
        kind: OpKind::TrimMaps { to },
    }) {
        OpOutcome::Ok(d) => d,
        OpOutcome::Err(e) => panic!("{e}"),
    };
    let d = trim(&mut s, newest - 2);
    assert_eq!(s.first_epoch(), newest - 2, "{}", d.message);
    assert_eq!(s.osdmap.epoch, newest, "trimming makes no new epoch");
    // The oldest kept epoch is served exactly, and leads to the newest.
    let u = s.maps_from(newest - 2);
    let full = u.full.clone().unwrap();
    assert_eq!(Some(&full), maps.iter().find(|m| m.epoch == newest - 2));
    let mut m = full;
    for inc in &u.incrementals {
        m.apply(inc).unwrap();
    }
    assert_eq!(m, s.osdmap);
    // Older or equal targets change nothing; a target past the newest
    // keeps the newest map itself.
    trim(&mut s, before);
    assert_eq!(s.first_epoch(), newest - 2);
    trim(&mut s, newest + 5);
    assert_eq!(s.first_epoch(), newest);
    assert_eq!(s.maps_from(0).full.unwrap(), s.osdmap);
}

#[test]
fn pg_temp_comes_only_from_the_acting_primary_and_goes_with_its_pool() {
    let mut s = booted(4);
    cmd(
        &mut s,
        MonCommand::PoolCreate {
            name: "rbd".into(),
            pg_num: 8,
            erasure_profile: None,
            crush_rule: None,
        },
    )
    .unwrap();
    let crush = s.osdmap.crush().unwrap();
    let pool = s.osdmap.pool_by_name("rbd").unwrap().clone();
    let pg = cluster::PgId { pool: 1, seed: 0 };
    let place = |s: &ClusterState| s.osdmap.place_pg(&crush, &pool, pg, &s.osdmap.osd_states());
    let p = place(&s);
    let primary = p.acting_primary.unwrap() as u32;
    let spare = (0..4).find(|o| !p.up.contains(o)).unwrap();
    let want = vec![spare, p.up[1]];
    let temp = |id: u32, want: Vec<i32>| MonCommand::OsdPgTemp {
        id,
        pgs: vec![(pg, want)],
    };
    // Only the acting primary may ask.
    let err = cmd(&mut s, temp(p.up[1] as u32, want.clone())).unwrap_err();
    assert_eq!(err.code, ErrorCode::Again);
    assert!(
        err.message.contains("not its acting primary"),
        "{}",
        err.message
    );
    // Only up OSDs, each once, at most the pool's size.
    for bad in [vec![spare, spare], vec![spare, 9], vec![0, 1, 2, 3]] {
        let err = cmd(&mut s, temp(primary, bad.clone())).unwrap_err();
        assert_eq!(err.code, ErrorCode::Again, "{bad:?}");
    }
    // Granted: the acting set (and primary) is the one asked for; the up
    // set is CRUSH's still.
    let e = s.osdmap.epoch;
    cmd(&mut s, temp(primary, want.clone())).unwrap();
    assert_eq!(s.osdmap.epoch, e + 1);
    let q = place(&s);
    assert_eq!(
        (q.acting.clone(), q.acting_primary),
        (want.clone(), Some(spare))
    );
    assert_eq!(q.up, p.up);
    // The new acting primary gives the PG back to its up set.
    cmd(&mut s, temp(spare as u32, Vec::new())).unwrap();
    assert!(s.osdmap.pg_temp.is_empty());
    assert_eq!(place(&s).acting, p.up);
    // An entry goes with its pool.
    cmd(&mut s, temp(primary, want)).unwrap();
    cmd(
        &mut s,
        MonCommand::PoolRm {
            name: "rbd".into(),
            confirm: "rbd".into(),
            really: true,
        },
    )
    .unwrap();
    assert!(s.osdmap.pg_temp.is_empty());
}
