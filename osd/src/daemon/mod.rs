//! The OSD daemon: `--mkfs` registers a new disk with the monitors
//! ([`mkfs`]); a start opens the disk, boots (marked up, placed in CRUSH),
//! follows the OSDMap and heartbeats its peers ([`heartbeat`]), coming
//! back up by itself if the monitors mark it down while it runs.

pub mod background;
mod caps;
pub mod heartbeat;
pub mod host;
pub mod maps;
pub mod mkfs;
pub mod pgs;
mod run;
pub mod store_writer;
pub mod superblock;
pub mod usage;

pub use run::run;

use std::sync::LazyLock;

static EPOCH: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!("strata_osdmap_epoch", "The OSDMap epoch this OSD has")
        .expect("metric registers once")
});
static OSD_ID: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!("strata_osd_id", "This daemon's OSD id")
        .expect("metric registers once")
});

pub(crate) fn metrics_init(id: u32) {
    OSD_ID.set(id as i64);
}

pub(crate) fn metrics_epoch(epoch: u32) {
    EPOCH.set(epoch as i64);
}

static NUMPG: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!(
        "strata_osd_numpg",
        "PG copies this OSD holds (Ceph's numpg), not counting ones being removed"
    )
    .expect("metric registers once")
});
static NUMPG_REMOVING: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!(
        "strata_osd_numpg_removing",
        "PG copies this OSD is removing (strays after data moved, deleted pools)"
    )
    .expect("metric registers once")
});

pub(crate) fn metrics_pgs(held: usize, removing: usize) {
    NUMPG.set(held as i64);
    NUMPG_REMOVING.set(removing as i64);
}
