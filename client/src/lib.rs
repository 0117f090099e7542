//! Strata's client side. [`MonClient`] is how every daemon and tool talks
//! to the monitors: it finds one that answers, retries while the quorum
//! elects a leader, and follows the OSDMap by subscription. [`Rados`] is
//! the object client on top of it. The `strata` admin CLI is built on
//! them (src/bin/strata).

mod error;
pub mod monclient;
pub mod operation;
pub mod rados;

pub use error::ClientError;
pub use monclient::{MonClient, PushHandler};
pub use operation::{ObjectOperation, OpResult};
pub use rados::{pool_usage, IoCtx, ObjStat, ObjVersion, PoolUsage, Rados};
