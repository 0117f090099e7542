//! Splitting a PG's state when its pool's `pg_num` grows (Ceph's
//! `split_into`): each log entry and missing item goes with its object to
//! the PG the object's hash now maps to. Both sides keep the parent's log
//! tail, history, past intervals, activation epoch and backfill watermark
//! (the store's order is the hash with its bits reversed, so a watermark
//! means the same in every child), and every side keeps all the dups: a
//! request id does not say which object it wrote, and a resent request
//! only reaches the PG of its object. Each side's `last_update` becomes
//! the newest entry it kept; all copies of a PG split the same way, so
//! their logs still compare.

use std::collections::BTreeMap;

use cluster::Version;

use super::info::{meta, PgState};
use super::log::{LogEntry, PgLog};
use crate::store::{CollectionId, CollectionSplit, MetaOp, ObjectId};

/// The seed `obj` belongs to with `pg_num` PGs.
pub fn seed_of(obj: &ObjectId, pg_num: u32) -> u32 {
    cluster::stable_mod(obj.hash(), pg_num, cluster::mask_for(pg_num))
}

/// How far a PG copy on disk can be loaded through `epochs` (its epochs
/// from its interval's start): the pool's PG count its objects are split
/// for (a copy from before PGs could split records none: the count of
/// its first epoch), and how many epochs come before the first with more
/// PGs (at least one). The caller loads it through those, then splits it
/// and hands it the rest.
pub fn load_limit(
    store: &dyn crate::store::ObjectStore,
    c: &CollectionId,
    epochs: &[crate::pg::interval::PgEpoch],
) -> Result<(u32, usize), crate::store::StoreError> {
    let split_for = match super::info::stored_pg_num(store, c)? {
        0 => epochs.first().and_then(|e| e.pool).map_or(0, |p| p.pg_num),
        n => n,
    };
    let cut = epochs
        .iter()
        .position(|e| e.pool.is_some_and(|p| p.pg_num > split_for))
        .unwrap_or(epochs.len())
        .max(1);
    Ok((split_for, cut))
}

/// What a split makes of one PG's state: the parent's new state, each
/// child's, and the store change that carries it out.
pub struct Split {
    pub parent: PgState,
    pub children: Vec<(u32, PgState)>,
    pub store: CollectionSplit,
}

fn side(st: &PgState, entries: Vec<LogEntry>, missing: BTreeMap<ObjectId, Version>) -> PgState {
    let dups = st.log.dups().cloned().collect();
    let log = PgLog::from_parts(st.log.tail(), entries, dups);
    let mut info = st.info.clone();
    info.last_update = log.head();
    info.last_complete = if missing.is_empty() {
        info.last_update
    } else {
        st.info.last_complete.min(info.last_update)
    };
    PgState {
        info,
        past: st.past.clone(),
        log,
        missing,
        pg_num: st.pg_num,
    }
}

