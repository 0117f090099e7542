//! The OSDMap: the epoch-numbered description of every OSD (address,
//! up/down, in/out), every pool, the CRUSH map and the erasure-code
//! profiles. The monitors own it; OSDs and clients hold a copy and follow
//! it by incrementals ([`Incremental`]): the differences between one
//! epoch and the next.
//!
//! The CRUSH map travels as its canonical text. Everyone (monitor, OSD,
//! client) places data with `crush::text::parse` of that same text, so a
//! placement is the same everywhere; the monitor stores every edit as
//! the text of the edited map, which makes the text the map.

use std::collections::{BTreeMap, BTreeSet};

use crush::CrushMap;
use rkyv::{Archive, Deserialize, Serialize};

use crate::pg::PgId;
use crate::placement::{OsdStates, Placement};
use crate::pool::Pool;

/// In/out reweight meaning "fully in" (16.16 fixed point).
pub const REWEIGHT_IN: u32 = 0x10000;

/// Flags an operator can set on the map (`osd set FLAG`).
pub const KNOWN_FLAGS: &[&str] = &[
    "noout",
    "noin",
    "noup",
    "nodown",
    "pause",
    "noscrub",
    "nodeep-scrub",
    "norecover",
    "nobackfill",
    "norebalance",
];

#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OsdInfo {
    pub id: u32,
    /// Chosen by the OSD at mkfs; ties the id to its disk.
    pub uuid: String,
    /// Where its messenger listens (empty until first boot).
    pub addr: String,
    pub hostname: String,
    pub up: bool,
    /// In/out reweight, 16.16; 0 is out.
    pub reweight: u32,
    /// Epoch at which it last came up.
    pub up_from: u32,
    /// Highest epoch the monitors recorded it alive through (raised at
    /// its request before its PGs may go active in a new interval, so
    /// that peering later knows which intervals could have written).
    pub up_thru: u32,
    /// When (ms since the epoch, monitor's clock) it was marked down; 0 if up
    /// or never booted. Drives the down -> out timer.
    pub down_since_ms: u64,
    /// Set when an operator marked it out (auto-in on boot then does not apply).
    pub out_by_operator: bool,
    /// How full the monitors find it, from its reports and the map's
    /// ratios.
    pub fullness: Fullness,
}

/// An OSD's space state, as the monitors set it (Ceph's nearfull,
/// backfillfull and full OSD states). Ordered: each implies the ones
/// before it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Archive, Serialize, Deserialize,
)]
#[rkyv(derive(Debug))]
pub enum Fullness {
    #[default]
    Ok,
    /// Past the nearfull ratio: a warning.
    Nearfull,
    /// Past the backfillfull ratio: no backfill into it.
    Backfillfull,
    /// Past the full ratio: writes to its PGs are refused.
    Full,
}

impl Fullness {
    pub fn name(self) -> &'static str {
        match self {
            Fullness::Ok => "ok",
            Fullness::Nearfull => "nearfull",
            Fullness::Backfillfull => "backfillfull",
            Fullness::Full => "full",
        }
    }
}

/// The used/total ratios at which an OSD becomes nearfull, backfillfull
/// and full, in millionths (Ceph's defaults: 0.85, 0.90, 0.95).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct FullRatios {
    pub nearfull_ppm: u32,
    pub backfillfull_ppm: u32,
    pub full_ppm: u32,
}

impl Default for FullRatios {
    fn default() -> Self {
        FullRatios {
            nearfull_ppm: 850_000,
            backfillfull_ppm: 900_000,
            full_ppm: 950_000,
        }
    }
}

impl FullRatios {
    /// Where `used` of `total` bytes stands.
    pub fn classify(&self, used: u64, total: u64) -> Fullness {
        if total == 0 {
            return Fullness::Ok;
        }
        let ppm = (u128::from(used) * 1_000_000 / u128::from(total)) as u64;
        if ppm >= u64::from(self.full_ppm) {
            Fullness::Full
        } else if ppm >= u64::from(self.backfillfull_ppm) {
            Fullness::Backfillfull
        } else if ppm >= u64::from(self.nearfull_ppm) {
            Fullness::Nearfull
        } else {
            Fullness::Ok
        }
    }
}

