//! OSD membership: ids for new disks, boots, up/down, in/out, removal and
//! map flags.

use cluster::msg::mon::Done;
use cluster::msg::RemoteError;
use cluster::osdmap::{OsdInfo, KNOWN_FLAGS, REWEIGHT_IN};
use cluster::PgId;

use super::{crush_cmds, done, CmdResult, Edit};

fn check_ids(e: &Edit<'_>, ids: &[u32]) -> Result<(), RemoteError> {
    if ids.is_empty() {
        return Err(RemoteError::invalid("no OSD ids given"));
    }
    for id in ids {
        if !e.map.osds.contains_key(id) {
            return Err(RemoteError::not_found(format!("osd.{id} does not exist")));
        }
    }
    Ok(())
}

fn list(ids: &[u32]) -> String {
    ids.iter()
        .map(|i| format!("osd.{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `osd new UUID`: the same uuid always gets the same id; a new one gets
/// the lowest free id.
pub(super) fn osd_new(e: &mut Edit<'_>, uuid: &str) -> CmdResult {
    if uuid.is_empty()
        || uuid.len() > 64
        || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        return Err(RemoteError::invalid(format!("'{uuid}' is not a uuid")));
    }
    if let Some(o) = e.map.osds.values().find(|o| o.uuid == uuid) {
        return Ok(Done {
            message: format!("osd.{} already has uuid {uuid}", o.id),
            osd_id: Some(o.id),
            keyring: None,
        });
    }
    let id = (0u32..)
        .find(|i| !e.map.osds.contains_key(i))
        .expect("ids remain");
    e.map.osds.insert(
        id,
        OsdInfo {
            id,
            uuid: uuid.to_string(),
            addr: String::new(),
            hostname: String::new(),
            up: false,
            reweight: REWEIGHT_IN,
            up_from: 0,
            up_thru: 0,
            down_since_ms: 0,
            out_by_operator: false,
            fullness: Default::default(),
        },
    );
    Ok(Done {
        message: format!("created osd.{id}"),
        osd_id: Some(id),
        keyring: None,
    })
}

pub(super) fn boot(
    e: &mut Edit<'_>,
    id: u32,
    uuid: &str,
    addr: &str,
    host: &str,
    weight: u32,
) -> CmdResult {
    let noup = e.map.flags.contains("noup");
    let epoch = e.map.epoch + 1;
    let o = e.map.osds.get_mut(&id).ok_or_else(|| {
        RemoteError::not_found(format!("osd.{id} does not exist (was it removed?)"))
    })?;
    if o.uuid != uuid {
        return Err(RemoteError::invalid(format!(
            "osd.{id} has uuid {}, but the booting disk has {uuid}: wrong data directory?",
            o.uuid
        )));
    }
    if addr.parse::<std::net::SocketAddr>().is_err() {
        return Err(RemoteError::invalid(format!(
            "osd.{id}: '{addr}' is not IP:PORT"
        )));
    }
    if noup {
        return Err(RemoteError::busy(format!(
            "osd.{id} may not come up: noup is set"
        )));
    }
    o.addr = addr.to_string();
    o.hostname = host.to_string();
    // A boot is a new incarnation even when the map still shows the old
    // one up (it restarted faster than its failure was noticed): a new
    // up_from tells its peers that its PGs must peer again.
    o.up = true;
    o.up_from = epoch;
    o.down_since_ms = 0;
    // A disk that was marked out automatically comes back in.
    if !o.is_in() && !o.out_by_operator {
        o.reweight = REWEIGHT_IN;
    }
    crush_cmds::place_osd(e, id, host, weight)?;
    done(format!("osd.{id} booted at {addr}"))
}

/// `osd alive` (Ceph's MOSDAlive): an up OSD asks to be recorded alive
/// through `epoch`, before its PGs go active in an interval that began
/// then. Never lowers it; an OSD that is down gets nothing.
pub(super) fn alive(e: &mut Edit<'_>, id: u32, epoch: u32) -> CmdResult {
    let current = e.map.epoch;
    let o = e
        .map
        .osds
        .get_mut(&id)
        .ok_or_else(|| RemoteError::not_found(format!("osd.{id} does not exist")))?;
    if !o.up {
        return Err(RemoteError::again(format!(
            "osd.{id} is down; it must boot before it can be marked alive"
        )));
    }
    if epoch > current {
        return Err(RemoteError::invalid(format!(
            "osd.{id} asks to be alive through epoch {epoch}, after the current epoch {current}"
        )));
    }
    if o.up_thru >= epoch {
        return done(format!("osd.{id} is already alive through {}", o.up_thru));
    }
    o.up_thru = epoch;
    done(format!("osd.{id} alive through epoch {epoch}"))
}

/// A primary's pg_temp requests: each applies only if the requester is
/// that PG's acting primary now (a request from a replaced primary is
/// stale) and names existing, up, distinct OSDs, at most the pool's size.
pub(super) fn pg_temp(e: &mut Edit<'_>, id: u32, pgs: &[(PgId, Vec<i32>)]) -> CmdResult {
    let crush = e
        .map
        .crush()
        .map_err(|err| RemoteError::invalid(format!("the CRUSH map does not parse: {err}")))?;
    let states = e.map.osd_states();
    let mut changed = Vec::new();
    let mut refused = Vec::new();
    for (pg, want) in pgs {
        let Some(pool) = e.map.pools.get(&pg.pool) else {
            refused.push(format!("{pg}: pool {} does not exist", pg.pool));
            continue;
        };
        if pg.seed >= pool.pg_num {
            refused.push(format!(
                "{pg}: pool '{}' has {} PGs",
                pool.name, pool.pg_num
            ));
            continue;
        }
        let place = e.map.place_pg(&crush, pool, *pg, &states);
        if place.acting_primary != Some(id as i32) {
            refused.push(format!(
                "{pg}: osd.{id} is not its acting primary (acting {:?})",
                place.acting
            ));
            continue;
        }
        let mut seen = std::collections::BTreeSet::new();
        let bad = want.iter().find(|o| {
            !seen.insert(**o) || **o < 0 || !e.map.osds.get(&(**o as u32)).is_some_and(|i| i.up)
        });
        if let Some(o) = bad {
            refused.push(format!(
                "{pg}: osd.{o} is not an up OSD (or is listed twice)"
            ));
            continue;
        }
        if want.len() > pool.size as usize {
            refused.push(format!(
                "{pg}: {} OSDs asked for, the pool's size is {}",
                want.len(),
                pool.size
            ));
            continue;
        }
        let now = e.map.pg_temp.get(pg);
        let same = match now {
            None => want.is_empty() || *want == place.up,
            Some(t) => t == want,
        };
        if same {
            continue;
        }
        if want.is_empty() || *want == place.up {
            e.map.pg_temp.remove(pg);
        } else {
            e.map.pg_temp.insert(*pg, want.clone());
        }
        changed.push(pg.to_string());
    }
    if changed.is_empty() && !refused.is_empty() {
        return Err(RemoteError::again(format!(
            "pg_temp refused: {}",
            refused.join("; ")
        )));
    }
    done(format!("pg_temp set for {}", changed.join(", ")))
}

pub(super) fn mark_down(e: &mut Edit<'_>, ids: &[u32], by_operator: bool) -> CmdResult {
    check_ids(e, ids)?;
    if !by_operator && e.map.flags.contains("nodown") {
        return done("nodown is set");
    }
    let now = e.now_ms;
    let mut changed = Vec::new();
    for id in ids {
        let o = e.map.osds.get_mut(id).expect("checked");
        if o.up {
            o.up = false;
            o.down_since_ms = now;
            changed.push(*id);
        }
    }
    if changed.is_empty() {
        return done(format!("{} already down", list(ids)));
    }
    done(format!("marked down {}", list(&changed)))
}

pub(super) fn mark_out(e: &mut Edit<'_>, ids: &[u32], by_operator: bool) -> CmdResult {
    check_ids(e, ids)?;
    if !by_operator && e.map.flags.contains("noout") {
        return done("noout is set");
    }
    for id in ids {
        let o = e.map.osds.get_mut(id).expect("checked");
        o.reweight = 0;
        o.out_by_operator = by_operator;
    }
    done(format!("marked out {}", list(ids)))
}

pub(super) fn mark_in(e: &mut Edit<'_>, ids: &[u32]) -> CmdResult {
    check_ids(e, ids)?;
    for id in ids {
        let o = e.map.osds.get_mut(id).expect("checked");
        o.reweight = REWEIGHT_IN;
        o.out_by_operator = false;
    }
    done(format!("marked in {}", list(ids)))
}

pub(super) fn reweight(e: &mut Edit<'_>, id: u32, weight: f64) -> CmdResult {
    check_ids(e, &[id])?;
    if !(0.0..=1.0).contains(&weight) {
        return Err(RemoteError::invalid(format!(
            "osd.{id}: reweight {weight} is not between 0 and 1 (use osd crush reweight for the capacity weight)"
        )));
    }
    let o = e.map.osds.get_mut(&id).expect("checked");
    o.reweight = (weight * f64::from(REWEIGHT_IN)).round() as u32;
    o.out_by_operator = o.reweight == 0;
    done(format!(
        "reweighted osd.{id} to {weight} ({:#x})",
        o.reweight
    ))
}

pub(super) fn remove(e: &mut Edit<'_>, ids: &[u32]) -> CmdResult {
    check_ids(e, ids)?;
    if let Some(up) = ids.iter().find(|i| e.map.osds[i].up) {
        return Err(RemoteError::busy(format!(
            "osd.{up} is still up; stop it (or mark it down) first"
        )));
    }
    for id in ids {
        e.map.osds.remove(id);
        crush_cmds::unplace_osd(e, *id)?;
    }
    done(format!("removed {}", list(ids)))
}

pub(super) fn set_flag(e: &mut Edit<'_>, flag: &str, on: bool) -> CmdResult {
    if !KNOWN_FLAGS.contains(&flag) {
        return Err(RemoteError::invalid(format!(
            "unknown flag '{flag}' (known: {})",
            KNOWN_FLAGS.join(", ")
        )));
    }
    if on {
        e.map.flags.insert(flag.to_string());
        done(format!("{flag} is set"))
    } else {
        e.map.flags.remove(flag);
        done(format!("{flag} is unset"))
    }
}
