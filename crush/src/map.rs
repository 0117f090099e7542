//! The CRUSH map: devices, types, buckets (including device-class shadow
//! buckets), rules, tunables and weight sets, with lookups by name and id.

use std::collections::BTreeMap;

use crate::bucket::Bucket;
use crate::error::CrushError;
use crate::rule::Rule;
use crate::tunables::Tunables;
use crate::weight_set::{ChooseArgMap, ResolvedChooseArgs, DEFAULT_CHOOSE_ARGS};

/// A storage device (an OSD), a leaf of the hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: i32,
    pub name: String,
    /// Device class id, see [`CrushMap::classes`].
    pub class: Option<i32>,
}

/// A whole CRUSH map.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CrushMap {
    pub tunables: Tunables,
    /// Devices by id.
    pub devices: BTreeMap<i32, Device>,
    /// Type id -> name (`0 osd`, `1 host`, ...).
    pub types: BTreeMap<i32, String>,
    /// Device class id -> name (`hdd`, `ssd`, ...).
    pub classes: BTreeMap<i32, String>,
    /// Buckets by slot `-1 - id`; shadow buckets included.
    pub(crate) buckets: Vec<Option<Bucket>>,
    /// Original bucket id -> class id -> shadow bucket id.
    pub class_buckets: BTreeMap<i32, BTreeMap<i32, i32>>,
    /// Rules by id.
    pub(crate) rules: Vec<Option<Rule>>,
    /// `choose_args` sets by index.
    pub choose_args: BTreeMap<u64, ChooseArgMap>,
}

/// Largest device id accepted (ids index dense per-device vectors).
pub const MAX_DEVICE_ID: i32 = (1 << 24) - 1;
/// Most negative bucket id accepted (ids index the bucket table).
pub const MIN_BUCKET_ID: i32 = -(1 << 20);
/// Largest rule id accepted.
pub const MAX_RULE_ID: u32 = (1 << 16) - 1;

/// The separator between a bucket's name and its class in shadow names.
pub const SHADOW_SEP: char = '~';

impl CrushMap {
    /// An empty map with Ceph's default types and optimal tunables.
    pub fn new() -> CrushMap {
        let mut m = CrushMap {
            tunables: Tunables::optimal(),
            ..CrushMap::default()
        };
        for (i, t) in [
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
        ]
        .iter()
        .enumerate()
        {
            m.types.insert(i as i32, t.to_string());
        }
        m
    }

    /// One more than the highest device id in use (devices or bucket items).
    pub fn max_devices(&self) -> i32 {
        let from_devices = self.devices.keys().next_back().map_or(0, |d| d + 1);
        let from_items = self
            .buckets()
            .flat_map(|b| b.items.iter())
            .filter(|i| **i >= 0)
            .max()
            .map_or(0, |d| d + 1);
        from_devices.max(from_items)
    }

    /// Number of bucket slots (one more than the largest `-1 - id`).
    pub fn max_buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The bucket with this (negative) id.
    #[inline]
    pub fn bucket(&self, id: i32) -> Option<&Bucket> {
        if id >= 0 {
            return None;
        }
        self.buckets.get((-1 - id) as usize)?.as_ref()
    }

    pub(crate) fn bucket_mut(&mut self, id: i32) -> Option<&mut Bucket> {
        if id >= 0 {
            return None;
        }
        self.buckets.get_mut((-1 - id) as usize)?.as_mut()
    }

