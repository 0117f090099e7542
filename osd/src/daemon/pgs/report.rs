//! What an OSD tells the monitors every `osd_mon_report_interval`: its
//! space (total and used, from which the monitors derive nearfull,
//! backfillfull and full) and the stats of the PGs it leads; sooner (at
//! most every 250 ms) when one of those PGs changes state.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::msg::mon::{MonRequest, PgStat};
use tokio::sync::{mpsc, oneshot};

use super::task::Cmd;
use super::PgHost;
use crate::daemon::usage::Usage;

/// Least time between two reports when PGs change state.
const MIN_GAP: Duration = Duration::from_millis(250);

impl PgHost {
    /// The stats of every PG this OSD is primary for.
    pub async fn collect_stats(&self) -> Vec<PgStat> {
        let held: Vec<mpsc::UnboundedSender<Cmd>> = self
            .pgs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out = Vec::new();
        for tx in held {
            let (rtx, rrx) = oneshot::channel();
            if tx.send(Cmd::Stat(rtx)).is_ok() {
                if let Ok(Some(s)) = rrx.await {
                    out.push(s);
                }
            }
        }
        out
    }

    /// Reports this OSD's space and its PGs' stats to the monitors every
    /// `every`.
    pub fn spawn_reporter(self: &Arc<Self>, every: Duration, usage: Usage) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = me.shared.report_soon.notified() => {
                        // A burst of changes (every PG peering at once)
                        // goes out as one report.
                        tokio::time::sleep(MIN_GAP.saturating_sub(last.elapsed())).await;
                    }
                }
                last = Instant::now();
                let stats = me.collect_stats().await;
                let epoch = me.epoch.load(Ordering::SeqCst) as u32;
                let num_pgs = me.pgs.lock().unwrap_or_else(|p| p.into_inner()).len() as u32;
                let u = usage.clone();
                let osd_stat = tokio::task::spawn_blocking(move || u.stat(num_pgs))
                    .await
                    .unwrap_or_default();
                let req = MonRequest::PgStats {
                    osd: me.shared.id,
                    epoch,
                    osd_stat,
                    stats,
                };
                if let Err(e) = me.shared.mc.request(&req).await {
                    tracing::debug!("reporting PG stats: {e}");
                }
            }
        });
    }
}
