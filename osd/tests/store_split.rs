//! Splitting a collection (a PG whose pool's pg_num grew), on both stores:
//! every object lands in the PG its hash now maps to, with its data
//! (inline and blob), xattrs and omap; the PG metadata of both sides is
//! written with it; fsck stays clean; a split into an existing collection
//! is refused and changes nothing.

mod common;

use common::*;
use osd::store::{
    CollectionId, CollectionSplit, MetaOp, ObjectId, ObjectStore, Op, RocksStore, StoreError,
    StoreOptions, Transaction, Version,
};

/// Pool 1 with 4 PGs growing to 16: PG 1.2 splits into 1.6, 1.a and 1.e.
fn parent() -> CollectionId {
    CollectionId::new(1, 2)
}

fn fill(s: &dyn ObjectStore) -> Vec<(ObjectId, Vec<u8>)> {
    s.create_collection(&parent()).unwrap();
    let mut objs = Vec::new();
    for i in 0..400u32 {
        let o = ObjectId::named(format!("obj-{i}"));
        if cluster::stable_mod(o.hash(), 4, 3) != 2 {
            continue;
        }
        // Some inline, some in blob files.
        let data = pattern(if i % 3 == 0 { 3 * INLINE as usize } else { 100 }, i as u8);
        let mut t = Transaction::new(parent(), Version::new(1, u64::from(i) + 1));
        t.ops = vec![
            Op::WriteFull {
                obj: o.clone(),
                data: data.clone(),
            },
            Op::SetXattr {
                obj: o.clone(),
                name: "x".into(),
                value: format!("x{i}").into_bytes(),
            },
            Op::OmapSet {
                obj: o.clone(),
                entries: vec![(b"k".to_vec(), format!("v{i}").into_bytes())],
            },
        ];
        s.submit(t).unwrap();
        objs.push((o, data));
    }
    objs
}

fn split_spec() -> CollectionSplit {
    let put = |v: &str| MetaOp::Put {
        key: b"who".to_vec(),
        value: v.as_bytes().to_vec(),
    };
    CollectionSplit {
        from: parent(),
        pg_num: 16,
        children: cluster::split_children(2, 4, 16)
            .into_iter()
            .map(|seed| {
                (
                    CollectionId::new(1, seed),
                    vec![put(&format!("child {seed}"))],
                )
            })
            .collect(),
        parent_meta: vec![put("parent")],
    }
}

fn check_split(s: &dyn ObjectStore, objs: &[(ObjectId, Vec<u8>)]) {
    assert_eq!(cluster::split_children(2, 4, 16), vec![6, 10, 14]);
    let moved = s.split_collection(&split_spec()).unwrap();
    let mut stayed = 0;
    for (o, data) in objs {
        let seed = cluster::stable_mod(o.hash(), 16, 15);
        let c = CollectionId::new(1, seed);
        if seed == 2 {
            stayed += 1;
        } else {
            assert!(matches!(
                s.stat(&parent(), o),
                Err(StoreError::NoSuchObject { .. })
            ));
        }
        assert_eq!(&s.read(&c, o, 0, u64::MAX).unwrap(), data, "{o} in {c}");
        assert!(s.getxattr(&c, o, "x").unwrap().starts_with(b"x"));
        assert_eq!(s.omap_get(&c, o, &[b"k".to_vec()]).unwrap().len(), 1);
    }
    assert_eq!(moved as usize + stayed, objs.len());
    assert!(moved > 0 && stayed > 0, "moved {moved}, stayed {stayed}");
    // Every collection lists exactly its objects, in hash order.
    let mut listed = 0;
    for seed in [2, 6, 10, 14] {
        let c = CollectionId::new(1, seed);
        let page = s.list_objects(&c, None, 10_000).unwrap();
        for o in &page.objects {
            assert_eq!(cluster::stable_mod(o.hash(), 16, 15), seed);
        }
        listed += page.objects.len();
        let who = s.meta_get(&c, b"who").unwrap().unwrap();
        let want = if seed == 2 {
            "parent".to_string()
        } else {
            format!("child {seed}")
        };
        assert_eq!(who, want.as_bytes());
    }
    assert_eq!(listed, objs.len());
    // Splitting again is refused: the children exist.
    assert!(matches!(
        s.split_collection(&split_spec()),
        Err(StoreError::CollectionExists(_))
    ));
    let report = s.fsck(true).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn split_on_rocksdb_survives_reopen() {
    let (dir, s) = store();
    let objs = fill(&s);
    check_split(&s, &objs);
    let path = s.path().to_path_buf();
    drop(s);
    let s = RocksStore::open(
        &path,
        StoreOptions {
            inline_max: INLINE,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    for (o, data) in &objs {
        let c = CollectionId::new(1, cluster::stable_mod(o.hash(), 16, 15));
        assert_eq!(&s.read(&c, o, 0, u64::MAX).unwrap(), data);
    }
    assert!(s.fsck(true).unwrap().errors.is_empty());
    // Removing a child removes its blobs, not the parent's.
    s.remove_collection(&CollectionId::new(1, 6)).unwrap();
    assert!(s.fsck(true).unwrap().errors.is_empty());
    drop(dir);
}

#[test]
fn split_in_memory() {
    let s = mem_store();
    let objs = fill(&s);
    check_split(&s, &objs);
}
