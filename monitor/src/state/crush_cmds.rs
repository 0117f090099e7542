//! CRUSH edits (`osd crush ...`, `osd setcrushmap`). Each edit parses the
//! map's canonical text, edits it with the crush crate's builder (which is
//! all-or-nothing) and stores the edited map's canonical text.

use cluster::msg::RemoteError;
use crush::{BucketAlg, CrushError, CrushMap};

use super::{done, CmdResult, Edit};

fn crush_err(e: CrushError) -> RemoteError {
    match e {
        CrushError::NotFound { .. } => RemoteError::not_found(e.to_string()),
        CrushError::Exists { .. } => RemoteError::exists(e.to_string()),
        CrushError::Parse { .. } | CrushError::Invalid(_) => RemoteError::invalid(e.to_string()),
    }
}

/// Runs `f` on the map and stores the result, or changes nothing.
pub(super) fn with_crush<T>(
    e: &mut Edit<'_>,
    f: impl FnOnce(&mut CrushMap) -> Result<T, RemoteError>,
) -> Result<T, RemoteError> {
    let mut map = crush::text::parse(&e.map.crush_text).map_err(|err| {
        RemoteError::new(
            cluster::msg::ErrorCode::Io,
            format!("the stored CRUSH map does not parse: {err}"),
        )
    })?;
    let out = f(&mut map)?;
    let text = crush::text::print(&map);
    // Store the text's own map, so what every reader parses is what we keep.
    let reparsed = crush::text::parse(&text).map_err(crush_err)?;
    e.map.crush_text = crush::text::print(&reparsed);
    Ok(out)
}

pub(super) fn place_osd(
    e: &mut Edit<'_>,
    id: u32,
    host: &str,
    weight: u32,
) -> Result<(), RemoteError> {
    let name = format!("osd.{id}");
    with_crush(e, |m| {
        let placed = m.item_id(&name).is_some_and(|i| m.parent_of(i).is_some());
        if placed {
            return Ok(());
        }
        if m.item_id(&name).is_some() {
            m.remove_item(&name).map_err(crush_err)?;
        }
        let loc = [("host", host), ("root", "default")];
        m.add_device(id as i32, &name, weight, &loc)
            .map_err(|err| RemoteError::invalid(format!("placing {name} under host={host}: {err}")))
    })
}

pub(super) fn unplace_osd(e: &mut Edit<'_>, id: u32) -> Result<(), RemoteError> {
    let name = format!("osd.{id}");
    with_crush(e, |m| {
        if m.item_id(&name).is_some() {
            m.remove_item(&name).map_err(crush_err)?;
        }
        Ok(())
    })
}

pub(super) fn add_bucket(e: &mut Edit<'_>, name: &str, ty: &str) -> CmdResult {
    with_crush(e, |m| {
        m.add_bucket(name, ty, BucketAlg::Straw2).map_err(crush_err)
    })?;
    done(format!("added bucket {name} type {ty} to crush map"))
}

pub(super) fn move_item(e: &mut Edit<'_>, name: &str, loc: &[(String, String)]) -> CmdResult {
    if loc.is_empty() {
        return Err(RemoteError::invalid(format!(
            "moving {name}: no location given (e.g. root=default host=h1)"
        )));
    }
    let loc: Vec<(&str, &str)> = loc.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    with_crush(e, |m| {
        let id = m
            .item_id(name)
            .ok_or_else(|| RemoteError::not_found(format!("item {name} does not exist")))?;
        if id >= 0 {
            m.move_device(name, &loc).map_err(crush_err)
        } else {
            m.move_bucket(name, &loc).map_err(crush_err)
        }
    })?;
    done(format!("moved item {name}"))
}

pub(super) fn reweight(e: &mut Edit<'_>, name: &str, weight: u32) -> CmdResult {
    with_crush(e, |m| m.reweight_item(name, weight).map_err(crush_err))?;
    done(format!(
        "reweighted item {name} to {} in crush map",
        crush::text::weight_to_text(weight)
    ))
}

