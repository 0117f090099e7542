//! Every option, with its default. Names follow Ceph's where Ceph has the
//! option; times are in seconds unless the name says otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The cluster's id (bootstrap writes it).
    pub fsid: String,
    /// Monitors by name: `a: 10.0.0.1:3300`.
    pub mon_host: BTreeMap<String, String>,
    /// This entity's keyring (certificate and key).
    pub keyring: Option<PathBuf>,
    /// The cluster CA's certificate and key; monitors need them at mkfs.
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    /// A monitor's data directory (`{id}` is replaced by the daemon's name).
    pub mon_data: PathBuf,
    /// An OSD's data directory.
    pub osd_data: PathBuf,
    /// Where an OSD's messenger listens (port 0: any free port).
    pub public_addr: String,
    /// HTTP address for Prometheus metrics; empty: not served.
    pub metrics_addr: String,
    /// `error`, `warn`, `info`, `debug` or `trace` (`RUST_LOG` wins).
    pub log_level: String,

    /// Seconds between an OSD's heartbeats to its peers.
    pub osd_heartbeat_interval: f64,
    /// Seconds without a heartbeat reply before a peer is reported failed.
    pub osd_heartbeat_grace: f64,
    /// Report a peer OSD at once when its port refuses (its process is
    /// gone) instead of after the grace.
    pub osd_fast_fail_on_connection_refused: bool,
    /// Seconds between an OSD's beacons to the monitors.
    pub osd_beacon_report_interval: f64,
    /// Seconds between an OSD's PG statistics reports to the monitors.
    pub osd_mon_report_interval: f64,
    /// Seconds a down OSD stays in before it is marked out (unless noout).
    pub mon_osd_down_out_interval: f64,
    /// Distinct OSDs that must report a peer failed before it is marked
    /// down (fewer if fewer other OSDs are up).
    pub mon_osd_min_down_reporters: u32,
    /// Seconds without a beacon before the monitors mark an OSD down by
    /// themselves.
    pub mon_osd_report_timeout: f64,
    /// Milliseconds between Raft heartbeats from the monitor leader.
    pub mon_raft_heartbeat_ms: u64,
    /// A follower that hears no leader for this long (milliseconds, with
    /// up to as much again at random) starts an election.
    pub mon_raft_election_timeout_ms: u64,
    /// Most OSDMap epochs the monitors keep (a hard cap; they normally
    /// trim to the PGs' oldest last clean epoch first).
    pub mon_max_incrementals: u32,
    /// Fewest OSDMap epochs the monitors keep.
    pub mon_min_osdmap_epochs: u32,

    /// Defaults for new pools.
    pub osd_pool_default_size: u32,
    /// 0: size - size / 2.
    pub osd_pool_default_min_size: u32,
    pub osd_pool_default_pg_num: u32,
    /// Failure domain of the initial CRUSH rule: 1 = host, 0 = osd (a
    /// one-machine cluster).
    pub osd_crush_chooseleaf_type: u32,
    /// CRUSH weight of a new OSD; negative: its capacity in TiB.
    pub osd_crush_initial_weight: f64,
    /// The host bucket an OSD goes under; empty: the machine's hostname.
    pub osd_crush_host: String,
    /// Seconds a client or CLI waits for a monitor to answer, and for an
    /// object operation to complete (resending as the map changes).
    pub client_mon_timeout: f64,
    /// Largest object an OSD stores (bytes; Ceph's default, 128 MiB).
    pub osd_max_object_size: u64,
    /// Entries each PG log keeps: a member whose gap the log covers is
    /// recovered object by object, one further behind takes the whole PG.
    pub osd_min_pg_log_entries: u32,
    /// Request ids a PG remembers past log trim, so a late resend is still
    /// recognised and not applied twice.
    pub osd_pg_log_dups_tracked: u32,
    /// Objects a PG's primary recovers at once.
    pub osd_recovery_max_active: u32,
    /// An OSD's capacity in bytes for the full ratios; 0: its
    /// filesystem's size (set it when OSDs share a filesystem).
    pub osd_capacity_bytes: u64,
    /// Pause between batches when an OSD removes a PG copy it no longer
    /// needs (a stray, or a deleted pool's), so removal yields the disk.
    pub osd_delete_sleep: f64,
    /// PGs an OSD backfills at once, as primary (local) and as target
    /// (remote), each.
    pub osd_max_backfills: u32,
    /// Pause after each background recovery or backfill step, so that
    /// recovery yields the disk to client I/O.
    pub osd_recovery_sleep: f64,
    /// Bytes per second an OSD sends for recovery and backfill; 0: no
    /// limit.
    pub osd_recovery_max_bytes_per_sec: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fsid: String::new(),
            mon_host: BTreeMap::new(),
            keyring: None,
            ca_cert: PathBuf::from("ca.crt"),
            ca_key: PathBuf::from("ca.key"),
            mon_data: PathBuf::from("/var/lib/strata/mon/{id}"),
            osd_data: PathBuf::from("/var/lib/strata/osd/{id}"),
            public_addr: "0.0.0.0:0".into(),
            metrics_addr: String::new(),
            log_level: "info".into(),
            osd_heartbeat_interval: 6.0,
            osd_heartbeat_grace: 20.0,
            osd_fast_fail_on_connection_refused: true,
            osd_beacon_report_interval: 300.0,
            osd_mon_report_interval: 5.0,
            mon_osd_down_out_interval: 600.0,
            mon_osd_min_down_reporters: 2,
            mon_osd_report_timeout: 900.0,
            mon_raft_heartbeat_ms: 250,
            mon_raft_election_timeout_ms: 1000,
            mon_max_incrementals: 10_000,
            mon_min_osdmap_epochs: 500,
            osd_pool_default_size: 3,
            osd_pool_default_min_size: 0,
            osd_pool_default_pg_num: 32,
            osd_crush_chooseleaf_type: 1,
            osd_crush_initial_weight: -1.0,
            osd_crush_host: String::new(),
            client_mon_timeout: 30.0,
            osd_max_object_size: 128 << 20,
            osd_min_pg_log_entries: 3000,
            osd_pg_log_dups_tracked: 3000,
            osd_recovery_max_active: 3,
            osd_delete_sleep: 0.01,
            osd_max_backfills: 1,
            osd_recovery_sleep: 0.0,
            osd_recovery_max_bytes_per_sec: 0,
            osd_capacity_bytes: 0,
        }
    }
}

