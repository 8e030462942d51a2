//! Sign-ins a person types into the account portal: the account password (app
//! passwords never open the portal; they are for sync clients) and then, when it is on,
//! the second factor.
//!
//! Both meet the same throttle as Basic sign-ins, with the same scores: a guess at the
//! password in a browser costs what a guess over Basic costs, and a wrong code counts
//! as a failure too. Verification runs on the same bounded hashing pool.

use davgate_storage::{Account, now_ms};

use super::basic::BasicCredentials;
use super::throttle::Limit;
use super::usage::ClientInfo;
use super::{AuthError, Authenticator};
use crate::secret::Secret;

impl Authenticator {
    /// Checks `user`'s account password, typed into the portal. A disabled account, an
    /// unknown name, a wrong password and an app password are all `Invalid`, and each
    /// counts as a failure.
    pub async fn portal_password(
        &self,
        user: &str,
        password: Secret<String>,
        client: &ClientInfo,
    ) -> Result<Account, AuthError> {
        let creds = BasicCredentials {
            user: user.trim().to_lowercase(),
            password,
        };
        self.portal_may_try(&creds.user, client).await?;
        self.throttled_check(&creds, client, self.account_password(&creds))
            .await
    }

    /// Whether `user` may try a sign-in from this client now: the per-address scores,
    /// and the account-wide score for an address the account has not signed in from.
    pub async fn portal_may_try(&self, user: &str, client: &ClientInfo) -> Result<(), AuthError> {
        self.absorb_shared_failures(client, user).await?;
        let now = now_ms();
        if let Some(wait) = self.throttle.wait(client.addr, user, now) {
            return Err(self.held(Limit::Address, wait).await);
        }
        if self.throttle.account_throttled(user, now)
            && !self.known_address(client, user).await?
            && let Some(wait) = self.account_turn(user, now).await?
        {
            return Err(self.held(Limit::Account, wait).await);
        }
        Ok(())
    }

    /// Counts a wrong second factor as a failed sign-in.
    pub async fn portal_failed(&self, account: &Account, client: &ClientInfo) {
        let user = account.username.to_lowercase();
        let crossed = self.throttle.failed(client.addr, &user, now_ms());
        self.share_failure(client, &user).await;
        let creds = BasicCredentials {
            user,
            password: Secret::new(String::new()),
        };
        self.audit_crossed(crossed, &creds, client).await;
    }

    /// A completed portal sign-in clears this address's failures and makes it known to
    /// the account, here and on every node, as a Basic one does.
    pub async fn portal_signed_in(&self, account: &Account, client: &ClientInfo) {
        let user = account.username.to_lowercase();
        self.throttle.signed_in(client.addr, &user);
        self.forget_shared_pair(client, &user).await;
        self.share_known_address(client, &user).await;
    }

    /// Hashes a new secret (account password) on the bounded pool.
    pub async fn hash_secret(&self, secret: Secret<String>) -> Result<String, AuthError> {
        Ok(self.hasher.hash(secret).await?)
    }

    /// Checks a typed account password (never an app password) on the pool.
    pub async fn verify_account_password(
        &self,
        account: &Account,
        password: Secret<String>,
    ) -> Result<bool, AuthError> {
        Ok(self
            .hasher
            .verify(password, account.password_hash.clone())
            .await?)
    }

    async fn account_password(&self, creds: &BasicCredentials) -> Result<Account, AuthError> {
        let Some(account) = self.store.account_by_name(&creds.user).await? else {
            self.hasher.verify_decoy(creds.password.clone()).await?;
            return Err(AuthError::Invalid);
        };
        let ok = self
            .verify_account_password(&account, creds.password.clone())
            .await?;
        if !ok || account.disabled {
            return Err(AuthError::Invalid);
        }
        Ok(account)
    }
}
