//! Object data operations on a real store: inline and blob objects, atomic
//! transactions, persistence, limits, concurrency, and random op sequences
//! checked against a model.

mod common;

use common::*;
use osd::store::{
    CollectionId, ObjectId, ObjectStore, Op, RocksStore, StoreError, StoreOptions, Transaction,
    Version,
};
use proptest::prelude::*;

#[test]
fn inline_object_lifecycle_on_rocksdb() {
    let (_d, s) = store();
    check_inline_object_lifecycle(&s);
}

#[test]
fn inline_object_lifecycle_in_memory() {
    check_inline_object_lifecycle(&mem_store());
}

fn check_inline_object_lifecycle(s: &dyn ObjectStore) {
    s.create_collection(&pg()).unwrap();
    let o = obj("small");
    submit(
        s,
        vec![Op::Create {
            obj: o.clone(),
            exclusive: true,
        }],
    );
    let e = s
        .submit(txn(vec![Op::Create {
            obj: o.clone(),
            exclusive: true,
        }]))
        .unwrap_err();
    assert!(matches!(e, StoreError::ObjectExists { .. }), "{e}");
    submit(
        s,
        vec![Op::Write {
            obj: o.clone(),
            offset: 10,
            data: b"hello".to_vec(),
        }],
    );
    let mut want = vec![0u8; 10];
    want.extend_from_slice(b"hello");
    assert_eq!(read_all(s, &o), want);
    assert_eq!(s.read(&pg(), &o, 11, 3).unwrap(), b"ell");
    assert_eq!(s.read(&pg(), &o, 100, 3).unwrap(), b"");
    submit(
        s,
        vec![
            Op::Append {
                obj: o.clone(),
                data: b"!".to_vec(),
            },
            Op::Zero {
                obj: o.clone(),
                offset: 10,
                len: 2,
            },
        ],
    );
    assert_eq!(&read_all(s, &o)[10..], b"\0\0llo!");
    submit(
        s,
        vec![Op::Truncate {
            obj: o.clone(),
            size: 12,
        }],
    );
    assert_eq!(read_all(s, &o).len(), 12);
    submit(
        s,
        vec![Op::Truncate {
            obj: o.clone(),
            size: 20,
        }],
    );
    assert_eq!(&read_all(s, &o)[12..], &[0u8; 8]);
    let mut t = Transaction::new(pg(), Version::new(7, 3));
    t.mtime_ns = 42;
    s.submit(t.op(Op::WriteFull {
        obj: o.clone(),
        data: b"new".to_vec(),
    }))
    .unwrap();
    let st = s.stat(&pg(), &o).unwrap();
    assert_eq!(
        (st.size, st.mtime_ns, st.version),
        (3, 42, Version::new(7, 3))
    );
    submit(s, vec![Op::Remove { obj: o.clone() }]);
    assert!(matches!(
        s.stat(&pg(), &o),
        Err(StoreError::NoSuchObject { .. })
    ));
    assert!(matches!(
        s.submit(txn(vec![Op::Remove { obj: o.clone() }])),
        Err(StoreError::NoSuchObject { .. })
    ));
    let other = CollectionId::new(9, 9);
    assert_eq!(
        s.stat(&other, &o).unwrap_err().to_string(),
        "PG 9.9 does not exist"
    );
    assert!(matches!(
        s.submit(Transaction::new(other, Version::ZERO)),
        Err(StoreError::NoSuchCollection(_))
    ));
}

