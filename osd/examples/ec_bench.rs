//! Erasure codec benchmark: encoding and rebuilding 4 MiB objects with
//! the pool profiles Ceph users pick most (2+1, 4+2, 8+3), one thread,
//! next to memcpy of the same bytes measured in the same run.
//!
//!     cargo run --release -p strata-osd --example ec_bench -- [SECONDS]

use std::hint::black_box;
use std::time::{Duration, Instant};

use osd::ec::{codec_for, StripeLayout};

const OBJECT: usize = 4 << 20;
const UNIT: u64 = 4096;

/// Runs `f` for about `secs`; returns bytes of object data per second.
fn rate(secs: f64, bytes: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs_f64(secs) {
        f();
        n += 1;
    }
    (n as f64 * bytes as f64) / start.elapsed().as_secs_f64()
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let object: Vec<u8> = (0..OBJECT).map(|i| (i * 7 + i / 4096) as u8).collect();
    let mut copy = vec![0u8; OBJECT];
    let memcpy = rate(secs, OBJECT, || {
        copy.copy_from_slice(black_box(&object));
        black_box(&copy);
    });
    println!("erasure codec, 4 MiB objects, stripe_unit 4 KiB, one thread, {secs} s per figure");
    println!("memcpy of the object: {:.2} GB/s", memcpy / 1e9);
    println!(
        "profile  encode GB/s  (x memcpy)  rebuild 2 lost data shards (1 for m=1) GB/s  (x memcpy)"
    );
    for (k, m) in [(2, 1), (4, 2), (8, 3)] {
        let codec = codec_for(k, m).expect("valid profile");
        let layout = StripeLayout::new(k, UNIT).expect("valid stripe unit");
        let data = layout.split(&object);
        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        let encode = rate(secs, OBJECT, || {
            black_box(codec.encode(black_box(&refs)).expect("encodes"));
        });
        let parity = codec.encode(&refs).expect("encodes");
        let mut shards: Vec<Option<Vec<u8>>> =
            data.iter().chain(&parity).cloned().map(Some).collect();
        let lose = m.min(2);
        let rebuild = rate(secs, OBJECT, || {
            for s in shards.iter_mut().take(lose) {
                *s = None;
            }
            codec.reconstruct_data(&mut shards).expect("rebuilds");
            black_box(&shards);
        });
        let expect: Vec<Option<Vec<u8>>> = data.iter().chain(&parity).cloned().map(Some).collect();
        assert_eq!(shards, expect, "the rebuilt shards are the lost ones");
        println!(
            "{k}+{m}      {:>6.2}       ({:.2})      {:>6.2}                                  ({:.2})",
            encode / 1e9,
            encode / memcpy,
            rebuild / 1e9,
            rebuild / memcpy
        );
    }
}
