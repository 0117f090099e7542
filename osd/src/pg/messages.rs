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
    /// Primary to an acting member or a backfill target: adopt this log
    /// (the authority's entries after `auth_tail`, through which the
    /// member's history is the authority's: the authority's log tail, or
    /// the member's last update when the authority's log holds it) and go
    /// active. A member whose log cannot be joined to these entries takes
    /// them wholesale and becomes a backfill target (empty watermark).
    Activate {
        activation_epoch: u32,
        /// The PG goes active (not just peered): record the activation.
        record: bool,
        auth_tail: Version,
        entries: Vec<LogEntry>,
        /// The member is a backfill target (in the up set, not acting).
        backfill: bool,
        history: History,
    },
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
    /// Primary to a backfill target: the objects of the range
    /// `(after, upto]` in store order (`upto` `None`: to the end) as the
    /// primary holds them at log head `prev`. The target applies it after
    /// the writes up to `prev`, replaces its own objects of that range
    /// with these (removing the ones not listed) and moves its watermark
    /// to `upto`, all in one transaction.
    Backfill {
        after: Vec<u8>,
        upto: Option<Vec<u8>>,
        prev: Version,
        objects: Vec<(ObjectId, ObjectState)>,
    },
    /// The target committed the range through `upto`.
    BackfillDone { upto: Option<Vec<u8>> },
    /// Primary to a backfill target: reserve a backfill slot for this PG
    /// (at this priority).
    BackfillReserve { prio: u8 },
    /// The target reserved its slot.
    BackfillGrant,
    /// The target is past its backfillfull ratio: no room.
    BackfillReject,
    /// Primary to a target: backfill is over (or put off); give the slot
    /// back.
    BackfillRelease,
    /// A member not in the acting set tells the primary it holds a copy
    /// (Ceph's stray notify), so that the copy is removed once the PG is
    /// clean without it.
    Stray { info: PgInfo },
    /// Primary to a stray: the PG is clean without your copy; delete it.
    Remove,
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
            PeerMsg::Activated { .. } => "activated",
            PeerMsg::History { .. } => "history",
            PeerMsg::RepOp { .. } => "rep_op",
            PeerMsg::RepOpDone { .. } => "rep_op_done",
            PeerMsg::Pull { .. } => "pull",
            PeerMsg::Push { .. } => "push",
            PeerMsg::PushDone { .. } => "push_done",
            PeerMsg::Backfill { .. } => "backfill",
            PeerMsg::BackfillDone { .. } => "backfill_done",
            PeerMsg::BackfillReserve { .. } => "backfill_reserve",
            PeerMsg::BackfillGrant => "backfill_grant",
            PeerMsg::BackfillReject => "backfill_reject",
            PeerMsg::BackfillRelease => "backfill_release",
            PeerMsg::Stray { .. } => "stray",
            PeerMsg::Remove => "remove",
        }
    }
}
