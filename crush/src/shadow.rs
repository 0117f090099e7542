//! Device-class shadow trees.
//!
//! For every device class and every bucket, Ceph keeps a hidden copy of the
//! bucket (`host1~ssd`) holding only that class's devices, with the same
//! algorithm and item order; a rule step `take default class ssd` starts from
//! `default~ssd`. Device items keep their weights; a child bucket's clone
//! enters with its own summed weight. Clones are made children first, and a
//! clone without an id from the text gets the lowest free id below zero, so
//! ids match Ceph's for the same text.

use std::collections::{BTreeMap, BTreeSet};

use crate::bucket::Bucket;
use crate::error::CrushError;
use crate::map::{CrushMap, SHADOW_SEP};

/// Builds the shadow trees of every root for every class. `stated` holds the
/// shadow ids already known (bucket -> class -> id), which are kept.
pub(crate) fn populate(
    map: &mut CrushMap,
    stated: &BTreeMap<i32, BTreeMap<i32, i32>>,
) -> Result<(), CrushError> {
    let used: BTreeSet<i32> = stated.values().flat_map(|m| m.values().copied()).collect();
    let classes: Vec<i32> = map.classes.keys().copied().collect();
    for root in map.roots() {
        for &class in &classes {
            clone(map, root, class, stated, &used)?;
        }
    }
    Ok(())
}

/// Removes every shadow bucket and builds them again, keeping their ids;
/// called after an edit of the hierarchy or of device classes.
pub(crate) fn rebuild(map: &mut CrushMap) -> Result<(), CrushError> {
    let stated = std::mem::take(&mut map.class_buckets);
    let shadows: Vec<i32> = map
        .buckets()
        .filter(|b| map.is_shadow(b.id))
        .map(|b| b.id)
        .collect();
    for id in shadows {
        map.remove_bucket_slot(id);
    }
    populate(map, &stated)
}

fn clone(
    map: &mut CrushMap,
    original: i32,
    class: i32,
    stated: &BTreeMap<i32, BTreeMap<i32, i32>>,
    used: &BTreeSet<i32>,
) -> Result<i32, CrushError> {
    let orig = map
        .bucket(original)
        .ok_or_else(|| CrushError::not_found("bucket", original))?
        .clone();
    let class_name = map
        .class_name(class)
        .ok_or_else(|| CrushError::not_found("class", class))?;
    let name = format!("{}{SHADOW_SEP}{}", orig.name, class_name);
    if let Some(existing) = map.buckets().find(|b| b.name == name) {
        return Ok(existing.id);
    }
    let mut items = Vec::new();
    for (&item, &weight) in orig.items.iter().zip(&orig.weights) {
        if item >= 0 {
            if map.devices.get(&item).and_then(|d| d.class) == Some(class) {
                items.push((item, weight));
            }
        } else {
            let child = clone(map, item, class, stated, used)?;
            let w = map.bucket(child).map_or(0, Bucket::weight);
            items.push((child, w));
        }
    }
    let id = match stated.get(&original).and_then(|m| m.get(&class)) {
        Some(&id) => id,
        None => (1..)
            .map(|n: i32| -n)
            .find(|id| map.bucket(*id).is_none() && !used.contains(id))
            .expect("ids remain"),
    };
    let mut b = Bucket::new(
        id,
        name,
        orig.type_id,
        orig.alg,
        items,
        map.tunables.straw_calc_version,
    )?;
    b.hash = orig.hash;
    map.insert_bucket(b)?;
    map.class_buckets
        .entry(original)
        .or_default()
        .insert(class, id);
    Ok(id)
}
