//! Errors that cross the wire: a stable code (errno-valued, as Ceph's
//! are) and a message that names the thing and the reason.

use rkyv::{Archive, Deserialize, Serialize};

/// Stable error codes. The numbers are errno values and never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum ErrorCode {
    /// EPERM: the caller's capabilities do not allow it.
    PermissionDenied,
    /// ENOENT
    NotFound,
    /// EAGAIN: try again (no leader yet, map moving).
    Again,
    /// EBUSY: in use (a pool's rule, a bucket with items).
    Busy,
    /// EEXIST
    Exists,
    /// EINVAL
    Invalid,
    /// ENOSPC
    Full,
    /// ETIMEDOUT
    Timeout,
    /// EIO: the daemon failed to do it (storage, internal).
    Io,
    /// ECANCELED: a guard (cmpext, assert_version) did not hold.
    Mismatch,
    /// EFBIG: beyond the maximum object size.
    TooBig,
}

impl ErrorCode {
    pub fn errno(self) -> i32 {
        match self {
            ErrorCode::PermissionDenied => 1,
            ErrorCode::NotFound => 2,
            ErrorCode::Io => 5,
            ErrorCode::Again => 11,
            ErrorCode::Busy => 16,
            ErrorCode::Exists => 17,
            ErrorCode::Invalid => 22,
            ErrorCode::Full => 28,
            ErrorCode::Timeout => 110,
            ErrorCode::Mismatch => 125,
            ErrorCode::TooBig => 27,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::PermissionDenied => "EPERM",
            ErrorCode::NotFound => "ENOENT",
            ErrorCode::Io => "EIO",
            ErrorCode::Again => "EAGAIN",
            ErrorCode::Busy => "EBUSY",
            ErrorCode::Exists => "EEXIST",
            ErrorCode::Invalid => "EINVAL",
            ErrorCode::Full => "ENOSPC",
            ErrorCode::Timeout => "ETIMEDOUT",
            ErrorCode::Mismatch => "ECANCELED",
            ErrorCode::TooBig => "EFBIG",
        }
    }
}

/// An error a daemon answered with.
#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub code: ErrorCode,
    pub message: String,
}

impl RemoteError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> RemoteError {
        RemoteError {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> RemoteError {
        RemoteError::new(ErrorCode::NotFound, m)
    }
    pub fn exists(m: impl Into<String>) -> RemoteError {
        RemoteError::new(ErrorCode::Exists, m)
    }
    pub fn invalid(m: impl Into<String>) -> RemoteError {
        RemoteError::new(ErrorCode::Invalid, m)
    }
    pub fn denied(m: impl Into<String>) -> RemoteError {
        RemoteError::new(ErrorCode::PermissionDenied, m)
    }
    pub fn busy(m: impl Into<String>) -> RemoteError {
        RemoteError::new(ErrorCode::Busy, m)
    }
    pub fn again(m: impl Into<String>) -> RemoteError {
        RemoteError::new(ErrorCode::Again, m)
    }
    /// ENOSPC: the cluster (an OSD the object's PG uses) is full.
    pub fn full(m: impl Into<String>) -> RemoteError {
        RemoteError::new(ErrorCode::Full, m)
    }
}
