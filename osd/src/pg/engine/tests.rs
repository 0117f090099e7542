//! Engine cases driven by hand, event by event, for rules the seeded
//! simulation cannot reach by itself (it never crafts a peer's info).

use std::sync::Arc;

use cluster::{PgId, Version};

use super::{Effect, Event, Pg, PgConfig, Phase};
use crate::pg::info::{History, PgInfo};
use crate::pg::interval::{OsdEpoch, OsdEpochState, PgEpoch, PoolParams};
use crate::pg::messages::{PeerEnvelope, PeerMsg};
use crate::store::{CollectionId, MemStore, ObjectStore};

const PG: PgId = PgId { pool: 1, seed: 0 };

/// An epoch of a size-2 pool: `osds` are (id, up, up_from, up_thru).
fn epoch(e: u32, acting: &[i32], osds: &[(i32, bool, u32, u32)]) -> PgEpoch {
    let osds = OsdEpoch {
        osds: osds
            .iter()
            .map(|&(id, up, up_from, up_thru)| {
                (
                    id,
                    OsdEpochState {
                        up,
                        up_from,
                        up_thru,
                        fullness: Default::default(),
                    },
                )
            })
            .collect(),
        flags: Default::default(),
    };
    PgEpoch {
        epoch: e,
        pool: Some(PoolParams {
            size: 2,
            min_size: 1,
            pg_num: 1,
        }),
        up: acting.to_vec(),
        acting: acting.to_vec(),
        primary: acting[0],
        osds: Arc::new(osds),
    }
}

/// Feeds an event, applying store effects to `store` (and feeding their
/// commits back) until only messages and replies are left.
fn feed(pg: &mut Pg, store: &MemStore, first: Event) -> Vec<Effect> {
    let mut events = vec![first];
    let mut rest = Vec::new();
    while let Some(ev) = events.pop() {
        for e in pg.handle(store, ev) {
            match e {
                Effect::Store { id, txn } => {
                    store.submit(txn).expect("the engine's transaction applies");
                    events.push(Event::Committed(id));
                }
                other => rest.push(other),
            }
        }
    }
    rest
}

fn queried(effects: &[Effect]) -> Vec<i32> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, env } if env.msg == PeerMsg::Query => Some(*to),
            _ => None,
        })
        .collect()
}

fn notify(pg: &Pg, info: PgInfo) -> PeerEnvelope {
    PeerEnvelope {
        pool: PG.pool,
        seed: PG.seed,
        epoch: pg.epoch(),
        interval: pg.interval(),
        msg: PeerMsg::Notify { info },
    }
}

/// Ceph's find_best_info rule: when a member's history says the PG went
/// active at an epoch no answering member's log is from, the PG is
/// `incomplete` and waits for the OSDs of that interval instead of
/// serving an older copy; once one of them answers, it peers from its log.
#[test]
fn a_history_newer_than_every_answer_makes_the_pg_incomplete() {
    let store = MemStore::new(Default::default());
    store
        .create_collection(&CollectionId::new(PG.pool, PG.seed))
        .unwrap();
    // Epochs 5-9: osd.2 and osd.1 serve (osd.2 had up_thru 5, so the
    // interval may have written); epoch 10: osd.2 is down, osd.0 joins.
    let e5 = epoch(
        5,
        &[2, 1],
        &[(0, false, 0, 0), (1, true, 1, 0), (2, true, 1, 5)],
    );
    let e9 = epoch(
        9,
        &[2, 1],
        &[(0, false, 0, 0), (1, true, 1, 0), (2, true, 1, 5)],
    );
    let e10 = epoch(
        10,
        &[0, 1],
        &[(0, true, 10, 0), (1, true, 1, 0), (2, false, 1, 5)],
    );
    let (mut pg, first) = Pg::create(PG, 0, PgConfig::default(), &[e5, e9, e10]);
    let mut out = first;
    // Apply the creation's transactions.
    for e in std::mem::take(&mut out) {
        match e {
            Effect::Store { id, txn } => {
                store.submit(txn).unwrap();
                out.extend(feed(&mut pg, &store, Event::Committed(id)));
            }
            other => out.push(other),
        }
    }
    assert_eq!(queried(&out), vec![1], "osd.1 is the only member up to ask");
    // osd.1 never activated after epoch 4, yet knows the PG went active at 9.
    let info = PgInfo {
        last_update: Version::new(4, 20),
        last_complete: Version::new(4, 20),
        log_tail: Version::new(4, 1),
        last_epoch_started: 4,
        history: History {
            epoch_created: 1,
            last_epoch_started: 9,
            last_epoch_clean: 4,
            same_interval_since: 5,
        },
        last_backfill: None,
    };
    let env = notify(&pg, info);
    feed(&mut pg, &store, Event::Peer { from: 1, env });
    assert_eq!(*pg.phase(), Phase::Incomplete);
    assert_eq!(pg.state_name(), "incomplete");
    assert_eq!(pg.blocked_by(), vec![2]);
    let q = pg.query();
    assert_eq!(q["state"], "incomplete");
    assert!(
        q["waiting_on"]
            .as_str()
            .unwrap()
            .contains("went active at epoch 9"),
        "{q}"
    );
    // osd.2 comes back: it is asked, and its log (from epoch 9) is the
    // authority. This OSD holds nothing (behind the authority's tail), so
    // it asks for an acting set of the complete copies, osd.2 first.
    let e11 = epoch(
        11,
        &[0, 1],
        &[(0, true, 10, 0), (1, true, 1, 0), (2, true, 11, 5)],
    );
    let out = feed(&mut pg, &store, Event::Map(e11));
    assert_eq!(queried(&out), vec![2]);
    let info2 = PgInfo {
        last_update: Version::new(9, 3),
        last_complete: Version::new(9, 3),
        log_tail: Version::new(4, 1),
        last_epoch_started: 9,
        history: History {
            epoch_created: 1,
            last_epoch_started: 9,
            last_epoch_clean: 4,
            same_interval_since: 5,
        },
        last_backfill: None,
    };
    let env = notify(&pg, info2);
    let out = feed(&mut pg, &store, Event::Peer { from: 2, env });
    assert_eq!(*pg.phase(), Phase::WaitActingChange);
    assert!(
        matches!(&out[..], [Effect::PgTemp { want }] if *want == vec![2, 1]),
        "{out:?}"
    );
    assert_eq!(pg.state_name(), "remapped+peering");
}