/// Splits the state of PG `coll` (holding `st`) for `pg_num` PGs into it
/// and `children` (their seeds).
pub fn split(coll: CollectionId, st: &PgState, pg_num: u32, children: &[u32]) -> Split {
    let mut entries: BTreeMap<u32, Vec<LogEntry>> = BTreeMap::new();
    let mut missing: BTreeMap<u32, BTreeMap<ObjectId, Version>> = BTreeMap::new();
    let mut parent_meta: Vec<MetaOp> = Vec::new();
    let home = |o: &ObjectId| {
        let s = seed_of(o, pg_num);
        if children.contains(&s) {
            s
        } else {
            coll.seed
        }
    };
    for e in st.log.entries() {
        let s = home(&e.object);
        if s != coll.seed {
            parent_meta.push(meta::drop_entry(e.version));
        }
        entries.entry(s).or_default().push(e.clone());
    }
    for (o, v) in &st.missing {
        let s = home(o);
        if s != coll.seed {
            parent_meta.push(meta::found(o));
        }
        missing.entry(s).or_default().insert(o.clone(), *v);
    }
    let mut take = |s: u32| {
        let mut st = side(
            st,
            entries.remove(&s).unwrap_or_default(),
            missing.remove(&s).unwrap_or_default(),
        );
        st.pg_num = pg_num;
        st
    };
    let parent = take(coll.seed);
    let children: Vec<(u32, PgState)> = children.iter().map(|c| (*c, take(*c))).collect();
    parent_meta.push(meta::info(&parent.info));
    parent_meta.push(meta::pg_num(pg_num));
    let store = CollectionSplit {
        from: coll,
        pg_num,
        children: children
            .iter()
            .map(|(seed, st)| {
                let c = CollectionId {
                    seed: *seed,
                    ..coll
                };
                (c, meta::whole(st))
            })
            .collect(),
        parent_meta,
    };
    Split {
        parent,
        children,
        store,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::log::LogKind;
    use crate::store::{MemStore, ObjectStore, StoreOptions};
    use cluster::ReqId;
    use proptest::prelude::*;

    fn entry(v: Version, name: &str) -> LogEntry {
        LogEntry {
            version: v,
            prior_version: Version::ZERO,
            object: ObjectId::named(name),
            kind: LogKind::Modify,
            reqid: Some(ReqId {
                client: "client.1".into(),
                nonce: 1,
                tid: v.counter,
            }),
            mtime_ns: 0,
        }
    }

    /// The `n`-th object name that lives in PG 1 of 4.
    fn name(n: usize) -> String {
        (0..)
            .map(|i| format!("o{i}"))
            .filter(|o| seed_of(&ObjectId::named(o.as_str()), 4) == 1)
            .nth(n)
            .expect("names never run out")
    }

    fn state(names: &[usize], missing: &[usize]) -> PgState {
        let entries: Vec<LogEntry> = names
            .iter()
            .enumerate()
            .map(|(i, n)| entry(Version::new(3, 10 + i as u64), &name(*n)))
            .collect();
        let dups = vec![(
            ReqId {
                client: "client.9".into(),
                nonce: 1,
                tid: 1,
            },
            Version::new(2, 9),
        )];
        let log = PgLog::from_parts(Version::new(2, 9), entries, dups);
        let mut st = PgState::default();
        st.info.last_update = log.head();
        st.info.log_tail = log.tail();
        st.info.history.epoch_created = 1;
        st.info.last_complete = Version::new(3, 10);
        st.missing = missing
            .iter()
            .map(|n| (ObjectId::named(name(*n)), Version::new(3, 10)))
            .collect();
        st.log = log;
        st.pg_num = 4;
        st
    }

    proptest! {
        /// Every entry and missing item ends up in exactly one PG, the one
        /// its object maps to; each side's last_update is its newest entry
        /// (at most the parent's), its log is in order, and every side
        /// keeps the dups; applied to a store, each side loads back as
        /// computed.
        #[test]
        fn entries_follow_their_objects(
            names in proptest::collection::vec(0usize..200, 0..60),
            missing in proptest::collection::vec(0usize..200, 0..10),
        ) {
            let st = state(&names, &missing);
            let coll = CollectionId::new(1, 1);
            let kids = cluster::split_children(1, 4, 16);
            let sp = split(coll, &st, 16, &kids);
            let mut total = 0;
            let mut sides = vec![(1u32, &sp.parent)];
            sides.extend(sp.children.iter().map(|(s, st)| (*s, st)));
            for (seed, side) in &sides {
                for e in side.log.entries() {
                    prop_assert_eq!(seed_of(&e.object, 16), *seed);
                }
                for o in side.missing.keys() {
                    prop_assert_eq!(seed_of(o, 16), *seed);
                }
                prop_assert!(side.info.last_update <= st.info.last_update);
                prop_assert_eq!(side.info.last_update, side.log.head());
                prop_assert!(side.info.last_complete <= side.info.last_update);
                prop_assert_eq!(side.log.dups().count(), 1);
                prop_assert_eq!(side.pg_num, 16);
                total += side.log.len();
            }
            prop_assert_eq!(total, st.log.len());

            // Through a store: write the parent whole, split, load each side.
            let store = MemStore::new(StoreOptions::default());
            store.create_collection(&coll).unwrap();
            let mut t = crate::store::Transaction::new(coll, Version::new(1, 1));
            t.meta = meta::whole(&st);
            store.submit(t).unwrap();
            store.split_collection(&sp.store).unwrap();
            for (seed, side) in &sides {
                let c = CollectionId::new(1, *seed);
                let back = crate::pg::info::load(&store, &c).unwrap().unwrap();
                prop_assert_eq!(&back.info, &side.info);
                prop_assert_eq!(&back.missing, &side.missing);
                prop_assert_eq!(back.pg_num, 16);
                let a: Vec<_> = back.log.entries().cloned().collect();
                let b: Vec<_> = side.log.entries().cloned().collect();
                prop_assert_eq!(a, b);
            }
        }
    }
}