    /// All buckets, shadows included, in slot order (id -1, -2, ...).
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets.iter().flatten()
    }

    /// Buckets an operator sees: shadows excluded.
    pub fn visible_buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets().filter(|b| !self.is_shadow(b.id))
    }

    /// Puts a bucket in its slot. Fails if the id or name is taken.
    pub fn insert_bucket(&mut self, b: Bucket) -> Result<(), CrushError> {
        if b.id >= 0 {
            return Err(CrushError::Invalid(format!(
                "bucket {} has non-negative id {}",
                b.name, b.id
            )));
        }
        // Buckets live in a table indexed by id: a hostile id must not
        // size it.
        if b.id < MIN_BUCKET_ID {
            return Err(CrushError::Invalid(format!(
                "bucket {} has id {}, below the smallest allowed, {MIN_BUCKET_ID}",
                b.name, b.id
            )));
        }
        if self.bucket(b.id).is_some() {
            return Err(CrushError::exists("bucket id", b.id));
        }
        if self.item_id(&b.name).is_some() {
            return Err(CrushError::exists("item", &b.name));
        }
        let slot = (-1 - b.id) as usize;
        if self.buckets.len() <= slot {
            self.buckets.resize(slot + 1, None);
        }
        self.buckets[slot] = Some(b);
        Ok(())
    }

    pub(crate) fn remove_bucket_slot(&mut self, id: i32) -> Option<Bucket> {
        let b = self.buckets.get_mut((-1 - id) as usize)?.take();
        while matches!(self.buckets.last(), Some(None)) {
            self.buckets.pop();
        }
        b
    }

    /// True for a device-class shadow bucket (`host1~ssd`).
    pub fn is_shadow(&self, id: i32) -> bool {
        self.bucket(id).is_some_and(|b| b.name.contains(SHADOW_SEP))
    }

    /// The rule with this id.
    pub fn rule(&self, id: u32) -> Option<&Rule> {
        self.rules.get(id as usize)?.as_ref()
    }

    /// All rules in id order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().flatten()
    }

    pub fn rule_by_name(&self, name: &str) -> Option<&Rule> {
        self.rules().find(|r| r.name == name)
    }

    /// Adds a rule at its id. Fails if the id or name is taken.
    pub fn insert_rule(&mut self, rule: Rule) -> Result<(), CrushError> {
        if rule.id > MAX_RULE_ID {
            return Err(CrushError::Invalid(format!(
                "rule {} has id {} above {MAX_RULE_ID}",
                rule.name, rule.id
            )));
        }
        if self.rule(rule.id).is_some() {
            return Err(CrushError::exists("rule id", rule.id));
        }
        if self.rule_by_name(&rule.name).is_some() {
            return Err(CrushError::exists("rule", &rule.name));
        }
        let slot = rule.id as usize;
        if self.rules.len() <= slot {
            self.rules.resize(slot + 1, None);
        }
        self.rules[slot] = Some(rule);
        Ok(())
    }

    /// Removes a rule by name.
    pub fn remove_rule(&mut self, name: &str) -> Result<Rule, CrushError> {
        let id = self
            .rule_by_name(name)
            .ok_or_else(|| CrushError::not_found("rule", name))?
            .id;
        let r = self.rules[id as usize].take().expect("found above");
        while matches!(self.rules.last(), Some(None)) {
            self.rules.pop();
        }
        Ok(r)
    }

    /// Id of a device or bucket by name.
    pub fn item_id(&self, name: &str) -> Option<i32> {
        self.devices
            .values()
            .find(|d| d.name == name)
            .map(|d| d.id)
            .or_else(|| self.buckets().find(|b| b.name == name).map(|b| b.id))
    }

    /// Name of a device or bucket by id.
    pub fn item_name(&self, id: i32) -> Option<&str> {
        if id >= 0 {
            self.devices.get(&id).map(|d| d.name.as_str())
        } else {
            self.bucket(id).map(|b| b.name.as_str())
        }
    }

    pub fn type_id(&self, name: &str) -> Option<i32> {
        self.types.iter().find(|(_, n)| *n == name).map(|(i, _)| *i)
    }

    pub fn type_name(&self, id: i32) -> Option<&str> {
        self.types.get(&id).map(String::as_str)
    }

    pub fn class_id(&self, name: &str) -> Option<i32> {
        self.classes
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(i, _)| *i)
    }

    pub fn class_name(&self, id: i32) -> Option<&str> {
        self.classes.get(&id).map(String::as_str)
    }

    /// The class id of `name`, registering the class if it is new.
    pub fn get_or_create_class(&mut self, name: &str) -> i32 {
        if let Some(id) = self.class_id(name) {
            return id;
        }
        let id = self.classes.keys().next_back().map_or(0, |i| i + 1);
        self.classes.insert(id, name.to_string());
        id
    }

    /// The bucket containing `item` (shadow buckets ignored), if any.
    pub fn parent_of(&self, item: i32) -> Option<&Bucket> {
        self.visible_buckets().find(|b| b.items.contains(&item))
    }

    /// Non-shadow buckets that are no other bucket's item, by ascending id.
    pub fn roots(&self) -> Vec<i32> {
        let mut roots: Vec<i32> = self
            .visible_buckets()
            .filter(|b| self.parent_of(b.id).is_none())
            .map(|b| b.id)
            .collect();
        roots.sort_unstable();
        roots
    }

    /// The weight vector crushtool and the OSDMap start from: 1.0 for every
    /// device placed in some bucket, 0 for the others.
    pub fn default_reweights(&self) -> Vec<u32> {
        let mut w = vec![0u32; self.max_devices().max(0) as usize];
        for b in self.buckets() {
            for &i in b.items.iter().filter(|i| **i >= 0) {
                w[i as usize] = crate::mapper::WEIGHT_IN;
            }
        }
        w
    }

    /// The weight set for `index` (a pool id), else the balancer's default
    /// set, else none: Ceph's `choose_args_get_with_fallback`.
    pub fn choose_args_for(&self, index: u64) -> Option<ResolvedChooseArgs> {
        if self.choose_args.is_empty() {
            return None;
        }
        self.choose_args
            .get(&index)
            .or_else(|| self.choose_args.get(&DEFAULT_CHOOSE_ARGS))
            .map(ResolvedChooseArgs::new)
    }

    /// The weight set crushtool tests with (index 0, with the fallback).
    pub fn test_choose_args(&self) -> Option<ResolvedChooseArgs> {
        self.choose_args_for(0)
    }
}
