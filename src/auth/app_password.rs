//! The app password format: a public id and a secret in characters every client accepts.
//!
//! `k7q2m9xa-3vd7hzp-qe4lw2n-b6yr5tc-jx2fm7k`: eight base32 characters of public id (so a
//! check needs one hash, not one per stored password, as Stalwart does it) and 28 of
//! secret, 140 bits. Lowercase letters and digits 2-7 only, in groups joined by
//! hyphens, no spaces: NAS and Apple password dialogs accept it, and it survives being
//! typed. Hyphens and case are ignored when it is checked.
//!
//! [`create`] issues one: the CLI and the portal both go through it.

use std::sync::LazyLock;
use std::time::Duration;

use data_encoding::{Encoding, Specification};
use davgate_storage::{AccountId, AppPassword, AuditSource, NewAppPassword, StorageError, Store};

use super::password::hash_now;
use super::scope::Scopes;

/// RFC 4648 base32 in lowercase and unpadded, the alphabet of app passwords and backup
/// codes. Trailing bits are not checked: a password is a string of these characters,
/// not the encoding of a whole number of bytes.
static LOWER_BASE32: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
    spec.check_trailing_bits = false;
    // Invariant: 32 distinct ASCII symbols, no padding, is a valid base32 specification.
    spec.encoding()
        .expect("lowercase base32 specification is valid")
});
/// Length of the public id, in characters.
pub const ID_LEN: usize = 8;
/// Length of the secret, in characters (5 bits each: 140 bits).
pub const SECRET_LEN: usize = 28;

/// A newly generated app password.
pub struct Generated {
    /// The public id, stored in the clear.
    pub public_id: String,
    /// The secret, stored only as a hash.
    pub secret: String,
    /// What the user types: id and secret in hyphenated groups.
    pub display: String,
}

/// Generates a fresh app password.
pub fn generate() -> Generated {
    let public_id = random_base32(ID_LEN);
    let secret = random_base32(SECRET_LEN);
    let mut display = public_id.clone();
    for group in secret.as_bytes().chunks(7) {
        display.push('-');
        display.push_str(std::str::from_utf8(group).expect("base32 is ASCII"));
    }
    Generated {
        public_id,
        secret,
        display,
    }
}

/// Longest name of an app password, in characters.
pub const MAX_NAME: usize = 100;

/// What a new app password is for.
#[derive(Debug, Clone)]
pub struct Request {
    /// What the owner calls it ("rclone on the VPS").
    pub name: String,
    /// Where it may go.
    pub scopes: Scopes,
    /// Reading and syncing down only.
    pub read_only: bool,
    /// Stops working after this long.
    pub expires_in: Option<Duration>,
}

/// Why an app password was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The name is empty or too long.
    #[error("give the app password a name of 1 to 100 characters")]
    Name,
    /// No scope was chosen.
    #[error("choose at least one of files, calendars and contacts")]
    NoScope,
    /// Two random public ids met (1 in 10^12).
    #[error("an id collision happened (1 in 10^12): try again")]
    Collision,
    /// The hashing task died.
    #[error("the hashing task failed")]
    Task,
    /// The store failed.
    #[error(transparent)]
    Storage(StorageError),
}

/// Generates an app password, stores its hash and audits it for `source`; the
/// password is in the returned [`Generated`], to be shown once.
pub async fn create(
    store: &Store,
    account: AccountId,
    request: Request,
    source: &AuditSource,
) -> Result<(Generated, AppPassword), CreateError> {
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(CreateError::Name);
    }
    if request.scopes.bits() == 0 {
        return Err(CreateError::NoScope);
    }
    let generated = generate();
    let secret = generated.secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || hash_now(&secret))
        .await
        .map_err(|_| CreateError::Task)?;
    let expires_ms = request
        .expires_in
        .map(|d| davgate_storage::now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
    let new = NewAppPassword {
        public_id: generated.public_id.clone(),
        name,
        scopes: request.scopes.bits(),
        read_only: request.read_only,
        secret_hash,
        expires_ms,
    };
    let stored = store
        .create_app_password_by(account, new, source)
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => CreateError::Collision,
            e => CreateError::Storage(e),
        })?;
    Ok((generated, stored))
}

/// Splits a password into public id and secret if it has the app password shape.
pub fn parse(password: &str) -> Option<(String, String)> {
    // Pasted from a page or a password manager: surrounding spaces and upper case come
    // along, and the code is case-insensitive by design.
    let compact: String = password
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if compact.len() != ID_LEN + SECRET_LEN || LOWER_BASE32.decode(compact.as_bytes()).is_err() {
        return None;
    }
    let (id, secret) = compact.split_at(ID_LEN);
    Some((id.to_owned(), secret.to_owned()))
}

/// `n` random characters of lowercase base32 (5 random bits each).
pub(crate) fn random_base32(n: usize) -> String {
    let bytes: Vec<u8> = (0..(n * 5).div_ceil(8)).map(|_| rand::random()).collect();
    let mut text = LOWER_BASE32.encode(&bytes);
    text.truncate(n);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_is_lowercase_rfc4648_base32() {
        let all = "abcdefghijklmnopqrstuvwxyz234567abcd";
        assert_eq!(
            parse(all),
            Some(("abcdefgh".into(), "ijklmnopqrstuvwxyz234567abcd".into()))
        );
        assert_eq!(parse(&all.to_uppercase()), parse(all));
        for foreign in ['0', '1', '8', '9', '=', '_'] {
            let bad: String = all.replacen('a', &foreign.to_string(), 1);
            assert_eq!(parse(&bad), None, "{foreign}");
        }
        for n in [8, 10, 28] {
            let chars = random_base32(n);
            assert_eq!(chars.len(), n);
            assert!(
                chars.bytes().all(|b| all.as_bytes().contains(&b)),
                "{chars}"
            );
        }
    }

    #[test]
    fn generated_passwords_parse_back_and_carry_no_spaces() {
        let g = generate();
        assert_eq!(g.display.len(), ID_LEN + SECRET_LEN + 4);
        assert!(
            g.display
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_eq!(
            parse(&g.display),
            Some((g.public_id.clone(), g.secret.clone()))
        );
        assert_eq!(
            parse(&g.display.to_uppercase()),
            Some((g.public_id.clone(), g.secret.clone()))
        );
        assert_eq!(
            parse(&g.display.replace('-', "")),
            Some((g.public_id, g.secret))
        );
        assert_ne!(generate().display, generate().display);
    }

    #[test]
    fn account_passwords_are_not_app_passwords() {
        for p in [
            "correct horse battery staple",
            "short",
            &"a".repeat(36).replace('a', "1"),
        ] {
            assert_eq!(parse(p), None, "{p}");
        }
    }
}
