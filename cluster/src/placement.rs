//! Placement, computed the same way by every client and OSD: object to PG
//! by Ceph's object hash and stable-mod over `pg_num`, then PG to OSDs by
//! the pool's CRUSH rule. Matches Ceph's OSDMap (checked against
//! `osdmaptool`, see `tests/golden/`).

use crush::{CrushMap, ITEM_NONE};

use crate::pg::{stable_mod, PgId};
use crate::pool::Pool;

/// Ceph's object hash: rjenkins over the name, with the namespace and a
/// 0x1f separator in front when the object has a namespace.
pub fn object_hash(ns: &str, name: &str) -> u32 {
    if ns.is_empty() {
        return crush::hash::str_hash(name.as_bytes());
    }
    let mut k = Vec::with_capacity(ns.len() + 1 + name.len());
    k.extend_from_slice(ns.as_bytes());
    k.push(0x1f);
    k.extend_from_slice(name.as_bytes());
    crush::hash::str_hash(&k)
}

/// The PG an object with hash `hash` belongs to.
pub fn object_pg(pool: &Pool, hash: u32) -> PgId {
    PgId {
        pool: pool.id,
        seed: stable_mod(hash, pool.pg_num, pool.pg_num_mask()),
    }
}

/// The CRUSH input of a PG: its seed folded onto `pgp_num`, hashed with the
/// pool id (or, for old pools without `hashpspool`, plus the pool id).
pub fn pg_pps(pool: &Pool, pg: PgId) -> u32 {
    let ps = stable_mod(pg.seed, pool.pgp_num, pool.pgp_num_mask());
    if pool.hashpspool {
        crush::hash::hash32_2(ps, pool.id as u32)
    } else {
        ps.wrapping_add(pool.id as u32)
    }
}

/// What placement needs to know about each OSD, indexed by OSD id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsdStates {
    pub exists: Vec<bool>,
    pub up: Vec<bool>,
    /// In/out reweight, 16.16 fixed point (0 = out, 0x10000 = in).
    pub weight: Vec<u32>,
}

impl OsdStates {
    /// `n` OSDs, all existing, up and in.
    pub fn all_up_in(n: usize) -> OsdStates {
        OsdStates {
            exists: vec![true; n],
            up: vec![true; n],
            weight: vec![crush::WEIGHT_IN; n],
        }
    }

    fn exists(&self, osd: i32) -> bool {
        usize::try_from(osd)
            .ok()
            .and_then(|o| self.exists.get(o))
            .copied()
            .unwrap_or(false)
    }

    fn is_up(&self, osd: i32) -> bool {
        usize::try_from(osd)
            .ok()
            .and_then(|o| self.up.get(o))
            .copied()
            .unwrap_or(false)
    }
}

/// Where a PG lives. Positions hold [`ITEM_NONE`] where an erasure-coded
/// pool has no OSD for a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// What CRUSH chose, minus OSDs that do not exist.
    pub raw: Vec<i32>,
    /// `raw` minus OSDs that are down.
    pub up: Vec<i32>,
    pub up_primary: Option<i32>,
    /// Who serves the PG: the up set, or the PG's pg_temp entry while
    /// its up set is being backfilled.
    pub acting: Vec<i32>,
    pub acting_primary: Option<i32>,
}

fn first_present(osds: &[i32]) -> Option<i32> {
    osds.iter().copied().find(|o| *o != ITEM_NONE)
}

/// Removes (replicated) or blanks (erasure) the OSDs `keep` rejects.
fn filter(pool: &Pool, osds: &[i32], keep: impl Fn(i32) -> bool) -> Vec<i32> {
    if pool.can_shift_osds() {
        osds.iter().copied().filter(|o| keep(*o)).collect()
    } else {
        osds.iter()
            .map(|o| if keep(*o) { *o } else { ITEM_NONE })
            .collect()
    }
}

/// Where PG `pg` of `pool` lives. Weight sets (`choose_args`) are looked up
/// by pool id, falling back to the default set, as Ceph does.
pub fn place_pg(crush: &CrushMap, pool: &Pool, pg: PgId, osds: &OsdStates) -> Placement {
    let args = crush.choose_args_for(pool.id);
    let chosen = crush.do_rule(
        pool.crush_rule,
        pg_pps(pool, pg) as i32,
        pool.size as usize,
        &osds.weight,
        args.as_ref(),
    );
    let raw = filter(pool, &chosen, |o| osds.exists(o));
    let up = filter(pool, &raw, |o| osds.exists(o) && osds.is_up(o));
    let up_primary = first_present(&up);
    Placement {
        acting: up.clone(),
        acting_primary: up_primary,
        up_primary,
        up,
        raw,
    }
}

