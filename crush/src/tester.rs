//! What `crushtool --test` and `--compare` compute and print: mappings over a
//! range of inputs, result-size statistics, per-device utilisation against
//! the expectation from the weights, bad (short or holey) mappings, and how
//! many inputs two maps place differently.
//!
//! Output is written to a `fmt::Write` sink in crushtool's exact format; the
//! CLI decides where it goes. Nothing here does I/O.

use std::fmt::Write;

use crate::error::CrushError;
use crate::hash::hash32_2;
use crate::map::CrushMap;
use crate::mapper::{Workspace, ITEM_NONE, WEIGHT_IN};
use crate::rule::Step;

/// The `--test` / `--compare` parameters, with crushtool's defaults.
#[derive(Clone, Debug)]
pub struct TestSpec {
    /// Only this rule (`--rule`); all rules when `None`.
    pub rule: Option<u32>,
    /// Replica counts to try (`--num-rep`, or `--min-rep`/`--max-rep`);
    /// each rule's `min_size..=max_size` when `None`.
    pub reps: Option<(u32, u32)>,
    pub min_x: i32,
    pub max_x: i32,
    /// `--weight DEV W` overrides, already in 16.16 fixed point.
    pub weights: Vec<(i32, u32)>,
    /// `--pool-id`: hash x with the pool id first, as the OSDMap does.
    pub pool_id: Option<i32>,
    pub show_mappings: bool,
    pub show_statistics: bool,
    pub show_utilization: bool,
    pub show_utilization_all: bool,
    pub show_bad_mappings: bool,
}

impl Default for TestSpec {
    fn default() -> Self {
        TestSpec {
            rule: None,
            reps: None,
            min_x: 0,
            max_x: 1023,
            weights: Vec::new(),
            pool_id: None,
            show_mappings: false,
            show_statistics: false,
            show_utilization: false,
            show_utilization_all: false,
            show_bad_mappings: false,
        }
    }
}

/// Converts a `--weight` value the way crushtool does: `f32`, times 65536,
/// truncated, clamped to `[0, 1.0]`.
pub fn reweight_from_f32(w: f32) -> u32 {
    let v = (w * 65536.0f32) as i64;
    v.clamp(0, i64::from(WEIGHT_IN)) as u32
}

/// Formats a number as C++ streams do by default (`%g`, 6 significant digits).
pub fn format_g(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v == 0.0 {
            "0".into()
        } else {
            format!("{v}")
        };
    }
    let sci = format!("{v:.5e}");
    let (mant, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), exp.abs())
    } else {
        trim(&format!("{v:.*}", (5 - exp) as usize))
    }
}

impl CrushMap {
    /// The reweight vector crushtool tests with: overrides, else 1.0 for
    /// devices placed in a bucket, else 0.
    pub fn test_reweights(&self, overrides: &[(i32, u32)]) -> Vec<u32> {
        let mut w = self.default_reweights();
        for &(dev, v) in overrides {
            if let Some(slot) = usize::try_from(dev).ok().and_then(|d| w.get_mut(d)) {
                *slot = v;
            }
        }
        w
    }

    /// The rule ids to run, gaps included (crushtool reports those as
    /// `rule N dne`); an explicitly requested rule must exist.
    fn rules_for(&self, spec: &TestSpec) -> Result<Vec<u32>, CrushError> {
        match spec.rule {
            Some(r) if self.rule(r).is_some() => Ok(vec![r]),
            Some(r) => Err(CrushError::not_found("rule", r)),
            None => Ok((0..self.rules.len() as u32).collect()),
        }
    }

    fn reps_for(&self, spec: &TestSpec, rule: u32) -> (u32, u32) {
        spec.reps.unwrap_or_else(|| {
            let r = self.rule(rule).expect("rule exists");
            (r.min_size, r.max_size)
        })
    }

