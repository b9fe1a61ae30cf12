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
    /// A remote service (an OpenAI-compatible endpoint) failed or answered something unusable.
    #[error(
        "{endpoint}: {message}\nHINT: check the URL ends in /v1, the server is up, the model name, and OPENAI_API_KEY"
    )]
    Remote { endpoint: String, message: String },
    /// What labels the documents (an annotator, a classifier, an endpoint) failed on one
    /// document: the run stops (never a skipped document), the cause kept as the source.
    #[error(
        "{path}: document `{doc}`: labelling failed (check the annotator: endpoint URL and model, classifier file)"
    )]
    Labeler {
        path: PathBuf,
        doc: String,
        #[source]
        source: Box<Error>,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A problem with one record — a malformed field, a span outside its document's text — that
/// the run skips and counts (exit 1), or stops on under `--strict`. A type of its own, apart
/// from [`Error`], so that nothing else (a remote failure, a bad file, a broken annotator) can
/// be taken for it and skip a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRecord(pub String);

impl Error {
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into(), hint: hint.into() }
    }

    pub fn remote(endpoint: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Remote { endpoint: endpoint.into(), message: message.into() }
    }

    /// Record-level errors are "soft": callers count and skip them unless the
    /// run is `--strict`. Everything else stops the run.
    pub fn is_record_error(&self) -> bool {
        matches!(self, Error::Record { .. })
    }
}
