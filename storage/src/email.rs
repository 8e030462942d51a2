//! An account's e-mail address, where its `ACTION:EMAIL` reminders go.
//!
//! The address is a column of the account; the reminder destination of kind e-mail,
//! named [`EMAIL_DESTINATION`], follows it in the same transaction, so the scheduler, the
//! exactly-once claim and the delivery log need nothing of their own for e-mail. Whether
//! the text is a usable address is the caller's to check (it knows the mail library).

use crate::Store;
use crate::db::now_ms;
use crate::error::{Result, StorageError};
use crate::ids::AccountId;
use crate::reminders::{DestinationKind, EMAIL_DESTINATION};

impl Store {
    /// Sets (or with `None` removes) the account's e-mail address, with its e-mail
    /// destination. Removing it drops the e-mail alarms still pending; routes to it go too.
    /// `Conflict` when a webhook already carries the name `email`.
    pub async fn set_account_email(&self, account: AccountId, address: Option<&str>) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT kind FROM reminder_destinations WHERE account_id = $1 AND name = $2",
        )
        .bind(account.0)
        .bind(EMAIL_DESTINATION)
        .fetch_optional(&mut *tx.tx)
        .await?;
        if taken
            .as_deref()
            .is_some_and(|k| k != DestinationKind::Email.as_str())
        {
            return Err(StorageError::Conflict(
                "a webhook is named email; remove or rename it first",
            ));
        }
        let changed = sqlx::query("UPDATE accounts SET email = $1 WHERE id = $2")
            .bind(address)
            .bind(account.0)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound);
        }
        match address {
            Some(address) => {
                sqlx::query(
                    "INSERT INTO reminder_destinations (account_id, name, kind, url, format, \
                     created_ms) VALUES ($1, $2, $3, $4, 'json', $5) \
                     ON CONFLICT (account_id, name) DO UPDATE SET url = excluded.url",
                )
                .bind(account.0)
                .bind(EMAIL_DESTINATION)
                .bind(DestinationKind::Email.as_str())
                .bind(address)
                .bind(now_ms())
                .execute(&mut *tx.tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "DELETE FROM reminder_destinations WHERE account_id = $1 AND name = $2",
                )
                .bind(account.0)
                .bind(EMAIL_DESTINATION)
                .execute(&mut *tx.tx)
                .await?;
            }
        }
        tx.commit().await
    }

    /// The account's e-mail address, if it set one.
    pub async fn account_email(&self, account: AccountId) -> Result<Option<String>> {
        let address: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM accounts WHERE id = $1")
                .bind(account.0)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(address.flatten())
    }
}
