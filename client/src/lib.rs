//! Strata's client side: [`Rados`], the object client, on top of the
//! monitor client ([`MonClient`], from the `monclient` crate, re-exported
//! here), and the `strata` admin CLI (src/bin/strata) and `strados`.

pub mod operation;
pub mod rados;

pub use monclient::{ClientError, MonClient, PushHandler};
pub use operation::{ObjectOperation, OpResult};
pub use rados::{pool_usage, IoCtx, ObjStat, ObjVersion, PoolUsage, Rados};
