//! Editing a map the way the monitor does for `ceph osd crush ...`: add a
//! device at a location (creating the buckets it names), move, reweight and
//! remove items, set device classes; [`rules`] creates rules.
//!
//! Every edit keeps the map consistent: a changed weight is carried up to the
//! roots, derived bucket data is rebuilt, weight sets follow item changes and
//! device-class shadow trees are rebuilt (keeping their ids). An edit that
//! fails leaves the map unchanged.

use crate::bucket::{Bucket, BucketAlg};
use crate::error::CrushError;
use crate::map::{CrushMap, Device, MAX_DEVICE_ID};
use crate::rule::Step;
use crate::shadow;

mod rules;

/// Where an item goes: `(type name, bucket name)` pairs, e.g.
/// `[("host", "node1"), ("root", "default")]`, in any order.
pub type Location<'a> = [(&'a str, &'a str)];

impl CrushMap {
    /// Runs an edit on a copy and keeps it only if it succeeds.
    fn edit<T>(
        &mut self,
        f: impl FnOnce(&mut CrushMap) -> Result<T, CrushError>,
    ) -> Result<T, CrushError> {
        let mut copy = self.clone();
        let out = f(&mut copy)?;
        shadow::rebuild(&mut copy)?;
        *self = copy;
        Ok(out)
    }

