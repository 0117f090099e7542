//! strata-mon: the monitor daemon.
//!
//! Monitors form a Raft group ([`raft`], openraft) whose replicated state
//! ([`state`]) is the monmap, the OSDMap (OSDs, pools, CRUSH map, erasure
//! code profiles) and the auth database. [`service`] answers requests from
//! OSDs, clients and the admin CLI, runs the failure detector and pushes
//! new maps to subscribers; [`store`] lays out a monitor's data directory
//! and [`daemon`] starts it all.

pub mod daemon;
pub mod metrics;
pub mod raft;
pub mod service;
pub mod state;
pub mod store;
