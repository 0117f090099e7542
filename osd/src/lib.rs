//! The OSD: one per disk. [`store`] is its object store on RocksDB;
//! [`daemon`] is the process that registers with the monitors, boots,
//! follows the OSDMap and heartbeats its peers; [`pg`] serves client ops
//! on the PGs it is primary for, replicates writes to the acting set,
//! recovers members that missed writes from the PG log and backfills the
//! ones the log cannot bring up to date; [`ec`] is the erasure codec and
//! stripe layout EC pools are built on.

pub mod daemon;
pub mod ec;
pub mod pg;
pub mod store;
