//! xattrs, omap, the PG layer's metadata, and listing, on a real store.

mod common;

use common::*;
use osd::store::{
    CollectionId, ListCursor, MemStore, MetaOp, ObjectId, ObjectStore, Op, RocksStore, StoreError,
    StoreOptions, Transaction, Version,
};

#[test]
fn xattrs_on_rocksdb() {
    let (_d, s) = store();
    check_xattrs(&s);
}

#[test]
fn xattrs_in_memory() {
    check_xattrs(&mem_store());
}

fn check_xattrs(s: &dyn ObjectStore) {
    s.create_collection(&pg()).unwrap();
    let o = obj("x");
    submit(
        s,
        vec![
            Op::SetXattr {
                obj: o.clone(),
                name: "b".into(),
                value: b"2".to_vec(),
            },
            Op::SetXattr {
                obj: o.clone(),
                name: "a".into(),
                value: b"1".to_vec(),
            },
        ],
    );
    assert_eq!(s.getxattr(&pg(), &o, "a").unwrap(), b"1");
    assert_eq!(
        s.getxattrs(&pg(), &o).unwrap(),
        vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
    );
    submit(
        s,
        vec![Op::RmXattr {
            obj: o.clone(),
            name: "a".into(),
        }],
    );
    let e = s
        .submit(txn(vec![Op::RmXattr {
            obj: o.clone(),
            name: "a".into(),
        }]))
        .unwrap_err();
    assert_eq!(e.to_string(), "object \"x\" in PG 1.2a has no xattr \"a\"");
    assert!(matches!(
        s.getxattr(&pg(), &o, "a"),
        Err(StoreError::NoSuchXattr { .. })
    ));
    // Set then remove inside one transaction.
    submit(
        s,
        vec![
            Op::SetXattr {
                obj: o.clone(),
                name: "t".into(),
                value: vec![],
            },
            Op::RmXattr {
                obj: o.clone(),
                name: "t".into(),
            },
        ],
    );
    submit(
        s,
        vec![
            Op::Remove { obj: o.clone() },
            Op::Create {
                obj: o.clone(),
                exclusive: true,
            },
        ],
    );
    assert!(
        s.getxattrs(&pg(), &o).unwrap().is_empty(),
        "a removed object's xattrs are gone"
    );
}

#[test]
fn omap_semantics_on_rocksdb() {
    let (_d, s) = store();
    check_omap_semantics(&s);
}

#[test]
fn omap_semantics_in_memory() {
    check_omap_semantics(&mem_store());
}

