//! Mapper throughput on the 1000-OSD benchmark map (`shared/bench/`):
//! rule 0, three replicas, consecutive inputs, as `crushtool --test` runs it.
//! `crush/bench/compare-crushtool.sh` measures the same workload against
//! Ceph's own crushtool in the same run.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crush::{text, Workspace};

fn bench_map() -> crush::CrushMap {
    let path = std::env::var_os("STRATA_CRUSH_BENCH_MAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/crush-1000osd.txt")
        });
    let src =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text::parse(&src).expect("benchmark map parses")
}

fn mapping(c: &mut Criterion) {
    let map = bench_map();
    let weights = map.default_reweights();
    let mut group = c.benchmark_group("crush-1000osd");
    const BATCH: i32 = 10_000;
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut start = 0i32;
    group.bench_function("do_rule rule 0 num_rep 3", |b| {
        let (mut ws, mut out) = (Workspace::default(), Vec::with_capacity(3));
        b.iter(|| {
            for x in start..start + BATCH {
                map.do_rule_with(0, x, 3, &weights, None, &mut ws, &mut out);
                std::hint::black_box(&out);
            }
            start = start.wrapping_add(BATCH) & 0x3fff_ffff;
        })
    });
    group.finish();
    let src = text::print(&map);
    c.bench_function("parse 1000-osd text map", |b| {
        b.iter(|| text::parse(std::hint::black_box(&src)).unwrap())
    });
}

criterion_group!(benches, mapping);
criterion_main!(benches);
