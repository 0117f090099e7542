//! The cluster's first state: epoch 1 of the OSDMap with an empty CRUSH
//! hierarchy (root `default`), Ceph's `replicated_rule`, the `default`
//! erasure-code profile, and the administrator's identity.

use std::collections::BTreeMap;

use cluster::{MonMap, OsdMap};
use rkyv::{Archive, Deserialize, Serialize};

use super::{AuthRecord, ClusterState};

/// What `strata-mon --mkfs` records for the first leader to propose.
/// Every monitor of a cluster has the same seed.
#[derive(Clone, Debug, PartialEq, Archive, Serialize, Deserialize)]
pub struct Seed {
    pub fsid: String,
    pub monmap: MonMap,
    pub admin_entity: String,
    pub admin: AuthRecord,
    /// Failure domain of `replicated_rule`: 1 host, 0 osd.
    pub chooseleaf_type: u32,
    pub max_incrementals: u32,
}

/// The initial CRUSH map in Ceph's text form: the crush crate's new map
/// (optimal tunables, Ceph's bucket types), an empty `default` root, and
/// `replicated_rule` across `chooseleaf_type` (a bucket type below root;
/// host otherwise).
pub fn initial_crush_text(chooseleaf_type: u32) -> String {
    let mut m = crush::CrushMap::new();
    m.add_bucket("default", "root", crush::BucketAlg::Straw2)
        .expect("a new map takes a root");
    let root = m.type_id("root").expect("a new map has the root type");
    let domain = i32::try_from(chooseleaf_type)
        .ok()
        .filter(|t| *t < root)
        .and_then(|t| m.type_name(t))
        .unwrap_or("host")
        .to_string();
    m.create_replicated_rule("replicated_rule", "default", &domain, None)
        .expect("a new map takes a rule");
    crush::text::print(&m)
}

pub(super) fn apply(state: &mut ClusterState, seed: &Seed, now_ms: u64) {
    let mut profiles = BTreeMap::new();
    let default_profile: BTreeMap<String, String> = [
        ("k", "2"),
        ("m", "2"),
        ("plugin", "jerasure"),
        ("technique", "reed_sol_van"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    profiles.insert("default".to_string(), default_profile);
    state.monmap = seed.monmap.clone();
    state.osdmap = OsdMap {
        epoch: 1,
        fsid: seed.fsid.clone(),
        created_ms: now_ms,
        modified_ms: now_ms,
        crush_text: initial_crush_text(seed.chooseleaf_type),
        ec_profiles: profiles,
        ..Default::default()
    };
    state
        .auth
        .insert(seed.admin_entity.clone(), seed.admin.clone());
    state.max_incrementals = seed.max_incrementals;
    state.incrementals.clear();
    state.base = Some(state.osdmap.clone());
}
