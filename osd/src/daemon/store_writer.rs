//! The OSD's store writer: one thread applies every PG's transactions and
//! makes them durable in groups (Ceph's kv_sync_thread). Whatever queued
//! while a group was being synced goes into the next group, so under load
//! many writes share one WAL sync, and a PG hands a transaction over with
//! one channel send instead of a task and a blocking-pool hop per write.
//!
//! Each PG's transactions apply in the order they were queued (a
//! transaction touches one PG's collection). Across PGs, small
//! transactions (a client write, a log entry) may pass large ones
//! (recovery's and backfill's whole objects): groups alternate between
//! only small transactions that no earlier large one of their PG holds
//! back, and the queue in order up to `MAX_GROUP_BYTES` of data. A client
//! write then waits for at most one group of large writes, not for every
//! object recovery has queued on this OSD.

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc;
use std::sync::Arc;

use crate::store::{CollectionId, ObjectStore, StoreError, Transaction};

/// What to do once a transaction is durable (or failed).
pub type OnDone = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Most transactions in one group: bounds how long the first of them
/// waits for the group's sync.
const MAX_GROUP: usize = 64;
/// An in-order group closes once it writes this much object data.
const MAX_GROUP_BYTES: u64 = 8 << 20;
/// Transactions writing less object data than this are small.
const SMALL_BYTES: u64 = 64 << 10;

type Job = (Transaction, OnDone);

/// Hands transactions to the writer thread; the thread ends once every
/// handle is dropped and the queue is drained.
pub struct StoreWriter {
    tx: mpsc::Sender<Job>,
}

impl StoreWriter {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn ObjectStore>) -> std::io::Result<StoreWriter> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let mut queue = Queue::default();
                while queue.fill(&rx) {
                    let (txns, done): (Vec<_>, Vec<_>) = queue.next_group().into_iter().unzip();
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

/// The transactions queued and not yet applied, in arrival order.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// The last group was small transactions only.
    small_last: bool,
}

impl Queue {
    /// Takes in what was queued, waiting if nothing is; `false` once the
    /// channel is closed and everything is applied.
    fn fill(&mut self, rx: &mpsc::Receiver<Job>) -> bool {
        if self.jobs.is_empty() {
            match rx.recv() {
                Ok(j) => self.jobs.push_back(j),
                Err(_) => return false,
            }
        }
        while let Ok(j) = rx.try_recv() {
            self.jobs.push_back(j);
        }
        true
    }

    /// The next group to apply (never empty while jobs are queued).
    fn next_group(&mut self) -> Vec<Job> {
        if !self.small_last {
            let small = self.take_small();
            if !small.is_empty() {
                self.small_last = true;
                return small;
            }
        }
        self.small_last = false;
        self.take_in_order()
    }

    /// Small transactions that no earlier large one of their collection
    /// holds back, in order.
    fn take_small(&mut self) -> Vec<Job> {
        let mut held: HashSet<CollectionId> = HashSet::new();
        let mut group = Vec::new();
        let mut rest = VecDeque::with_capacity(self.jobs.len());
        for job in self.jobs.drain(..) {
            let c = job.0.coll;
            let small = job.0.data_bytes() < SMALL_BYTES;
            if small && group.len() < MAX_GROUP && !held.contains(&c) {
                group.push(job);
            } else {
                held.insert(c);
                rest.push_back(job);
            }
        }
        self.jobs = rest;
        group
    }

    /// The queue's head, in order, up to `MAX_GROUP` transactions or
    /// `MAX_GROUP_BYTES` of data (at least one transaction).
    fn take_in_order(&mut self) -> Vec<Job> {
        let mut group = Vec::new();
        let mut bytes = 0u64;
        while group.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
            let Some(job) = self.jobs.pop_front() else {
                break;
            };
            bytes += job.0.data_bytes();
            group.push(job);
        }
        group
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

    /// Small transactions pass large ones of other PGs, never of their
    /// own, and large ones get the next group.
    #[test]
    fn small_writes_pass_large_ones_of_other_pgs_only() {
        let job = |pg: u32, bytes: usize, tag: u64| -> Job {
            let t = Transaction::new(CollectionId::new(1, pg), Version::new(1, tag)).op(
                Op::WriteFull {
                    obj: ObjectId::new("", "o"),
                    data: vec![0; bytes],
                },
            );
            (t, Box::new(|_| {}))
        };
        let big = SMALL_BYTES as usize;
        let mut q = Queue::default();
        q.jobs.extend([
            job(1, big, 1),
            job(2, 10, 2),
            job(1, 10, 3),
            job(3, 10, 4),
            job(2, big, 5),
            job(2, 10, 6),
        ]);
        let tags = |g: Vec<Job>| g.iter().map(|(t, _)| t.version.counter).collect::<Vec<_>>();
        assert_eq!(tags(q.next_group()), vec![2, 4]);
        assert_eq!(tags(q.next_group()), vec![1, 3, 5, 6]);
        assert!(q.jobs.is_empty());
        // Only large ones queued: they go in order.
        q.jobs.extend([job(1, big, 7), job(2, big, 8)]);
        assert_eq!(tags(q.next_group()), vec![7, 8]);
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
