//! The map-editing flags (`--add-item`, `--move`, `--create-replicated-rule`,
//! ...), applied in a fixed order through the crate's builder API.

use crush::{BucketAlg, CrushMap};

use crate::args::Args;

fn weight(s: &str, what: &str) -> Result<u32, String> {
    crush::text::weight_from_text(s).ok_or_else(|| format!("{what}: '{s}' is not a valid weight"))
}

/// Applies every edit flag; returns true if the map changed.
pub fn apply(a: &Args, map: &mut CrushMap) -> Result<bool, String> {
    let loc: Vec<(&str, &str)> = a
        .loc
        .chunks(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect();
    let mut edited = false;
    let fail = |flag: &str, e: crush::CrushError| format!("{flag}: {e}");

    if let [name, type_name] = a.add_bucket.as_slice() {
        map.add_bucket(name, type_name, BucketAlg::Straw2)
            .map_err(|e| fail("--add-bucket", e))?;
        if !loc.is_empty() {
            map.move_bucket(name, &loc)
                .map_err(|e| fail("--add-bucket", e))?;
        }
        edited = true;
    }
    for (flag, values, update) in [
        ("--add-item", &a.add_item, false),
        ("--update-item", &a.update_item, true),
    ] {
        if let [id, w, name] = values.as_slice() {
            let id: i32 = id
                .parse()
                .map_err(|_| format!("{flag}: '{id}' is not a device id"))?;
            let w = weight(w, flag)?;
            if loc.is_empty() {
                return Err(format!("{flag} needs a location: --loc TYPE NAME"));
            }
            if update && map.parent_of(id).is_some() {
                map.move_device(name, &loc).map_err(|e| fail(flag, e))?;
                map.reweight_item(name, w).map_err(|e| fail(flag, e))?;
            } else {
                map.add_device(id, name, w, &loc)
                    .map_err(|e| fail(flag, e))?;
            }
            edited = true;
        }
    }
    if let Some(name) = &a.move_item {
        if loc.is_empty() {
            return Err("--move needs a location: --loc TYPE NAME".into());
        }
        let is_device = map.item_id(name).is_some_and(|i| i >= 0);
        if is_device {
            map.move_device(name, &loc).map_err(|e| fail("--move", e))?;
        } else {
            map.move_bucket(name, &loc).map_err(|e| fail("--move", e))?;
        }
        edited = true;
    }
    if let [name, w] = a.reweight_item.as_slice() {
        map.reweight_item(name, weight(w, "--reweight-item")?)
            .map_err(|e| fail("--reweight-item", e))?;
        edited = true;
    }
    if let Some(name) = &a.remove_item {
        map.remove_item(name)
            .map_err(|e| fail("--remove-item", e))?;
        edited = true;
    }
    if let [name, class] = a.set_device_class.as_slice() {
        map.set_device_class(name, Some(class))
            .map_err(|e| fail("--set-device-class", e))?;
        edited = true;
    }
    let class = a.device_class.as_deref();
    if let [name, root, t] = a.create_replicated_rule.as_slice() {
        map.create_replicated_rule(name, root, t, class)
            .map_err(|e| fail("--create-replicated-rule", e))?;
        edited = true;
    }
    if let [name, root, t] = a.create_erasure_rule.as_slice() {
        map.create_erasure_rule(name, root, t, class)
            .map_err(|e| fail("--create-erasure-rule", e))?;
        edited = true;
    }
    Ok(edited)
}
