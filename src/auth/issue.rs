//! Issuing a new app password: validate its name, generate it, hash it off the reactor,
//! store it. The one path for the CLI, the portal and device profiles, so every app
//! password is listed and revoked the same way whoever made it.

use davgate_storage::{AccountId, NewAppPassword, StorageError, Store};

use super::app_password::{self, Generated};
use super::password::hash_now;
use super::scope::Scopes;

/// The longest app password name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What the new app password may do.
#[derive(Debug, Clone)]
pub struct AppPasswordSpec {
    /// What it is for ("rclone on the VPS", "Anna's iPhone").
    pub name: String,
    /// Where it may go.
    pub scopes: Scopes,
    /// Reading and syncing down only.
    pub read_only: bool,
    /// When it stops working (ms since the epoch), if ever.
    pub expires_ms: Option<i64>,
}

/// Why no app password was issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The name is empty or too long.
    #[error("give the app password a name of 1 to {MAX_NAME_CHARS} characters")]
    BadName,
    /// The random public id collided with a stored one (about 1 in 10^12).
    #[error("an id collision happened (1 in 10^12): try again")]
    IdCollision,
    /// Hashing or storing failed.
    #[error("{0}")]
    Storage(#[from] StorageError),
}

/// Creates an app password for `account` and returns it; its secret exists nowhere
/// else, so the caller shows it once.
pub async fn issue(
    store: &Store,
    account: AccountId,
    spec: AppPasswordSpec,
) -> Result<Generated, IssueError> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(IssueError::BadName);
    }
    let generated = app_password::generate();
    let secret = generated.secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || hash_now(&secret))
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e.to_string())))?;
    let new = NewAppPassword {
        public_id: generated.public_id.clone(),
        name: name.to_owned(),
        scopes: spec.scopes.bits(),
        read_only: spec.read_only,
        secret_hash,
        expires_ms: spec.expires_ms,
    };
    store
        .create_app_password(account, new)
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => IssueError::IdCollision,
            e => IssueError::Storage(e),
        })?;
    Ok(generated)
}
