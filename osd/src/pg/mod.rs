//! Placement groups: the protocol, without I/O.
//!
//! [`engine`] is one PG on one OSD as a state machine (events in, effects
//! out): peering, replicated writes, log recovery. It stands on the PG's
//! [`log`] (entries, dups, divergence), its [`info`] (what a member holds,
//! and how it is laid out in the store), its [`interval`]s (which past
//! intervals may have written, so whom peering must hear from) and the
//! [`messages`] members exchange. [`ops`] turns a client's compound op
//! into store work; [`reserver`] holds an OSD's backfill slots; [`split`]
//! divides a PG's state when its pool's pg_num grows. The OSD daemon (`crate::daemon::pgs`) runs engines on
//! QUIC and RocksDB; `osd/tests/sim/` runs them in a deterministic
//! simulation.

pub mod engine;
pub mod info;
pub mod interval;
pub mod log;
pub mod messages;
pub mod ops;
pub mod reserver;
pub mod split;
