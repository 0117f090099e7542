//! The OSD's store writers: two threads apply every PG's transactions and
//! make them durable in groups (Ceph's kv_sync_thread). Whatever queued
//! while a group was being synced goes into that thread's next group, so
//! under load many writes share one WAL sync, and a PG hands a transaction
//! over with one queue push instead of a task and a blocking-pool hop per
//! write.
//!
//! Each PG's transactions apply in the order they were queued (a
//! transaction touches one PG's collection): a thread takes a transaction
//! only when every earlier one of its collection is taken and none is in
//! flight on the other thread. Within that rule the two threads split the
//! work by size: the small lane takes only small transactions (a client
//! write, a log entry), the large lane takes the queue in order up to
//! `MAX_GROUP_BYTES` of data (recovery's and backfill's whole objects, and
//! whatever small ones it meets). A client write of one PG then never
//! waits behind another PG's large writes: it is synced beside them, not
//! after them.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use crate::store::{CollectionId, ObjectStore, StoreError, Transaction};

/// What to do once a transaction is durable (or failed).
pub type OnDone = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Most transactions in one group: bounds how long the first of them
/// waits for the group's sync.
const MAX_GROUP: usize = 64;
/// A large-lane group closes once it writes this much object data.
const MAX_GROUP_BYTES: u64 = 8 << 20;
/// Transactions writing less object data than this are small.
const SMALL_BYTES: u64 = 64 << 10;

type Job = (Transaction, OnDone);

/// The two threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Small = 0,
    Large = 1,
}

/// The queue both threads share.
#[derive(Default)]
struct Shared {
    queue: Queue,
    /// Collections with a group in flight, per lane.
    busy: [HashSet<CollectionId>; 2],
    /// Every handle is gone: drain and stop.
    closed: bool,
}

struct Inner {
    state: Mutex<Shared>,
    wake: Condvar,
}

/// Hands transactions to the writer threads; they end once every handle
/// is dropped and the queue is drained.
pub struct StoreWriter {
    inner: Arc<Inner>,
}

impl StoreWriter {
    /// Starts the writer threads over `store`.
    pub fn start(store: Arc<dyn ObjectStore>) -> std::io::Result<StoreWriter> {
        let inner = Arc::new(Inner {
            state: Mutex::new(Shared::default()),
            wake: Condvar::new(),
        });
        for (lane, name) in [
            (Lane::Small, "store-writer-s"),
            (Lane::Large, "store-writer"),
        ] {
            let (inner, store) = (inner.clone(), store.clone());
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || run_lane(lane, &inner, store.as_ref()))?;
        }
        Ok(StoreWriter { inner })
    }

    /// Queues a transaction; `done` runs on a writer thread once it is
    /// durable. If the writers are gone, `done` gets the error at once.
    pub fn submit(&self, txn: Transaction, done: OnDone) {
        let mut s = lock(&self.inner.state);
        if s.closed {
            drop(s);
            done(Err(StoreError::Closed));
            return;
        }
        s.queue.jobs.push_back((txn, done));
        drop(s);
        self.inner.wake.notify_all();
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        lock(&self.inner.state).closed = true;
        self.inner.wake.notify_all();
    }
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One writer thread: takes the groups its lane may take, applies them,
/// reports each transaction, until closed and drained.
fn run_lane(lane: Lane, inner: &Inner, store: &dyn ObjectStore) {
    let me = lane as usize;
    let other = 1 - me;
    loop {
        let group = {
            let mut guard = lock(&inner.state);
            loop {
                let s = &mut *guard;
                let group = s.queue.take(lane, &s.busy[other]);
                if !group.is_empty() {
                    s.busy[me] = group.iter().map(|(t, _)| t.coll).collect();
                    break group;
                }
                if s.closed && s.queue.jobs.is_empty() {
                    return;
                }
                guard = inner.wake.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        };
        let (txns, done): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        let results = store.submit_group(txns);
        // Reported before the collections are released, so that a PG
        // hears of its commits in the order it queued them.
        for (r, d) in results.into_iter().zip(done) {
            d(r);
        }
        lock(&inner.state).busy[me].clear();
        // What waited for these collections may go now.
        inner.wake.notify_all();
    }
}

/// The transactions queued and not yet taken, in arrival order.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
}

