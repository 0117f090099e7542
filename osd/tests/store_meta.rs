//! xattrs, omap, PG log and info, and listing, on a real store.

mod common;

use common::*;
use osd::store::{
    CollectionId, ListCursor, ObjectId, ObjectStore, Op, PgInfo, RocksStore, StoreError,
    StoreOptions, Transaction, Version,
};

#[test]
fn xattrs() {
    let (_d, s) = store();
    s.create_collection(&pg()).unwrap();
    let o = obj("x");
    submit(
        &s,
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
        &s,
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
        &s,
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
        &s,
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
fn omap_semantics() {
    let (_d, s) = store();
    s.create_collection(&pg()).unwrap();
    let o = obj("m");
    let kv = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
    submit(
        &s,
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
        &s,
        vec![Op::OmapRmKeys {
            obj: o.clone(),
            keys: vec![b"a1".to_vec(), b"nope".to_vec()],
        }],
    );
    submit(
        &s,
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
    submit(&s, vec![Op::OmapClear { obj: o.clone() }]);
    assert!(s
        .omap_list(&pg(), &o, None, None, 100)
        .unwrap()
        .entries
        .is_empty());
    assert_eq!(s.omap_header(&pg(), &o).unwrap(), b"");
    submit(
        &s,
        vec![
            Op::OmapSet {
                obj: o.clone(),
                entries: vec![kv("z", "1")],
            },
            Op::Remove { obj: o.clone() },
        ],
    );
    submit(
        &s,
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

#[test]
fn pg_log_and_info() {
    let (_d, s) = store();
    s.create_collection(&pg()).unwrap();
    assert_eq!(s.pg_info(&pg()).unwrap(), None);
    for v in 1..=10 {
        let mut info = PgInfo::new(pg());
        info.last_update = Version::new(1, v);
        let t = Transaction::new(pg(), Version::new(1, v))
            .op(Op::WriteFull {
                obj: obj(&format!("o{v}")),
                data: vec![v as u8],
            })
            .log_entry(entry(v, &format!("o{v}")))
            .info(info);
        s.submit(t).unwrap();
    }
    let log = s.read_log(&pg(), None, 100).unwrap();
    assert_eq!(
        log.iter().map(|e| e.version.counter).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        s.read_log(&pg(), Some(Version::new(1, 7)), 2)
            .unwrap()
            .iter()
            .map(|e| e.version.counter)
            .collect::<Vec<_>>(),
        [8, 9]
    );
    s.submit(Transaction::new(pg(), Version::new(1, 11)).trim_log_to(Version::new(1, 6)))
        .unwrap();
    assert_eq!(
        s.read_log(&pg(), None, 100)
            .unwrap()
            .first()
            .unwrap()
            .version,
        Version::new(1, 7)
    );
    assert_eq!(
        s.pg_info(&pg()).unwrap().unwrap().last_update,
        Version::new(1, 10)
    );
    assert_eq!(
        s.stat(&pg(), &obj("o3")).unwrap().version,
        Version::new(1, 3)
    );
}

#[test]
fn pg_log_is_kept_at_its_configured_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osd");
    let opts = StoreOptions {
        pg_log_max_entries: 5,
        ..StoreOptions::default()
    };
    let s = RocksStore::mkfs(&path, opts.clone()).unwrap();
    s.create_collection(&pg()).unwrap();
    let commit = |s: &RocksStore, v: u64| {
        let mut info = PgInfo::new(pg());
        info.last_update = Version::new(1, v);
        s.submit(
            Transaction::new(pg(), Version::new(1, v))
                .log_entry(entry(v, "o"))
                .info(info),
        )
        .unwrap();
    };
    for v in 1..=12 {
        commit(&s, v);
    }
    let versions = |s: &RocksStore| {
        s.read_log(&pg(), None, 100)
            .unwrap()
            .iter()
            .map(|e| e.version.counter)
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&s), [8, 9, 10, 11, 12]);
    let info = s.pg_info(&pg()).unwrap().unwrap();
    assert_eq!(
        (info.log_tail, info.last_update),
        (Version::new(1, 7), Version::new(1, 12)),
        "the tail follows the trim"
    );
    drop(s);
    // After a restart the count is rebuilt from the log itself.
    let s = RocksStore::open(&path, opts).unwrap();
    commit(&s, 13);
    assert_eq!(versions(&s), [9, 10, 11, 12, 13]);
    assert_eq!(
        s.pg_info(&pg()).unwrap().unwrap().log_tail,
        Version::new(1, 8)
    );
}

#[test]
fn listing_is_complete_paginated_and_in_hash_order() {
    let (_d, s) = store();
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
    submit(&s, ops);
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
