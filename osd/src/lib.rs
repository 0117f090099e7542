//! The OSD: one per disk. [`store`] is its object store on RocksDB;
//! [`daemon`] is the process that registers with the monitors, boots,
//! follows the OSDMap and heartbeats its peers; [`pg`] serves client ops
//! on the PGs it is primary for, replicates writes to the acting set and
//! recovers members that missed writes from the PG log. Backfill is not
//! built yet.

pub mod daemon;
pub mod pg;
pub mod store;