impl Options {
    /// Makes relative paths absolute from `dir` and puts the daemon's name
    /// into `{id}`.
    pub(crate) fn anchor(&mut self, dir: &Path, entity: &str) {
        let fix = |p: &mut PathBuf| {
            let s = p.to_string_lossy().replace("{id}", entity);
            let q = PathBuf::from(s);
            *p = if q.is_relative() { dir.join(q) } else { q };
        };
        fix(&mut self.ca_cert);
        fix(&mut self.ca_key);
        fix(&mut self.mon_data);
        fix(&mut self.osd_data);
        if let Some(k) = self.keyring.as_mut() {
            fix(k);
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let positive = [
            ("osd_heartbeat_interval", self.osd_heartbeat_interval),
            ("osd_heartbeat_grace", self.osd_heartbeat_grace),
            (
                "osd_beacon_report_interval",
                self.osd_beacon_report_interval,
            ),
            ("mon_osd_report_timeout", self.mon_osd_report_timeout),
            ("client_mon_timeout", self.client_mon_timeout),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!(
                    "{name} must be a positive number of seconds, not {v}"
                ));
            }
        }
        if !(self.mon_osd_down_out_interval.is_finite() && self.mon_osd_down_out_interval >= 0.0) {
            return Err("mon_osd_down_out_interval must be >= 0 seconds".into());
        }
        if self.osd_pool_default_size == 0 || self.osd_pool_default_size > 10 {
            return Err("osd_pool_default_size must be 1..=10".into());
        }
        if self.osd_max_object_size == 0 || self.osd_max_object_size > 128 << 20 {
            return Err("osd_max_object_size must be 1..=134217728 bytes (the messenger carries at most 129 MiB of data per message)".into());
        }
        for (name, v) in [
            ("osd_min_pg_log_entries", self.osd_min_pg_log_entries),
            ("osd_recovery_max_active", self.osd_recovery_max_active),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        for (name, v) in [
            ("osd_delete_sleep", self.osd_delete_sleep),
            ("osd_recovery_sleep", self.osd_recovery_sleep),
        ] {
            if !(0.0..=60.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 60 seconds, not {v}"));
            }
        }
        if self.osd_max_backfills == 0 || self.osd_max_backfills > 1024 {
            return Err(format!(
                "osd_max_backfills must be 1..=1024, not {}",
                self.osd_max_backfills
            ));
        }
        if self.mon_min_osdmap_epochs == 0 || self.mon_max_incrementals < self.mon_min_osdmap_epochs
        {
            return Err(format!(
                "mon_max_incrementals ({}) must be at least mon_min_osdmap_epochs ({}), which must be at least 1",
                self.mon_max_incrementals, self.mon_min_osdmap_epochs
            ));
        }
        if self.osd_pool_default_pg_num == 0 {
            return Err("osd_pool_default_pg_num must be at least 1".into());
        }
        if self.mon_raft_heartbeat_ms == 0
            || self.mon_raft_election_timeout_ms <= self.mon_raft_heartbeat_ms
        {
            return Err(
                "mon_raft_election_timeout_ms must exceed mon_raft_heartbeat_ms (> 0)".into(),
            );
        }
        for (name, addr) in &self.mon_host {
            if addr.parse::<std::net::SocketAddr>().is_err() {
                return Err(format!("mon_host.{name}: '{addr}' is not IP:PORT"));
            }
        }
        Ok(())
    }

    /// The monitors as (name, address).
    pub fn mons(&self) -> Vec<(String, std::net::SocketAddr)> {
        self.mon_host
            .iter()
            .filter_map(|(n, a)| Some((n.clone(), a.parse().ok()?)))
            .collect()
    }

    /// `osd_pool_default_min_size`, resolved.
    pub fn default_min_size(&self) -> u32 {
        match self.osd_pool_default_min_size {
            0 => self.osd_pool_default_size - self.osd_pool_default_size / 2,
            n => n.min(self.osd_pool_default_size),
        }
    }
}
