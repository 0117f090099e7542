//! CRUSH: Controlled Replication Under Scalable Hashing, bit-compatible with
//! Ceph.
//!
//! Every client and OSD computes where data lives from the CRUSH map alone;
//! there is no lookup service. This crate holds the map model ([`CrushMap`]),
//! the mapper ([`CrushMap::do_rule`]), Ceph's text format ([`text`]), the
//! editing operations a monitor needs ([`builder`]) and the statistics of
//! `crushtool --test` ([`tester`]). It is pure: no I/O, no async.
//!
//! Placements are bit-identical to Ceph's `crush_do_rule`; the test suite
//! checks every line of a corpus computed by Ceph's own crushtool.

pub mod bucket;
pub mod builder;
pub mod error;
pub mod hash;
pub mod map;
pub mod mapper;
pub mod rule;
mod shadow;
pub mod tester;
pub mod text;
pub mod tunables;
pub mod weight_set;

pub use bucket::{Bucket, BucketAlg};
pub use error::CrushError;
pub use map::{CrushMap, Device};
pub use mapper::{Workspace, ITEM_NONE, WEIGHT_IN};
pub use rule::{ChooseMode, Rule, RuleType, Step};
pub use tunables::Tunables;
pub use weight_set::{ChooseArg, ChooseArgMap, ResolvedChooseArgs};
