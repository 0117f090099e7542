//! Helpers shared by the object-store tests: a real RocksDB store in a temp
//! dir, with a small inline limit so objects cross between inline and blob
//! storage.

#![allow(dead_code)]

use osd::store::{
    CollectionId, ObjectId, ObjectStore, Op, RocksStore, StoreOptions, Transaction, Version,
};

pub const INLINE: u64 = 1024;

pub fn store() -> (tempfile::TempDir, RocksStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = RocksStore::mkfs(
        &dir.path().join("osd"),
        StoreOptions {
            inline_max: INLINE,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    (dir, s)
}

/// The in-memory store with the same limits (the same tests run on both).
pub fn mem_store() -> osd::store::MemStore {
    osd::store::MemStore::new(StoreOptions {
        inline_max: INLINE,
        ..StoreOptions::default()
    })
}

pub fn pg() -> CollectionId {
    CollectionId::new(1, 0x2a)
}

pub fn obj(n: &str) -> ObjectId {
    ObjectId::named(n)
}

pub fn txn(ops: Vec<Op>) -> Transaction {
    let mut t = Transaction::new(pg(), Version::new(1, 1));
    t.ops = ops;
    t
}

pub fn submit(s: &dyn ObjectStore, ops: Vec<Op>) {
    s.submit(txn(ops)).unwrap();
}

pub fn read_all(s: &dyn ObjectStore, o: &ObjectId) -> Vec<u8> {
    s.read(&pg(), o, 0, u64::MAX).unwrap()
}

pub fn blob_files(s: &RocksStore) -> usize {
    walk(&s.path().join("blobs"))
}

pub fn walk(p: &std::path::Path) -> usize {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