/// An op for an object that a split moved to a child PG (a client with
/// an older map, or an op queued while the PG peered) is refused with
/// EAGAIN naming the object's PG, and never touches this PG's store: the
/// simulation's seed 97195 found a queued write recreating the object in
/// the parent.
#[test]
fn an_op_for_an_object_of_another_pg_is_refused() {
    use cluster::msg::osd::ObjOp;
    use cluster::msg::ErrorCode;

    let store = MemStore::new(Default::default());
    let coll = CollectionId::new(PG.pool, PG.seed);
    store.create_collection(&coll).unwrap();
    let mut e1 = epoch(1, &[0], &[(0, true, 1, 1)]);
    e1.pool = Some(PoolParams {
        size: 1,
        min_size: 1,
        pg_num: 4,
    });
    let (mut pg, first) = Pg::create(PG, 0, PgConfig::default(), &[e1]);
    for e in first {
        if let Effect::Store { id, txn } = e {
            store.submit(txn).unwrap();
            feed(&mut pg, &store, Event::Committed(id));
        }
    }
    assert_eq!(*pg.phase(), Phase::Active, "{}", pg.state_name());
    let named = |seed: u32| {
        (0..)
            .map(|i| crate::store::ObjectId::named(format!("o{i}")))
            .find(|o| crate::pg::split::seed_of(o, 4) == seed)
            .unwrap()
    };
    let write = |handle: u64, obj: crate::store::ObjectId| {
        Event::Op(super::ClientOp {
            handle,
            reqid: cluster::ReqId {
                client: "client.1".into(),
                nonce: 1,
                tid: handle,
            },
            obj,
            ops: vec![ObjOp::WriteFull { len: 3 }],
            data: b"abc".to_vec(),
            epoch: 1,
        })
    };
    let reply = |out: Vec<Effect>| {
        out.into_iter()
            .find_map(|e| match e {
                Effect::Reply(r) => Some(r),
                _ => None,
            })
            .expect("a reply")
    };
    let (home, other) = (named(0), named(2));
    let r = reply(feed(&mut pg, &store, write(1, home.clone())));
    assert!(r.result.is_ok(), "{:?}", r.result);
    let r = reply(feed(&mut pg, &store, write(2, other.clone())));
    let e = r
        .result
        .expect_err("an object of PG 1.2 is refused by PG 1.0")
        .error;
    assert_eq!(e.code, ErrorCode::Again);
    assert!(e.message.contains("is in PG 1.2"), "{}", e.message);
    assert!(store.stat(&coll, &home).is_ok());
    assert!(store.stat(&coll, &other).is_err(), "nothing written");
}
