//! The crate's one error type.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CrushError {
    /// Text that does not parse, with the line it was found on.
    #[error("line {line}: {msg}")]
    Parse { line: usize, msg: String },
    /// A map or an edit that would make the map inconsistent.
    #[error("invalid crush map: {0}")]
    Invalid(String),
    /// A name or id that the map does not have.
    #[error("{kind} {name} does not exist")]
    NotFound { kind: &'static str, name: String },
    /// A name or id that is already taken.
    #[error("{kind} {name} already exists")]
    Exists { kind: &'static str, name: String },
}

impl CrushError {
    pub(crate) fn not_found(kind: &'static str, name: impl ToString) -> CrushError {
        CrushError::NotFound {
            kind,
            name: name.to_string(),
        }
    }
    pub(crate) fn exists(kind: &'static str, name: impl ToString) -> CrushError {
        CrushError::Exists {
            kind,
            name: name.to_string(),
        }
    }
}