pub(super) fn remove(e: &mut Edit<'_>, name: &str) -> CmdResult {
    with_crush(e, |m| m.remove_item(name).map_err(crush_err))?;
    done(format!("removed item {name} from crush map"))
}

pub(super) fn set_class(e: &mut Edit<'_>, class: &str, items: &[String]) -> CmdResult {
    if items.is_empty() {
        return Err(RemoteError::invalid("set-device-class: no devices given"));
    }
    with_crush(e, |m| {
        for i in items {
            m.set_device_class(i, Some(class)).map_err(crush_err)?;
        }
        Ok(())
    })?;
    done(format!("set class {class} on {}", items.join(", ")))
}

pub(super) fn rule_replicated(
    e: &mut Edit<'_>,
    name: &str,
    root: &str,
    domain: &str,
    class: Option<&str>,
) -> CmdResult {
    with_crush(e, |m| {
        m.create_replicated_rule(name, root, domain, class)
            .map_err(crush_err)
    })?;
    done(format!("rule '{name}' created"))
}

/// Creates the rule an erasure pool with `profile` needs; returns its id.
/// The pool's `chooseleaf indep` rule, made from its profile unless a
/// rule of the pool's name exists.
pub(super) fn rule_erasure(
    e: &mut Edit<'_>,
    name: &str,
    p: &cluster::EcProfile,
) -> Result<u32, RemoteError> {
    with_crush(e, |m| {
        if let Some(r) = m.rule_by_name(name) {
            return Ok(r.id);
        }
        m.create_erasure_rule(name, &p.root, &p.failure_domain, p.device_class.as_deref())
            .map_err(crush_err)
    })
}

/// Refuses an EC pool whose k+m shards cannot each get their own failure
/// domain under the profile's root (and device class).
pub(super) fn check_ec_placement(
    e: &mut Edit<'_>,
    pool: &str,
    profile: &str,
    p: &cluster::EcProfile,
) -> Result<(), RemoteError> {
    let have = with_crush(e, |m| {
        m.failure_domains(&p.root, &p.failure_domain, p.device_class.as_deref())
            .map_err(|err| {
                RemoteError::invalid(format!(
                    "pool '{pool}': erasure-code-profile {profile} cannot be placed: {err}"
                ))
            })
    })?;
    let need = (p.k + p.m) as usize;
    if have < need {
        let class = p
            .device_class
            .as_deref()
            .map_or(String::new(), |c| format!(" of class {c}"));
        return Err(RemoteError::invalid(format!(
            "pool '{pool}': erasure-code-profile {profile} needs {need} ({}+{}) distinct failure domains of type {} under root {}; the CRUSH map has {have} with OSDs{class}",
            p.k, p.m, p.failure_domain, p.root
        )));
    }
    Ok(())
}

pub(super) fn rule_rm(e: &mut Edit<'_>, name: &str) -> CmdResult {
    let id = with_crush(e, |m| {
        m.rule_by_name(name)
            .map(|r| r.id)
            .ok_or_else(|| RemoteError::not_found(format!("rule {name} does not exist")))
    })?;
    if let Some(p) = e.map.pools.values().find(|p| p.crush_rule == id) {
        return Err(RemoteError::busy(format!(
            "rule {name} is in use by pool '{}'",
            p.name
        )));
    }
    with_crush(e, |m| m.remove_rule(name).map(|_| ()).map_err(crush_err))?;
    done(format!("rule {name} removed"))
}

pub(super) fn set_map(e: &mut Edit<'_>, text: &str) -> CmdResult {
    let map = crush::text::parse(text)
        .map_err(|err| RemoteError::invalid(format!("the new CRUSH map does not parse: {err}")))?;
    for p in e.map.pools.values() {
        if map.rule(p.crush_rule).is_none() {
            return Err(RemoteError::invalid(format!(
                "the new CRUSH map lacks rule {} used by pool '{}'",
                p.crush_rule, p.name
            )));
        }
    }
    e.map.crush_text = crush::text::print(&map);
    done("set crush map")
}
