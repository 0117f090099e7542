//! The monitor protocol: what OSDs, clients and the admin CLI ask a
//! monitor, and what it answers. Any monitor accepts any request; one
//! that changes the maps is forwarded to the Raft leader.

use rkyv::{Archive, Deserialize, Serialize};

use super::error::RemoteError;
use crate::monmap::MonMap;
use crate::osdmap::{Incremental, OsdMap};

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub enum MonRequest {
    /// A change to the cluster maps or auth (needs write capability).
    Command(MonCommand),
    /// The cluster as the monitors see it: maps, quorum, health.
    Status,
    /// Every auth entity with its capabilities.
    AuthList,
    /// One entity's keyring (`auth get`).
    AuthGet { entity: String },
    /// Maps newer than `have` (0: a full map), then pushes of every new
    /// epoch while the connection lasts.
    Subscribe { have: u32 },
    /// Every epoch from `from` on: the full map at `from` (or at the
    /// oldest epoch the monitors still hold, if later) and the
    /// incrementals after it. No subscription.
    GetMaps { from: u32 },
    /// An OSD saying it is alive, at the map epoch it has.
    Beacon { osd: u32, epoch: u32 },
    /// An OSD reporting that a peer stopped answering heartbeats
    /// (`failed_for_ms` ago), or, with `failed_for_ms == 0`, that it
    /// answers again.
    Failure {
        target: u32,
        reporter: u32,
        failed_for_ms: u64,
    },
    /// An OSD's report: its space, and the PGs it leads.
    PgStats {
        osd: u32,
        epoch: u32,
        osd_stat: OsdStat,
        stats: Vec<PgStat>,
    },
    /// An entity's caps, for an OSD checking a client's request: answered
    /// with `Auth` (empty if the entity does not exist).
    AuthCaps { entity: String },
}

/// One PG as its primary sees it.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct PgStat {
    pub pool: u64,
    pub seed: u32,
    /// Ceph's state words joined by '+': `active+clean`,
    /// `active+undersized+degraded`, `undersized+degraded+peered`, ...
    pub state: String,
    pub num_objects: u64,
    pub num_bytes: u64,
    pub up: Vec<i32>,
    pub acting: Vec<i32>,
    /// (epoch, counter) of the PG's last write.
    pub last_update: (u32, u64),
    /// Map epoch the primary reported at.
    pub reported_epoch: u32,
    /// The PG has been clean through this epoch (the reported epoch if it
    /// is clean now): the monitors keep the maps after the oldest one.
    pub last_epoch_clean: u32,
    /// Object copies missing for the pool's size (Ceph's degraded).
    pub num_objects_degraded: u64,
    /// Object copies not yet where CRUSH puts them, while enough copies
    /// exist elsewhere (Ceph's misplaced).
    pub num_objects_misplaced: u64,
    /// Objects no reachable OSD holds at the version needed.
    pub num_objects_unfound: u64,
    /// Objects and bytes this primary recovered or backfilled so far (the
    /// monitors turn the increments into a rate).
    pub recovered_objects: u64,
    pub recovered_bytes: u64,
}

/// An OSD's space and load, as it reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OsdStat {
    /// Its capacity (`osd_capacity_bytes`, or its filesystem's size).
    pub total_bytes: u64,
    /// What its store takes on disk.
    pub used_bytes: u64,
    /// PG copies it holds.
    pub num_pgs: u32,
}

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub enum MonCommand {
    /// Allocates an OSD id for a new disk (`osd new`), idempotent per uuid.
    OsdNew {
        uuid: String,
    },
    /// An OSD starting: marks it up, records its address, and places it in
    /// CRUSH under `host` with `weight` (16.16) if it is not placed yet.
    OsdBoot {
        id: u32,
        uuid: String,
        addr: String,
        host: String,
        weight: u32,
    },
    /// An OSD asks to be recorded alive through `epoch` (its `up_thru`).
    OsdAlive {
        id: u32,
        epoch: u32,
    },
    /// `osd set-nearfull-ratio`, `osd set-backfillfull-ratio`,
    /// `osd set-full-ratio`: `which` is nearfull, backfillfull or full.
    OsdSetRatio {
        which: String,
        ratio: f64,
    },
    /// A PG's acting primary asks for a temporary acting set (empty: the
    /// up set again) for PGs it is the acting primary of.
    OsdPgTemp {
        id: u32,
        pgs: Vec<(crate::PgId, Vec<i32>)>,
    },
    OsdOut {
        ids: Vec<u32>,
    },
    OsdIn {
        ids: Vec<u32>,
    },
    OsdDown {
        ids: Vec<u32>,
    },
    OsdRm {
        ids: Vec<u32>,
    },
    /// `osd reweight ID W`: the OSD's override weight, 0..=1 (0 is out,
    /// 1 is in): CRUSH keeps that share of the PGs it would give it.
    OsdReweight {
        id: u32,
        weight: f64,
    },
    SetFlag {
        flag: String,
        on: bool,
    },
    CrushAddBucket {
        name: String,
        bucket_type: String,
    },
    CrushMove {
        name: String,
        location: Vec<(String, String)>,
    },
    CrushReweight {
        name: String,
        weight: u32,
    },
    CrushRm {
        name: String,
    },
    CrushSetDeviceClass {
        class: String,
        items: Vec<String>,
    },
    CrushRuleCreateReplicated {
        name: String,
        root: String,
        failure_domain: String,
        class: Option<String>,
    },
    CrushRuleCreateErasure {
        name: String,
        profile: String,
    },
    CrushRuleRm {
        name: String,
    },
    SetCrushMap {
        text: String,
    },
    EcProfileSet {
        name: String,
        params: Vec<(String, String)>,
        force: bool,
    },
    EcProfileRm {
        name: String,
    },
    PoolCreate {
        name: String,
        pg_num: u32,
        /// `None` for a replicated pool.
        erasure_profile: Option<String>,
        crush_rule: Option<String>,
    },
    PoolSet {
        name: String,
        key: String,
        value: String,
    },
    PoolRm {
        name: String,
        confirm: String,
        really: bool,
    },
    AuthGetOrCreate {
        entity: String,
        caps: String,
    },
    AuthRm {
        entity: String,
    },
}

