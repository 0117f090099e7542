//! The OSD's backfill slots (`osd_max_backfills` local and as many
//! remote, see `pg::reserver`), granted to PG tasks: a grant is sent to
//! the PG's inbox as `Event::Reserved` with the id the PG asked with. A
//! PG task that ends gives back whatever it held.

use std::sync::{LazyLock, Mutex};

use cluster::PgId;
use tokio::sync::mpsc;

use crate::daemon::pgs::task::Cmd;
use crate::pg::engine::{Event, ResKind};
use crate::pg::reserver::Reserver;

type Inbox = mpsc::UnboundedSender<Cmd>;

pub struct Reservations {
    local: Mutex<Reserver<(u64, Inbox)>>,
    remote: Mutex<Reserver<(u64, Inbox)>>,
}

static SLOTS: LazyLock<prometheus::IntGaugeVec> = LazyLock::new(|| {
    prometheus::register_int_gauge_vec!(
        "strata_osd_backfill_reservations",
        "Backfill slots of this OSD granted and waited for, local (as primary) and remote (as target)",
        &["kind", "state"]
    )
    .expect("metric registers once")
});

static WAITS: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "strata_osd_backfill_reservation_waits_total",
        "Backfill slot requests that had to wait for a slot, local (as primary) and remote (as target)",
        &["kind"]
    )
    .expect("metric registers once")
});

impl Reservations {
    pub fn new(max_backfills: usize) -> Self {
        Reservations {
            local: Mutex::new(Reserver::new(max_backfills)),
            remote: Mutex::new(Reserver::new(max_backfills)),
        }
    }

    fn of(&self, kind: ResKind) -> &Mutex<Reserver<(u64, Inbox)>> {
        match kind {
            ResKind::Local => &self.local,
            ResKind::Remote => &self.remote,
        }
    }

    pub fn reserve(&self, kind: ResKind, pg: PgId, prio: u8, id: u64, inbox: Inbox) {
        let granted = {
            let mut r = self.of(kind).lock().unwrap_or_else(|p| p.into_inner());
            let g = r.request(pg, prio, (id, inbox));
            show(kind, &r);
            if !g.iter().any(|(p, _)| *p == pg) && r.waiting() > 0 {
                WAITS.with_label_values(&[label(kind)]).inc();
            }
            g
        };
        tell(kind, granted);
    }

    pub fn unreserve(&self, kind: ResKind, pg: PgId) {
        let granted = {
            let mut r = self.of(kind).lock().unwrap_or_else(|p| p.into_inner());
            let g = r.release(pg);
            show(kind, &r);
            g
        };
        tell(kind, granted);
    }

    /// A PG task ended: gives back both kinds.
    pub fn forget(&self, pg: PgId) {
        self.unreserve(ResKind::Local, pg);
        self.unreserve(ResKind::Remote, pg);
    }
}

fn label(kind: ResKind) -> &'static str {
    match kind {
        ResKind::Local => "local",
        ResKind::Remote => "remote",
    }
}

fn show(kind: ResKind, r: &Reserver<(u64, Inbox)>) {
    let k = label(kind);
    SLOTS
        .with_label_values(&[k, "granted"])
        .set(r.granted() as i64);
    SLOTS
        .with_label_values(&[k, "waiting"])
        .set(r.waiting() as i64);
}

fn tell(kind: ResKind, granted: Vec<(PgId, (u64, Inbox))>) {
    for (_, (id, inbox)) in granted {
        let _ = inbox.send(Cmd::Event(Event::Reserved { kind, id }));
    }
}
