//! Typed errors for the corpus side. Every variant that concerns a file says
//! which one, and a record error says which line, so a user can find it.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The I/O error is part of the message, not a separate source, so
    /// error chains print it once.
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Record { path: PathBuf, line: u64, message: String },
    #[error("{path}: {message}\nHINT: {hint}")]
    Input { path: PathBuf, message: String, hint: String },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into(), hint: hint.into() }
    }

    /// Record-level errors are "soft": callers count and skip them unless the
    /// run is `--strict`. Everything else stops the run.
    pub fn is_record_error(&self) -> bool {
        matches!(self, Error::Record { .. })
    }
}
