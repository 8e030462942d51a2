//! Who a request is, once authenticated: the [`Principal`] every room below `auth`
//! receives, and which [`Credential`] signed it in.

use davgate_storage::Account;

use super::scope::Access;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account, as read for this request; its `used_bytes` may miss the last
    /// second's uploads (`Store::account_settings`).
    pub account: Account,
    /// Which credential signed in.
    pub credential: Credential,
    /// What it may do.
    pub access: Access,
}

/// The kind of credential that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The account's own password.
    AccountPassword,
    /// An app password.
    AppPassword {
        /// Its database id.
        id: i64,
        /// Its public id.
        public_id: String,
    },
}