    fn check_name(&self, name: &str) -> Result<(), CrushError> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(CrushError::Invalid(format!(
                "name '{name}' may only contain letters, digits, '-', '_' and '.'"
            )));
        }
        Ok(())
    }

    /// Adds an empty bucket (`osd crush add-bucket NAME TYPE`); returns its id.
    pub fn add_bucket(
        &mut self,
        name: &str,
        type_name: &str,
        alg: BucketAlg,
    ) -> Result<i32, CrushError> {
        self.check_name(name)?;
        let type_id = self
            .type_id(type_name)
            .ok_or_else(|| CrushError::not_found("type", type_name))?;
        if type_id == 0 {
            return Err(CrushError::Invalid(format!(
                "type {type_name} is the device type, not a bucket type"
            )));
        }
        if self.item_id(name).is_some() {
            return Err(CrushError::exists("item", name));
        }
        let id = (1..)
            .map(|n: i32| -n)
            .find(|id| self.bucket(*id).is_none())
            .expect("ids remain");
        let b = Bucket::new(
            id,
            name,
            type_id,
            alg,
            Vec::new(),
            self.tunables.straw_calc_version,
        )?;
        self.edit(|m| m.insert_bucket(b))?;
        Ok(id)
    }

    /// Adds (or, if it exists, re-creates the entry for) device `id` named
    /// `name` with CRUSH weight `weight` (16.16) at `loc`, creating missing
    /// buckets as straw2 (`osd crush add`). A device can be in one place only.
    pub fn add_device(
        &mut self,
        id: i32,
        name: &str,
        weight: u32,
        loc: &Location<'_>,
    ) -> Result<(), CrushError> {
        self.check_name(name)?;
        if !(0..=MAX_DEVICE_ID).contains(&id) {
            return Err(CrushError::Invalid(format!(
                "device id {id} is outside 0..={MAX_DEVICE_ID}"
            )));
        }
        if let Some(other) = self.item_id(name).filter(|o| *o != id) {
            return Err(CrushError::Exists {
                kind: "item",
                name: format!("{name} (id {other})"),
            });
        }
        if self.devices.get(&id).is_some_and(|d| d.name != name) {
            return Err(CrushError::exists("device id", id));
        }
        if self.visible_buckets().any(|b| b.items.contains(&id)) {
            return Err(CrushError::Invalid(format!(
                "{name} is already placed; use move or reweight"
            )));
        }
        self.edit(|m| {
            let class = m.devices.get(&id).and_then(|d| d.class);
            m.devices.insert(
                id,
                Device {
                    id,
                    name: name.to_string(),
                    class,
                },
            );
            m.link(id, weight, loc)
        })
    }

    /// Places `item` with `weight` under the first bucket of `loc`, creating
    /// the buckets named there that do not exist yet, lowest type first.
    fn link(&mut self, item: i32, weight: u32, loc: &Location<'_>) -> Result<(), CrushError> {
        let mut levels = Vec::new();
        for (tname, bname) in loc {
            let tid = self
                .type_id(tname)
                .ok_or_else(|| CrushError::not_found("type", tname))?;
            levels.push((tid, *tname, *bname));
        }
        levels.sort_by_key(|l| l.0);
        let item_type = self.item_type_of(item);
        levels.retain(|l| l.0 > item_type);
        if levels.is_empty() {
            return Err(CrushError::Invalid(format!(
                "location {} names no bucket above {}",
                fmt_loc(loc),
                self.item_name(item).unwrap_or("the item")
            )));
        }
        let (mut child, mut child_weight) = (item, weight);
        for (tid, tname, bname) in levels {
            match self.item_id(bname) {
                Some(bid) => {
                    let b = self
                        .bucket(bid)
                        .ok_or_else(|| CrushError::Invalid(format!("{bname} is a device")))?;
                    if b.type_id != tid {
                        return Err(CrushError::Invalid(format!(
                            "{bname} is a {}, not a {tname}",
                            self.type_name(b.type_id).unwrap_or("?")
                        )));
                    }
                    if self.would_cycle(child, bid) {
                        return Err(CrushError::Invalid(format!(
                            "{bname} is below the item being placed"
                        )));
                    }
                    self.push_item(bid, child, child_weight)?;
                    return Ok(());
                }
                None => {
                    self.check_name(bname)?;
                    let id = (1..)
                        .map(|n: i32| -n)
                        .find(|id| self.bucket(*id).is_none())
                        .expect("ids remain");
                    let b = Bucket::new(
                        id,
                        bname,
                        tid,
                        BucketAlg::Straw2,
                        vec![(child, child_weight)],
                        self.tunables.straw_calc_version,
                    )?;
                    self.insert_bucket(b)?;
                    child = id;
                    child_weight = self.bucket(id).map_or(0, Bucket::weight);
                }
            }
        }
        Ok(())
    }

    fn item_type_of(&self, item: i32) -> i32 {
        self.bucket(item).map_or(0, |b| b.type_id)
    }

    /// True if `target` is `item` or lies below it.
    fn would_cycle(&self, item: i32, target: i32) -> bool {
        if item == target {
            return true;
        }
        self.bucket(item)
            .is_some_and(|b| b.items.iter().any(|c| self.would_cycle(*c, target)))
    }

    /// Appends an item to a bucket and carries its weight up.
    fn push_item(&mut self, bucket: i32, item: i32, weight: u32) -> Result<(), CrushError> {
        let scv = self.tunables.straw_calc_version;
        let b = self
            .bucket_mut(bucket)
            .ok_or_else(|| CrushError::not_found("bucket", bucket))?;
        b.items.push(item);
        b.weights.push(weight);
        b.rebuild(scv)?;
        b.check_uniform_weights()?;
        for set in self.choose_args.values_mut() {
            if let Some(arg) = set.get_mut(&bucket) {
                arg.weight_set.iter_mut().for_each(|row| row.push(weight));
                if let Some(ids) = &mut arg.ids {
                    ids.push(item);
                }
            }
        }
        self.propagate(bucket, i64::from(weight))
    }

    /// Removes `item` from `bucket` and carries the weight change up.
    fn pull_item(&mut self, bucket: i32, item: i32) -> Result<(), CrushError> {
        let scv = self.tunables.straw_calc_version;
        let b = self
            .bucket_mut(bucket)
            .ok_or_else(|| CrushError::not_found("bucket", bucket))?;
        let Some(pos) = b.items.iter().position(|i| *i == item) else {
            return Ok(());
        };
        b.items.remove(pos);
        let w = b.weights.remove(pos);
        b.rebuild(scv)?;
        for set in self.choose_args.values_mut() {
            if let Some(arg) = set.get_mut(&bucket) {
                arg.weight_set.iter_mut().for_each(|row| {
                    row.remove(pos);
                });
                if let Some(ids) = &mut arg.ids {
                    ids.remove(pos);
                }
            }
        }
        self.propagate(bucket, -i64::from(w))
    }

    /// Adds `delta` to `bucket`'s weight wherever it is an item, recursively.
    fn propagate(&mut self, bucket: i32, delta: i64) -> Result<(), CrushError> {
        if delta == 0 {
            return Ok(());
        }
        let scv = self.tunables.straw_calc_version;
        let parents: Vec<i32> = self
            .visible_buckets()
            .filter(|p| p.items.contains(&bucket))
            .map(|p| p.id)
            .collect();
        for pid in parents {
            let p = self.bucket_mut(pid).expect("listed above");
            let pos = p
                .items
                .iter()
                .position(|i| *i == bucket)
                .expect("listed above");
            let nw = i64::from(p.weights[pos]) + delta;
            p.weights[pos] = u32::try_from(nw).map_err(|_| {
                CrushError::Invalid(format!("weight of {} would leave 0..65535", p.name))
            })?;
            p.rebuild(scv)?;
            self.propagate(pid, delta)?;
        }
        Ok(())
    }

    /// Sets the CRUSH weight of a device or bucket everywhere it is placed
    /// (`osd crush reweight`), carrying the change up to the roots.
    pub fn reweight_item(&mut self, name: &str, weight: u32) -> Result<(), CrushError> {
        let id = self
            .item_id(name)
            .ok_or_else(|| CrushError::not_found("item", name))?;
        let parents: Vec<i32> = self
            .visible_buckets()
            .filter(|p| p.items.contains(&id))
            .map(|p| p.id)
            .collect();
        if parents.is_empty() {
            return Err(CrushError::Invalid(format!(
                "{name} is not placed in any bucket"
            )));
        }
        self.edit(|m| {
            let scv = m.tunables.straw_calc_version;
            for pid in parents {
                let p = m.bucket_mut(pid).expect("listed above");
                let pos = p.items.iter().position(|i| *i == id).expect("listed above");
                let delta = i64::from(weight) - i64::from(p.weights[pos]);
                p.weights[pos] = weight;
                p.rebuild(scv)?;
                p.check_uniform_weights()?;
                m.propagate(pid, delta)?;
            }
            Ok(())
        })
    }

    /// Moves a bucket to `loc` (`osd crush move`).
    pub fn move_bucket(&mut self, name: &str, loc: &Location<'_>) -> Result<(), CrushError> {
        let id = self
            .item_id(name)
            .ok_or_else(|| CrushError::not_found("item", name))?;
        let weight = self
            .bucket(id)
            .ok_or_else(|| CrushError::Invalid(format!("{name} is a device; use set or add")))?
            .weight();
        self.edit(|m| {
            m.unlink_everywhere(id)?;
            m.link(id, weight, loc)
        })
    }

    /// Moves a device to `loc`, keeping its weight.
    pub fn move_device(&mut self, name: &str, loc: &Location<'_>) -> Result<(), CrushError> {
        let id = self
            .item_id(name)
            .filter(|i| *i >= 0)
            .ok_or_else(|| CrushError::not_found("device", name))?;
        let weight = self
            .parent_of(id)
            .and_then(|p| p.item_weight(id))
            .unwrap_or(0x10000);
        self.edit(|m| {
            m.unlink_everywhere(id)?;
            m.link(id, weight, loc)
        })
    }

    fn unlink_everywhere(&mut self, id: i32) -> Result<(), CrushError> {
        let parents: Vec<i32> = self
            .visible_buckets()
            .filter(|p| p.items.contains(&id))
            .map(|p| p.id)
            .collect();
        for pid in parents {
            self.pull_item(pid, id)?;
        }
        Ok(())
    }

    /// Removes a device, or an empty bucket, from the hierarchy (`osd crush
    /// rm`). A device leaves the map's device list too.
    pub fn remove_item(&mut self, name: &str) -> Result<(), CrushError> {
        let id = self
            .item_id(name)
            .ok_or_else(|| CrushError::not_found("item", name))?;
        if let Some(b) = self.bucket(id) {
            if !b.items.is_empty() {
                return Err(CrushError::Invalid(format!("bucket {name} is not empty")));
            }
            if let Some(r) = self.rules().find(|r| r.steps.contains(&Step::Take(id))) {
                return Err(CrushError::Invalid(format!(
                    "bucket {name} is used by rule {}",
                    r.name
                )));
            }
        }
        self.edit(|m| {
            m.unlink_everywhere(id)?;
            if id >= 0 {
                m.devices.remove(&id);
            } else {
                m.remove_bucket_slot(id);
                m.class_buckets.remove(&id);
                for set in m.choose_args.values_mut() {
                    set.remove(&id);
                }
            }
            Ok(())
        })
    }

    /// Sets (or with `None` clears) a device's class.
    pub fn set_device_class(&mut self, name: &str, class: Option<&str>) -> Result<(), CrushError> {
        let id = self
            .item_id(name)
            .filter(|i| *i >= 0)
            .ok_or_else(|| CrushError::not_found("device", name))?;
        if let Some(c) = class {
            self.check_name(c)?;
        }
        self.edit(|m| {
            let cid = class.map(|c| m.get_or_create_class(c));
            m.devices.get_mut(&id).expect("found above").class = cid;
            Ok(())
        })
    }
}

