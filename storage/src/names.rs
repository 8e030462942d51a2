//! Names of files and folders: what is allowed, and the key they are compared by.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Result, StorageError};

/// The longest name accepted, in bytes; the common filesystem limit.
const MAX_NAME_BYTES: usize = 255;

/// The form a name is compared and indexed by: Unicode NFC.
///
/// macOS writes names in NFD, Windows and Linux in NFC; comparing NFC lets a file
/// written by one be found by the other while the name is stored as sent.
pub fn name_key(name: &str) -> String {
    name.nfc().collect()
}

/// Refuses names no client could round-trip safely.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "a name cannot be empty"
    } else if name == "." || name == ".." {
        "\".\" and \"..\" are not names"
    } else if name.len() > MAX_NAME_BYTES {
        "a name is limited to 255 bytes"
    } else if name.contains(['/', '\0']) {
        "a name cannot contain \"/\" or NUL"
    } else if name.chars().any(char::is_control) {
        "a name cannot contain control characters"
    } else {
        return Ok(());
    };
    Err(StorageError::Invalid(reason.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfd_and_nfc_share_a_key() {
        let nfd = "Cafe\u{301}";
        let nfc = "Caf\u{e9}";
        assert_ne!(nfd, nfc);
        assert_eq!(name_key(nfd), name_key(nfc));
    }

    #[test]
    fn refuses_unsafe_names() {
        for bad in ["", ".", "..", "a/b", "a\0b", "tab\there"] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(validate_name(&"x".repeat(256)).is_err());
        for good in ["a", "with space", "Ünïcødé", "._AppleDouble", "a\\b"] {
            assert!(validate_name(good).is_ok(), "{good:?} should be accepted");
        }
    }
}
