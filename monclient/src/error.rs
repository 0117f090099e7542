//! The crate's one error type.

use cluster::msg::{ErrorCode, RemoteError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The cluster answered with an error.
    #[error("{0}")]
    Remote(RemoteError),
    #[error("no monitor answered within {secs:.0}s (tried {tried}): {last}")]
    NoMonitor {
        secs: f64,
        tried: String,
        last: String,
    },
    #[error("{0}")]
    Config(String),
    /// An object operation did not complete within the op timeout.
    #[error("the operation did not complete within {secs:.0}s: {last}")]
    Timeout { secs: f64, last: String },
    #[error("{0}")]
    Messenger(#[from] messenger::MessengerError),
    #[error("unexpected reply from {from}: {what}")]
    Protocol { from: String, what: String },
}

impl ClientError {
    /// The errno a CLI exits with (Ceph's tools exit with the error's errno).
    pub fn errno(&self) -> i32 {
        self.code().errno()
    }

    /// The error's stable code: the cluster's own for its answers, and for
    /// local failures the nearest one (a bad config is EINVAL, no monitor
    /// in time ETIMEDOUT, a refused handshake EPERM, anything else EIO).
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::Remote(r) => r.code,
            ClientError::NoMonitor { .. } | ClientError::Timeout { .. } => ErrorCode::Timeout,
            ClientError::Config(_) => ErrorCode::Invalid,
            ClientError::Messenger(messenger::MessengerError::Handshake { .. }) => {
                ErrorCode::PermissionDenied
            }
            ClientError::Messenger(_) | ClientError::Protocol { .. } => ErrorCode::Io,
        }
    }
}
