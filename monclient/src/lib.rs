//! Every node's link to the monitors. [`MonClient`] finds a monitor that
//! answers, retries while the quorum elects a leader, and follows the
//! OSDMap by subscription (map pushes are taken only from monitors). It
//! sits below both the OSD and the client library, so that the OSD does
//! not depend on the client.

mod error;
pub mod monclient;

pub use error::ClientError;
pub use monclient::{MonClient, PushHandler};
