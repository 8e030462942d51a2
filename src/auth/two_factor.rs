//! Two-factor authentication: enrolment, confirmation with backup codes, and checks of a
//! code or backup code, new backup codes, and the operator's reset. The CLI and the portal
//! call this; the rules live here.
//!
//! While the second factor is on, the account password does not sign sync clients in
//! (see [`super::Authenticator`]); they use app passwords.

use data_encoding::BASE32_NOPAD;
use davgate_storage::{Account, AuditEvent, AuditSource, StorageError, Store, TotpState};

use super::app_password;
use super::password::hash_now;
use super::seal::Sealer;
use super::totp;

/// Backup codes issued at confirmation.
pub const BACKUP_CODES: usize = 10;

/// What to show the user to enrol an authenticator app.
pub struct Enrollment {
    /// `otpauth://` URI.
    pub uri: String,
    /// The secret in base32, for typing by hand.
    pub secret: String,
    /// The URI as a QR code drawn for a terminal.
    pub qr: String,
}

/// Why a two-factor step failed.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    /// Enrolling again while it is on.
    #[error("two-factor authentication is already on; disable it first to enrol again")]
    AlreadyOn,
    /// Confirming without a pending enrolment.
    #[error("no enrolment is waiting: run `davgate 2fa enable USER` first")]
    NotPending,
    /// Disabling while it is off.
    #[error("two-factor authentication is not on for this account")]
    NotOn,
    /// The code is wrong, too old, or was already used.
    #[error(
        "the code is wrong, expired or already used; enter the current 6-digit code or an unused backup code"
    )]
    WrongCode,
    /// The stored secret cannot be opened with this server key.
    #[error(
        "the stored secret cannot be opened with this data directory's server.key; was the key replaced?"
    )]
    Unsealable,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Two-factor operations on one store.
#[derive(Clone)]
pub struct TwoFactor {
    store: Store,
    sealer: std::sync::Arc<Sealer>,
    /// Who the audit log names as making the changes.
    source: AuditSource,
}

impl TwoFactor {
    /// Uses `server_key` to seal and open TOTP secrets.
    pub fn new(store: Store, server_key: &[u8; 32]) -> Self {
        TwoFactor {
            store,
            sealer: std::sync::Arc::new(Sealer::new(server_key, "totp secret")),
            source: AuditSource::cli(),
        }
    }

    /// The same operations, audited as made by a client at `source`.
    pub fn by(&self, source: AuditSource) -> Self {
        TwoFactor {
            store: self.store.clone(),
            sealer: self.sealer.clone(),
            source,
        }
    }