#[test]
fn large_objects_use_blobs_and_reclaim_them() {
    let (_d, s) = store();
    s.create_collection(&pg()).unwrap();
    let o = obj("big");
    let data = pattern(50_000, 1);
    submit(
        &s,
        vec![Op::WriteFull {
            obj: o.clone(),
            data: data.clone(),
        }],
    );
    assert_eq!(blob_files(&s), 1);
    assert_eq!(read_all(&s, &o), data);
    assert_eq!(
        s.read(&pg(), &o, 16_380, 10).unwrap(),
        &data[16_380..16_390],
        "read across a checksum block edge"
    );
    // Append goes into the same blob, past its end.
    let more = pattern(20_000, 2);
    submit(
        &s,
        vec![Op::Append {
            obj: o.clone(),
            data: more.clone(),
        }],
    );
    assert_eq!(blob_files(&s), 1);
    let mut want = [data.clone(), more].concat();
    assert_eq!(read_all(&s, &o), want);
    // An overwrite inside copies to a new blob and drops the old one.
    submit(
        &s,
        vec![Op::Write {
            obj: o.clone(),
            offset: 100,
            data: b"XYZ".to_vec(),
        }],
    );
    want[100..103].copy_from_slice(b"XYZ");
    assert_eq!(read_all(&s, &o), want);
    assert_eq!(blob_files(&s), 1);
    submit(
        &s,
        vec![Op::Zero {
            obj: o.clone(),
            offset: 30_000,
            len: 5,
        }],
    );
    want[30_000..30_005].fill(0);
    assert_eq!(read_all(&s, &o), want);
    // Shrinking keeps the blob, with the last block's checksum recomputed.
    submit(
        &s,
        vec![Op::Truncate {
            obj: o.clone(),
            size: 40_001,
        }],
    );
    want.truncate(40_001);
    assert_eq!(read_all(&s, &o), want);
    submit(
        &s,
        vec![Op::Truncate {
            obj: o.clone(),
            size: 45_000,
        }],
    );
    want.resize(45_000, 0);
    assert_eq!(
        read_all(&s, &o),
        want,
        "zero-extension after a shrink reads zeros, not the old bytes"
    );
    // Below the inline limit the data moves back into RocksDB.
    submit(
        &s,
        vec![Op::Truncate {
            obj: o.clone(),
            size: 500,
        }],
    );
    assert_eq!(read_all(&s, &o), &want[..500]);
    assert_eq!(blob_files(&s), 0);
    submit(
        &s,
        vec![Op::Append {
            obj: o.clone(),
            data: pattern(2000, 3),
        }],
    );
    assert_eq!(
        blob_files(&s),
        1,
        "growing past the limit moves it to a blob"
    );
    submit(&s, vec![Op::Remove { obj: o.clone() }]);
    assert_eq!(blob_files(&s), 0);
    assert!(s.fsck(true).unwrap().errors.is_empty());
}

#[test]
fn a_failing_transaction_changes_nothing() {
    let (_d, s) = store();
    s.create_collection(&pg()).unwrap();
    let (a, b) = (obj("a"), obj("b"));
    submit(
        &s,
        vec![
            Op::WriteFull {
                obj: a.clone(),
                data: b"keep".to_vec(),
            },
            Op::Create {
                obj: b.clone(),
                exclusive: false,
            },
        ],
    );
    let before = s.stat(&pg(), &a).unwrap();
    let e = s.submit(txn(vec![
        Op::WriteFull {
            obj: a.clone(),
            data: pattern(10_000, 9),
        },
        Op::SetXattr {
            obj: a.clone(),
            name: "x".into(),
            value: b"1".to_vec(),
        },
        Op::Create {
            obj: b.clone(),
            exclusive: true,
        },
    ]));
    assert!(matches!(e, Err(StoreError::ObjectExists { .. })));
    assert_eq!(read_all(&s, &a), b"keep");
    assert_eq!(s.stat(&pg(), &a).unwrap(), before);
    assert!(s.getxattrs(&pg(), &a).unwrap().is_empty());
    assert_eq!(blob_files(&s), 0, "the staged blob was cleaned up");
}

/// A group commit applies its transactions in order (each sees the ones
/// before it), fails a refused one alone, reclaims replaced blobs, and
/// leaves everything durable across a reopen.
#[test]
fn group_commit_applies_in_order_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osd");
    let opts = StoreOptions {
        inline_max: INLINE,
        ..StoreOptions::default()
    };
    let (big, small) = (obj("big"), obj("small"));
    let mut want = pattern(30_000, 7);
    {
        let s = RocksStore::mkfs(&path, opts.clone()).unwrap();
        s.create_collection(&pg()).unwrap();
        let results = s.submit_group(vec![
            txn(vec![Op::WriteFull {
                obj: big.clone(),
                data: want.clone(),
            }]),
            txn(vec![Op::Append {
                obj: big.clone(),
                data: b"tail".to_vec(),
            }]),
            txn(vec![Op::Create {
                obj: big.clone(),
                exclusive: true,
            }]),
            // An overwrite inside the blob copies it: the blob the first
            // two wrote is replaced within the same group.
            txn(vec![Op::Write {
                obj: big.clone(),
                offset: 10,
                data: b"XY".to_vec(),
            }]),
            txn(vec![Op::Remove { obj: small.clone() }]),
            txn(vec![Op::WriteFull {
                obj: small.clone(),
                data: b"tiny".to_vec(),
            }]),
        ]);
        let ok: Vec<bool> = results.iter().map(|r| r.is_ok()).collect();
        assert_eq!(ok, [true, true, false, true, false, true]);
        assert!(
            matches!(results[2], Err(StoreError::ObjectExists { .. })),
            "{:?}",
            results[2]
        );
        want.extend_from_slice(b"tail");
        want[10..12].copy_from_slice(b"XY");
        assert_eq!(read_all(&s, &big), want);
        assert_eq!(blob_files(&s), 1, "the replaced blob was reclaimed");
        assert_eq!(s.submit_group(Vec::new()).len(), 0);
    }
    let s = RocksStore::open(&path, opts).unwrap();
    assert_eq!(read_all(&s, &big), want);
    assert_eq!(read_all(&s, &small), b"tiny");
    assert!(s.fsck(true).unwrap().errors.is_empty());
}

