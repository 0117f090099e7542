//! Cluster types that monitors, OSDs and clients share.
//!
//! The versioned encoding of persisted and wire values ([`codec`]),
//! placement-group ids ([`pg`]), pools ([`pool`]) and erasure-code
//! profiles ([`ec_profile`]), the one placement
//! function every component calls ([`placement`]: object to PG by Ceph's
//! hash and stable-mod, PG to OSDs by the pool's CRUSH rule), the cluster
//! maps ([`monmap`], [`osdmap`] with its incrementals), the one version
//! type and request id ([`version`]) and the wire messages ([`msg`]).

pub mod codec;
pub mod ec_profile;
pub mod monmap;
pub mod msg;
pub mod osdmap;
pub mod pg;
pub mod placement;
pub mod pool;
pub mod version;

pub use ec_profile::EcProfile;
pub use monmap::{MonInfo, MonMap};
pub use osdmap::{Incremental, OsdInfo, OsdMap};
pub use pg::{mask_for, split_children, stable_mod, PgId};
pub use placement::{object_hash, object_pg, place_pg, OsdStates, Placement};
pub use pool::{Pool, PoolKind};
pub use version::{ReqId, Version};
