//! Background work on an OSD: everything that is not a client's op
//! (recovery, backfill, PG removal, and later scrub) runs as a [`Worker`]
//! under one runner, which asks it for a step at a time and does what its
//! answer says: go on (busy), wait a while (throttled), or wait until
//! there is work (idle). Each worker's state is in the metrics
//! (`strata_osd_worker_state{worker,state}`), so an operator sees what
//! the OSD is doing in the background and whether it is held back.
//!
//! [`turns`] paces recovery and backfill (the PGs ask for turns);
//! [`reservations`] holds the OSD's backfill slots.

pub mod reservations;
pub mod turns;

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

/// What a worker says after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerState {
    /// More to do now.
    Busy,
    /// More to do, after this pause (a sleep option, a rate limit).
    Throttled(Duration),
    /// Nothing to do: wait for work.
    Idle,
    /// The worker is finished for good.
    Done,
}

impl WorkerState {
    fn name(&self) -> &'static str {
        match self {
            WorkerState::Busy => "busy",
            WorkerState::Throttled(_) => "throttled",
            WorkerState::Idle | WorkerState::Done => "idle",
        }
    }
}

/// One kind of background work.
pub trait Worker: Send + 'static {
    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;
    /// Does one step.
    fn work(&mut self) -> impl Future<Output = WorkerState> + Send;
    /// Returns once there may be work (after an idle step).
    fn wait_for_work(&mut self) -> impl Future<Output = ()> + Send;
}

static STATE: LazyLock<prometheus::IntGaugeVec> = LazyLock::new(|| {
    prometheus::register_int_gauge_vec!(
        "strata_osd_worker_state",
        "1 for the state each background worker is in (busy, throttled or idle)",
        &["worker", "state"]
    )
    .expect("metric registers once")
});
static STEPS: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "strata_osd_worker_steps_total",
        "Steps each background worker took",
        &["worker"]
    )
    .expect("metric registers once")
});

fn show(worker: &str, state: &str) {
    for s in ["busy", "throttled", "idle"] {
        STATE
            .with_label_values(&[worker, s])
            .set(i64::from(s == state));
    }
}

/// Runs `w` until it is done or the runtime stops.
pub fn spawn<W: Worker>(mut w: W) {
    tokio::spawn(async move {
        let name = w.name();
        show(name, "idle");
        loop {
            let st = w.work().await;
            STEPS.with_label_values(&[name]).inc();
            show(name, st.name());
            match st {
                WorkerState::Busy => tokio::task::yield_now().await,
                WorkerState::Throttled(d) => tokio::time::sleep(d).await,
                WorkerState::Idle => w.wait_for_work().await,
                WorkerState::Done => return,
            }
        }
    });
}
