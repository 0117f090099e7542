//! The OSD protocol: client operations on objects (compound and atomic,
//! as librados' `ObjectOperation`), their replies, and listing. Payloads
//! (written bytes, read bytes) travel in the frame's data section, never
//! in the encoded body: an op says how long its payload is, and payloads
//! follow one another in op order.

use rkyv::{Archive, Deserialize, Serialize};

use super::error::RemoteError;

/// One step of a compound operation. Steps that write need payload bytes
/// (`len` of them, taken in order from the frame's data).
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum ObjOp {
    /// Creates the object; with `exclusive`, fails with EEXIST if it exists.
    Create {
        exclusive: bool,
    },
    WriteFull {
        len: u64,
    },
    Write {
        offset: u64,
        len: u64,
    },
    Append {
        len: u64,
    },
    Truncate {
        size: u64,
    },
    Zero {
        offset: u64,
        len: u64,
    },
    Remove,
    SetXattr {
        name: String,
        len: u64,
    },
    RmXattr {
        name: String,
    },
    OmapSet {
        keys: Vec<String>,
        lens: Vec<u64>,
    },
    OmapRmKeys {
        keys: Vec<String>,
    },
    OmapClear,
    OmapSetHeader {
        len: u64,
    },
    /// Reads `len` bytes at `offset` (0: to the end).
    Read {
        offset: u64,
        len: u64,
    },
    Stat,
    GetXattr {
        name: String,
    },
    ListXattrs,
    OmapGetKeys {
        keys: Vec<String>,
    },
    OmapGetRange {
        start_after: String,
        prefix: String,
        max: u32,
    },
    OmapGetHeader,
    /// Fails with ECANCELED-like `Mismatch` unless the object's bytes at
    /// `offset` equal the `len` payload bytes.
    CmpExt {
        offset: u64,
        len: u64,
    },
    /// Fails unless the object's version is exactly this.
    AssertVersion {
        epoch: u32,
        counter: u64,
    },
    AssertExists,
}

impl ObjOp {
    /// Does this step change the object?
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            ObjOp::Create { .. }
                | ObjOp::WriteFull { .. }
                | ObjOp::Write { .. }
                | ObjOp::Append { .. }
                | ObjOp::Truncate { .. }
                | ObjOp::Zero { .. }
                | ObjOp::Remove
                | ObjOp::SetXattr { .. }
                | ObjOp::RmXattr { .. }
                | ObjOp::OmapSet { .. }
                | ObjOp::OmapRmKeys { .. }
                | ObjOp::OmapClear
                | ObjOp::OmapSetHeader { .. }
        )
    }

    /// Payload bytes this step takes from the frame's data.
    pub fn payload_len(&self) -> u64 {
        match self {
            ObjOp::WriteFull { len }
            | ObjOp::Write { len, .. }
            | ObjOp::Append { len }
            | ObjOp::SetXattr { len, .. }
            | ObjOp::OmapSetHeader { len }
            | ObjOp::CmpExt { len, .. } => *len,
            // Saturating: lengths come off the wire, and a total that
            // overflows must fail the payload check, not wrap past it.
            ObjOp::OmapSet { lens, .. } => lens.iter().fold(0u64, |a, l| a.saturating_add(*l)),
            _ => 0,
        }
    }

    pub fn is_guard(&self) -> bool {
        matches!(
            self,
            ObjOp::CmpExt { .. } | ObjOp::AssertVersion { .. } | ObjOp::AssertExists
        )
    }
}

/// A client's compound operation on one object.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OsdOp {
    /// The client instance's nonce (random per process) and its id for
    /// the request (tid): with the client's authenticated entity they make
    /// the request's [`crate::ReqId`], by which a resend is recognised by
    /// any primary, before or after a failure.
    pub nonce: u64,
    pub reqid: u64,
    /// The map epoch the client placed the object with.
    pub epoch: u32,
    pub pool: u64,
    /// The PG the client computed (the OSD checks it).
    pub pg_seed: u32,
    pub ns: String,
    pub name: String,
    pub ops: Vec<ObjOp>,
}

/// What a read step produced. `Data` bytes are in the reply's data
/// section, in step order.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum OpOutput {
    None,
    Data {
        len: u64,
    },
    Stat {
        size: u64,
        mtime_ns: u64,
        epoch: u32,
        counter: u64,
    },
    Xattrs(Vec<(String, Vec<u8>)>),
    Omap {
        entries: Vec<(String, Vec<u8>)>,
        more: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OsdOpReply {
    /// `None` on success. On failure, which step failed.
    pub error: Option<RemoteError>,
    pub failed_step: Option<u32>,
    /// The object's version after the op (a write returns the new one).
    pub epoch: u32,
    pub counter: u64,
    pub outputs: Vec<OpOutput>,
    /// The epoch the OSD had, so a client with an older map refreshes.
    pub osd_epoch: u32,
}

/// Lists one PG's objects, `max` at a time after `cursor` (opaque,
/// empty at the start).
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ListObjects {
    pub epoch: u32,
    pub pool: u64,
    pub pg_seed: u32,
    pub ns: Option<String>,
    pub cursor: Vec<u8>,
    pub max: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ListReply {
    pub error: Option<RemoteError>,
    /// (namespace, name)
    pub objects: Vec<(String, String)>,
    /// Empty when the PG is done.
    pub next: Vec<u8>,
}

/// `pg query`: a PG's peering state, asked of its primary.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct PgQuery {
    pub epoch: u32,
    pub pool: u64,
    pub pg_seed: u32,
}

/// The PG's state as JSON (Ceph's `pg query` is JSON in every format).
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct PgQueryReply {
    pub error: Option<RemoteError>,
    pub json: String,
}
