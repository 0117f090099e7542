//! `stress`: random mixed operations (write_full, append, overwrite,
//! truncate, zero, remove) on objects each worker owns, checked against an
//! in-memory model, for crash tests. Before each transaction the worker logs
//! `intent <pgid> <object> <sha256|absent>` (the state the transaction
//! leads to) and after it is durable `ack ...`; after a kill every object
//! must be in its last acknowledged state or, if a transaction was in
//! flight, in the state it intended.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use osd::store::{
    CollectionId, ObjectId, ObjectStore, Op, RocksStore, StoreOptions, Transaction, Version,
};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

#[derive(Args, Debug, Clone)]
pub struct StressArgs {
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Objects each worker owns.
    #[arg(long, default_value_t = 6)]
    pub objects: usize,
    /// Largest object the workload makes (bytes; K, M suffixes allowed).
    #[arg(long, default_value = "300K", value_parser = crate::bench::parse_size)]
    pub max_size: u64,
    /// Where intents and acknowledgements go.
    #[arg(long, value_name = "FILE")]
    pub ack_log: String,
}

fn digest(state: &Option<Vec<u8>>) -> String {
    match state {
        Some(d) => hex::encode(Sha256::digest(d)),
        None => "absent".into(),
    }
}

fn random_bytes(rng: &mut rand::rngs::SmallRng, n: u64) -> Vec<u8> {
    let mut v = vec![0u8; n as usize];
    rng.fill(&mut v[..]);
    v
}

/// One random op on `model`, which it updates to the state the op leads to.
fn random_op(
    rng: &mut rand::rngs::SmallRng,
    obj: &ObjectId,
    model: &mut Option<Vec<u8>>,
    max: u64,
) -> Op {
    let size = model.as_ref().map_or(0, |d| d.len() as u64);
    let choice = rng.random_range(0..10);
    let obj = obj.clone();
    match choice {
        0 | 1 => {
            let n = rng.random_range(0..=max);
            let data = random_bytes(rng, n);
            *model = Some(data.clone());
            Op::WriteFull { obj, data }
        }
        2 | 3 => {
            let n = rng.random_range(0..=(max - size.min(max)).min(64 * 1024));
            let data = random_bytes(rng, n);
            model.get_or_insert_with(Vec::new).extend_from_slice(&data);
            Op::Append { obj, data }
        }
        4 | 5 => {
            let offset = rng.random_range(0..=size.min(max));
            let n = rng
                .random_range(0..=32 * 1024)
                .min(max.saturating_sub(offset));
            let data = random_bytes(rng, n);
            let m = model.get_or_insert_with(Vec::new);
            let end = offset as usize + data.len();
            if m.len() < end {
                m.resize(end, 0);
            }
            m[offset as usize..end].copy_from_slice(&data);
            Op::Write { obj, offset, data }
        }
        6 => {
            let new = rng.random_range(0..=max);
            model.get_or_insert_with(Vec::new).resize(new as usize, 0);
            Op::Truncate { obj, size: new }
        }
        7 => {
            let offset = rng.random_range(0..=size);
            let len = rng.random_range(0..=64 * 1024);
            let m = model.get_or_insert_with(Vec::new);
            let end = (offset + len).min(m.len() as u64) as usize;
            if (offset as usize) < end {
                m[offset as usize..end].fill(0);
            }
            Op::Zero { obj, offset, len }
        }
        _ if model.is_some() => {
            *model = None;
            Op::Remove { obj }
        }
        _ => {
            *model = Some(Vec::new());
            Op::Create {
                obj,
                exclusive: true,
            }
        }
    }
}

pub fn run(path: &Path, a: &StressArgs, opts: StoreOptions) -> Result<ExitCode, String> {
    let store = RocksStore::open_or_mkfs(path, opts).map_err(|e| e.to_string())?;
    let pgs: Vec<CollectionId> = (0..4).map(|s| CollectionId::new(7, s)).collect();
    for c in &pgs {
        if !store.collection_exists(c).map_err(|e| e.to_string())? {
            store.create_collection(c).map_err(|e| e.to_string())?;
        }
    }
    let log = Mutex::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&a.ack_log)
            .map_err(|e| format!("cannot open {}: {e}", a.ack_log))?,
    );
    let say = |line: String| -> Result<(), String> {
        let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())
            .and_then(|_| f.flush())
            .map_err(|e| format!("ack log: {e}"))
    };
    let run_id: u32 = rand::random();
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let (store, pgs, say) = (&store, &pgs, &say);
    std::thread::scope(|sc| {
        let workers: Vec<_> = (0..a.threads)
            .map(|t| {
                sc.spawn(move || -> Result<u64, String> {
                    let mut rng = rand::rngs::SmallRng::seed_from_u64(rand::random());
                    let objs: Vec<(CollectionId, ObjectId)> = (0..a.objects)
                        .map(|i| {
                            (
                                pgs[i % pgs.len()],
                                ObjectId::named(format!("stress-{run_id:08x}-{t}-{i}")),
                            )
                        })
                        .collect();
                    let mut models: Vec<Option<Vec<u8>>> = vec![None; objs.len()];
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let i = rng.random_range(0..objs.len());
                        let (c, o) = &objs[i];
                        let mut next = models[i].clone();
                        let op = random_op(&mut rng, o, &mut next, a.max_size);
                        let want = digest(&next);
                        say(format!("intent {c} {} {want}\n", o.name))?;
                        n += 1;
                        store
                            .submit(Transaction::new(*c, Version::new(1, n)).op(op))
                            .map_err(|e| format!("{o}: {e}"))?;
                        say(format!("ack {c} {} {want}\n", o.name))?;
                        models[i] = next;
                    }
                    // Read everything back: the store must hold the model.
                    for ((c, o), model) in objs.iter().zip(&models) {
                        let got = match store.read(c, o, 0, u64::MAX) {
                            Ok(d) => Some(d),
                            Err(osd::store::StoreError::NoSuchObject { .. }) => None,
                            Err(e) => return Err(format!("{o}: {e}")),
                        };
                        if digest(&got) != digest(model) {
                            return Err(format!(
                                "{o} in PG {c} does not hold what the model expects"
                            ));
                        }
                    }
                    Ok(n)
                })
            })
            .collect();
        let mut total = 0;
        for w in workers {
            total += w
                .join()
                .map_err(|_| "a stress worker panicked".to_string())??;
        }
        println!("stress: {total} transactions; every object reads back as the model expects");
        Ok(ExitCode::SUCCESS)
    })
}