#[test]
fn data_survives_reopen_and_orphan_blobs_are_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osd");
    let opts = StoreOptions {
        inline_max: INLINE,
        ..StoreOptions::default()
    };
    {
        let s = RocksStore::mkfs(&path, opts.clone()).unwrap();
        s.create_collection(&pg()).unwrap();
        submit(
            &s,
            vec![
                Op::WriteFull {
                    obj: obj("big"),
                    data: pattern(40_000, 4),
                },
                Op::WriteFull {
                    obj: obj("small"),
                    data: b"tiny".to_vec(),
                },
            ],
        );
    }
    std::fs::write(
        path.join("blobs/ab/00000000000099ab"),
        b"left behind by a crash",
    )
    .unwrap();
    let s = RocksStore::open(&path, opts.clone()).unwrap();
    assert_eq!(read_all(&s, &obj("big")), pattern(40_000, 4));
    assert_eq!(read_all(&s, &obj("small")), b"tiny");
    assert!(
        !path.join("blobs/ab/00000000000099ab").exists(),
        "the orphan blob was reclaimed"
    );
    assert!(RocksStore::mkfs(&path, opts.clone())
        .unwrap_err()
        .to_string()
        .contains("already holds an object store"));
    let bad = dir.path().join("nothing-here");
    assert!(RocksStore::open(&bad, opts)
        .unwrap_err()
        .to_string()
        .contains("is not a Strata object store"));
}

#[test]
fn limits_and_bad_names_are_refused_on_rocksdb() {
    let (_d, s) = store();
    check_limits_and_bad_names_are_refused(&s);
}

#[test]
fn limits_and_bad_names_are_refused_in_memory() {
    check_limits_and_bad_names_are_refused(&mem_store());
}

fn check_limits_and_bad_names_are_refused(s: &dyn ObjectStore) {
    s.create_collection(&pg()).unwrap();
    let o = obj("o");
    let cases: Vec<(Op, &str)> = vec![
        (
            Op::SetXattr {
                obj: o.clone(),
                name: "big".into(),
                value: vec![0; 64 * 1024 + 1],
            },
            "xattr \"big\" of \"o\" is 65537 bytes, above the limit of 65536",
        ),
        (
            Op::Write {
                obj: o.clone(),
                offset: 128 << 20,
                data: vec![1],
            },
            "above the limit",
        ),
        (
            Op::Truncate {
                obj: o.clone(),
                size: u64::MAX,
            },
            "above the limit",
        ),
        (
            Op::Create {
                obj: obj("nul\0name"),
                exclusive: false,
            },
            "contains a NUL byte",
        ),
        (
            Op::Create {
                obj: obj(""),
                exclusive: false,
            },
            "object name is empty",
        ),
        (
            Op::Create {
                obj: obj(&"n".repeat(3000)),
                exclusive: false,
            },
            "above the limit of 2048",
        ),
        (
            Op::OmapSet {
                obj: o.clone(),
                entries: vec![(vec![0; 5000], vec![])],
            },
            "omap key",
        ),
    ];
    for (op, want) in cases {
        let e = s.submit(txn(vec![op])).unwrap_err().to_string();
        assert!(e.contains(want), "{e:?} should mention {want:?}");
    }
    assert!(
        s.list_objects(&pg(), None, 10).unwrap().objects.is_empty(),
        "nothing was created"
    );
}

#[test]
fn concurrent_submitters() {
    let (_d, s) = store();
    let pgs: Vec<CollectionId> = (0..4).map(|i| CollectionId::new(2, i)).collect();
    for c in &pgs {
        s.create_collection(c).unwrap();
    }
    std::thread::scope(|sc| {
        for t in 0..8u8 {
            let (s, pgs) = (&s, &pgs);
            sc.spawn(move || {
                for i in 0..40u32 {
                    let c = pgs[(i % 4) as usize];
                    let size = if i % 3 == 0 { 5000 } else { 100 };
                    let o = ObjectId::named(format!("t{t}-{i}"));
                    s.submit(Transaction::new(c, Version::new(1, u64::from(i))).op(
                        Op::WriteFull {
                            obj: o,
                            data: pattern(size, t),
                        },
                    ))
                    .unwrap();
                }
            });
        }
    });
    for t in 0..8u8 {
        for i in 0..40u32 {
            let size = if i % 3 == 0 { 5000 } else { 100 };
            let got = s
                .read(
                    &pgs[(i % 4) as usize],
                    &ObjectId::named(format!("t{t}-{i}")),
                    0,
                    u64::MAX,
                )
                .unwrap();
            assert_eq!(got, pattern(size, t));
        }
    }
    assert!(s.fsck(true).unwrap().errors.is_empty());
}

