//! Rules: the small programs that turn an input `x` into an ordered list of
//! devices (take a bucket, choose N distinct items of a type, emit).

/// One step of a rule, with Ceph's semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Noop,
    /// Start from this item (a bucket, or a device).
    Take(i32),
    /// Choose `count` distinct items of `type_id` below each working item.
    /// A count of 0 means "num-rep", a negative one "num-rep minus that".
    Choose {
        mode: ChooseMode,
        leaf: bool,
        count: i32,
        type_id: i32,
    },
    Emit,
    SetChooseTries(i32),
    SetChooseleafTries(i32),
    SetChooseLocalTries(i32),
    SetChooseLocalFallbackTries(i32),
    SetChooseleafVaryR(i32),
    SetChooseleafStable(i32),
}

/// The text names of the `set_*` steps, in opcode order.
const SET_STEPS: [&str; 6] = [
    "set_choose_tries",
    "set_chooseleaf_tries",
    "set_choose_local_tries",
    "set_choose_local_fallback_tries",
    "set_chooseleaf_vary_r",
    "set_chooseleaf_stable",
];

impl Step {
    /// For a `set_*` step: its text name and argument.
    pub fn as_set(&self) -> Option<(&'static str, i32)> {
        let (i, n) = match *self {
            Step::SetChooseTries(n) => (0, n),
            Step::SetChooseleafTries(n) => (1, n),
            Step::SetChooseLocalTries(n) => (2, n),
            Step::SetChooseLocalFallbackTries(n) => (3, n),
            Step::SetChooseleafVaryR(n) => (4, n),
            Step::SetChooseleafStable(n) => (5, n),
            _ => return None,
        };
        Some((SET_STEPS[i], n))
    }

    /// The `set_*` step named `name` with argument `n`.
    pub fn set_from_name(name: &str, n: i32) -> Option<Step> {
        let ctor: [fn(i32) -> Step; 6] = [
            Step::SetChooseTries,
            Step::SetChooseleafTries,
            Step::SetChooseLocalTries,
            Step::SetChooseLocalFallbackTries,
            Step::SetChooseleafVaryR,
            Step::SetChooseleafStable,
        ];
        SET_STEPS
            .iter()
            .position(|s| *s == name)
            .map(|i| ctor[i](n))
    }
}

/// `firstn` fills positions in order and shifts later results up on failure
/// (replicated pools); `indep` keeps each position stable and leaves a hole
/// (erasure-coded pools, where a position is a shard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChooseMode {
    Firstn,
    Indep,
}

impl ChooseMode {
    pub fn name(self) -> &'static str {
        match self {
            ChooseMode::Firstn => "firstn",
            ChooseMode::Indep => "indep",
        }
    }
}

/// Pool kind a rule is meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleType {
    Replicated = 1,
    Erasure = 3,
}

impl RuleType {
    pub fn name(self) -> &'static str {
        match self {
            RuleType::Replicated => "replicated",
            RuleType::Erasure => "erasure",
        }
    }
    pub fn from_name(s: &str) -> Option<RuleType> {
        match s {
            "replicated" => Some(RuleType::Replicated),
            "erasure" => Some(RuleType::Erasure),
            _ => None,
        }
    }
}

/// A rule of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: u32,
    pub name: String,
    pub rule_type: RuleType,
    pub min_size: u32,
    pub max_size: u32,
    pub steps: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_steps_round_trip_by_name() {
        for name in SET_STEPS {
            let step = Step::set_from_name(name, 7).unwrap();
            assert_eq!(step.as_set(), Some((name, 7)));
        }
        assert_eq!(Step::set_from_name("set_nothing", 1), None);
        assert_eq!(Step::Emit.as_set(), None);
    }
}
