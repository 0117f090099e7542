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