impl OsdInfo {
    pub fn is_in(&self) -> bool {
        self.reweight > 0
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OsdMap {
    pub epoch: u32,
    pub fsid: String,
    pub created_ms: u64,
    pub modified_ms: u64,
    pub flags: BTreeSet<String>,
    pub osds: BTreeMap<u32, OsdInfo>,
    pub pools: BTreeMap<u64, Pool>,
    /// Highest pool id ever used (ids are not reused).
    pub pool_max: u64,
    /// Canonical text of the CRUSH map.
    pub crush_text: String,
    pub ec_profiles: BTreeMap<String, BTreeMap<String, String>>,
    /// Temporary acting sets (Ceph's pg_temp): while a PG's up set is
    /// being backfilled, its complete copies serve it. Set and cleared
    /// by the PG's primary.
    pub pg_temp: BTreeMap<PgId, Vec<i32>>,
    pub full_ratios: FullRatios,
}

/// The change from epoch `epoch - 1` to `epoch`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct Incremental {
    pub epoch: u32,
    pub modified_ms: u64,
    pub osds_set: Vec<OsdInfo>,
    pub osds_removed: Vec<u32>,
    pub pools_set: Vec<Pool>,
    pub pools_removed: Vec<u64>,
    pub pool_max: u64,
    pub crush_text: Option<String>,
    pub flags: Option<Vec<String>>,
    pub ec_set: Vec<(String, BTreeMap<String, String>)>,
    pub ec_removed: Vec<String>,
    /// pg_temp entries set (an empty list removes the entry).
    pub pg_temp: Vec<(PgId, Vec<i32>)>,
    pub full_ratios: Option<FullRatios>,
}

impl OsdMap {
    pub fn crush(&self) -> Result<CrushMap, crush::CrushError> {
        crush::text::parse(&self.crush_text)
    }

    pub fn pool_by_name(&self, name: &str) -> Option<&Pool> {
        self.pools.values().find(|p| p.name == name)
    }

    /// The checked erasure-code profile of an EC pool (`None` for a
    /// replicated one); an error names the profile and what is wrong.
    pub fn ec_profile_of(&self, pool: &Pool) -> Option<Result<crate::EcProfile, String>> {
        if !matches!(pool.kind, crate::PoolKind::Erasure { .. }) {
            return None;
        }
        Some(match self.ec_profiles.get(&pool.ec_profile) {
            Some(p) => crate::EcProfile::parse(&pool.ec_profile, p),
            None => Err(format!(
                "pool '{}': erasure-code-profile {} is not in the map",
                pool.name, pool.ec_profile
            )),
        })
    }

    /// Data bytes per stripe of a pool (Ceph's `stripe_width`): k times
    /// the stripe unit for an EC pool, 0 for a replicated one.
    pub fn stripe_width(&self, pool: &Pool) -> u64 {
        match self.ec_profile_of(pool) {
            Some(Ok(p)) => p.stripe_width(),
            _ => 0,
        }
    }

    pub fn is_up(&self, osd: u32) -> bool {
        self.osds.get(&osd).is_some_and(|o| o.up)
    }

    pub fn num_up(&self) -> usize {
        self.osds.values().filter(|o| o.up).count()
    }

    pub fn num_in(&self) -> usize {
        self.osds.values().filter(|o| o.is_in()).count()
    }

    /// What placement needs, indexed by OSD id.
    pub fn osd_states(&self) -> OsdStates {
        let n = self.osds.keys().next_back().map_or(0, |m| *m as usize + 1);
        let mut s = OsdStates {
            exists: vec![false; n],
            up: vec![false; n],
            weight: vec![0; n],
        };
        for (id, o) in &self.osds {
            let i = *id as usize;
            s.exists[i] = true;
            s.up[i] = o.up;
            s.weight[i] = o.reweight;
        }
        s
    }

    /// Where a PG lives at this epoch: CRUSH's up set, and the acting set
    /// its pg_temp entry gives while it is being backfilled.
    pub fn place_pg(&self, crush: &CrushMap, pool: &Pool, pg: PgId, osds: &OsdStates) -> Placement {
        let mut p = crate::placement::place_pg(crush, pool, pg, osds);
        if let Some(temp) = self.pg_temp.get(&pg) {
            crate::placement::apply_pg_temp(&mut p, temp, osds);
        }
        p
    }