/// Ops on one object, checked against a byte vector.
#[derive(Debug, Clone)]
enum ModelOp {
    Write(u64, Vec<u8>),
    WriteFull(Vec<u8>),
    Append(Vec<u8>),
    Truncate(u64),
    Zero(u64, u64),
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    let data = prop::collection::vec(any::<u8>(), 0..3000);
    prop_oneof![
        (0u64..40_000, data.clone()).prop_map(|(o, d)| ModelOp::Write(o, d)),
        prop::collection::vec(any::<u8>(), 0..40_000).prop_map(ModelOp::WriteFull),
        data.prop_map(ModelOp::Append),
        (0u64..45_000).prop_map(ModelOp::Truncate),
        (0u64..40_000, 0u64..20_000).prop_map(|(o, l)| ModelOp::Zero(o, l)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_data_ops_match_a_model(batches in prop::collection::vec(prop::collection::vec(model_op(), 1..4), 1..8)) {
        let (_d, s) = store();
        s.create_collection(&pg()).unwrap();
        let o = obj("p");
        let mut model: Vec<u8> = Vec::new();
        for batch in batches {
            let mut ops = Vec::new();
            for m in batch {
                match m {
                    ModelOp::Write(off, d) => {
                        let end = off as usize + d.len();
                        if model.len() < end { model.resize(end, 0); }
                        model[off as usize..end].copy_from_slice(&d);
                        ops.push(Op::Write { obj: o.clone(), offset: off, data: d });
                    }
                    ModelOp::WriteFull(d) => { model = d.clone(); ops.push(Op::WriteFull { obj: o.clone(), data: d }); }
                    ModelOp::Append(d) => { model.extend_from_slice(&d); ops.push(Op::Append { obj: o.clone(), data: d }); }
                    ModelOp::Truncate(n) => { model.resize(n as usize, 0); ops.push(Op::Truncate { obj: o.clone(), size: n }); }
                    ModelOp::Zero(off, len) => {
                        let end = ((off + len) as usize).min(model.len());
                        if (off as usize) < end { model[off as usize..end].fill(0); }
                        ops.push(Op::Zero { obj: o.clone(), offset: off, len });
                    }
                }
            }
            s.submit(txn(ops)).unwrap();
            prop_assert_eq!(read_all(&s, &o), model.clone());
            prop_assert!(blob_files(&s) <= 1, "at most the object's own blob remains");
        }
        let report = s.fsck(true).unwrap();
        prop_assert!(report.errors.is_empty(), "{:?}", report.errors);
        prop_assert_eq!(report.leaked_blobs, 0);
        prop_assert_eq!(s.stat(&pg(), &o).unwrap().size as usize, model.len());
    }
}

/// The in-memory store's crash model: with sync off, what was submitted
/// but not synced is lost by a crash; what was synced stays.
#[test]
fn memstore_crash_loses_only_unsynced_transactions() {
    let s = mem_store();
    s.create_collection(&pg()).unwrap();
    submit(
        &s,
        vec![Op::WriteFull {
            obj: obj("kept"),
            data: b"a".to_vec(),
        }],
    );
    s.set_sync(false);
    submit(
        &s,
        vec![Op::WriteFull {
            obj: obj("kept"),
            data: b"b".to_vec(),
        }],
    );
    submit(
        &s,
        vec![Op::WriteFull {
            obj: obj("lost"),
            data: b"c".to_vec(),
        }],
    );
    assert_eq!(s.pending(), 2);
    assert_eq!(read_all(&s, &obj("kept")), b"b", "applied before the crash");
    s.crash();
    assert_eq!(read_all(&s, &obj("kept")), b"a");
    assert!(s.stat(&pg(), &obj("lost")).is_err());
    submit(
        &s,
        vec![Op::WriteFull {
            obj: obj("synced"),
            data: b"d".to_vec(),
        }],
    );
    s.sync();
    s.crash();
    assert_eq!(read_all(&s, &obj("synced")), b"d");
}