    /// Generates a secret and stores it, pending confirmation by a first code.
    pub async fn enroll(&self, account: &Account) -> Result<Enrollment, TwoFactorError> {
        if matches!(account.totp, TotpState::On { .. }) {
            return Err(TwoFactorError::AlreadyOn);
        }
        let secret = totp::new_secret();
        self.store
            .set_totp_pending_by(account.id, &self.sealer.seal(&secret), &self.source)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => TwoFactorError::AlreadyOn,
                e => e.into(),
            })?;
        let uri = totp::uri(&secret, &account.username);
        Ok(Enrollment {
            qr: totp::qr_for_terminal(&uri),
            secret: BASE32_NOPAD.encode(&secret),
            uri,
        })
    }

    /// Turns the second factor on if `code` matches the pending secret; returns the
    /// backup codes, shown once and stored only as hashes.
    pub async fn confirm(
        &self,
        account: &Account,
        code: &str,
        now_secs: i64,
    ) -> Result<Vec<String>, TwoFactorError> {
        let TotpState::Pending { sealed } = &account.totp else {
            return Err(TwoFactorError::NotPending);
        };
        let secret = self.sealer.open(sealed).ok_or(TwoFactorError::Unsealable)?;
        let step = totp::matching_step(&secret, code, now_secs).ok_or(TwoFactorError::WrongCode)?;
        let (codes, hashes) = new_backup_codes().await?;
        self.store
            .enable_totp_by(account.id, step, &hashes, &self.source)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => TwoFactorError::NotPending,
                e => e.into(),
            })?;
        Ok(codes)
    }

    /// Accepts a current TOTP code (each once) or an unused backup code (each once).
    pub async fn verify(
        &self,
        account: &Account,
        code: &str,
        now_secs: i64,
    ) -> Result<(), TwoFactorError> {
        let TotpState::On { sealed, .. } = &account.totp else {
            return Err(TwoFactorError::NotOn);
        };
        let secret = self.sealer.open(sealed).ok_or(TwoFactorError::Unsealable)?;
        if let Some(step) = totp::matching_step(&secret, code, now_secs) {
            return match self.store.accept_totp_step(account.id, step).await? {
                true => Ok(()),
                false => Err(TwoFactorError::WrongCode),
            };
        }
        let candidate = normalize(code);
        if candidate.len() != 10 {
            return Err(TwoFactorError::WrongCode);
        }
        for (id, hash) in self.store.unused_backup_codes(account.id).await? {
            let candidate = candidate.clone();
            let matches =
                tokio::task::spawn_blocking(move || super::password::verify_now(&candidate, &hash))
                    .await
                    .unwrap_or(false);
            if matches
                && self
                    .store
                    .use_backup_code_by(account.id, id, &self.source)
                    .await?
            {
                return Ok(());
            }
        }
        Err(TwoFactorError::WrongCode)
    }

    /// Turns the second factor off, given a current code or a backup code.
    pub async fn disable(
        &self,
        account: &Account,
        code: &str,
        now_secs: i64,
    ) -> Result<(), TwoFactorError> {
        self.verify(account, code, now_secs).await?;
        self.store
            .disable_totp_by(account.id, AuditEvent::TwoFactorDisabled, &self.source)
            .await?;
        Ok(())
    }

    /// Replaces the backup codes, given a current code (or an unused backup code);
    /// returns the new ones, shown once.
    pub async fn regenerate(
        &self,
        account: &Account,
        code: &str,
        now_secs: i64,
    ) -> Result<Vec<String>, TwoFactorError> {
        self.verify(account, code, now_secs).await?;
        let (codes, hashes) = new_backup_codes().await?;
        self.store
            .replace_backup_codes(account.id, &hashes, &self.source)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => TwoFactorError::NotOn,
                e => e.into(),
            })?;
        Ok(codes)
    }

    /// The operator's recovery for an owner who lost both phone and backup codes: the
    /// second factor goes off without a code (pending enrolment included), audited.
    pub async fn reset(&self, account: &Account) -> Result<(), TwoFactorError> {
        if matches!(account.totp, TotpState::Off) {
            return Err(TwoFactorError::NotOn);
        }
        self.store
            .disable_totp_by(account.id, AuditEvent::TwoFactorReset, &self.source)
            .await?;
        Ok(())
    }
}

/// Fresh backup codes and their hashes (hashed off the reactor).
async fn new_backup_codes() -> Result<(Vec<String>, Vec<String>), TwoFactorError> {
    let codes: Vec<String> = (0..BACKUP_CODES).map(|_| backup_code()).collect();
    let plain = codes.clone();
    let hashes = tokio::task::spawn_blocking(move || {
        plain
            .iter()
            .map(|c| hash_now(&normalize(c)))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| StorageError::Io(std::io::Error::other(e.to_string())))?;
    Ok((codes, hashes))
}

/// A backup code: ten base32 characters (50 bits), shown as two groups of five.
fn backup_code() -> String {
    let chars = app_password::random_base32(10);
    format!("{}-{}", &chars[..5], &chars[5..])
}

fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_codes_are_two_groups_of_five_lowercase_base32() {
        let code = backup_code();
        let (first, second) = code.split_once('-').expect("one hyphen");
        assert_eq!((first.len(), second.len()), (5, 5), "{code}");
        assert!(
            code.bytes()
                .all(|b| b == b'-' || b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
            "{code}"
        );
        assert_eq!(normalize(&code.to_uppercase()), format!("{first}{second}"));
    }
}