impl Queue {
    /// The next group for `lane`, in queue order: transactions whose
    /// collection has nothing earlier left in the queue and nothing in
    /// flight on the other lane (`busy`); small ones only for the small
    /// lane, up to `MAX_GROUP_BYTES` for the large one.
    fn take(&mut self, lane: Lane, busy: &HashSet<CollectionId>) -> Vec<Job> {
        let mut held: HashSet<CollectionId> = busy.clone();
        let mut group = Vec::new();
        let mut bytes = 0u64;
        let mut rest = VecDeque::with_capacity(self.jobs.len());
        for job in self.jobs.drain(..) {
            let c = job.0.coll;
            let size = job.0.data_bytes();
            let fits = match lane {
                Lane::Small => size < SMALL_BYTES,
                Lane::Large => bytes < MAX_GROUP_BYTES,
            };
            if fits && group.len() < MAX_GROUP && !held.contains(&c) {
                bytes += size;
                group.push(job);
            } else {
                held.insert(c);
                rest.push_back(job);
            }
        }
        self.jobs = rest;
        group
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

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
    /// own, and nothing of a PG in flight on the other lane is taken.
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
        let none = HashSet::new();
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
        assert_eq!(tags(q.take(Lane::Small, &none)), vec![2, 4]);
        // PG 2's write 2 is in flight on the small lane: the large lane
        // takes PG 1's, and leaves PG 2's for later.
        let busy: HashSet<CollectionId> = [CollectionId::new(1, 2)].into();
        assert_eq!(tags(q.take(Lane::Large, &busy)), vec![1, 3]);
        assert!(q.take(Lane::Small, &none).is_empty());
        assert_eq!(tags(q.take(Lane::Large, &none)), vec![5, 6]);
        assert!(q.jobs.is_empty());
        // Only large ones queued: the large lane takes them in order, up
        // to its group's bytes.
        q.jobs.extend([job(1, big, 7), job(2, big, 8)]);
        assert!(q.take(Lane::Small, &none).is_empty());
        assert_eq!(tags(q.take(Lane::Large, &none)), vec![7, 8]);
        let huge = MAX_GROUP_BYTES as usize;
        q.jobs.extend([job(1, huge, 9), job(2, 10, 10)]);
        assert_eq!(tags(q.take(Lane::Large, &none)), vec![9]);
        assert_eq!(tags(q.take(Lane::Large, &none)), vec![10]);
    }

    /// Many PGs' small and large transactions queued at once from several
    /// threads: each PG's apply in the order it queued them, and all
    /// report back.
    #[test]
    fn each_pg_keeps_its_order_across_both_lanes() {
        let store = Arc::new(MemStore::new(Default::default()));
        for pg in 0..4 {
            store.create_collection(&CollectionId::new(1, pg)).unwrap();
        }
        let w = Arc::new(StoreWriter::start(store.clone()).unwrap());
        let (tx, rx) = mpsc::channel();
        let threads: Vec<_> = (0..4u32)
            .map(|pg| {
                let (w, tx) = (w.clone(), tx.clone());
                std::thread::spawn(move || {
                    let c = CollectionId::new(1, pg);
                    for i in 1..=200u64 {
                        // Every tenth is large: a whole-object write.
                        let len = if i % 10 == 0 { 100 << 10 } else { 8 };
                        let mut data = vec![0u8; len];
                        data[..8].copy_from_slice(&i.to_le_bytes());
                        let obj = ObjectId::new("", format!("o{}", i % 3));
                        let t = Transaction::new(c, Version::new(1, i))
                            .op(Op::WriteFull {
                                obj: obj.clone(),
                                data,
                            })
                            .op(Op::Append {
                                obj: ObjectId::new("", "log"),
                                data: i.to_le_bytes().to_vec(),
                            });
                        let tx = tx.clone();
                        w.submit(t, Box::new(move |r| tx.send((pg, i, r.is_ok())).unwrap()));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut seen = [0u64; 4];
        for _ in 0..800 {
            let (pg, i, ok) = rx.recv().unwrap();
            assert!(ok);
            assert_eq!(i, seen[pg as usize] + 1, "PG {pg} reported out of order");
            seen[pg as usize] = i;
        }
        for pg in 0..4 {
            let c = CollectionId::new(1, pg);
            let log = store
                .read(&c, &ObjectId::new("", "log"), 0, 8 * 200)
                .unwrap();
            let got: Vec<u64> = log
                .chunks(8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .collect();
            assert_eq!(got, (1..=200).collect::<Vec<_>>(), "PG {pg}");
            // Each object holds the last write queued to it.
            for k in 0..3u64 {
                let last = (1..=200u64).filter(|i| i % 3 == k).max().unwrap();
                let d = store
                    .read(&c, &ObjectId::new("", format!("o{k}")), 0, 8)
                    .unwrap();
                assert_eq!(u64::from_le_bytes(d[..8].try_into().unwrap()), last);
            }
        }
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
