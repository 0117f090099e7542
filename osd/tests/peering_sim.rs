//! The PG engines under the deterministic simulation (`sim/`): many seeds
//! of crashes, restarts, map changes, partitions, message loss,
//! duplication and reordering, with every read checked against the model
//! of acknowledged state and every PG compared member by member at the end.
//!
//! `STRATA_SIM_SEEDS=N` runs N seeds (default 48) from
//! `STRATA_SIM_FIRST_SEED` (default 1), `STRATA_SIM_SEED=S` replays one,
//! and `STRATA_SIM_SOAK_SECS=T` keeps running new seeds for T seconds
//! (soak mode).

mod sim;

use sim::{run_seed, SimConfig};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn seeds_keep_every_acknowledged_write() {
    if let Some(seed) = env_u64("STRATA_SIM_SEED") {
        let s = run_seed(seed, SimConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("seed {seed}: {s:?}");
        return;
    }
    let soak = env_u64("STRATA_SIM_SOAK_SECS");
    let count = env_u64("STRATA_SIM_SEEDS").unwrap_or(48);
    let first = env_u64("STRATA_SIM_FIRST_SEED").unwrap_or(1);
    let start = std::time::Instant::now();
    let mut totals = sim::Stats::default();
    let mut seed = first;
    loop {
        let s = run_seed(seed, SimConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        totals.acked_writes += s.acked_writes;
        totals.reads_checked += s.reads_checked;
        totals.crashes += s.crashes;
        totals.messages += s.messages;
        totals.backfill_batches += s.backfill_batches;
        totals.strays_removed += s.strays_removed;
        totals.splits += s.splits;
        seed += 1;
        let more = match soak {
            Some(secs) => start.elapsed().as_secs() < secs,
            None => seed < first + count,
        };
        if !more {
            break;
        }
    }
    eprintln!(
        "{} seeds in {:.1} s: {} acknowledged writes, {} reads checked, {} crashes, {} messages, {} backfill batches, {} stray copies removed, {} PG copies split",
        seed - first,
        start.elapsed().as_secs_f64(),
        totals.acked_writes,
        totals.reads_checked,
        totals.crashes,
        totals.messages,
        totals.backfill_batches,
        totals.strays_removed,
        totals.splits
    );
    // The default run must reach every path the model checks: a seed set
    // that never backfills, splits or removes a stray proves nothing
    // about them.
    if soak.is_none() && count >= 48 {
        for (what, n) in [
            ("acknowledged writes", totals.acked_writes),
            ("crashes", totals.crashes),
            ("backfill batches", totals.backfill_batches),
            ("stray copies removed", totals.strays_removed),
            ("PG copies split", totals.splits),
        ] {
            assert!(n > 0, "{count} seeds from {first} had no {what}");
        }
    }
}

/// Seeds kept as regression tests: seeds 1 and 958 found real bugs (1: a
/// member given only the entries after its last update rolled its whole
/// log back; 958: a primary listed its objects for a member to take anew
/// before the store showed the log it had just adopted, so an object
/// deleted by that log was handed out at its old version, and became
/// unfound); seeds 4, 21 and 36 are the first to catch a defect injected on
/// purpose to check that the simulation can fail: a member restarted
/// within one epoch rejoining its old interval without peering (4),
/// divergent entries not rolled back (21), past intervals left out of the
/// prior set (36). Seed 5459 found that an acknowledged object whose only
/// copy sat on an OSD that had since left the acting set stayed unfound
/// for good: the primary did not ask strays for unfound objects. Seed
/// 97195 found a write queued while its PG peered run in the parent after
/// a split had moved its object to a child; seed 103887 that a write
/// carrying its object to a member missing it (a shortcut past recovery,
/// since removed) could overwrite the only copy of the object's
/// acknowledged state and then roll back, losing it; seeds 99845 and
/// 107571 an acknowledged object whose only copy sat on a copy being
/// backfilled, which the primary never asked for it. Seed 120692 found a
/// restarting OSD replaying old epochs from an empty PG copy (one that
/// records no PG count), creating a copy of a PG at an old epoch and
/// splitting it onto a child it already held: restarts now replay only
/// from copies that loaded and create PGs at the newest epoch only, as
/// the daemon does.
#[test]
fn seeds_that_found_bugs() {
    for seed in [
        1, 4, 21, 36, 958, 5459, 97195, 99845, 103887, 107571, 120692,
    ] {
        run_seed(seed, SimConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    }
}
