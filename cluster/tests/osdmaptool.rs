//! Placement must equal Ceph's: every PG's raw, up and acting sets and
//! primaries, and the PG and OSDs of object names, as Ceph's osdmaptool
//! computed them (`golden/regenerate.sh`): a 12-OSD map with the CRUSH map of
//! `deploy/examples/crushmap.txt` and Ceph's default pool (id 1, size 3,
//! pg_num 768, hashpspool), all OSDs in, and with osd.7 out.

use cluster::{object_hash, object_pg, place_pg, OsdStates, PgId, Pool};
use crush::CrushMap;

fn crush() -> CrushMap {
    crush::text::parse(include_str!("../../deploy/examples/crushmap.txt")).unwrap()
}

fn pool() -> Pool {
    let line = include_str!("golden/pool.txt");
    assert!(
        line.contains("replicated size 3 min_size 2 crush_rule 0")
            && line.contains("pg_num 768 pgp_num 768")
            && line.contains("hashpspool"),
        "{line}"
    );
    Pool::replicated(1, "rbd", 768)
}

/// `[6,1,8], p6` -> ([6, 1, 8], Some(6)).
fn set(s: &str) -> (Vec<i32>, Option<i32>) {
    let (list, p) = s
        .trim_matches(|c| c == '(' || c == ')')
        .rsplit_once(", p")
        .unwrap();
    let list = list.trim_matches(|c| c == '[' || c == ']');
    let osds = if list.is_empty() {
        vec![]
    } else {
        list.split(',').map(|o| o.parse().unwrap()).collect()
    };
    let primary: i32 = p.parse().unwrap();
    (osds, (primary >= 0).then_some(primary))
}

fn check_dump(golden: &str, osds: &OsdStates) {
    let (crush, pool) = (crush(), pool());
    let mut n = 0;
    for line in golden.lines() {
        // 1.0 raw ([6,1,8], p6) up ([6,1,8], p6) acting ([6,1,8], p6)
        let pg: PgId = line.split(' ').next().unwrap().parse().unwrap();
        let part = |name: &str| {
            let start = line.find(&format!("{name} (")).unwrap() + name.len() + 1;
            let end = line[start..].find(')').unwrap() + start + 1;
            set(&line[start..end])
        };
        let p = place_pg(&crush, &pool, pg, osds);
        assert_eq!(
            (p.raw.clone(), p.raw.first().copied()),
            part("raw"),
            "raw of {pg}"
        );
        assert_eq!((p.up.clone(), p.up_primary), part("up"), "up of {pg}");
        assert_eq!(
            (p.acting.clone(), p.acting_primary),
            part("acting"),
            "acting of {pg}"
        );
        n += 1;
    }
    assert_eq!(n, 768);
}

#[test]
fn every_pg_matches_ceph_with_all_osds_in() {
    check_dump(
        include_str!("golden/pgs-all-in.txt"),
        &OsdStates::all_up_in(12),
    );
}

#[test]
fn every_pg_matches_ceph_with_an_osd_out() {
    let mut osds = OsdStates::all_up_in(12);
    osds.weight[7] = 0;
    check_dump(include_str!("golden/pgs-osd7-out.txt"), &osds);
}

#[test]
fn objects_map_to_the_same_pgs_and_osds() {
    let (crush, pool) = (crush(), pool());
    let mut n = 0;
    for line in include_str!("golden/objects.txt").lines() {
        //  object 'foo' -> 1.6 -> [7,4,1]
        let name = &line[line.find('\'').unwrap() + 1..line.rfind('\'').unwrap()];
        let rest: Vec<&str> = line[line.rfind('\'').unwrap() + 1..]
            .split(" -> ")
            .collect();
        let want_pg: PgId = rest[1].trim().parse().unwrap();
        let pg = object_pg(&pool, object_hash("", name));
        assert_eq!(pg, want_pg, "PG of {name:?}");
        let (osds, _) = set(&format!("{}, p0", rest[2].trim()));
        assert_eq!(
            place_pg(&crush, &pool, pg, &OsdStates::all_up_in(12)).up,
            osds,
            "OSDs of {name:?}"
        );
        n += 1;
    }
    assert_eq!(n, 11);
}
