//! The monitor's clock: once a half second it refreshes its metrics and,
//! while it leads, bootstraps the maps if they do not exist yet and runs
//! the failure detector; every 10 s it trims the maps every PG has been
//! clean since. The detector also runs as soon as a failure report
//! arrives, and every 100 ms while an OSD is down but still in (so it is
//! marked out when `mon_osd_down_out_interval` ends, not up to half a
//! second later).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;

use super::failure::{Detector, Settings};
use super::map_trim::trim_target;
use super::{now_ms, Monitor};
use crate::state::{OpKind, Seed};

/// The period of the full tick (metrics, fullness, trimming).
const FULL_TICK: Duration = Duration::from_millis(500);

pub fn spawn(mon: Arc<Monitor>, seed: Seed) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen_leader = None;
        let mut ticks = 0u64;
        let mut last = Instant::now() - FULL_TICK;
        loop {
            let poked = tokio::select! {
                _ = tick.tick() => false,
                _ = mon.detector_poke.notified() => true,
            };
            if last.elapsed() < FULL_TICK {
                let pending_out = mon
                    .shared
                    .read(|s| s.osdmap.osds.values().any(|o| !o.up && o.is_in()));
                let leads = mon.raft.metrics().borrow().state == ServerState::Leader;
                if leads && (poked || pending_out) && mon.shared.read(|s| s.is_bootstrapped()) {
                    run_detector(&mon).await;
                }
                continue;
            }
            last = Instant::now();
            ticks += 1;
            let m = mon.raft.metrics().borrow().clone();
            if m.current_leader != seen_leader {
                seen_leader = m.current_leader;
                let name = seen_leader
                    .and_then(|l| mon.monmap.by_rank(l))
                    .map(|i| i.name.clone());
                tracing::info!(
                    term = m.current_term,
                    "leader is now {}",
                    name.map_or("none".into(), |n| format!("mon.{n}"))
                );
            }
            crate::metrics::update(&mon, &m);
            if m.state != ServerState::Leader {
                *mon.detector() = None;
                continue;
            }
            if !mon.shared.read(|s| s.is_bootstrapped()) {
                if let Err(e) = mon.propose(OpKind::Bootstrap(seed.clone())).await {
                    tracing::warn!("bootstrapping the maps: {e}");
                }
                continue;
            }
            run_detector(&mon).await;
            update_fullness(&mon).await;
            if ticks.is_multiple_of(20) {
                trim_maps(&mon).await;
            }
        }
    });
}

/// Sets each reporting OSD's space state from its last report and the
/// map's ratios, when it changed.
async fn update_fullness(mon: &Arc<Monitor>) {
    let reports: Vec<(u32, u64, u64)> = mon
        .osd_stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(id, (s, _))| (*id, s.used_bytes, s.total_bytes))
        .collect();
    let states: Vec<(u32, cluster::osdmap::Fullness)> = mon.shared.read(|s| {
        let r = s.osdmap.full_ratios;
        reports
            .iter()
            .filter_map(|(id, used, total)| {
                let o = s.osdmap.osds.get(id)?;
                let f = r.classify(*used, *total);
                (o.fullness != f).then_some((*id, f))
            })
            .collect()
    });
    if states.is_empty() {
        return;
    }
    tracing::info!("OSD space states: {states:?}");
    if let Err(e) = mon.propose(OpKind::SetFullness { states }).await {
        tracing::warn!("recording OSD space states: {e}");
    }
}

async fn trim_maps(mon: &Arc<Monitor>) {
    let clean_through: HashMap<(u64, u32), u32> = mon
        .pg_stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(pg, (s, _, _))| (*pg, s.last_epoch_clean))
        .collect();
    let target = mon.shared.read(|s| {
        trim_target(
            &s.osdmap,
            &clean_through,
            s.first_epoch(),
            mon.opts.mon_min_osdmap_epochs,
        )
    });
    if let Some(to) = target {
        tracing::debug!("trimming maps through epoch {to}");
        if let Err(e) = mon.propose(OpKind::TrimMaps { to }).await {
            tracing::warn!("trimming maps through epoch {to}: {e}");
        }
    }
}

async fn run_detector(mon: &Arc<Monitor>) {
    let o = &mon.opts;
    let settings = Settings {
        min_reporters: o.mon_osd_min_down_reporters,
        report_timeout: Duration::from_secs_f64(o.mon_osd_report_timeout),
        grace: Duration::from_secs_f64(o.osd_heartbeat_grace),
        down_out_interval: Duration::from_secs_f64(o.mon_osd_down_out_interval),
    };
    let map = mon.shared.read(|s| s.osdmap.clone());
    let verdicts = {
        let mut d = mon.detector();
        let det = d.get_or_insert_with(|| Detector::new(&map, Instant::now()));
        det.tick(&map, Instant::now(), now_ms(), &settings)
    };
    if !verdicts.down.is_empty() {
        tracing::info!(osds = ?verdicts.down, "marking down");
        if let Err(e) = mon.propose(OpKind::MarkDown { ids: verdicts.down }).await {
            tracing::warn!("marking OSDs down: {e}");
        }
    }
    if !verdicts.out.is_empty() {
        tracing::info!(osds = ?verdicts.out, "marking out after mon_osd_down_out_interval");
        if let Err(e) = mon.propose(OpKind::MarkOut { ids: verdicts.out }).await {
            tracing::warn!("marking OSDs out: {e}");
        }
    }
}
