//! `strados bench`: rados bench's workload and report. `write` keeps
//! CONCURRENCY writes of SIZE-byte objects in flight for SECONDS; `seq`
//! and `rand` read back what a `write --no-cleanup` left. Every second a
//! progress line; at the end bandwidth (MB/sec), IOPS and latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::{ClientError, IoCtx};
use cluster::msg::RemoteError;

const META: &str = "benchmark_last_metadata";

pub fn parse_size(s: &str) -> Result<usize, ClientError> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 1024),
        Some('M' | 'm') => (&t[..t.len() - 1], 1 << 20),
        _ => (t, 1),
    };
    num.parse::<usize>()
        .ok()
        .map(|n| n * mult)
        .filter(|n| *n > 0)
        .ok_or_else(|| ClientError::Config(format!("-b {s}: expected a size like 4096, 4K or 4M")))
}

#[derive(Default)]
struct Stats {
    ops: AtomicU64,
    started: AtomicU64,
    lat: Mutex<Vec<f64>>,
    last_lat: Mutex<f64>,
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var =
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len().max(2).saturating_sub(1) as f64;
    (m, var.sqrt())
}

fn object_name(prefix: &str, i: u64) -> String {
    format!("{prefix}_object{i}")
}

/// How `bench` runs.
pub struct Opts {
    pub seconds: u64,
    pub size: usize,
    pub concurrency: usize,
    /// write: cycle over this many objects instead of a new one per write.
    pub objects: Option<u64>,
    pub no_cleanup: bool,
}

