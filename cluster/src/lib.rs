//! Cluster types that monitors, OSDs and clients share.
//!
//! Today: the versioned encoding of persisted and wire values ([`codec`]),
//! placement-group ids ([`pg`]), pools ([`pool`]) and the one
//! placement function every component calls ([`placement`]): object to PG
//! by Ceph's hash and stable-mod, PG to OSDs by the pool's CRUSH rule. The
//! OSDMap that carries pools and OSD states comes with the monitor.

pub mod codec;
pub mod pg;
pub mod placement;
pub mod pool;

pub use pg::{stable_mod, PgId};
pub use placement::{object_hash, object_pg, place_pg, OsdStates, Placement};
pub use pool::{Pool, PoolKind};
