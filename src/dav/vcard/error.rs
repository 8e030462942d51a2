//! Why vCard data was refused, as the CardDAV precondition a client is told.

use thiserror::Error;

/// Why vCard data was refused. Every variant maps to the
/// `CARDDAV:valid-address-data` precondition (RFC 6352 §6.3.2.1); the
/// message is the reason to show.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VcardError {
    #[error("vCard data is not valid UTF-8 (at byte {offset})")]
    NotUtf8 { offset: usize },

    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },

    #[error("vCard without VERSION")]
    MissingVersion,

    #[error("VERSION:{0} is not supported, only 2.1, 3.0 and 4.0")]
    UnsupportedVersion(String),

    #[error("vCard without UID; CardDAV needs one to tell contacts apart")]
    MissingUid,
}

impl VcardError {
    /// Local name of the CARDDAV condition element to report.
    pub fn precondition(&self) -> &'static str {
        "valid-address-data"
    }

    /// Namespace of the condition element.
    pub fn namespace(&self) -> &'static str {
        "urn:ietf:params:xml:ns:carddav"
    }
}