fn fmt_loc(loc: &Location<'_>) -> String {
    loc.iter()
        .map(|(t, b)| format!("{t}={b}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CrushMap {
        let mut m = CrushMap::new();
        for (id, host) in [(0, "a"), (1, "a"), (2, "b"), (3, "c")] {
            m.add_device(
                id,
                &format!("osd.{id}"),
                0x10000,
                &[("host", host), ("root", "default")],
            )
            .unwrap();
        }
        m
    }

    fn weight_of(m: &CrushMap, name: &str) -> u32 {
        m.bucket(m.item_id(name).unwrap()).unwrap().weight()
    }

    #[test]
    fn add_device_creates_the_location_and_carries_weight_up() {
        let m = small();
        assert_eq!(weight_of(&m, "a"), 0x20000);
        assert_eq!(weight_of(&m, "default"), 0x40000);
        assert_eq!(m.roots(), vec![m.item_id("default").unwrap()]);
        let rule = {
            let mut m = m.clone();
            m.create_replicated_rule("rep", "default", "host", None)
                .unwrap();
            m
        };
        let out = rule.do_rule(0, 7, 3, &rule.default_reweights(), None);
        assert_eq!(out.len(), 3, "three hosts give three replicas");
    }

    #[test]
    fn reweight_and_move_keep_totals_consistent() {
        let mut m = small();
        m.reweight_item("osd.0", 0x30000).unwrap();
        assert_eq!(weight_of(&m, "a"), 0x40000);
        assert_eq!(weight_of(&m, "default"), 0x60000);
        m.add_bucket("r1", "rack", BucketAlg::Straw2).unwrap();
        m.move_bucket("r1", &[("root", "default")]).unwrap();
        m.move_bucket("a", &[("rack", "r1")]).unwrap();
        assert_eq!(weight_of(&m, "r1"), 0x40000);
        assert_eq!(
            weight_of(&m, "default"),
            0x60000,
            "moving within a root keeps its weight"
        );
        m.move_device("osd.3", &[("host", "b")]).unwrap();
        assert_eq!(weight_of(&m, "c"), 0);
        assert_eq!(weight_of(&m, "b"), 0x20000);
    }

    #[test]
    fn remove_refuses_non_empty_and_used_buckets() {
        let mut m = small();
        assert!(
            matches!(m.remove_item("a"), Err(CrushError::Invalid(e)) if e.contains("not empty"))
        );
        m.remove_item("osd.3").unwrap();
        assert!(!m.devices.contains_key(&3));
        m.remove_item("c").unwrap();
        assert_eq!(weight_of(&m, "default"), 0x30000);
        m.create_replicated_rule("r", "default", "host", None)
            .unwrap();
        let before = m.clone();
        assert!(matches!(
            m.remove_item("nope"),
            Err(CrushError::NotFound { .. })
        ));
        assert_eq!(m, before, "a failed edit changes nothing");
    }

    #[test]
    fn device_classes_make_shadow_trees_and_class_rules() {
        let mut m = small();
        m.set_device_class("osd.0", Some("ssd")).unwrap();
        m.set_device_class("osd.2", Some("ssd")).unwrap();
        m.set_device_class("osd.1", Some("hdd")).unwrap();
        m.create_replicated_rule("fast", "default", "host", Some("ssd"))
            .unwrap();
        m.create_erasure_rule("ec", "default", "osd", Some("hdd"))
            .unwrap();
        let w = m.default_reweights();
        for x in 0..200 {
            let out = m.do_rule(0, x, 3, &w, None);
            assert!(
                out.iter().all(|o| [0, 2].contains(o)),
                "ssd rule placed {out:?}"
            );
        }
        let shadow_ids: Vec<i32> = m
            .buckets()
            .filter(|b| m.is_shadow(b.id))
            .map(|b| b.id)
            .collect();
        m.set_device_class("osd.3", Some("ssd")).unwrap();
        let again: Vec<i32> = m
            .buckets()
            .filter(|b| m.is_shadow(b.id))
            .map(|b| b.id)
            .collect();
        assert_eq!(shadow_ids, again, "shadow ids are kept across edits");
        let text = crate::text::print(&m);
        assert!(text.contains("step take default class ssd"), "{text}");
        let reparsed = crate::text::parse(&text).unwrap();
        assert_eq!(crate::text::print(&reparsed), text);
    }

    #[test]
    fn bad_edits_name_the_problem() {
        let mut m = small();
        let e = m
            .add_device(9, "osd.9", 0x10000, &[("shelf", "s1")])
            .unwrap_err();
        assert_eq!(e.to_string(), "type shelf does not exist");
        let e = m
            .add_device(0, "osd.0", 0x10000, &[("host", "b")])
            .unwrap_err();
        assert!(e.to_string().contains("already placed"), "{e}");
        let e = m
            .create_replicated_rule("x", "default", "host", Some("nvme"))
            .unwrap_err();
        assert_eq!(e.to_string(), "device class nvme does not exist");
        let e = m.move_bucket("default", &[("host", "a")]).unwrap_err();
        assert!(
            e.to_string().contains("names no bucket above default"),
            "{e}"
        );
        assert!(m.add_bucket("bad name", "host", BucketAlg::Straw2).is_err());
    }
}
