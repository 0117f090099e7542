//! `bench`: synced write transactions against the store, and (with
//! `--baseline`) the same-run baselines they are judged by: raw RocksDB
//! synced puts of the same size, the disk's fdatasync rate, and its
//! sequential write bandwidth.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use osd::pg::log::{LogEntry, LogKind};
use osd::store::{
    CollectionId, ObjectId, ObjectStore, Op, RocksStore, StoreOptions, Transaction, Version,
};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// How long to write.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Object size (bytes; K, M suffixes allowed, e.g. 4K, 4M).
    #[arg(long, default_value = "4K", value_parser = parse_size)]
    pub size: u64,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// PGs the objects are spread over (pool 0, seeds 0..N). A PG's
    /// transactions apply one at a time, as on a real OSD, which carries
    /// about a hundred PGs.
    #[arg(long, default_value_t = 32)]
    pub pgs: u32,
    /// After each transaction is durable, append `<pgid> <object> <sha256>`.
    #[arg(long, value_name = "FILE")]
    pub ack_log: Option<String>,
    /// Also measure raw RocksDB, fdatasync and sequential-write baselines.
    #[arg(long)]
    pub baseline: bool,
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_uppercase();
    let t = t.trim_end_matches("IB").trim_end_matches('B');
    let (num, mult) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("'{s}' is not a size (e.g. 4096, 4K, 4M)"))
}

/// The `p` quantile of sorted latencies in microseconds, in milliseconds.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct Outcome {
    ops: u64,
    bytes: u64,
    secs: f64,
    lat_us: Vec<u64>,
}

impl Outcome {
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

/// Runs `work` on `threads` threads for `seconds`, printing a line a second.
fn drive(
    label: &str,
    threads: usize,
    seconds: u64,
    size: u64,
    work: impl Fn(usize, &mut rand::rngs::SmallRng) -> Result<(), String> + Sync,
) -> Result<Outcome, String> {
    let stop = AtomicBool::new(false);
    let ops = AtomicU64::new(0);
    let error: Mutex<Option<String>> = Mutex::new(None);
    let start = Instant::now();
    let lat = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, ops, error, work) = (&stop, &ops, &error, &work);
                sc.spawn(move || {
                    let mut rng =
                        rand::rngs::SmallRng::seed_from_u64(rand::random::<u64>() ^ t as u64);
                    let mut lat = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        if let Err(e) = work(t, &mut rng) {
                            *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                        lat.push(t0.elapsed().as_micros() as u64);
                        ops.fetch_add(1, Ordering::Relaxed);
                    }
                    lat
                })
            })
            .collect();
        let mut last = 0;
        for sec in 1..=seconds {
            // Progress reporting, not synchronisation: the workers stop on the flag.
            std::thread::sleep(
                Duration::from_secs(1)
                    .saturating_sub(start.elapsed().saturating_sub(Duration::from_secs(sec - 1))),
            );
            let now = ops.load(Ordering::Relaxed);
            println!(
                "  {label} {sec:>3}s: {:>8} ops/s {:>9.2} MB/s",
                now - last,
                (now - last) as f64 * size as f64 / 1e6
            );
            last = now;
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect::<Vec<u64>>()
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut lat_us = lat;
    lat_us.sort_unstable();
    let n = lat_us.len() as u64;
    Ok(Outcome {
        ops: n,
        bytes: n * size,
        secs: start.elapsed().as_secs_f64(),
        lat_us,
    })
}

fn report(label: &str, o: &Outcome) {
    println!(
        "{label}: {} ops in {:.1} s = {:.0} ops/s, {:.2} MB/s, latency p50 {:.3} ms p99 {:.3} ms",
        o.ops,
        o.secs,
        o.ops_per_s(),
        o.mb_per_s(),
        percentile(&o.lat_us, 0.50),
        percentile(&o.lat_us, 0.99),
    );
}

