//! Text to [`CrushMap`], following Ceph's compiler rule for rule: what it
//! accepts, its defaults (legacy tunables when none are stated, weight 1.0
//! for a device item, the child's weight for a bucket item), and how it
//! assigns ids that the text leaves out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::lexer::{tokenize, Token};
use super::weight_from_text;
use crate::bucket::{Bucket, BucketAlg};
use crate::error::CrushError;
use crate::hash::HASH_RJENKINS1;
use crate::map::{CrushMap, Device, MAX_DEVICE_ID};
use crate::rule::{ChooseMode, Rule, RuleType, Step};
use crate::shadow;
use crate::tunables::Tunables;
use crate::weight_set::{ChooseArg, ChooseArgMap};

/// Largest weight the compiler accepts for a device item (100.0).
const MAX_DEVICE_WEIGHT: u32 = 100 * 0x10000;
/// Largest weight it accepts for a bucket item (65535.0).
const MAX_BUCKET_WEIGHT: u32 = 65535 * 0x10000;

/// Parses a map in crushtool's text format.
pub fn parse(src: &str) -> Result<CrushMap, CrushError> {
    let mut p = Parser {
        toks: tokenize(src),
        pos: 0,
        map: CrushMap {
            tunables: Tunables::LEGACY,
            ..CrushMap::default()
        },
        names: HashMap::new(),
        used_ids: BTreeSet::new(),
        class_ids: BTreeMap::new(),
        shadows_built: false,
    };
    p.reserve_leading_ids();
    while let Some(tok) = p.peek() {
        match tok.text {
            "tunable" => p.tunable()?,
            "device" => p.device()?,
            "type" => p.type_line()?,
            "rule" => {
                p.build_shadows()?;
                p.rule()?
            }
            "choose_args" => p.choose_args()?,
            _ => p.bucket()?,
        }
    }
    p.build_shadows()?;
    Ok(p.map)
}

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    map: CrushMap,
    /// Device and bucket names to ids.
    names: HashMap<String, i32>,
    /// Bucket ids taken, for assigning the ids the text leaves out.
    used_ids: BTreeSet<i32>,
    /// Shadow ids stated in `id N class C` lines: bucket -> class -> id.
    class_ids: BTreeMap<i32, BTreeMap<i32, i32>>,
    shadows_built: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.toks.get(self.pos)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map_or(0, |t| t.line)
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, CrushError> {
        Err(CrushError::Parse {
            line: self.line(),
            msg: msg.into(),
        })
    }

    fn next(&mut self, what: &str) -> Result<&'a str, CrushError> {
        match self.toks.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(t.text)
            }
            None => self.err(format!("unexpected end of map, expected {what}")),
        }
    }

    fn expect(&mut self, word: &str) -> Result<(), CrushError> {
        let got = self.next(&format!("'{word}'"))?;
        if got != word {
            self.pos -= 1;
            return self.err(format!("expected '{word}', found '{got}'"));
        }
        Ok(())
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek().is_some_and(|t| t.text == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn int<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, CrushError> {
        let s = self.next(what)?;
        s.parse().or_else(|_| {
            self.pos -= 1;
            self.err(format!("{what}: '{s}' is not a valid integer"))
        })
    }

    fn weight(&mut self, what: &str) -> Result<u32, CrushError> {
        let s = self.next(what)?;
        weight_from_text(s).map_or_else(
            || {
                self.pos -= 1;
                self.err(format!("{what}: '{s}' is not a valid weight"))
            },
            Ok,
        )
    }

    /// Ceph's compiler first collects the ids in the leading `id` lines of
    /// every bucket, so that buckets without an id never take them.
    fn reserve_leading_ids(&mut self) {
        let t = &self.toks;
        let mut depth = 0;
        for i in 0..t.len() {
            match t[i].text {
                "{" => {
                    depth += 1;
                    let is_bucket = depth == 1
                        && i >= 2
                        && !matches!(t[i - 2].text, "rule" | "choose_args")
                        && t[i - 1].text != "rule";
                    if !is_bucket {
                        continue;
                    }
                    let mut j = i + 1;
                    while j + 1 < t.len() && t[j].text == "id" {
                        if let Ok(id) = t[j + 1].text.parse::<i32>() {
                            self.used_ids.insert(id);
                        }
                        j += 2;
                        if j + 1 < t.len() && t[j].text == "class" {
                            j += 2;
                        }
                    }
                }
                "}" => depth -= 1,
                _ => {}
            }
        }
    }

    fn tunable(&mut self) -> Result<(), CrushError> {
        self.expect("tunable")?;
        let name = self.next("tunable name")?;
        let value: u32 = self.int(&format!("tunable {name}"))?;
        if !self.map.tunables.set(name, value) {
            self.pos -= 2;
            return self.err(format!("unknown tunable '{name}'"));
        }
        Ok(())
    }

    fn device(&mut self) -> Result<(), CrushError> {
        self.expect("device")?;
        let id: i32 = self.int("device id")?;
        let name = self.next("device name")?;
        if !(0..=MAX_DEVICE_ID).contains(&id) {
            return self.err(format!(
                "device {name} has id {id}; device ids run from 0 to {MAX_DEVICE_ID}"
            ));
        }
        if self.names.contains_key(name) || self.map.devices.contains_key(&id) {
            return self.err(format!("device {name} (id {id}) is already defined"));
        }
        let class = if self.eat("class") {
            let c = self.next("device class")?;
            Some(self.map.get_or_create_class(c))
        } else {
            None
        };
        self.names.insert(name.to_string(), id);
        self.map.devices.insert(
            id,
            Device {
                id,
                name: name.to_string(),
                class,
            },
        );
        Ok(())
    }

    fn type_line(&mut self) -> Result<(), CrushError> {
        self.expect("type")?;
        let id: i32 = self.int("type id")?;
        let name = self.next("type name")?;
        if self.map.types.contains_key(&id) || self.map.type_id(name).is_some() {
            return self.err(format!("type {name} (id {id}) is already defined"));
        }
        self.map.types.insert(id, name.to_string());
        Ok(())
    }

    fn bucket(&mut self) -> Result<(), CrushError> {
        let tname = self.next("bucket type")?;
        let Some(type_id) = self.map.type_id(tname) else {
            self.pos -= 1;
            return self.err(format!(
                "'{tname}' is neither a keyword nor a defined bucket type"
            ));
        };
        let name = self.next("bucket name")?;
        if self.names.contains_key(name) {
            return self.err(format!("bucket or device '{name}' is already defined"));
        }
        self.expect("{")?;
        let mut id: Option<i32> = None;
        let mut alg = BucketAlg::Straw2;
        let mut classes: BTreeMap<i32, i32> = BTreeMap::new();
        // (item id, weight, explicit pos)
        let mut items: Vec<(i32, u32, Option<usize>)> = Vec::new();
        loop {
            let tag = self.next("bucket body or '}'")?;
            match tag {
                "}" => break,
                "id" => {
                    let v: i32 = self.int("bucket id")?;
                    if self.eat("class") {
                        let cname = self.next("class name")?;
                        let cid = self.map.get_or_create_class(cname);
                        if classes.insert(cid, v).is_some() {
                            return self
                                .err(format!("duplicate device class {cname} for bucket {name}"));
                        }
                    } else {
                        if v >= 0 {
                            return self.err(format!("bucket {name}: id {v} must be negative"));
                        }
                        id = Some(v);
                    }
                }
                "alg" => {
                    let a = self.next("bucket algorithm")?;
                    alg = match BucketAlg::from_name(a) {
                        Some(a) => a,
                        None => {
                            return self.err(format!("bucket {name}: unknown bucket alg '{a}'"))
                        }
                    };
                }
                "hash" => {
                    let h = self.next("hash")?;
                    if h != "rjenkins1" && h != "0" {
                        return self.err(format!(
                            "bucket {name}: unknown hash '{h}' (only 0, rjenkins1)"
                        ));
                    }
                }
                "item" => {
                    let iname = self.next("item name")?;
                    let Some(&item) = self.names.get(iname) else {
                        return self
                            .err(format!("item '{iname}' in bucket '{name}' is not defined"));
                    };
                    let mut weight = if item >= 0 {
                        0x10000
                    } else {
                        self.map.bucket(item).map_or(0, Bucket::weight)
                    };
                    let mut pos = None;
                    loop {
                        if self.eat("weight") {
                            weight = self.weight(&format!("weight of {iname}"))?;
                            if item >= 0 && weight > MAX_DEVICE_WEIGHT {
                                return self.err(format!("{iname}: device weight limited to 100"));
                            }
                            if item < 0 && weight > MAX_BUCKET_WEIGHT {
                                return self
                                    .err(format!("{iname}: bucket weight limited to 65535"));
                            }
                        } else if self.eat("pos") {
                            pos = Some(self.int::<usize>(&format!("pos of {iname}"))?);
                        } else {
                            break;
                        }
                    }
                    items.push((item, weight, pos));
                }
                other => return self.err(format!("bucket {name}: unexpected '{other}'")),
            }
        }
        let id = match id {
            Some(id) => id,
            None => (1..)
                .map(|n: i32| -n)
                .find(|i| !self.used_ids.contains(i))
                .expect("ids remain"),
        };
        if self.map.bucket(id).is_some() {
            return self.err(format!("bucket {name}: id {id} is already used"));
        }
        let slots = place_items(&items).map_err(|m| CrushError::Parse {
            line: self.line(),
            msg: format!("bucket {name}: {m}"),
        })?;
        let mut b = Bucket::new(
            id,
            name,
            type_id,
            alg,
            slots,
            self.map.tunables.straw_calc_version,
        )
        .map_err(|e| CrushError::Parse {
            line: self.line(),
            msg: e.to_string(),
        })?;
        b.hash = HASH_RJENKINS1;
        b.check_uniform_weights().map_err(|e| CrushError::Parse {
            line: self.line(),
            msg: e.to_string(),
        })?;
        self.used_ids.insert(id);
        self.names.insert(name.to_string(), id);
        if !classes.is_empty() {
            self.class_ids.insert(id, classes);
        }
        self.map.insert_bucket(b)
    }

    fn rule(&mut self) -> Result<(), CrushError> {
        self.expect("rule")?;
        let name = match self.next("rule name")? {
            "{" => None,
            n => {
                self.expect("{")?;
                Some(n.to_string())
            }
        };
        let mut id: Option<u32> = None;
        let mut rule_type = RuleType::Replicated;
        let (mut min_size, mut max_size) = (1u32, 10u32);
        let mut steps = Vec::new();
        loop {
            match self.next("rule body or '}'")? {
                "}" => break,
                "id" | "ruleset" => id = Some(self.int("rule id")?),
                "type" => {
                    let t = self.next("rule type")?;
                    rule_type = match RuleType::from_name(t) {
                        Some(t) => t,
                        None => return self.err(format!("unknown rule type '{t}'")),
                    };
                }
                "min_size" => min_size = self.int("min_size")?,
                "max_size" => max_size = self.int("max_size")?,
                "step" => steps.push(self.step()?),
                other => return self.err(format!("rule: unexpected '{other}'")),
            }
        }
        let Some(id) = id else {
            return self.err(format!("rule {} has no id", name.as_deref().unwrap_or("")));
        };
        let name = name.unwrap_or_else(|| format!("rule{id}"));
        if self.map.rule(id).is_some() {
            return self.err(format!("rule {id} already exists"));
        }
        self.map
            .insert_rule(Rule {
                id,
                name,
                rule_type,
                min_size,
                max_size,
                steps,
            })
            .map_err(|e| CrushError::Parse {
                line: self.line(),
                msg: e.to_string(),
            })
    }

    fn step(&mut self) -> Result<Step, CrushError> {
        let op = self.next("step")?;
        let step = match op {
            "noop" => Step::Noop,
            "emit" => Step::Emit,
            "take" => {
                let item = self.next("item to take")?;
                let Some(&mut_id) = self.names.get(item) else {
                    return self.err(format!("step take: item '{item}' is not defined"));
                };
                let mut id = mut_id;
                if self.eat("class") {
                    let cname = self.next("class name")?;
                    let Some(cid) = self.map.class_id(cname) else {
                        return self
                            .err(format!("step take {item}: unknown device class '{cname}'"));
                    };
                    id = match self.map.class_buckets.get(&id).and_then(|m| m.get(&cid)) {
                        Some(s) => *s,
                        None => {
                            return self.err(format!(
                                "step take {item}: no matching bucket for class {cname}"
                            ))
                        }
                    };
                }
                Step::Take(id)
            }
            "choose" | "chooseleaf" => {
                let mode = match self.next("firstn or indep")? {
                    "firstn" => ChooseMode::Firstn,
                    "indep" => ChooseMode::Indep,
                    m => return self.err(format!("step {op}: unknown mode '{m}'")),
                };
                let count: i32 = self.int("choose count")?;
                self.expect("type")?;
                let tname = self.next("type name")?;
                let Some(type_id) = self.map.type_id(tname) else {
                    return self.err(format!("step {op}: type '{tname}' is not defined"));
                };
                Step::Choose {
                    mode,
                    leaf: op == "chooseleaf",
                    count,
                    type_id,
                }
            }
            set if Step::set_from_name(set, 0).is_some() => {
                let n = self.int(set)?;
                Step::set_from_name(set, n).expect("checked above")
            }
            other => return self.err(format!("unknown step '{other}'")),
        };
        Ok(step)
    }

    fn choose_args(&mut self) -> Result<(), CrushError> {
        self.expect("choose_args")?;
        let index: u64 = self.int("choose_args index")?;
        self.expect("{")?;
        let mut set = ChooseArgMap::new();
        while !self.eat("}") {
            self.expect("{")?;
            let mut bucket_id: Option<i32> = None;
            let mut arg = ChooseArg::default();
            loop {
                match self.next("choose_args entry or '}'")? {
                    "}" => break,
                    "bucket_id" => bucket_id = Some(self.int("bucket_id")?),
                    "weight_set" => {
                        self.expect("[")?;
                        while !self.eat("]") {
                            self.expect("[")?;
                            let mut row = Vec::new();
                            while !self.eat("]") {
                                row.push(self.weight("weight_set weight")?);
                            }
                            arg.weight_set.push(row);
                        }
                    }
                    "ids" => {
                        self.expect("[")?;
                        let mut ids = Vec::new();
                        while !self.eat("]") {
                            ids.push(self.int("id")?);
                        }
                        arg.ids = Some(ids);
                    }
                    other => return self.err(format!("choose_args {index}: unexpected '{other}'")),
                }
            }
            let Some(bid) = bucket_id else {
                return self.err(format!("choose_args {index}: an entry has no bucket_id"));
            };
            let Some(b) = self.map.bucket(bid) else {
                return self.err(format!("choose_args {index}: bucket {bid} does not exist"));
            };
            let size = b.size();
            if let Some(bad) = arg.weight_set.iter().find(|r| r.len() != size) {
                return self.err(format!(
                    "choose_args {index}: bucket {bid} has {size} items but a weight_set row has {}",
                    bad.len()
                ));
            }
            if arg.ids.as_ref().is_some_and(|ids| ids.len() != size) {
                return self.err(format!(
                    "choose_args {index}: bucket {bid} has {size} items but ids has another count"
                ));
            }
            set.insert(bid, arg);
        }
        if self.map.choose_args.insert(index, set).is_some() {
            return self.err(format!("choose_args {index} is defined twice"));
        }
        Ok(())
    }

    /// Device-class shadow trees are built once, before the first rule (whose
    /// `take ... class` steps refer to them), or at the end of the map.
    fn build_shadows(&mut self) -> Result<(), CrushError> {
        if self.shadows_built {
            return Ok(());
        }
        self.shadows_built = true;
        let stated = std::mem::take(&mut self.class_ids);
        shadow::populate(&mut self.map, &stated)?;
        for b in self.map.buckets().filter(|b| self.map.is_shadow(b.id)) {
            self.names.insert(b.name.clone(), b.id);
        }
        Ok(())
    }
}

/// Lays items out by their explicit `pos` (uniform and tree buckets), the
/// others filling the free positions in order, as Ceph's compiler does.
fn place_items(items: &[(i32, u32, Option<usize>)]) -> Result<Vec<(i32, u32)>, String> {
    let used: BTreeSet<usize> = items.iter().filter_map(|i| i.2).collect();
    if used.len() != items.iter().filter(|i| i.2.is_some()).count() {
        return Err("two items have the same explicit pos".into());
    }
    // As Ceph's compiler: a bucket has as many positions as items, and an
    // explicit pos must name one of them (checked before allocating, so a
    // huge pos in hostile text costs nothing).
    let size = items.len();
    if let Some(p) = used.iter().next_back().filter(|p| **p >= size) {
        return Err(format!("item pos {p} >= size {size}"));
    }
    let mut slots = vec![(0i32, 0u32); size];
    let mut cur = 0;
    for &(item, weight, pos) in items {
        let pos = match pos {
            Some(p) => p,
            None => {
                while used.contains(&cur) {
                    cur += 1;
                }
                cur += 1;
                cur - 1
            }
        };
        slots[pos] = (item, weight);
    }
    Ok(slots)
}
