//! Durability under kill -9: a writer process (`strata-objectstore-tool
//! bench --ack-log`) is killed with SIGKILL at random points many times; after
//! each kill the store must hold every acknowledged transaction whole, and no
//! partial transaction may be visible.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use osd::store::{CollectionId, ObjectId, ObjectStore, RocksStore, StoreOptions};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Kills the writer if the test fails early.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `strata-objectstore-tool` with `args`, and kills it with SIGKILL
/// as soon as `progress()` reaches `target` (a random point of its work),
/// failing if it makes no progress or exits by itself first.
fn run_until_killed(args: &[&str], progress: impl Fn() -> usize, target: usize, round: usize) {
    let child = Command::new(env!("CARGO_BIN_EXE_strata-objectstore-tool"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = Writer(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress() < target {
        assert!(
            Instant::now() < deadline,
            "round {round}: the writer made no progress"
        );
        if let Some(status) = w.0.try_wait().unwrap() {
            panic!("round {round}: the writer exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    w.0.kill().unwrap();
    w.0.wait().unwrap();
}

/// Complete lines of the ack log (`<pgid> <object> <sha256>\n`).
fn ack_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter(|l| {
            l.ends_with('\n')
                && l.trim_end()
                    .rsplit(' ')
                    .next()
                    .is_some_and(|sha| sha.len() == 64)
        })
        .map(|l| l.trim_end().to_string())
        .collect()
}

#[test]
fn acknowledged_transactions_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("osd");
    let ack = dir.path().join("acks");
    let mut rng = rand::rng();
    let sizes = ["3000", "70000", "300000"];
    let mut verified = 0;
    for round in 0..12 {
        let before = ack_lines(&ack).len();
        let target = before + rng.random_range(1..40);
        // Kill after a random number of new acknowledgements.
        let (data_s, ack_s) = (data.to_str().unwrap(), ack.to_str().unwrap());
        let args = [
            "--data-path",
            data_s,
            "bench",
            "--seconds",
            "60",
            "--threads",
            "4",
            "--pgs",
            "4",
            "--size",
            sizes[round % sizes.len()],
            "--ack-log",
            ack_s,
        ];
        run_until_killed(&args, || ack_lines(&ack).len(), target, round);

        let store = RocksStore::open(&data, StoreOptions::default()).unwrap();
        let acked = ack_lines(&ack);
        let mut acked_objects = HashSet::new();
        for line in &acked {
            let mut f = line.split(' ');
            let (pg, name, sha) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            let pg: CollectionId = pg.parse().unwrap();
            let o = ObjectId::named(name);
            let bytes = store
                .read(&pg, &o, 0, u64::MAX)
                .unwrap_or_else(|e| panic!("round {round}: acknowledged {name} lost: {e}"));
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                sha,
                "round {round}: {name} has other bytes than acknowledged"
            );
            acked_objects.insert((pg, name.to_string()));
        }
        // Nothing partial: every object present is whole (its data matches
        // the checksum xattr written in the same transaction, and its log
        // entry is there).
        for pg in store.list_collections().unwrap() {
            // The writers log each write as the PG layer does ('l' keys).
            let logged: HashMap<String, ()> = store
                .meta_scan(&pg, b"l", Some(b"m"), usize::MAX)
                .unwrap()
                .into_iter()
                .map(|(_, v)| {
                    let e: osd::pg::log::LogEntry =
                        cluster::codec::decode("PG log entry", &v).unwrap();
                    (e.object.name, ())
                })
                .collect();
            let mut cursor = None;
            loop {
                let page = store.list_objects(&pg, cursor.as_ref(), 500).unwrap();
                for o in &page.objects {
                    let bytes = store.read(&pg, o, 0, u64::MAX).unwrap();
                    let sha = store.getxattr(&pg, o, "sha256").unwrap();
                    assert_eq!(
                        hex::encode(Sha256::digest(&bytes)).as_bytes(),
                        sha.as_slice(),
                        "round {round}: {o} is torn"
                    );
                    assert!(
                        logged.contains_key(&o.name),
                        "round {round}: {o} has no PG log entry"
                    );
                }
                match page.next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
        }
        let report = store.fsck(true).unwrap();
        assert!(
            report.errors.is_empty(),
            "round {round}: {:?}",
            report.errors
        );
        assert_eq!(report.leaked_blobs, 0, "opening reclaims interrupted blobs");
        verified = acked.len();
        assert!(acked_objects.len() == acked.len());
    }
    assert!(
        verified >= 12,
        "only {verified} acknowledged transactions were checked"
    );
}

/// Every op kind (write_full, append, overwrite, truncate, zero, remove,
/// inline and blob) under kill -9: each object must be in its last
/// acknowledged state, or in the state of the transaction that was in flight.
#[test]
fn mixed_operations_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("osd");
    let mut rng = rand::rng();
    for round in 0..16 {
        let log = dir.path().join(format!("log-{round}"));
        let target = rng.random_range(1..150);
        let (data_s, log_s) = (data.to_str().unwrap(), log.to_str().unwrap());
        let args = [
            "--data-path",
            data_s,
            "stress",
            "--seconds",
            "60",
            "--threads",
            "3",
            "--ack-log",
            log_s,
        ];
        let acks = || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("ack "))
                .count()
        };
        run_until_killed(&args, acks, target, round);

        // Per object: the last acknowledged state, and the intent after it.
        let mut last_ack: HashMap<(String, String), String> = HashMap::new();
        let mut in_flight: HashMap<(String, String), String> = HashMap::new();
        for line in std::fs::read_to_string(&log)
            .unwrap()
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
        {
            let f: Vec<&str> = line.trim_end().split(' ').collect();
            let key = (f[1].to_string(), f[2].to_string());
            match f[0] {
                "intent" => {
                    in_flight.insert(key, f[3].to_string());
                }
                "ack" => {
                    in_flight.remove(&key);
                    last_ack.insert(key, f[3].to_string());
                }
                other => panic!("unexpected log line {other}"),
            }
        }
        let store = RocksStore::open(&data, StoreOptions::default()).unwrap();
        let mut checked = 0;
        for key in last_ack
            .keys()
            .chain(in_flight.keys())
            .collect::<HashSet<_>>()
        {
            let pg: CollectionId = key.0.parse().unwrap();
            let got = match store.read(&pg, &ObjectId::named(&key.1), 0, u64::MAX) {
                Ok(d) => hex::encode(Sha256::digest(&d)),
                Err(osd::store::StoreError::NoSuchObject { .. }) => "absent".to_string(),
                Err(e) => panic!("round {round}: {}: {e}", key.1),
            };
            let acked = last_ack.get(key).map_or("absent", String::as_str);
            let pending = in_flight.get(key).map(String::as_str);
            assert!(
                got == acked || Some(got.as_str()) == pending,
                "round {round}: {} holds {got}, acknowledged {acked}, in flight {pending:?}",
                key.1
            );
            checked += 1;
        }
        assert!(checked > 0);
        let report = store.fsck(true).unwrap();
        assert!(
            report.errors.is_empty(),
            "round {round}: {:?}",
            report.errors
        );
        assert_eq!(report.leaked_blobs, 0);
    }
}