pub fn run(path: &Path, a: &BenchArgs, opts: StoreOptions) -> Result<ExitCode, String> {
    if a.threads == 0 || a.pgs == 0 || a.seconds == 0 {
        return Err("--threads, --pgs and --seconds must be at least 1".into());
    }
    let store = RocksStore::open_or_mkfs(path, opts).map_err(|e| e.to_string())?;
    if a.size > store.options().max_object_size {
        return Err(format!(
            "--size {} is above the maximum object size {}",
            a.size,
            store.options().max_object_size
        ));
    }
    let pgs: Vec<CollectionId> = (0..a.pgs).map(|s| CollectionId::new(0, s)).collect();
    for c in &pgs {
        if !store.collection_exists(c).map_err(|e| e.to_string())? {
            store.create_collection(c).map_err(|e| e.to_string())?;
        }
    }
    let ack = match &a.ack_log {
        Some(f) => Some(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .map_err(|e| format!("cannot open {f}: {e}"))?,
        )),
        None => None,
    };
    let run_id: u32 = rand::random();
    // Versions only need to grow across runs of the bench on one store.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
        * 1000;
    let seq = AtomicU64::new(0);
    println!(
        "bench: {} s, object size {} bytes, {} threads, {} PGs, store {}",
        a.seconds,
        a.size,
        a.threads,
        a.pgs,
        path.display()
    );
    let baselines = if a.baseline {
        Some(baselines(path, a)?)
    } else {
        None
    };
    let store = Arc::new(store);
    let o = drive("store", a.threads, a.seconds, a.size, |t, rng| {
        let n = seq.fetch_add(1, Ordering::Relaxed);
        let c = pgs[(n % pgs.len() as u64) as usize];
        let obj = ObjectId::named(format!("bench-{run_id:08x}-{t}-{n}"));
        let mut data = vec![0u8; a.size as usize];
        rng.fill(&mut data[..]);
        let digest = if ack.is_some() {
            hex::encode(Sha256::digest(&data))
        } else {
            String::new()
        };
        let version = Version::new(1, base + n);
        // What a client write carries: its PG-log entry.
        let entry = LogEntry {
            version,
            prior_version: Version::ZERO,
            object: obj.clone(),
            kind: LogKind::Modify,
            reqid: None,
            mtime_ns: 0,
        };
        let mut t = Transaction::new(c, version)
            .op(Op::WriteFull {
                obj: obj.clone(),
                data,
            })
            .op(Op::SetXattr {
                obj: obj.clone(),
                name: "sha256".into(),
                value: digest.clone().into_bytes(),
            });
        t.meta.push(osd::pg::info::meta::entry(&entry));
        store.submit(t).map_err(|e| e.to_string())?;
        if let Some(f) = &ack {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            f.write_all(format!("{c} {} {digest}\n", obj.name).as_bytes())
                .and_then(|_| f.flush())
                .map_err(|e| format!("ack log: {e}"))?;
        }
        Ok(())
    })?;
    report("store write transactions", &o);
    if let Some(b) = baselines {
        println!("baselines measured in this run, same disk:");
        report(
            &format!("  raw RocksDB synced puts of {} bytes", a.size),
            &b.rocksdb,
        );
        report("  raw fdatasync'd 4 KiB writes (1 thread)", &b.fdatasync);
        report(
            &format!(
                "  raw sequential {} byte writes, each fdatasync'd",
                b.seq_chunk
            ),
            &b.seq,
        );
        println!(
            "ratios: store/rocksdb-puts {:.2} (ops/s), store/fdatasync {:.2} (ops/s), store/synced-seq-write {:.2} (MB/s), store/raw-bandwidth {:.2} (MB/s)",
            o.ops_per_s() / b.rocksdb.ops_per_s(),
            o.ops_per_s() / b.fdatasync.ops_per_s(),
            o.mb_per_s() / b.seq.mb_per_s(),
            o.mb_per_s() / b.stream_mb_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

struct Baselines {
    rocksdb: Outcome,
    fdatasync: Outcome,
    seq: Outcome,
    seq_chunk: u64,
    /// MB/s of sequential writes with one fdatasync at the end (like
    /// `dd conv=fdatasync`): the disk's raw bandwidth.
    stream_mb_s: f64,
}

fn baselines(path: &Path, a: &BenchArgs) -> Result<Baselines, String> {
    let dir = path.join("bench-baseline");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secs = a.seconds.div_ceil(2).max(2);
    let result = (|| {
        let db = rocksdb::DB::open_default(dir.join("db")).map_err(|e| e.to_string())?;
        let seq = AtomicU64::new(0);
        let rocksdb = drive("rocksdb", a.threads, secs, a.size, |_, rng| {
            let mut v = vec![0u8; a.size as usize];
            rng.fill(&mut v[..]);
            let mut wo = rocksdb::WriteOptions::default();
            wo.set_sync(true);
            db.put_opt(seq.fetch_add(1, Ordering::Relaxed).to_be_bytes(), v, &wo)
                .map_err(|e| e.to_string())
        })?;
        drop(db);
        let f = File::create(dir.join("fdatasync")).map_err(|e| e.to_string())?;
        let off = AtomicU64::new(0);
        let block = vec![0x5au8; 4096];
        let fdatasync = drive("fdatasync", 1, secs, 4096, |_, _| {
            f.write_all_at(&block, off.fetch_add(4096, Ordering::Relaxed))
                .and_then(|_| f.sync_data())
                .map_err(|e| e.to_string())
        })?;
        // Stream first: it also allocates the file, so the synced writes
        // below measure the disk itself on blocks already written once
        // (on thin-provisioned virtual disks, first writes are much slower).
        let chunk = a.size.max(1 << 20);
        let buf = vec![0xa5u8; chunk as usize];
        let f = File::create(dir.join("seq")).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let mut written = 0u64;
        while written < (1 << 30) && t0.elapsed() < Duration::from_secs(secs) {
            f.write_all_at(&buf, written).map_err(|e| e.to_string())?;
            written += chunk;
        }
        f.sync_data().map_err(|e| e.to_string())?;
        let stream_mb_s = written as f64 / t0.elapsed().as_secs_f64() / 1e6;
        println!("  stream: {written} bytes, one fdatasync: {stream_mb_s:.1} MB/s");
        let off = AtomicU64::new(0);
        let seq = drive("seq-write", 1, secs, chunk, |_, _| {
            let at = off.fetch_add(chunk, Ordering::Relaxed) % written.max(chunk);
            f.write_all_at(&buf, at)
                .and_then(|_| f.sync_data())
                .map_err(|e| e.to_string())
        })?;
        Ok(Baselines {
            rocksdb,
            fdatasync,
            seq,
            seq_chunk: chunk,
            stream_mb_s,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