pub async fn run(pool: &IoCtx, mode: &str, o: &Opts) -> Result<(), ClientError> {
    let (seconds, size, no_cleanup) = (o.seconds, o.size, o.no_cleanup);
    let concurrency = o.concurrency.max(1);
    let working_set = match o.objects {
        Some(0) => {
            return Err(ClientError::Config(
                "bench --objects must be at least 1".into(),
            ))
        }
        Some(n) => n,
        None => u64::MAX,
    };
    let (prefix, count, size) = match mode {
        "write" => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let prefix = format!("benchmark_data_{}_{}", host.trim(), std::process::id());
            println!(
                "Maintaining {concurrency} concurrent writes of {size} bytes to objects of size {size} for up to {seconds} seconds or 0 objects"
            );
            println!("Object prefix: {prefix}");
            (prefix, 0, size)
        }
        "seq" | "rand" => {
            let meta = pool.read(META, 0, 0).await.map_err(|e| match e {
                ClientError::Remote(r) if r.code == cluster::msg::ErrorCode::NotFound => ClientError::Remote(
                    RemoteError::not_found(format!(
                        "no benchmark data in pool '{}': run bench SECONDS write --no-cleanup first",
                        pool.pool_name()
                    )),
                ),
                other => other,
            })?;
            let text = String::from_utf8_lossy(&meta).to_string();
            let mut it = text.split_whitespace();
            let prefix = it.next().unwrap_or_default().to_string();
            let count: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let size: usize = it.next().and_then(|s| s.parse().ok()).unwrap_or(size);
            if count == 0 {
                return Err(ClientError::Config(
                    "the benchmark metadata lists no objects".into(),
                ));
            }
            (prefix, count, size)
        }
        other => {
            return Err(ClientError::Config(format!(
                "bench mode '{other}': expected write, seq or rand"
            )))
        }
    };
    let stats = Arc::new(Stats::default());
    let next = Arc::new(AtomicU64::new(0));
    // SIGTERM or ctrl-c ends the run early; the summary still prints
    // (scripts time a window this way, e.g. deploy/bench-recovery.sh).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let term = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
            }
            stop.store(true, Ordering::Relaxed);
        })
    };
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let payload = Arc::new(vec![0x5au8; size]);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (pool, stats, next, payload, prefix, stop) = (
            pool.clone(),
            stats.clone(),
            next.clone(),
            payload.clone(),
            prefix.clone(),
            stop.clone(),
        );
        let mode = mode.to_string();
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let i = match mode.as_str() {
                    "rand" => rand::random::<u64>() % count,
                    "seq" => {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        i
                    }
                    _ => next.fetch_add(1, Ordering::Relaxed) % working_set,
                };
                stats.started.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let name = object_name(&prefix, i);
                let r = if mode == "write" {
                    pool.write_full(&name, &payload).await.map(|_| ())
                } else {
                    pool.read(&name, 0, 0).await.and_then(|d| {
                        if d.len() == payload.len() {
                            Ok(())
                        } else {
                            Err(ClientError::Remote(RemoteError::new(
                                cluster::msg::ErrorCode::Io,
                                format!(
                                    "{name}: read {} bytes, expected {}",
                                    d.len(),
                                    payload.len()
                                ),
                            )))
                        }
                    })
                };
                r?;
                let l = t.elapsed().as_secs_f64();
                stats.ops.fetch_add(1, Ordering::Relaxed);
                stats.lat.lock().unwrap_or_else(|p| p.into_inner()).push(l);
                *stats.last_lat.lock().unwrap_or_else(|p| p.into_inner()) = l;
            }
            Ok::<(), ClientError>(())
        }));
    }
    // Progress, once a second.
    let mb = move |ops: u64| ops as f64 * size as f64 / 1_000_000.0;
    let progress = {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut per_sec = Vec::new();
            let mut prev = 0u64;
            let mut sec = 0u64;
            println!(
                "  sec Cur ops   started  finished  avg MB/s  cur MB/s last lat(s)  avg lat(s)"
            );
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                sec += 1;
                let done = stats.ops.load(Ordering::Relaxed);
                let started = stats.started.load(Ordering::Relaxed);
                let cur = done - prev;
                prev = done;
                per_sec.push(cur);
                let (avg_lat, _) = mean_sd(&stats.lat.lock().unwrap_or_else(|p| p.into_inner()));
                println!(
                    "{sec:>5} {:>7} {started:>9} {done:>9} {:>9.3} {:>9.3} {:>10.6} {:>11.6}",
                    started - done,
                    mb(done) / sec as f64,
                    mb(cur),
                    *stats.last_lat.lock().unwrap_or_else(|p| p.into_inner()),
                    avg_lat
                );
            }
            #[allow(unreachable_code)]
            per_sec
        })
    };
    let mut first_err = None;
    for w in workers {
        if let Ok(Err(e)) = w.await {
            first_err.get_or_insert(e);
        }
    }
    progress.abort();
    stopper.abort();
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(e) = first_err {
        return Err(e);
    }
    let done = stats.ops.load(Ordering::Relaxed);
    let lat = stats.lat.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (avg, sd) = mean_sd(&lat);
    let max = lat.iter().cloned().fold(0.0, f64::max);
    let min = lat.iter().cloned().fold(f64::INFINITY, f64::min);
    let what = if mode == "write" { "writes" } else { "reads" };
    println!("Total time run:         {elapsed:.4}");
    println!("Total {what} made:      {done}");
    println!(
        "{} size:             {size}",
        if mode == "write" { "Write" } else { "Read" }
    );
    println!("Object size:            {size}");
    println!("Bandwidth (MB/sec):     {:.3}", mb(done) / elapsed);
    println!("Average IOPS:           {:.0}", done as f64 / elapsed);
    println!("Average Latency(s):     {avg:.6}");
    println!("Stddev Latency(s):      {sd:.6}");
    println!("Max latency(s):         {max:.6}");
    println!(
        "Min latency(s):         {:.6}",
        if min.is_finite() { min } else { 0.0 }
    );
    // Not in rados bench's report: the percentiles a latency SLO needs.
    let mut sorted = lat.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    println!("Latency p50(s):         {:.6}", pct(0.50));
    println!("Latency p99(s):         {:.6}", pct(0.99));
    if mode == "write" {
        let written = next
            .load(Ordering::Relaxed)
            .min(stats.started.load(Ordering::Relaxed))
            .min(working_set);
        // Objects 0..written were started; those that finished exist.
        pool.write_full(
            META,
            format!("{prefix} {} {size}", done.min(working_set)).as_bytes(),
        )
        .await?;
        if !no_cleanup {
            remove_objects(pool, &prefix, written.max(done.min(working_set))).await?;
            pool.remove(META).await?;
        }
    }
    Ok(())
}

async fn remove_objects(pool: &IoCtx, prefix: &str, count: u64) -> Result<(), ClientError> {
    for i in 0..count {
        match pool.remove(&object_name(prefix, i)).await {
            Ok(_) => {}
            Err(ClientError::Remote(r)) if r.code == cluster::msg::ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes what a `bench write --no-cleanup` left.
pub async fn cleanup(pool: &IoCtx) -> Result<(), ClientError> {
    let names: Vec<String> = pool
        .list_objects(false)
        .await?
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.starts_with("benchmark_data_") || n == META)
        .collect();
    for n in &names {
        pool.remove(n).await?;
    }
    println!("removed {} objects", names.len());
    Ok(())
}
