//! Wire messages, defined once for every daemon and client. Each travels
//! as one messenger frame whose type is one of [`msg_type`] and whose body
//! is the [`crate::codec`] encoding of the value.

pub mod error;
pub mod mon;

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
}
