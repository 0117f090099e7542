//! The one version type and the one request id of the cluster.
//!
//! A [`Version`] names a write in a PG: the map epoch its primary had and a
//! counter that grows within the PG (Ceph's `eversion_t`, printed
//! `epoch'counter`). Objects carry the version of their last write; PG logs
//! are ordered by it. A [`ReqId`] names a client request for its whole life,
//! across resends and primary changes, so that a resend of an applied write
//! is answered with the first result instead of being applied twice.

use std::fmt;

use rkyv::{Archive, Deserialize, Serialize};

/// Ordered by epoch, then counter.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
)]
pub struct Version {
    pub epoch: u32,
    pub counter: u64,
}

impl Version {
    pub const ZERO: Version = Version {
        epoch: 0,
        counter: 0,
    };
    pub fn new(epoch: u32, counter: u64) -> Version {
        Version { epoch, counter }
    }
}

/// Ceph's notation: `epoch'counter`.
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}'{}", self.epoch, self.counter)
    }
}

/// A client request: the client entity (as the OSD authenticated it, never
/// as the client claims), a nonce chosen per client instance (two
/// processes with the same entity name do not collide), and the request's
/// tid within that instance.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReqId {
    pub client: String,
    pub nonce: u64,
    pub tid: u64,
}

/// Ceph's notation: `client.admin.4711:12`.
impl fmt::Display for ReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:x}:{}", self.client, self.nonce, self.tid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_by_epoch_then_counter() {
        assert!(Version::new(2, 1) > Version::new(1, 99));
        assert!(Version::new(2, 2) > Version::new(2, 1));
        assert_eq!(Version::new(5, 7).to_string(), "5'7");
        let r = ReqId {
            client: "client.admin".into(),
            nonce: 0xab,
            tid: 3,
        };
        assert_eq!(r.to_string(), "client.admin.ab:3");
    }
}