    /// Drops pg_temp entries that no longer apply: their pool is gone,
    /// their PG is past the pool's pg_num, or they name an OSD that no
    /// longer exists.
    pub fn prune_pg_temp(&mut self) {
        let (pools, osds) = (&self.pools, &self.osds);
        self.pg_temp.retain(|pg, temp| {
            pools.get(&pg.pool).is_some_and(|p| pg.seed < p.pg_num)
                && temp
                    .iter()
                    .all(|o| *o >= 0 && osds.contains_key(&(*o as u32)))
        });
    }

    /// The incremental that turns `self` into `next` (whose epoch is one more).
    pub fn diff(&self, next: &OsdMap) -> Incremental {
        let (osds_set, osds_removed) = changes(&self.osds, &next.osds);
        let (pools_set, pools_removed) = changes(&self.pools, &next.pools);
        let (ec_set, ec_removed) = changes(&self.ec_profiles, &next.ec_profiles);
        let (temp_set, temp_removed) = changes(&self.pg_temp, &next.pg_temp);
        let pg_temp = temp_set
            .into_iter()
            .chain(temp_removed.into_iter().map(|pg| (pg, Vec::new())))
            .collect();
        let osds_set = osds_set.into_iter().map(|(_, o)| o).collect();
        let pools_set = pools_set.into_iter().map(|(_, p)| p).collect();
        Incremental {
            epoch: next.epoch,
            modified_ms: next.modified_ms,
            osds_set,
            osds_removed,
            pools_set,
            pools_removed,
            pool_max: next.pool_max,
            crush_text: (self.crush_text != next.crush_text).then(|| next.crush_text.clone()),
            flags: (self.flags != next.flags).then(|| next.flags.iter().cloned().collect()),
            ec_set,
            ec_removed,
            pg_temp,
            full_ratios: (self.full_ratios != next.full_ratios).then_some(next.full_ratios),
        }
    }