fn check_omap_semantics(s: &dyn ObjectStore) {
    s.create_collection(&pg()).unwrap();
    let o = obj("m");
    let kv = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
    submit(
        s,
        vec![
            Op::OmapSetHeader {
                obj: o.clone(),
                header: b"hdr".to_vec(),
            },
            Op::OmapSet {
                obj: o.clone(),
                entries: vec![
                    kv("a1", "1"),
                    kv("a2", "2"),
                    kv("b1", "3"),
                    kv("b2", "4"),
                    kv("c", "5"),
                ],
            },
        ],
    );
    assert_eq!(s.omap_header(&pg(), &o).unwrap(), b"hdr");
    assert_eq!(
        s.omap_get(&pg(), &o, &[b"b1".to_vec(), b"zz".to_vec()])
            .unwrap(),
        vec![kv("b1", "3")]
    );
    let keys = |p: osd::store::OmapPage| {
        p.entries
            .into_iter()
            .map(|(k, _)| String::from_utf8(k).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(s.omap_list(&pg(), &o, None, None, 100).unwrap()),
        ["a1", "a2", "b1", "b2", "c"]
    );
    let page = s.omap_list(&pg(), &o, None, None, 2).unwrap();
    assert!(page.more);
    assert_eq!(keys(page), ["a1", "a2"]);
    assert_eq!(
        keys(s.omap_list(&pg(), &o, Some(b"a2"), None, 2).unwrap()),
        ["b1", "b2"]
    );
    assert_eq!(
        keys(s.omap_list(&pg(), &o, None, Some(b"b"), 10).unwrap()),
        ["b1", "b2"]
    );
    assert_eq!(
        keys(s.omap_list(&pg(), &o, Some(b"b1"), Some(b"b"), 10).unwrap()),
        ["b2"]
    );
    assert_eq!(
        keys(s.omap_list(&pg(), &o, Some(b"a"), Some(b"b"), 10).unwrap()),
        ["b1", "b2"],
        "start_after before the prefix"
    );
    assert!(
        !s.omap_list(&pg(), &o, None, Some(b"b"), 2).unwrap().more,
        "exactly max entries is not 'more'"
    );
    submit(
        s,
        vec![Op::OmapRmKeys {
            obj: o.clone(),
            keys: vec![b"a1".to_vec(), b"nope".to_vec()],
        }],
    );
    submit(
        s,
        vec![Op::OmapRmRange {
            obj: o.clone(),
            start: b"b".to_vec(),
            end: b"b2".to_vec(),
        }],
    );
    assert_eq!(
        keys(s.omap_list(&pg(), &o, None, None, 100).unwrap()),
        ["a2", "b2", "c"]
    );
    submit(s, vec![Op::OmapClear { obj: o.clone() }]);
    assert!(s
        .omap_list(&pg(), &o, None, None, 100)
        .unwrap()
        .entries
        .is_empty());
    assert_eq!(s.omap_header(&pg(), &o).unwrap(), b"");
    submit(
        s,
        vec![
            Op::OmapSet {
                obj: o.clone(),
                entries: vec![kv("z", "1")],
            },
            Op::Remove { obj: o.clone() },
        ],
    );
    submit(
        s,
        vec![Op::Create {
            obj: o.clone(),
            exclusive: true,
        }],
    );
    assert!(
        s.omap_list(&pg(), &o, None, None, 100)
            .unwrap()
            .entries
            .is_empty(),
        "a recreated object starts with no omap"
    );
}

/// The PG layer's metadata: written in the same transaction as the
/// objects, read back by key and by range, range-deleted, and gone with
/// the collection. Run on both stores (the same semantics).
fn check_pg_metadata(s: &dyn ObjectStore) {
    s.create_collection(&pg()).unwrap();
    let put = |k: &str, v: &str| MetaOp::Put {
        key: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    };
    let mut t = Transaction::new(pg(), Version::new(1, 1)).op(Op::WriteFull {
        obj: obj("o"),
        data: b"x".to_vec(),
    });
    t.meta = vec![
        put("i", "info"),
        put("l1", "a"),
        put("l2", "b"),
        put("l3", "c"),
        put("m", "z"),
    ];
    s.submit(t).unwrap();
    assert_eq!(s.meta_get(&pg(), b"i").unwrap(), Some(b"info".to_vec()));
    assert_eq!(s.meta_get(&pg(), b"nope").unwrap(), None);
    let keys = |start: &[u8], end: Option<&[u8]>, max| {
        s.meta_scan(&pg(), start, end, max)
            .unwrap()
            .into_iter()
            .map(|(k, _)| String::from_utf8(k).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(b"l", Some(b"m"), 100), ["l1", "l2", "l3"]);
    assert_eq!(keys(b"l", Some(b"m"), 2), ["l1", "l2"]);
    assert_eq!(keys(b"", None, 100), ["i", "l1", "l2", "l3", "m"]);
    // A failing transaction changes no metadata either.
    let mut bad = Transaction::new(pg(), Version::new(1, 2)).op(Op::Remove { obj: obj("ghost") });
    bad.meta = vec![put("i", "changed")];
    assert!(s.submit(bad).is_err());
    assert_eq!(s.meta_get(&pg(), b"i").unwrap(), Some(b"info".to_vec()));
    let mut t = Transaction::new(pg(), Version::new(1, 3));
    t.meta = vec![
        MetaOp::DeleteRange {
            start: b"l1".to_vec(),
            end: b"l3".to_vec(),
        },
        MetaOp::Delete { key: b"m".to_vec() },
    ];
    s.submit(t).unwrap();
    assert_eq!(keys(b"", None, 100), ["i", "l3"]);
    // Another PG's keys are its own.
    let other = CollectionId::new(1, 0x2b);
    s.create_collection(&other).unwrap();
    assert!(s.meta_scan(&other, b"", None, 10).unwrap().is_empty());
    s.remove_collection(&pg()).unwrap();
    s.create_collection(&pg()).unwrap();
    assert!(
        s.meta_scan(&pg(), b"", None, 10).unwrap().is_empty(),
        "gone with the PG"
    );
}

#[test]
fn pg_metadata_on_rocksdb() {
    let (_d, s) = store();
    check_pg_metadata(&s);
}

#[test]
fn pg_metadata_in_memory() {
    check_pg_metadata(&MemStore::new(StoreOptions::default()));
}

#[test]
fn pg_metadata_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osd");
    let s = RocksStore::mkfs(&path, StoreOptions::default()).unwrap();
    s.create_collection(&pg()).unwrap();
    let mut t = Transaction::new(pg(), Version::new(1, 1));
    t.meta = vec![MetaOp::Put {
        key: b"i".to_vec(),
        value: b"kept".to_vec(),
    }];
    s.submit(t).unwrap();
    drop(s);
    let s = RocksStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(s.meta_get(&pg(), b"i").unwrap(), Some(b"kept".to_vec()));
}

#[test]
fn listing_is_complete_paginated_and_in_hash_order_on_rocksdb() {
    let (_d, s) = store();
    check_listing_is_complete_paginated_and_in_hash_order(&s);
}

#[test]
fn listing_is_complete_paginated_and_in_hash_order_in_memory() {
    check_listing_is_complete_paginated_and_in_hash_order(&mem_store());
}

fn check_listing_is_complete_paginated_and_in_hash_order(s: &dyn ObjectStore) {
    s.create_collection(&pg()).unwrap();
    let other = CollectionId::new(1, 0x2b);
    s.create_collection(&other).unwrap();
    let names: Vec<String> = (0..250).map(|i| format!("obj-{i}")).collect();
    let ops: Vec<Op> = names
        .iter()
        .map(|n| Op::Create {
            obj: ObjectId::new(if n.ends_with('7') { "ns" } else { "" }, n.clone()),
            exclusive: true,
        })
        .collect();
    submit(s, ops);
    s.submit(Transaction::new(other, Version::ZERO).op(Op::Create {
        obj: obj("elsewhere"),
        exclusive: true,
    }))
    .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<ListCursor> = None;
    loop {
        let page = s.list_objects(&pg(), cursor.as_ref(), 7).unwrap();
        assert!(page.objects.len() <= 7);
        seen.extend(page.objects);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        250,
        "every object exactly once, none from another PG"
    );
    let order: Vec<u32> = seen.iter().map(|o| o.hash().reverse_bits()).collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "listed in (bit-reversed) hash order"
    );
    let mut sorted: Vec<String> = seen.iter().map(|o| o.name.clone()).collect();
    sorted.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(sorted, want);
    let foreign = s.list_objects(&other, None, 10).unwrap().next;
    assert!(foreign.is_none());
    let c = ListCursor(vec![0; 3]);
    assert!(matches!(
        s.list_objects(&pg(), Some(&c), 10),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.list_collections().unwrap(), vec![pg(), other]);
    s.remove_collection(&pg()).unwrap();
    assert_eq!(s.list_collections().unwrap(), vec![other]);
    assert!(s.fsck(true).unwrap().errors.is_empty());
}
