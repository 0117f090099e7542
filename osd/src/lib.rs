//! The OSD: one per disk. Today this crate holds its object store
//! ([`store`]); the daemon, peering and recovery come with later issues.

pub mod store;