    /// Applies the incremental for the next epoch.
    pub fn apply(&mut self, inc: &Incremental) -> Result<(), String> {
        if self.epoch.checked_add(1) != Some(inc.epoch) {
            return Err(format!(
                "incremental for epoch {} does not follow epoch {}",
                inc.epoch, self.epoch
            ));
        }
        self.epoch = inc.epoch;
        self.modified_ms = inc.modified_ms;
        for o in &inc.osds_set {
            self.osds.insert(o.id, o.clone());
        }
        for id in &inc.osds_removed {
            self.osds.remove(id);
        }
        for p in &inc.pools_set {
            self.pools.insert(p.id, p.clone());
        }
        for id in &inc.pools_removed {
            self.pools.remove(id);
        }
        self.pool_max = inc.pool_max;
        if let Some(t) = &inc.crush_text {
            self.crush_text = t.clone();
        }
        if let Some(f) = &inc.flags {
            self.flags = f.iter().cloned().collect();
        }
        for (k, v) in &inc.ec_set {
            self.ec_profiles.insert(k.clone(), v.clone());
        }
        for k in &inc.ec_removed {
            self.ec_profiles.remove(k);
        }
        if let Some(r) = inc.full_ratios {
            self.full_ratios = r;
        }
        for (pg, osds) in &inc.pg_temp {
            if osds.is_empty() {
                self.pg_temp.remove(pg);
            } else {
                self.pg_temp.insert(*pg, osds.clone());
            }
        }
        Ok(())
    }
}

/// Entries of `new` that are added or changed from `old`, and keys of
/// `old` that `new` lacks.
fn changes<K: Ord + Clone, V: PartialEq + Clone>(
    old: &BTreeMap<K, V>,
    new: &BTreeMap<K, V>,
) -> (Vec<(K, V)>, Vec<K>) {
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (set, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn osd(id: u32, up: bool, reweight: u32) -> OsdInfo {
        OsdInfo {
            id,
            uuid: format!("u{id}"),
            addr: format!("127.0.0.1:{}", 6800 + id),
            hostname: "h".into(),
            up,
            reweight,
            up_from: 1,
            up_thru: 0,
            down_since_ms: 0,
            out_by_operator: false,
            fullness: Default::default(),
        }
    }

    fn map_from(seed: &[(u32, bool, bool)], pools: &[(u64, u32)], flags: &[&str]) -> OsdMap {
        let mut m = OsdMap {
            epoch: 5,
            fsid: "f".into(),
            crush_text: format!("# {}", seed.len()),
            ..Default::default()
        };
        for (id, up, inn) in seed {
            m.osds
                .insert(*id, osd(*id, *up, if *inn { REWEIGHT_IN } else { 0 }));
        }
        for (id, pg) in pools {
            m.pools
                .insert(*id, Pool::replicated(*id, &format!("p{id}"), *pg));
            m.pool_max = m.pool_max.max(*id);
            // pg_temp entries that come, change and go with the input.
            let seed = PgId {
                pool: *id,
                seed: pg % 3,
            };
            m.pg_temp.insert(seed, vec![(*pg % 5) as i32, 7]);
        }
        m.flags = flags.iter().map(|s| s.to_string()).collect();
        m
    }

    proptest! {
        #[test]
        fn applying_the_diff_gives_the_next_map(
            a in proptest::collection::vec((0u32..8, any::<bool>(), any::<bool>()), 0..8),
            b in proptest::collection::vec((0u32..8, any::<bool>(), any::<bool>()), 0..8),
            pa in proptest::collection::vec((1u64..5, 1u32..64), 0..4),
            pb in proptest::collection::vec((1u64..5, 1u32..64), 0..4),
            fa in any::<bool>(), fb in any::<bool>(),
        ) {
            let old = map_from(&a, &pa, if fa { &["noout"] } else { &[] });
            let mut new = map_from(&b, &pb, if fb { &["noout", "noup"] } else { &[] });
            new.epoch = old.epoch + 1;
            new.modified_ms = 77;
            let inc = old.diff(&new);
            let mut applied = old.clone();
            applied.apply(&inc).unwrap();
            prop_assert_eq!(&applied, &new);
            // And through the wire encoding.
            let bytes = crate::codec::encode(&inc);
            let back: Incremental = crate::codec::decode("incremental", &bytes).unwrap();
            prop_assert_eq!(back, inc);
        }
    }

    #[test]
    fn an_incremental_out_of_order_is_refused() {
        let mut m = map_from(&[(0, true, true)], &[], &[]);
        let inc = Incremental {
            epoch: 9,
            ..Default::default()
        };
        assert!(m
            .apply(&inc)
            .unwrap_err()
            .contains("does not follow epoch 5"));
    }

    #[test]
    fn osd_states_index_by_id() {
        let m = map_from(
            &[(0, true, true), (3, false, true), (2, true, false)],
            &[],
            &[],
        );
        let s = m.osd_states();
        assert_eq!(s.exists, vec![true, false, true, true]);
        assert_eq!(s.up, vec![true, false, true, false]);
        assert_eq!(s.weight, vec![REWEIGHT_IN, 0, 0, REWEIGHT_IN]);
    }

    #[test]
    fn stripe_width_comes_from_a_checked_profile() {
        let mut m = OsdMap::default();
        let rep = Pool::replicated(1, "rep", 8);
        let mut ec = Pool::erasure(2, "ec", 8, 4, 2, 1);
        ec.ec_profile = "k4m2".into();
        assert!(m.ec_profile_of(&rep).is_none());
        assert_eq!(
            m.ec_profile_of(&ec),
            Some(Err(
                "pool 'ec': erasure-code-profile k4m2 is not in the map".into()
            ))
        );
        let prof = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        m.ec_profiles.insert(
            "k4m2".into(),
            prof(&[("k", "4"), ("m", "2"), ("stripe_unit", "64K")]),
        );
        assert_eq!(m.stripe_width(&ec), 4 * 65536);
        assert_eq!(m.stripe_width(&rep), 0);
        // A damaged profile in a map is refused, not used.
        m.ec_profiles
            .insert("k4m2".into(), prof(&[("k", "4"), ("stripe_unit", "5000")]));
        assert!(matches!(m.ec_profile_of(&ec), Some(Err(e)) if e.contains("power of two")));
        assert_eq!(m.stripe_width(&ec), 0);
    }
}
