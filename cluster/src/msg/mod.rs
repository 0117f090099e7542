//! Wire messages, defined once for every daemon and client. Each travels
//! as one messenger frame whose type is one of [`msg_type`] and whose body
//! is the [`crate::codec`] encoding of the value.

pub mod error;
pub mod mon;
pub mod osd;

pub use error::{ErrorCode, RemoteError};

/// Frame types. Numbers are part of the protocol: never reuse one.
pub mod msg_type {
    /// A [`super::mon::MonRequest`] to a monitor.
    pub const MON_REQUEST: u16 = 10;
    /// A [`super::mon::MonReply`].
    pub const MON_REPLY: u16 = 11;
    /// A [`super::mon::MapUpdate`] pushed to a subscriber.
    pub const MAP_PUSH: u16 = 12;
    /// A request forwarded by a monitor to the leader: [`super::mon::Forwarded`].
    pub const MON_FORWARD: u16 = 13;
    /// Raft between monitors (openraft's own serde types, as JSON).
    pub const RAFT_APPEND: u16 = 20;
    pub const RAFT_VOTE: u16 = 21;
    pub const RAFT_SNAPSHOT: u16 = 22;
    pub const RAFT_REPLY: u16 = 23;
    /// OSD-to-OSD heartbeat: [`super::mon::Ping`] and its echo.
    pub const OSD_PING: u16 = 30;
    pub const OSD_PING_REPLY: u16 = 31;
    /// A client's [`super::osd::OsdOp`] to a PG's primary, and its
    /// [`super::osd::OsdOpReply`].
    pub const OSD_OP: u16 = 40;
    pub const OSD_OP_REPLY: u16 = 41;
    /// [`super::osd::ListObjects`] and [`super::osd::ListReply`].
    pub const OSD_LIST: u16 = 42;
    pub const OSD_LIST_REPLY: u16 = 43;
    // 44-51 were the first data path's replica, peering and recovery
    // requests, retired with it: never reuse them.
    /// OSD to OSD, one-way: a PG's peering, replication and recovery
    /// message (the OSD crate's `PeerEnvelope`).
    pub const PG_PEER: u16 = 52;
    /// `pg query`: [`super::osd::PgQuery`] to a PG's primary, and its
    /// [`super::osd::PgQueryReply`].
    pub const OSD_PG_QUERY: u16 = 53;
    pub const OSD_PG_QUERY_REPLY: u16 = 54;
}