impl MonCommand {
    /// Commands that only manage identities need full (`allow *`) monitor
    /// capabilities; the rest need write.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            MonCommand::AuthGetOrCreate { .. } | MonCommand::AuthRm { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub enum MonReply {
    Done(Done),
    Error(RemoteError),
    Status(Box<ClusterView>),
    Auth(Vec<AuthInfo>),
    Maps(Box<MapUpdate>),
}

/// A command's result.
#[derive(Clone, Debug, Default, PartialEq, Archive, Serialize, Deserialize)]
pub struct Done {
    /// What happened, for people (`pool 'x' created`).
    pub message: String,
    /// The OSD id `OsdNew` allocated.
    pub osd_id: Option<u32>,
    /// A keyring (`auth get-or-create`, `auth get`, `OsdNew`).
    pub keyring: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub struct AuthInfo {
    pub entity: String,
    pub caps: String,
}

#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Ceph's code: MON_DOWN, OSD_DOWN, OSDMAP_FLAGS, ...
    pub code: String,
    /// HEALTH_WARN or HEALTH_ERR.
    pub severity: String,
    pub summary: String,
    pub detail: Vec<String>,
}

/// The cluster as one monitor sees it.
#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub struct ClusterView {
    pub monmap: MonMap,
    pub osdmap: OsdMap,
    /// Monitors in the quorum (by name), and its leader.
    pub quorum: Vec<String>,
    pub leader: Option<String>,
    /// Which monitor answered.
    pub answered_by: String,
    pub raft_term: u64,
    pub commit_index: u64,
    pub health: Vec<HealthCheck>,
    /// PG states as the monitors know them: (state name, count).
    pub pgs_by_state: Vec<(String, u32)>,
    /// Every PG the primaries reported, by pool and seed.
    pub pg_stats: Vec<PgStat>,
    /// The oldest OSDMap epoch the monitors still hold.
    pub osdmap_first_committed: u32,
    pub recovery: RecoveryView,
    /// Each OSD's last space report.
    pub osd_stats: Vec<(u32, OsdStat)>,
}

/// How fast the cluster recovers, and how far the recovery under way is.
#[derive(Clone, Debug, Default, PartialEq, Archive, Serialize, Deserialize)]
pub struct RecoveryView {
    /// Object copies recovered or backfilled per second (last 10 s).
    pub objects_per_sec: f64,
    pub bytes_per_sec: f64,
    /// Since object copies went missing or misplaced: (seconds, fraction
    /// done against the most outstanding seen).
    pub progress: Option<(f64, f64)>,
}

impl ClusterView {
    /// HEALTH_OK, HEALTH_WARN or HEALTH_ERR: the worst check.
    pub fn health_status(&self) -> &'static str {
        if self.health.iter().any(|h| h.severity == "HEALTH_ERR") {
            "HEALTH_ERR"
        } else if self.health.is_empty() {
            "HEALTH_OK"
        } else {
            "HEALTH_WARN"
        }
    }
}

/// Maps for a subscriber: a full map when it has none or is too far
/// behind, then incrementals in order.
#[derive(Clone, Debug, Default, PartialEq, Archive, Serialize, Deserialize)]
pub struct MapUpdate {
    pub monmap: MonMap,
    pub full: Option<OsdMap>,
    pub incrementals: Vec<Incremental>,
}

impl MapUpdate {
    /// The epoch a holder of `have` reaches by applying this update.
    pub fn apply_to(&self, map: &mut Option<OsdMap>) -> Result<(), String> {
        if let Some(full) = &self.full {
            if map.as_ref().is_none_or(|m| m.epoch < full.epoch) {
                *map = Some(full.clone());
            }
        }
        if let Some(m) = map.as_mut() {
            for inc in &self.incrementals {
                if inc.epoch <= m.epoch {
                    continue;
                }
                m.apply(inc)?;
            }
        }
        Ok(())
    }
}

/// A request a monitor forwards to the leader on behalf of `from`, whose
/// capabilities the forwarding monitor already checked.
#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub struct Forwarded {
    pub from: String,
    pub request: MonRequest,
}

/// OSD-to-OSD heartbeat.
#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub struct Ping {
    pub from: u32,
    pub epoch: u32,
    pub stamp_ms: u64,
}
