//! Errors crossing into JavaScript: every failure becomes a JS `Error` with a message a person can act on, a
//! stable `name` a program can branch on (`ErrorName` in the TypeScript declarations), and the suggestions an
//! unknown concept name comes with.

use cvm::CvmError;
use wasm_bindgen::JsValue;

use crate::shapes::ErrorName;

#[derive(Debug)]
pub struct Error {
    message: String,
    /// The JS `name`: the kind of failure.
    name: ErrorName,
    /// Vocabulary names close to an unknown one (`UnknownConceptError` only).
    suggestions: Vec<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A failure of no particular kind: JS's plain `"Error"`.
    pub fn msg(message: impl Into<String>) -> Self {
        Self { message: message.into(), name: ErrorName::Error, suggestions: Vec::new() }
    }

    /// An image the package cannot read, or whose bytes do not match its size.
    pub fn image(message: impl Into<String>) -> Self {
        Self { name: ErrorName::InvalidImageError, ..Self::msg(message) }
    }

    /// A call made while another is still running.
    pub fn busy(message: impl Into<String>) -> Self {
        Self { name: ErrorName::BusyError, ..Self::msg(message) }
    }

    /// A thrown JS value, described.
    pub fn js(value: JsValue) -> Self {
        let text = js_sys::Reflect::get(&value, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .or_else(|| value.as_string())
            .unwrap_or_else(|| format!("{value:?}"));
        Self::msg(text)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<CvmError> for Error {
    fn from(e: CvmError) -> Self {
        let name = match &e {
            CvmError::InvalidBlob { .. } => ErrorName::InvalidBlobError,
            CvmError::NewerVersion { .. } => ErrorName::NewerVersionError,
            CvmError::UnknownConcept { .. } => ErrorName::UnknownConceptError,
            CvmError::UnknownClass(_) => ErrorName::UnknownClassError,
            CvmError::DuplicateClass(_) => ErrorName::DuplicateClassError,
            CvmError::InvalidArgument(_) => ErrorName::InvalidArgumentError,
            CvmError::InvalidImage(_) => ErrorName::InvalidImageError,
            CvmError::NotReady(_) => ErrorName::NotReadyError,
            CvmError::Backend(_) => ErrorName::BackendError,
        };
        let message = e.to_string();
        let suggestions = match e {
            CvmError::UnknownConcept { suggestions, .. } => suggestions,
            _ => Vec::new(),
        };
        Self { message, name, suggestions }
    }
}

impl From<Error> for JsValue {
    fn from(e: Error) -> Self {
        let error = js_sys::Error::new(&e.message);
        error.set_name(e.name.as_str());
        if e.name == ErrorName::UnknownConceptError {
            let suggestions: js_sys::Array = e.suggestions.iter().map(|s| JsValue::from_str(s)).collect();
            // Setting a property on a fresh Error object cannot fail.
            let _ = js_sys::Reflect::set(&error, &"suggestions".into(), &suggestions);
        }
        error.into()
    }
}
