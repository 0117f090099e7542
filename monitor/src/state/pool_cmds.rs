//! Pools and erasure-code profiles (`osd pool ...`,
//! `osd erasure-code-profile ...`), with Ceph's defaults and checks.

use cluster::msg::RemoteError;
use cluster::{PgId, Pool, PoolKind};

use super::{crush_cmds, done, CmdResult, Edit, PoolDefaults};

/// Most PGs one pool may have (Ceph's mon_max_pool_pg_num).
const MAX_PG_NUM: u32 = 65536;

fn check_pool_name(name: &str) -> Result<(), RemoteError> {
    if name.is_empty() || name.len() > 128 || name.starts_with('.') {
        return Err(RemoteError::invalid(format!(
            "'{name}' is not a valid pool name (1-128 characters, not starting with '.')"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(RemoteError::invalid(format!(
            "pool name '{name}' may only contain letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

fn check_pg_num(pg_num: u32) -> Result<(), RemoteError> {
    if pg_num == 0 || pg_num > MAX_PG_NUM {
        return Err(RemoteError::invalid(format!(
            "pg_num {pg_num} is out of range 1..={MAX_PG_NUM}"
        )));
    }
    Ok(())
}

pub(super) fn create(
    e: &mut Edit<'_>,
    name: &str,
    pg_num: u32,
    profile: Option<&str>,
    rule: Option<&str>,
    d: PoolDefaults,
) -> CmdResult {
    check_pool_name(name)?;
    check_pg_num(pg_num)?;
    if e.map.pool_by_name(name).is_some() {
        return Err(RemoteError::exists(format!("pool '{name}' already exists")));
    }
    let id = e.map.pool_max + 1;
    let pool = match profile {
        None => {
            let rule_name = rule.unwrap_or("replicated_rule");
            let rule_id = find_rule(e, rule_name, crush::RuleType::Replicated)?;
            let mut p = Pool::replicated(id, name, pg_num);
            p.size = d.size;
            p.min_size = d.min_size.clamp(1, d.size);
            p.crush_rule = rule_id;
            p
        }
        Some(profile) => {
            let prof = self::profile(e, profile)?;
            let (k, m) = (prof.k, prof.m);
            crush_cmds::check_ec_placement(e, name, profile, &prof)?;
            let rule_id = match rule {
                Some(r) => find_rule(e, r, crush::RuleType::Erasure)?,
                None => crush_cmds::rule_erasure(e, name, &prof)?,
            };
            let mut p = Pool::erasure(id, name, pg_num, k, m, rule_id);
            p.ec_profile = profile.to_string();
            p
        }
    };
    e.map.pools.insert(id, pool);
    e.map.pool_max = id;
    done(format!("pool '{name}' created"))
}

fn find_rule(e: &mut Edit<'_>, name: &str, want: crush::RuleType) -> Result<u32, RemoteError> {
    crush_cmds::with_crush(e, |m| {
        let r = m
            .rule_by_name(name)
            .ok_or_else(|| RemoteError::not_found(format!("crush rule {name} does not exist")))?;
        if r.rule_type != want {
            return Err(RemoteError::invalid(format!(
                "crush rule {name} is a {} rule, not {}",
                r.rule_type.name(),
                want.name()
            )));
        }
        Ok(r.id)
    })
}

pub(super) fn profile(e: &Edit<'_>, name: &str) -> Result<cluster::EcProfile, RemoteError> {
    let p = e.map.ec_profiles.get(name).ok_or_else(|| {
        RemoteError::not_found(format!("erasure-code-profile {name} does not exist"))
    })?;
    cluster::EcProfile::parse(name, p).map_err(RemoteError::invalid)
}

fn pool_mut<'a>(e: &'a mut Edit<'_>, name: &str) -> Result<&'a mut Pool, RemoteError> {
    e.map
        .pools
        .values_mut()
        .find(|p| p.name == name)
        .ok_or_else(|| RemoteError::not_found(format!("pool '{name}' does not exist")))
}

pub(super) fn set(e: &mut Edit<'_>, name: &str, key: &str, value: &str) -> CmdResult {
    let num = || -> Result<u32, RemoteError> {
        value.parse().map_err(|_| {
            RemoteError::invalid(format!("pool '{name}': {key} '{value}' is not a number"))
        })
    };
    match key {
        "size" => {
            let v = num()?;
            let p = pool_mut(e, name)?;
            if !matches!(p.kind, PoolKind::Replicated) {
                return Err(RemoteError::invalid(format!(
                    "pool '{name}' is erasure-coded; its size is k+m of its profile"
                )));
            }
            if !(1..=10).contains(&v) {
                return Err(RemoteError::invalid(format!(
                    "pool '{name}': size must be 1..=10"
                )));
            }
            p.size = v;
            p.min_size = p.min_size.min(v);
        }
        "min_size" => {
            let v = num()?;
            let p = pool_mut(e, name)?;
            let low = match p.kind {
                PoolKind::Erasure { k, .. } => k,
                PoolKind::Replicated => 1,
            };
            if v < low || v > p.size {
                return Err(RemoteError::invalid(format!(
                    "pool '{name}': min_size must be {low}..={}",
                    p.size
                )));
            }
            p.min_size = v;
        }
        "pg_num" | "pgp_num" => {
            let v = num()?;
            check_pg_num(v)?;
            let p = pool_mut(e, name)?;
            if v < p.pg_num && key == "pg_num" {
                return Err(RemoteError::invalid(format!(
                    "pool '{name}': decreasing pg_num ({} -> {v}) is not supported",
                    p.pg_num
                )));
            }
            if v > p.pg_num && key == "pg_num" && matches!(p.kind, PoolKind::Erasure { .. }) {
                return Err(RemoteError::invalid(format!(
                    "pool '{name}': increasing pg_num of an erasure-coded pool (splitting its shards) is not built yet"
                )));
            }
            if key == "pgp_num" && v > p.pg_num {
                return Err(RemoteError::invalid(format!(
                    "pool '{name}': pgp_num may not exceed pg_num ({})",
                    p.pg_num
                )));
            }
            if key == "pgp_num" {
                p.pgp_num = v;
                return done(format!("set pool '{name}' pgp_num to {v}"));
            }
            // More PGs: each OSD splits its PGs in the store; the new PGs
            // stay on their parents' OSDs (placement folds them onto
            // pgp_num) until pgp_num follows. A parent on a temporary
            // acting set leaves its children on the same one.
            let (old, pool_id) = (p.pg_num, p.id);
            p.pg_num = v;
            let temps: Vec<(PgId, Vec<i32>)> = e
                .map
                .pg_temp
                .iter()
                .filter(|(pg, _)| pg.pool == pool_id)
                .flat_map(|(pg, t)| {
                    cluster::split_children(pg.seed, old, v)
                        .into_iter()
                        .map(move |seed| {
                            (
                                PgId {
                                    pool: pool_id,
                                    seed,
                                },
                                t.clone(),
                            )
                        })
                })
                .collect();
            e.map.pg_temp.extend(temps);
            if v > old {
                return done(format!(
                    "set pool '{name}' pg_num to {v} (its PGs split; set pgp_num to {v} to spread the new PGs over the cluster)"
                ));
            }
        }
        "crush_rule" => {
            let kind = pool_mut(e, name)?.kind;
            let want = match kind {
                PoolKind::Replicated => crush::RuleType::Replicated,
                PoolKind::Erasure { .. } => crush::RuleType::Erasure,
            };
            let id = find_rule(e, value, want)?;
            pool_mut(e, name)?.crush_rule = id;
        }
        other => {
            return Err(RemoteError::invalid(format!(
                "pool '{name}': unknown key '{other}' (size, min_size, pg_num, pgp_num, crush_rule)"
            )))
        }
    }
    done(format!("set pool '{name}' {key} to {value}"))
}

pub(super) fn remove(e: &mut Edit<'_>, name: &str, confirm: &str, really: bool) -> CmdResult {
    if confirm != name || !really {
        return Err(RemoteError::denied(format!(
            "this will PERMANENTLY DESTROY all data in pool '{name}'; repeat the name and add --yes-i-really-really-mean-it"
        )));
    }
    let id = e
        .map
        .pool_by_name(name)
        .map(|p| p.id)
        .ok_or_else(|| RemoteError::not_found(format!("pool '{name}' does not exist")))?;
    e.map.pools.remove(&id);
    done(format!("pool '{name}' removed"))
}

pub(super) fn ec_profile_set(
    e: &mut Edit<'_>,
    name: &str,
    params: &[(String, String)],
    force: bool,
) -> CmdResult {
    check_pool_name(name)
        .map_err(|_| RemoteError::invalid(format!("'{name}' is not a valid profile name")))?;
    let mut p = cluster::ec_profile::defaults();
    p.extend(params.iter().cloned());
    cluster::EcProfile::parse(name, &p).map_err(RemoteError::invalid)?;
    if let Some(old) = e.map.ec_profiles.get(name) {
        if *old != p && !force {
            return Err(RemoteError::exists(format!(
                "erasure-code-profile {name} exists with different settings; use --force to override"
            )));
        }
        if *old != p && in_use(e, name) {
            return Err(RemoteError::busy(format!(
                "erasure-code-profile {name} is used by a pool and cannot change"
            )));
        }
    }
    e.map.ec_profiles.insert(name.to_string(), p);
    done(format!("erasure-code-profile {name} set"))
}

fn in_use(e: &Edit<'_>, profile: &str) -> bool {
    e.map.pools.values().any(|pool| pool.ec_profile == profile)
}

pub(super) fn ec_profile_rm(e: &mut Edit<'_>, name: &str) -> CmdResult {
    if !e.map.ec_profiles.contains_key(name) {
        return Err(RemoteError::not_found(format!(
            "erasure-code-profile {name} does not exist"
        )));
    }
    if in_use(e, name) {
        return Err(RemoteError::busy(format!(
            "erasure-code-profile {name} is in use by an erasure-coded pool"
        )));
    }
    e.map.ec_profiles.remove(name);
    done(format!("erasure-code-profile {name} removed"))
}
