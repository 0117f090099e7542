//! The Raft adapter: openraft (0.9, its stable line) wired to our
//! storage and messenger. Everything openraft-specific lives in this
//! module: the type configuration, the RocksDB log store ([`log_store`]),
//! the state machine that applies [`crate::state::ClusterOp`]s
//! ([`state_machine`]), and the network that carries Raft RPCs between
//! monitors over the messenger ([`network`]).
//!
//! A monitor's Raft node id is its rank in the monmap.

// openraft's StorageError is large and its traits return it; our helpers
// return what the traits must.
#[allow(clippy::result_large_err)]
pub mod log_store;
pub mod network;
#[allow(clippy::result_large_err)]
pub mod state_machine;

use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A proposal: a [`crate::state::ClusterOp`] in our versioned encoding.
/// openraft wants serde; the bytes inside are ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal(pub Vec<u8>);

/// What applying a proposal produced: a [`crate::state::OpOutcome`],
/// encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied(pub Vec<u8>);

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Proposal,
        R = Applied,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type MonRaft = openraft::Raft<TypeConfig>;
pub type NodeId = u64;
pub type StorageError = openraft::StorageError<NodeId>;

/// openraft's timing from our options.
pub fn raft_config(heartbeat_ms: u64, election_timeout_ms: u64) -> openraft::Config {
    openraft::Config {
        cluster_name: "strata-mon".into(),
        heartbeat_interval: heartbeat_ms,
        election_timeout_min: election_timeout_ms,
        election_timeout_max: election_timeout_ms * 2,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(2000),
        max_in_snapshot_log_to_keep: 500,
        ..Default::default()
    }
}

/// An error from our storage as openraft wants it.
pub(crate) fn io_err(
    subject: openraft::ErrorSubject<NodeId>,
    verb: openraft::ErrorVerb,
    e: impl std::fmt::Display,
) -> StorageError {
    let any = openraft::AnyError::error(e.to_string());
    openraft::StorageIOError::new(subject, verb, any).into()
}
