//! Strata's client side. [`MonClient`] is how every daemon and tool talks
//! to the monitors: it finds one that answers, retries while the quorum
//! elects a leader, and follows the OSDMap by subscription. The `strata`
//! admin CLI is built on it (src/bin/strata).

mod error;
pub mod monclient;

pub use error::ClientError;
pub use monclient::{MonClient, PushHandler};
