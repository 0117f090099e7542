//! Pacing of recovery and backfill: a PG with background work ready (an
//! object to recover, a backfill batch to send) asks for a turn; this
//! worker gives turns one at a time, highest priority first (below
//! min_size, degraded, misplaced), pausing `osd_recovery_sleep` after
//! each and holding back while the bytes sent exceed
//! `osd_recovery_max_bytes_per_sec` (a token bucket with one second of
//! burst). Client ops never wait for a turn, and neither does the
//! recovery of an object a client op waits for.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use cluster::PgId;
use tokio::sync::{mpsc, Notify};

use super::{Worker, WorkerState};
use crate::daemon::pgs::task::Cmd;
use crate::pg::engine::Event;

type Inbox = mpsc::UnboundedSender<Cmd>;

static BYTES: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    prometheus::register_int_counter!(
        "strata_osd_recovery_bytes_total",
        "Bytes of object data this OSD sent for recovery and backfill"
    )
    .expect("metric registers once")
});
static TURNS: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    prometheus::register_int_counter!(
        "strata_osd_recovery_steps_total",
        "Recovery and backfill steps (an object, a backfill batch) this OSD ran"
    )
    .expect("metric registers once")
});

/// The PGs waiting for a turn, and the bytes sent since the worker
/// last looked.
#[derive(Default)]
pub struct TurnQueue {
    state: Mutex<Queue>,
    notify: Notify,
}

#[derive(Default)]
struct Queue {
    waiting: BTreeMap<(Reverse<u8>, u64), (PgId, Inbox)>,
    next_seq: u64,
    spent: u64,
}

impl TurnQueue {
    /// `pg` wants a turn (it asks once until it gets one).
    pub fn want(&self, pg: PgId, prio: u8, inbox: Inbox) {
        {
            let mut q = self.state.lock().unwrap_or_else(|p| p.into_inner());
            q.waiting.retain(|_, (p, _)| *p != pg);
            let seq = q.next_seq;
            q.next_seq += 1;
            q.waiting.insert((Reverse(prio), seq), (pg, inbox));
        }
        self.notify.notify_one();
    }

    /// A step sent `bytes` of object data.
    pub fn spent(&self, bytes: u64) {
        BYTES.inc_by(bytes);
        self.state.lock().unwrap_or_else(|p| p.into_inner()).spent += bytes;
    }

    fn next(&self) -> Option<Inbox> {
        let mut q = self.state.lock().unwrap_or_else(|p| p.into_inner());
        q.waiting.pop_first().map(|(_, (_, inbox))| inbox)
    }

    fn take_spent(&self) -> u64 {
        std::mem::take(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()).spent)
    }
}

/// The worker giving turns.
pub struct TurnWorker {
    queue: Arc<TurnQueue>,
    sleep: Duration,
    /// Bytes per second; 0: no limit.
    rate: u64,
    /// Bytes that may be sent now (negative: owed).
    tokens: f64,
    refilled: Instant,
}

impl TurnWorker {
    pub fn new(queue: Arc<TurnQueue>, sleep: Duration, rate: u64) -> Self {
        TurnWorker {
            queue,
            sleep,
            rate,
            tokens: rate as f64,
            refilled: Instant::now(),
        }
    }

    /// Refills the bucket; returns how long until it is out of debt.
    fn owed(&mut self) -> Option<Duration> {
        let spent = self.queue.take_spent();
        if self.rate == 0 {
            return None;
        }
        let now = Instant::now();
        let rate = self.rate as f64;
        self.tokens = (self.tokens + rate * now.duration_since(self.refilled).as_secs_f64())
            .min(rate)
            - spent as f64;
        self.refilled = now;
        (self.tokens < 0.0).then(|| Duration::from_secs_f64(-self.tokens / rate))
    }
}

impl Worker for TurnWorker {
    fn name(&self) -> &'static str {
        "recovery"
    }

    async fn work(&mut self) -> WorkerState {
        if let Some(wait) = self.owed() {
            return WorkerState::Throttled(wait);
        }
        loop {
            let Some(inbox) = self.queue.next() else {
                return WorkerState::Idle;
            };
            // A PG whose task ended is skipped.
            if inbox.send(Cmd::Event(Event::Turn)).is_ok() {
                break;
            }
        }
        TURNS.inc();
        if self.sleep.is_zero() {
            WorkerState::Busy
        } else {
            WorkerState::Throttled(self.sleep)
        }
    }

    async fn wait_for_work(&mut self) {
        self.queue.notify.notified().await;
    }
}
