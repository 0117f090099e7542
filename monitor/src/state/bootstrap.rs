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

/// The initial CRUSH map in Ceph's text form: current tunables, Ceph's
/// bucket types, an empty `default` root and `replicated_rule`.
pub fn initial_crush_text(chooseleaf_type: u32) -> String {
    let types = [
        "osd",
        "host",
        "chassis",
        "rack",
        "row",
        "pdu",
        "pod",
        "room",
        "datacenter",
        "zone",
        "region",
        "root",
    ];
    let mut t = String::from(
        "tunable choose_local_tries 0\ntunable choose_local_fallback_tries 0\n\
         tunable choose_total_tries 50\ntunable chooseleaf_descend_once 1\n\
         tunable chooseleaf_vary_r 1\ntunable chooseleaf_stable 1\n\
         tunable straw_calc_version 1\ntunable allowed_bucket_algs 54\n\n",
    );
    for (i, name) in types.iter().enumerate() {
        t.push_str(&format!("type {i} {name}\n"));
    }
    let domain = types
        .get(chooseleaf_type as usize)
        .filter(|_| chooseleaf_type < 11)
        .unwrap_or(&"host");
    t.push_str("\nroot default {\n\tid -1\n\talg straw2\n\thash 0\n}\n\n");
    t.push_str(&format!(
        "rule replicated_rule {{\n\tid 0\n\ttype replicated\n\tstep take default\n\t\
         step chooseleaf firstn 0 type {domain}\n\tstep emit\n}}\n"
    ));
    let map = crush::text::parse(&t).expect("the initial CRUSH map parses");
    crush::text::print(&map)
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
}