    /// Runs `crushtool --test`, writing what it prints to `out`, and the
    /// stderr-only lines (the weight vector of `--show-utilization-all`) to
    /// `err`.
    pub fn run_test(
        &self,
        spec: &TestSpec,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), CrushError> {
        let rules = self.rules_for(spec)?;
        let weights = self.test_reweights(&spec.weights);
        let args = self.test_choose_args();
        let stats = spec.show_statistics || spec.show_utilization || spec.show_utilization_all;
        if spec.show_utilization_all {
            let hex: Vec<String> = weights.iter().map(|w| format!("{w:x}")).collect();
            let _ = writeln!(err, "devices weights (hex): [{}]", hex.join(","));
        }
        let total_weight: u32 = weights.iter().fold(0u32, |a, w| a.wrapping_add(*w));
        let mut ws = Workspace::default();
        let mut result = Vec::new();
        for r in rules {
            let Some(rule) = self.rule(r) else {
                if stats {
                    let _ = writeln!(out, "rule {r} dne");
                }
                continue;
            };
            let (minr, maxr) = self.reps_for(spec, r);
            if stats {
                let _ = writeln!(
                    out,
                    "rule {r} ({}), x = {}..{}, numrep = {minr}..{maxr}",
                    rule.name, spec.min_x, spec.max_x
                );
            }
            for nr in minr..=maxr {
                if total_weight == 0 {
                    continue;
                }
                let mut per = vec![0u64; weights.len()];
                let mut sizes = std::collections::BTreeMap::<usize, u64>::new();
                for x in spec.min_x..=spec.max_x {
                    let real_x = match spec.pool_id {
                        Some(p) => hash32_2(x as u32, p as u32) as i32,
                        None => x,
                    };
                    self.do_rule_with(
                        r,
                        real_x,
                        nr as usize,
                        &weights,
                        args.as_ref(),
                        &mut ws,
                        &mut result,
                    );
                    if spec.show_mappings {
                        let _ = writeln!(out, "CRUSH rule {r} x {x} {}", fmt_vec(&result));
                    }
                    let mut has_none = false;
                    for &o in &result {
                        match usize::try_from(o).ok().and_then(|o| per.get_mut(o)) {
                            Some(p) if o != ITEM_NONE => *p += 1,
                            _ => has_none = true,
                        }
                    }
                    *sizes.entry(result.len()).or_default() += 1;
                    if spec.show_bad_mappings && (result.len() != nr as usize || has_none) {
                        let _ = writeln!(
                            out,
                            "bad mapping rule {r} x {x} num_rep {nr} result {}",
                            fmt_vec(&result)
                        );
                    }
                }
                if !stats {
                    continue;
                }
                let total = i64::from(spec.max_x) - i64::from(spec.min_x) + 1;
                for (size, count) in &sizes {
                    let _ = writeln!(
                        out,
                        "rule {r} ({}) num_rep {nr} result size == {size}:\t{count}/{total}",
                        rule.name
                    );
                }
                if spec.show_utilization || spec.show_utilization_all {
                    let affected = self.max_affected_by_rule(r).min(nr as i64) as f32;
                    let expected_objects = affected * total as f32;
                    for (i, stored) in per.iter().enumerate() {
                        let share = weights[i] as f32 / total_weight as f32;
                        let expected = share * expected_objects;
                        let show = if spec.show_utilization {
                            expected > 0.0 && *stored > 0
                        } else {
                            true
                        };
                        if show {
                            let _ = writeln!(
                                out,
                                "  device {i}:\t\t stored : {stored}\t expected : {}",
                                format_g(f64::from(expected))
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// crushtool's bound on how many distinct devices a rule can return,
    /// used for the expected counts of `--show-utilization`: the smallest
    /// count of buckets of a type the rule chooses, capped by the step's
    /// count. Reproduced with crushtool's quirks: every step past `take`
    /// except `emit` counts (the `set_*` steps as type 0), a type named by
    /// several steps has its buckets counted once per step and takes the last
    /// step's count, and devices are never counted.
    fn max_affected_by_rule(&self, rule: u32) -> i64 {
        use std::collections::HashMap;
        let rule = self.rule(rule).expect("rule exists");
        let mut types: Vec<i32> = Vec::new();
        let mut counts: HashMap<i32, i64> = HashMap::new();
        for step in &rule.steps {
            let (count, type_id) = match (step, step.as_set()) {
                (Step::Choose { count, type_id, .. }, _) => (*count, *type_id),
                (_, Some((_, n))) => (n, 0),
                _ => continue,
            };
            types.push(type_id);
            counts.insert(type_id, i64::from(count));
        }
        let mut of_type: HashMap<i32, i64> = HashMap::new();
        for t in &types {
            *of_type.entry(*t).or_default() +=
                self.buckets().filter(|b| b.type_id == *t).count() as i64;
        }
        for t in &types {
            let (count, n) = (counts[t], of_type[t]);
            if count > 0 && count < n {
                of_type.insert(*t, count);
            }
        }
        let mut capacity = 8usize;
        while capacity < self.max_buckets() {
            capacity *= 2;
        }
        let mut max_affected = (capacity as i64).max(i64::from(self.max_devices()));
        for t in &types {
            let n = of_type[t];
            if n > 0 && n < max_affected {
                max_affected = n;
            }
        }
        max_affected
    }

    /// Runs `crushtool --compare`: for each rule, how many (x, num-rep)
    /// inputs `other` maps differently. Returns true if the maps agree.
    pub fn compare(
        &self,
        other: &CrushMap,
        spec: &TestSpec,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<bool, CrushError> {
        let rules = self.rules_for(spec)?;
        let weights = self.test_reweights(&spec.weights);
        let (args, args2) = (self.test_choose_args(), other.test_choose_args());
        let (mut ws, mut a, mut b) = (Workspace::default(), Vec::new(), Vec::new());
        let mut equivalent = true;
        for r in rules {
            if self.rule(r).is_none() {
                if spec.show_statistics {
                    let _ = writeln!(out, "rule {r} dne");
                }
                continue;
            }
            let (minr, maxr) = self.reps_for(spec, r);
            let mut bad = 0u64;
            for nr in minr..=maxr {
                for x in spec.min_x..=spec.max_x {
                    self.do_rule_with(r, x, nr as usize, &weights, args.as_ref(), &mut ws, &mut a);
                    other.do_rule_with(
                        r,
                        x,
                        nr as usize,
                        &weights,
                        args2.as_ref(),
                        &mut ws,
                        &mut b,
                    );
                    if a != b {
                        bad += 1;
                    }
                }
            }
            let max = (i64::from(maxr) - i64::from(minr) + 1).max(0)
                * (i64::from(spec.max_x) - i64::from(spec.min_x) + 1);
            let ratio = bad as f64 / max as f64;
            let _ = writeln!(
                out,
                "rule {r} had {bad}/{max} mismatched mappings ({})",
                format_g(ratio)
            );
            equivalent &= bad == 0;
        }
        if equivalent {
            let _ = writeln!(out, "maps appear equivalent");
        } else {
            let _ = writeln!(err, "warning: maps are NOT equivalent");
        }
        Ok(equivalent)
    }
}

fn fmt_vec(v: &[i32]) -> String {
    let items: Vec<String> = v.iter().map(i32::to_string).collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_cpp_streams() {
        assert_eq!(format_g(13.333333), "13.3333");
        assert_eq!(format_g(0.6666667), "0.666667");
        assert_eq!(format_g(0.0205078125), "0.0205078");
        assert_eq!(format_g(0.01), "0.01");
        assert_eq!(format_g(0.0), "0");
        assert_eq!(format_g(100.0), "100");
        assert_eq!(format_g(1234567.0), "1.23457e+06");
        assert_eq!(format_g(0.00001234), "1.234e-05");
    }

    #[test]
    fn reweights_parse_like_crushtool() {
        // Values from the corpus README.
        assert_eq!(reweight_from_f32(1.7), 65536);
        assert_eq!(reweight_from_f32(-0.5), 0);
        assert_eq!(reweight_from_f32(0.3), 19660);
        assert_eq!(reweight_from_f32(0.85), 55705);
    }
}
