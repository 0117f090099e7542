//! Pool commands: erasure-coded pools, pg_num growth, pg_temp.

use super::*;

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

fn ec_profile(
    s: &mut ClusterState,
    name: &str,
    kv: &[(&str, &str)],
    force: bool,
) -> Result<Done, RemoteError> {
    cmd(
        s,
        MonCommand::EcProfileSet {
            name: name.into(),
            params: kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            force,
        },
    )
}

fn ec_pool(s: &mut ClusterState, name: &str, profile: &str) -> Result<Done, RemoteError> {
    cmd(
        s,
        MonCommand::PoolCreate {
            name: name.into(),
            pg_num: 8,
            erasure_profile: Some(profile.into()),
            crush_rule: None,
        },
    )
}

#[test]
fn erasure_profiles_are_checked_when_set_and_placed_when_used() {
    let mut s = booted(4);
    for (kv, why) in [
        (&[("k", "1")][..], "k=1: must be at least 2"),
        (&[("m", "0")][..], "m=0: must be a whole number 1..=32"),
        (
            &[("stripe_unit", "3000")][..],
            "stripe_unit 3000: must be a power of two",
        ),
        (
            &[("stripe_unit", "16M")][..],
            "must be from 512 bytes to 4 MiB",
        ),
        (
            &[("technique", "liberation")][..],
            "technique 'liberation' is not available",
        ),
    ] {
        let e = ec_profile(&mut s, "bad", kv, false).unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid, "{kv:?}");
        assert!(
            e.message.starts_with("erasure-code-profile bad: ") && e.message.contains(why),
            "{kv:?}: {}",
            e.message
        );
    }
    assert!(
        !s.osdmap.ec_profiles.contains_key("bad"),
        "nothing refused is kept"
    );

    // Four hosts: 4+2 cannot get a host per shard, 2+2 can.
    ec_profile(
        &mut s,
        "wide",
        &[("k", "4"), ("m", "2"), ("stripe_unit", "64K")],
        false,
    )
    .unwrap();
    let e = ec_pool(&mut s, "ecwide", "wide").unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert_eq!(
        e.message,
        "pool 'ecwide': erasure-code-profile wide needs 6 (4+2) distinct failure domains of type host under root default; the CRUSH map has 4 with OSDs"
    );
    assert!(s.osdmap.pool_by_name("ecwide").is_none());
    let crush = s.osdmap.crush().unwrap();
    assert!(
        crush.rule_by_name("ecwide").is_none(),
        "a refused pool leaves no rule"
    );
    ec_profile(&mut s, "nvme", &[("crush-device-class", "nvme")], false).unwrap();
    let e = ec_pool(&mut s, "ecnvme", "nvme").unwrap_err();
    assert_eq!(
        e.message,
        "pool 'ecnvme': erasure-code-profile nvme cannot be placed: device class nvme does not exist"
    );
    ec_profile(&mut s, "k2m2", &[], false).unwrap();
    ec_pool(&mut s, "ec", "k2m2").unwrap();
    let p = s.osdmap.pool_by_name("ec").unwrap();
    assert_eq!((p.size, p.min_size), (4, 3), "min_size defaults to k+1");

    // In use: neither changed (even forced) nor removed.
    let e = ec_profile(&mut s, "k2m2", &[("m", "1")], true).unwrap_err();
    assert_eq!(e.code, ErrorCode::Busy);
    assert_eq!(
        e.message,
        "erasure-code-profile k2m2 is used by a pool and cannot change"
    );
    ec_profile(&mut s, "k2m2", &[], false).expect("setting the same values again is no change");
}

#[test]
fn pg_num_grows_by_splitting_and_never_shrinks() {
    let mut s = booted(3);
    create_pool(&mut s, "p", 8);
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
fn pg_temp_comes_only_from_the_acting_primary_and_goes_with_its_pool() {
    let mut s = booted(4);
    create_pool(&mut s, "rbd", 8);
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
