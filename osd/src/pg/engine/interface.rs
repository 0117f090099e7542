//! The engine's interface: its tunables, the events it takes, the
//! effects it returns, client ops and their replies, and its phases.

use cluster::msg::osd::{ObjOp, OpOutput};
use cluster::msg::RemoteError;
use cluster::{ReqId, Version};

use crate::pg::interval::PgEpoch;
use crate::pg::messages::PeerEnvelope;
use crate::store::{ObjectId, Transaction};

/// Tunables of the engine.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// Log entries kept (Ceph's `osd_min_pg_log_entries`).
    pub log_max: usize,
    /// Request ids kept past trim (Ceph's `osd_pg_log_dups_tracked`).
    pub dups_max: usize,
    /// Objects recovered at once (`osd_recovery_max_active`).
    pub recovery_max_active: usize,
    /// Ticks without an answer before a message is sent again.
    pub resend_ticks: u64,
    pub max_object_size: u64,
    /// Client ops queued while the PG peers; more are refused (EAGAIN).
    pub max_waiting_ops: usize,
    /// Objects per backfill batch (Ceph's `osd_backfill_scan_max`).
    pub backfill_max_objects: usize,
    /// Bytes of object data per backfill batch (at least one object).
    pub backfill_max_bytes: u64,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            log_max: 3000,
            dups_max: 3000,
            recovery_max_active: 3,
            // QUIC delivers reliably while a connection lives; what is
            // lost with a connection is resent after 3 s (resending sooner
            // would re-send large writes still on their way).
            resend_ticks: 30,
            max_object_size: 128 << 20,
            max_waiting_ops: 1024,
            backfill_max_objects: 64,
            backfill_max_bytes: 8 << 20,
        }
    }
}

/// A client's operation on one object of this PG.
#[derive(Clone, Debug)]
pub struct ClientOp {
    /// The caller's handle for the reply.
    pub handle: u64,
    pub reqid: ReqId,
    pub obj: ObjectId,
    pub ops: Vec<ObjOp>,
    /// The payload bytes of the steps, in order.
    pub data: Vec<u8>,
    /// The map epoch the client placed the op with.
    pub epoch: u32,
}

impl ClientOp {
    pub(super) fn writes(&self) -> bool {
        self.ops.iter().any(|o| o.is_write())
    }

    /// Whether every write step removes the object (allowed on a full
    /// cluster: it frees space).
    pub(super) fn only_removes(&self) -> bool {
        self.ops
            .iter()
            .filter(|o| o.is_write())
            .all(|o| matches!(o, ObjOp::Remove))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpDone {
    pub version: Version,
    pub outputs: Vec<OpOutput>,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpFailed {
    pub error: RemoteError,
    /// The step that failed, when one did.
    pub step: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpReply {
    pub handle: u64,
    pub result: Result<OpDone, OpFailed>,
    /// The interval the op was answered in (for checks and tests).
    pub interval: u32,
}

#[derive(Debug)]
pub enum Event {
    /// The next map epoch (epochs must come in order, none skipped).
    Map(PgEpoch),
    Peer {
        from: i32,
        env: PeerEnvelope,
    },
    Op(ClientOp),
    /// A `Store` effect with this id committed durably.
    Committed(u64),
    Tick,
    /// The OSD granted the reservation asked with `Effect::Reserve`.
    Reserved {
        kind: ResKind,
        id: u64,
    },
    /// The OSD's background worker gives this PG a turn (one backfill
    /// batch or one object's recovery).
    Turn,
}

/// The two kinds of backfill reservation an OSD grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResKind {
    /// For a PG this OSD backfills from, as its primary.
    Local,
    /// For a PG this OSD is a backfill target of.
    Remote,
}

#[derive(Debug)]
pub enum Effect {
    Send {
        to: i32,
        env: PeerEnvelope,
    },
    /// One message to several members (a write to every replica): encoded
    /// once, its payload never copied per member.
    Broadcast {
        to: Vec<i32>,
        env: std::sync::Arc<PeerEnvelope>,
    },
    /// Apply, in the order emitted, then report `Committed(id)`.
    Store {
        id: u64,
        txn: Transaction,
    },
    Reply(OpReply),
    /// Ask the monitors to record that this OSD was alive through `epoch`.
    UpThru {
        epoch: u32,
    },
    /// Ask the monitors for a temporary acting set (Ceph's pg_temp) for
    /// this PG: `want`, or, when empty, the up set again.
    PgTemp {
        want: Vec<i32>,
    },
    /// Ask this OSD for a backfill slot (`osd_max_backfills`); answered
    /// with `Event::Reserved { kind, id }` when granted. Asking again
    /// replaces the earlier request.
    Reserve {
        kind: ResKind,
        prio: u8,
        id: u64,
    },
    /// Give back this PG's slot of that kind, or withdraw the request.
    Unreserve {
        kind: ResKind,
    },
    /// Ask the OSD's background worker for a turn (`Event::Turn`).
    WantTurn {
        prio: u8,
    },
    /// Bytes of object data a background step sent (for the worker's
    /// bandwidth limit and the metrics).
    Spent {
        bytes: u64,
    },
    /// This OSD's copy of the PG is no longer needed (its pool is gone,
    /// or the PG is clean on other OSDs): remove it. The engine is done.
    Delete,
}

/// Where the PG stands on this OSD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not a member, or a member waiting for its primary to activate it.
    Stray,
    /// Primary: asking the prior set for their infos.
    GetInfo,
    /// Primary: fetching the authoritative log from that member.
    GetLog(i32),
    /// Primary: waiting until the monitors record its up_thru.
    WaitUpThru,
    /// Primary: asked the monitors for another acting set (only complete
    /// copies may serve); waiting for the map that has it.
    WaitActingChange,
    /// Primary: waiting for the acting members to persist activation.
    Activating,
    /// Primary: serving (client I/O only with `min_size` members).
    Active,
    /// Primary: a past interval that may have written has no member up.
    Down,
    /// Primary: the PG went active in an interval none of the members
    /// that answered took part in (Ceph's `find_best_info` finds no
    /// acceptable log): writes may be missing, so it waits for an OSD of
    /// that interval rather than serve an older copy.
    Incomplete,
    /// Replica: activated by the current primary.
    ReplicaActive,
    /// The pool is gone.
    Deleted,
}
