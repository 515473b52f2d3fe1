//! The one error type of the core. Every message names what is wrong and, where it can, what to do.

use thiserror::Error;

/// Everything the core can refuse.
#[derive(Debug, Error)]
pub enum CvmError {
    /// A blob (concept space, student, snapshot) is malformed; `what` names the blob.
    #[error("{what}: {reason}")]
    InvalidBlob { what: &'static str, reason: String },

    /// A blob is newer than this build understands.
    #[error("{what} has format version {found}, but this build reads versions up to {supported}; update the library")]
    NewerVersion { what: &'static str, found: u32, supported: u32 },

    /// A concept name is not in the vocabulary.
    #[error("\"{name}\" is not in the concept vocabulary{}", suggestion_text(.suggestions))]
    UnknownConcept { name: String, suggestions: Vec<String> },

    /// A class was named that the learner does not know.
    #[error("no class named \"{0}\": add it with add_class first")]
    UnknownClass(String),

    /// A class was added twice.
    #[error("class \"{0}\" already exists")]
    DuplicateClass(String),

    /// An argument is out of range or inconsistent.
    #[error("{0}")]
    InvalidArgument(String),

    /// An image does not match its declared size or format.
    #[error("invalid image: {0}")]
    InvalidImage(String),

    /// The operation needs something the learner does not have yet.
    #[error("{0}")]
    NotReady(String),

    /// The compute backend failed (device lost, readback failed).
    #[error("compute backend error: {0}")]
    Backend(String),
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() { String::new() } else { format!("; did you mean: {}?", suggestions.join(", ")) }
}

impl CvmError {
    pub(crate) fn blob(what: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidBlob { what, reason: reason.into() }
    }

    pub(crate) fn arg(reason: impl Into<String>) -> Self {
        Self::InvalidArgument(reason.into())
    }
}

impl From<burn::tensor::ExecutionError> for CvmError {
    fn from(err: burn::tensor::ExecutionError) -> Self {
        Self::Backend(err.to_string())
    }
}

/// Result with [`CvmError`].
pub type Result<T, E = CvmError> = core::result::Result<T, E>;
