//! An account as read: [`Account`], its second-factor state and the row it is read from.

use sqlx::FromRow;

use crate::ids::{AccountId, NodeId};

/// One account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Database id.
    pub id: AccountId,
    /// The sign-in name.
    pub username: String,
    /// argon2id PHC string of the account password.
    pub password_hash: String,
    /// Bumped whenever cached credentials of this account must stop working.
    pub credential_generation: i64,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// Storage quota in bytes; `None` means unlimited.
    pub quota_bytes: Option<u64>,
    /// Largest single upload in bytes; `None` means the server default.
    pub upload_limit_bytes: Option<u64>,
    /// Bytes held by the account's files, live and trashed.
    pub used_bytes: u64,
    /// Root folder of the account's files.
    pub files_root: NodeId,
    /// Root folder of the account's trash.
    pub trash_root: NodeId,
    /// When the account was created.
    pub created_ms: i64,
    /// Two-factor authentication.
    pub totp: TotpState,
}

/// Whether an account has two-factor authentication, and its sealed TOTP secret.
#[derive(Clone, PartialEq, Eq)]
pub enum TotpState {
    /// No second factor.
    Off,
    /// Enrolled, waiting for the first code to confirm it.
    Pending {
        /// The secret, sealed with a key only davgate holds.
        sealed: Vec<u8>,
    },
    /// On: the account password no longer signs sync clients in.
    On {
        /// The secret, sealed.
        sealed: Vec<u8>,
        /// The last time step accepted; older or equal ones are replays.
        last_step: i64,
    },
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TotpState::Off => "Off",
            TotpState::Pending { .. } => "Pending",
            TotpState::On { .. } => "On",
        })
    }
}

impl Account {
    /// Bytes the account may still add, `None` when it has no quota.
    pub fn available_bytes(&self) -> Option<u64> {
        self.quota_bytes.map(|q| q.saturating_sub(self.used_bytes))
    }
}

#[derive(FromRow)]
pub(crate) struct AccountRow {
    id: i64,
    username: String,
    password_hash: String,
    credential_generation: i64,
    disabled: i64,
    quota_bytes: Option<i64>,
    upload_limit_bytes: Option<i64>,
    used_bytes: i64,
    files_root: Option<i64>,
    trash_root: Option<i64>,
    created_ms: i64,
    totp_state: i64,
    totp_secret: Option<Vec<u8>>,
    totp_last_step: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: AccountId(r.id),
            username: r.username,
            password_hash: r.password_hash,
            credential_generation: r.credential_generation,
            disabled: r.disabled != 0,
            quota_bytes: r.quota_bytes.map(|q| q.max(0) as u64),
            upload_limit_bytes: r.upload_limit_bytes.map(|q| q.max(0) as u64),
            used_bytes: r.used_bytes.max(0) as u64,
            files_root: NodeId(r.files_root.unwrap_or_default()),
            trash_root: NodeId(r.trash_root.unwrap_or_default()),
            created_ms: r.created_ms,
            totp: match (r.totp_state, r.totp_secret) {
                (1, Some(sealed)) => TotpState::Pending { sealed },
                (2, Some(sealed)) => TotpState::On {
                    sealed,
                    last_step: r.totp_last_step,
                },
                _ => TotpState::Off,
            },
        }
    }
}

/// `SELECT <every account column> FROM accounts <rest>`, as one static string.
macro_rules! select_accounts {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, password_hash, credential_generation, disabled, quota_bytes, ",
            "upload_limit_bytes, used_bytes, files_root, trash_root, created_ms, totp_state, ",
            "totp_secret, totp_last_step FROM accounts ",
            $rest
        )
    };
}
pub(crate) use select_accounts;
