//! The crate's one error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("'{0}' is not an entity name (expected mon.ID, osd.N or client.ID; IDs use a-z, 0-9, '-' and '.')")]
    BadEntity(String),
    #[error("bad caps: {0}")]
    BadCaps(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("keyring {path}: {reason}")]
    Keyring { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl From<rcgen::Error> for AuthError {
    fn from(e: rcgen::Error) -> Self {
        AuthError::Certificate(e.to_string())
    }
}
