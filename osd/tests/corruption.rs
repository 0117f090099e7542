//! Damaged bytes on disk are detected: reads fail with a corruption error
//! naming the object and offset (never returning the bad bytes), and
//! `fsck --deep` lists the damaged objects and exits 1.

use std::process::Command;

use osd::store::{
    CollectionId, ObjectId, ObjectStore, Op, RocksStore, StoreError, StoreOptions, Transaction,
    Version,
};

const CFS: [&str; 7] = ["meta", "data", "xattr", "omap", "colls", "blobs", "pgmeta"];

fn opts() -> StoreOptions {
    StoreOptions {
        inline_max: 1024,
        ..StoreOptions::default()
    }
}

fn only_blob(dir: &std::path::Path) -> std::path::PathBuf {
    let mut found = Vec::new();
    for sub in std::fs::read_dir(dir.join("blobs")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            found.push(f.unwrap().path());
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

#[test]
fn damaged_bytes_are_detected_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osd");
    let pg = CollectionId::new(1, 0x2a);
    let (small, big) = (ObjectId::named("inline-obj"), ObjectId::named("blob-obj"));
    let big_data: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    {
        let s = RocksStore::mkfs(&path, opts()).unwrap();
        s.create_collection(&pg).unwrap();
        let t = Transaction::new(pg, Version::new(1, 1))
            .op(Op::WriteFull {
                obj: small.clone(),
                data: vec![7u8; 500],
            })
            .op(Op::WriteFull {
                obj: big.clone(),
                data: big_data.clone(),
            });
        s.submit(t).unwrap();
        assert!(s.fsck(true).unwrap().errors.is_empty());
    }
    // Flip one byte in the blob, in its second checksum block.
    let blob = only_blob(&path);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[20_000] ^= 0x40;
    std::fs::write(&blob, bytes).unwrap();
    // Flip one byte of the inline value, behind the store's back.
    {
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), path.join("db"), CFS).unwrap();
        let cf = db.cf_handle("data").unwrap();
        let (k, mut v) = db
            .iterator_cf(cf, rocksdb::IteratorMode::Start)
            .next()
            .unwrap()
            .map(|(k, v)| (k, v.to_vec()))
            .unwrap();
        v[3] ^= 1;
        db.put_cf(cf, k, v).unwrap();
    }
    let s = RocksStore::open(&path, opts()).unwrap();
    assert_eq!(
        s.read(&pg, &big, 0, 100).unwrap(),
        &big_data[..100],
        "undamaged blocks still read"
    );
    assert_eq!(
        s.read(&pg, &big, 40_000, 100).unwrap(),
        &big_data[40_000..40_100]
    );
    match s.read(&pg, &big, 19_990, 20) {
        Err(e @ StoreError::Corruption { .. }) => {
            assert_eq!(
                e.to_string(),
                "corruption: object \"blob-obj\" in PG 1.2a at offset 16384: checksum mismatch"
            );
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
    assert!(matches!(
        s.read(&pg, &big, 0, u64::MAX),
        Err(StoreError::Corruption { offset: 16384, .. })
    ));
    assert!(matches!(
        s.read(&pg, &small, 0, 10),
        Err(StoreError::Corruption { offset: 0, .. })
    ));
    // A write that needs the damaged bytes refuses rather than launder them.
    let e = s.submit(Transaction::new(pg, Version::new(1, 2)).op(Op::Write {
        obj: small.clone(),
        offset: 1,
        data: vec![1],
    }));
    assert!(matches!(e, Err(StoreError::Corruption { .. })), "{e:?}");
    // Metadata alone is consistent; the deep check finds both objects.
    assert!(s.fsck(false).unwrap().errors.is_empty());
    let deep = s.fsck(true).unwrap();
    let damaged: Vec<String> = deep.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(damaged.len(), 2, "{damaged:?}");
    assert!(
        damaged
            .iter()
            .any(|d| d.contains("\"blob-obj\"") && d.contains("offset 16384")),
        "{damaged:?}"
    );
    assert!(
        damaged
            .iter()
            .any(|d| d.contains("\"inline-obj\"") && d.contains("offset 0")),
        "{damaged:?}"
    );
    drop(s);

    let out = Command::new(env!("CARGO_BIN_EXE_strata-objectstore-tool"))
        .args(["--data-path", path.to_str().unwrap(), "fsck", "--deep"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("damaged: PG 1.2a object \"blob-obj\": checksum mismatch at offset 16384"),
        "{text}"
    );
    assert!(
        text.contains("damaged: PG 1.2a object \"inline-obj\""),
        "{text}"
    );
    // Rewriting a damaged object whole repairs it.
    let s = RocksStore::open(&path, opts()).unwrap();
    s.submit(
        Transaction::new(pg, Version::new(1, 3))
            .op(Op::WriteFull {
                obj: big.clone(),
                data: big_data.clone(),
            })
            .op(Op::WriteFull {
                obj: small.clone(),
                data: vec![8; 10],
            }),
    )
    .unwrap();
    assert!(s.fsck(true).unwrap().errors.is_empty());
    assert_eq!(s.read(&pg, &big, 0, u64::MAX).unwrap(), big_data);
}
