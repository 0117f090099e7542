//! What the members of a PG say to one another: peering (query, notify,
//! log, activate), replication (one op per write) and recovery (pull,
//! push). Every message carries the sender's map epoch and the interval it
//! belongs to (its `same_interval_since`): a receiver on an older map waits
//! for the newer one first, and a message from an older interval is
//! refused, so a primary that has been replaced can no longer get a write
//! committed by members that moved on.

use cluster::Version;
use rkyv::{Archive, Deserialize, Serialize};

use super::info::{History, PgInfo};
use super::log::LogEntry;
pub use crate::store::ObjectState;
use crate::store::{ObjectId, Op};

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum PeerMsg {
    /// Primary to a member of the prior set: send your info.
    Query,
    /// The answer: what the member holds (`info` empty when nothing).
    Notify { info: PgInfo },
    /// Primary to the member with the authoritative log: send it, and, if
    /// `list`, every object you hold with its version.
    GetLog { list: bool },
    Log {
        info: PgInfo,
        entries: Vec<LogEntry>,
        objects: Option<Vec<(ObjectId, Version)>>,
    },
    /// Primary to an acting member: adopt this log (the authority's
    /// entries after `auth_tail`, through which the member's history is
    /// the authority's: the authority's log tail, or the member's last
    /// update when the authority's log holds it) and go active. With
    /// `resync`, drop every object and recover these.
    Activate {
        activation_epoch: u32,
        /// The PG goes active (not just peered): record the activation.
        record: bool,
        auth_tail: Version,
        entries: Vec<LogEntry>,
        resync: Option<Vec<(ObjectId, Version)>>,
        history: History,
    },
    /// The member's log cannot be joined to the entries sent: send the
    /// whole log and the object list.
    NeedResync,
    /// Activation persisted; what the member is missing.
    Activated {
        info: PgInfo,
        missing: Vec<(ObjectId, Version)>,
    },
    /// Primary to the acting members once all activated (and again when
    /// the PG becomes clean): the PG's history, so that each knows the
    /// interval that went active and stops waiting for older ones.
    History { history: History },
    /// One write: the log entry, the object ops, and the primary's log
    /// head before it (a member applies entries in order).
    RepOp {
        prev: Version,
        entry: LogEntry,
        ops: Vec<Op>,
        mtime_ns: u64,
        /// Trim the log to here (keep entries after it).
        trim_to: Version,
    },
    /// The member committed the write.
    RepOpDone { version: Version },
    /// Send me the object if you have it at `need`.
    Pull { object: ObjectId, need: Version },
    /// An object's state (`None`: the sender does not have it at the
    /// version asked for).
    Push {
        object: ObjectId,
        need: Version,
        state: Option<ObjectState>,
    },
    /// The member committed a pushed object.
    PushDone { object: ObjectId, version: Version },
}

/// A message as it travels: which PG, the sender's epoch and interval.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PeerEnvelope {
    pub pool: u64,
    pub seed: u32,
    pub epoch: u32,
    pub interval: u32,
    pub msg: PeerMsg,
}

impl PeerMsg {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            PeerMsg::Query => "query",
            PeerMsg::Notify { .. } => "notify",
            PeerMsg::GetLog { .. } => "get_log",
            PeerMsg::Log { .. } => "log",
            PeerMsg::Activate { .. } => "activate",
            PeerMsg::NeedResync => "need_resync",
            PeerMsg::Activated { .. } => "activated",
            PeerMsg::History { .. } => "history",
            PeerMsg::RepOp { .. } => "rep_op",
            PeerMsg::RepOpDone { .. } => "rep_op_done",
            PeerMsg::Pull { .. } => "pull",
            PeerMsg::Push { .. } => "push",
            PeerMsg::PushDone { .. } => "push_done",
        }
    }
}