/// Overrides the acting set with a pg_temp entry: its members that are
/// up, in its order (the first is the primary). An entry with none up
/// leaves the up set acting.
pub fn apply_pg_temp(p: &mut Placement, temp: &[i32], osds: &OsdStates) {
    let acting: Vec<i32> = temp
        .iter()
        .copied()
        .filter(|o| *o >= 0 && osds.exists(*o) && osds.is_up(*o))
        .collect();
    if acting.is_empty() {
        return;
    }
    p.acting_primary = acting.first().copied();
    p.acting = acting;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> CrushMap {
        crush::text::parse(include_str!("../../deploy/examples/crushmap.txt")).unwrap()
    }

    #[test]
    fn down_osds_shift_replicas_but_leave_erasure_holes() {
        let crush = map();
        let rep = Pool::replicated(1, "rep", 64);
        let ec = Pool::erasure(2, "ec", 64, 2, 2, 2);
        let mut osds = OsdStates::all_up_in(12);
        let pg = PgId { pool: 1, seed: 5 };
        let before = place_pg(&crush, &rep, pg, &osds);
        assert_eq!(before.up.len(), 3);
        let victim = before.up[0];
        osds.up[victim as usize] = false;
        let after = place_pg(&crush, &rep, pg, &osds);
        assert_eq!(after.raw, before.raw, "CRUSH does not see down, only out");
        assert_eq!(after.up, before.up[1..].to_vec(), "the others shift left");
        assert_eq!(
            after.up_primary,
            Some(before.up[1]),
            "the next replica becomes primary"
        );

        let pg = PgId { pool: 2, seed: 9 };
        let osds = OsdStates::all_up_in(12);
        let full = place_pg(&crush, &ec, pg, &osds);
        assert_eq!(full.up.len(), 4);
        let mut down = osds.clone();
        down.up[full.up[1] as usize] = false;
        let holed = place_pg(&crush, &ec, pg, &down);
        assert_eq!(
            holed.up,
            vec![full.up[0], ITEM_NONE, full.up[2], full.up[3]],
            "shard 1 keeps its position as a hole"
        );
        let mut gone = osds.clone();
        gone.exists[full.up[0] as usize] = false;
        let p = place_pg(&crush, &ec, pg, &gone);
        assert_eq!(p.raw[0], ITEM_NONE);
        assert_eq!(
            p.up_primary,
            Some(full.up[1]),
            "the primary is the first shard present"
        );
    }

    #[test]
    fn pg_temp_overrides_the_acting_set_with_its_members_that_are_up() {
        let crush = map();
        let rep = Pool::replicated(1, "rep", 64);
        let mut osds = OsdStates::all_up_in(12);
        let pg = PgId { pool: 1, seed: 5 };
        let base = place_pg(&crush, &rep, pg, &osds);
        let spare = (0..12).find(|o| !base.up.contains(o)).unwrap();
        let mut p = base.clone();
        apply_pg_temp(&mut p, &[spare, base.up[2]], &osds);
        assert_eq!(p.acting, vec![spare, base.up[2]]);
        assert_eq!(p.acting_primary, Some(spare));
        assert_eq!((p.up, p.up_primary), (base.up.clone(), base.up_primary));
        // A member that is down drops out; with none up, the up set acts.
        osds.up[spare as usize] = false;
        let mut p = base.clone();
        apply_pg_temp(&mut p, &[spare, base.up[2]], &osds);
        assert_eq!(p.acting, vec![base.up[2]]);
        let mut p = base.clone();
        apply_pg_temp(&mut p, &[spare], &osds);
        assert_eq!(
            (p.acting, p.acting_primary),
            (base.up.clone(), base.up_primary)
        );
    }

    #[test]
    fn namespaces_and_pool_ids_change_placement() {
        assert_ne!(object_hash("", "a"), object_hash("ns", "a"));
        let (a, b) = (Pool::replicated(1, "a", 128), Pool::replicated(2, "b", 128));
        let pg = |p: &Pool| PgId {
            pool: p.id,
            seed: 7,
        };
        assert_ne!(
            pg_pps(&a, pg(&a)),
            pg_pps(&b, pg(&b)),
            "hashpspool separates pools"
        );
        let mut legacy = a.clone();
        legacy.hashpspool = false;
        assert_eq!(pg_pps(&legacy, pg(&a)), 8);
    }
}
