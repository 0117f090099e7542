//! The OSD's store writer: one thread applies every PG's transactions in
//! the order they were queued and makes them durable in groups (Ceph's
//! kv_sync_thread). Whatever queued while a group was being synced goes
//! into the next group, so under load many writes share one WAL sync, and
//! a PG hands a transaction over with one channel send instead of a task
//! and a blocking-pool hop per write. One queue for the whole OSD keeps
//! each PG's transactions in order without a lock per PG.

use std::sync::mpsc;
use std::sync::Arc;

use crate::store::{ObjectStore, StoreError, Transaction};

/// What to do once a transaction is durable (or failed).
pub type OnDone = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Most transactions in one group: bounds how long the first of them
/// waits for the group's sync.
const MAX_GROUP: usize = 64;

/// Hands transactions to the writer thread; the thread ends once every
/// handle is dropped and the queue is drained.
pub struct StoreWriter {
    tx: mpsc::Sender<(Transaction, OnDone)>,
}

impl StoreWriter {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn ObjectStore>) -> std::io::Result<StoreWriter> {
        let (tx, rx) = mpsc::channel::<(Transaction, OnDone)>();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    let (txns, done): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                    let results = store.submit_group(txns);
                    for (r, d) in results.into_iter().zip(done) {
                        d(r);
                    }
                }
            })?;
        Ok(StoreWriter { tx })
    }

    /// Queues a transaction; `done` runs on the writer thread once it is
    /// durable. If the writer is gone, `done` gets the error at once.
    pub fn submit(&self, txn: Transaction, done: OnDone) {
        if let Err(mpsc::SendError((_, done))) = self.tx.send((txn, done)) {
            done(Err(StoreError::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CollectionId, MemStore, ObjectId, Op, Version};

    /// Transactions queued from one thread are applied in that order, and
    /// each reports back once.
    #[test]
    fn applies_in_order_and_reports_each() {
        let store = Arc::new(MemStore::new(Default::default()));
        let c = CollectionId::new(1, 0);
        store.create_collection(&c).unwrap();
        let w = StoreWriter::start(store.clone()).unwrap();
        let (tx, rx) = mpsc::channel();
        let obj = ObjectId::new("", "log");
        for i in 1..=500u64 {
            let t = Transaction::new(c, Version::new(1, i)).op(Op::Append {
                obj: obj.clone(),
                data: i.to_le_bytes().to_vec(),
            });
            let tx = tx.clone();
            w.submit(t, Box::new(move |r| tx.send((i, r.is_ok())).unwrap()));
        }
        let done: Vec<(u64, bool)> = (0..500).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(done, (1..=500).map(|i| (i, true)).collect::<Vec<_>>());
        let data = store.read(&c, &obj, 0, 8 * 500).unwrap();
        let got: Vec<u64> = data
            .chunks(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(got, (1..=500).collect::<Vec<_>>());
    }

    /// A transaction the store refuses fails alone.
    #[test]
    fn a_refused_transaction_fails_alone() {
        let store = Arc::new(MemStore::new(Default::default()));
        let c = CollectionId::new(1, 0);
        store.create_collection(&c).unwrap();
        let w = StoreWriter::start(store.clone()).unwrap();
        let (tx, rx) = mpsc::channel();
        let ops = [
            Op::Create {
                obj: ObjectId::new("", "a"),
                exclusive: true,
            },
            Op::Create {
                obj: ObjectId::new("", "a"),
                exclusive: true,
            },
            Op::Create {
                obj: ObjectId::new("", "b"),
                exclusive: true,
            },
        ];
        for (i, op) in ops.into_iter().enumerate() {
            let tx = tx.clone();
            let t = Transaction::new(c, Version::new(1, i as u64 + 1)).op(op);
            w.submit(t, Box::new(move |r| tx.send((i, r.is_ok())).unwrap()));
        }
        let done: Vec<_> = (0..3).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(done, vec![(0, true), (1, false), (2, true)]);
    }
}
