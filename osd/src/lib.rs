//! The OSD: one per disk. [`store`] is its object store on RocksDB;
//! [`daemon`] is the process that registers with the monitors, boots,
//! follows the OSDMap and heartbeats its peers. Serving PGs, peering and
//! recovery come with the data path.

pub mod daemon;
pub mod store;
