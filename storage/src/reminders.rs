//! Reminders as rows: a person's destinations (webhooks, and the e-mail one that follows
//! the account's address), which calendar goes to which
//! destination, the alarm firings due within the scheduling horizon, and the delivery log.
//!
//! What an alarm *is* (triggers, recurrence, zones) is computed above this crate; here
//! each firing is an opaque row with a due time, a destination and its message fields.
//! Exactly once: a worker claims due rows inside a write transaction (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, the single writer on SQLite) by pushing `next_try_ms` a lease
//! ahead, so no other node sees them until the outcome is written or the lease lapses
//! (a node that died mid-send). The same transaction keeps each destination's rate
//! limit: a token bucket per destination ([`crate::reminder_rate`]), its state locked and
//! moved on by every claim, so the limit holds however many nodes send.

use std::collections::BTreeMap;

use sqlx::FromRow;

use crate::Store;
use crate::audit::{AuditEvent, record};
use crate::db::{Backend, WriteTx, now_ms};
use crate::error::{Result, StorageError};
use crate::groupware::CollectionId;
use crate::ids::AccountId;
use crate::reminder_rate::{Admission, Bucket, RateLimit};

/// How a webhook wants its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// `{"text": …}`: Slack, Mattermost, kChat, Rocket.Chat.
    Slack,
    /// `{"content": …}`.
    Discord,
    /// A Microsoft Teams Workflows message with an Adaptive Card.
    Teams,
    /// Every field of the alarm, for one's own automation.
    Json,
}

impl WebhookFormat {
    /// Every format, for help texts.
    pub const ALL: [WebhookFormat; 4] = [Self::Slack, Self::Discord, Self::Teams, Self::Json];

    /// The name in the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Teams => "teams",
            Self::Json => "json",
        }
    }

    /// Reads a name written by [`WebhookFormat::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// How a destination is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    /// An HTTP POST to an incoming-webhook URL.
    Webhook,
    /// A message through the operator's SMTP relay to the account's address.
    Email,
}

impl DestinationKind {
    /// The name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Email => "email",
        }
    }
}

/// The name of the destination that follows an account's e-mail address; webhooks may
/// not take it.
pub const EMAIL_DESTINATION: &str = "email";

/// A named place reminders go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Database id.
    pub id: i64,
    /// Owner.
    pub account: AccountId,
    /// The name the owner gave it (unique per account).
    pub name: String,
    /// How it is reached.
    pub kind: DestinationKind,
    /// The webhook URL (a secret of its own: never logged whole), or the e-mail address.
    pub url: String,
    /// Payload format.
    pub format: WebhookFormat,
    /// Message template; `None` is the format's default.
    pub template: Option<String>,
}

/// One firing of one alarm, as the scheduler computed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDueAlarm {
    /// Identity of the firing within its object (instance, alarm, repetition, time):
    /// a firing already sent keeps its row when the object is written again.
    pub alarm_key: String,
    /// The event's UID.
    pub uid: String,
    /// When it is due, ms since the epoch (UTC).
    pub due_ms: i64,
    /// Where it goes.
    pub destination: i64,
    /// The message fields, a JSON object.
    pub fields: String,
}

/// One object's recomputed firings, for [`Store::replace_many_due_alarms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectAlarms {
    /// Owner.
    pub account: AccountId,
    /// The calendar.
    pub collection: CollectionId,
    /// The object's resource name.
    pub object_name: String,
    /// Its firings from `from_ms` on.
    pub alarms: Vec<NewDueAlarm>,
    /// Pending firings due at or after this are replaced (`i64::MIN`: all, the object
    /// is gone).
    pub from_ms: i64,
}

/// A firing a worker has claimed and must now deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedAlarm {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub account: AccountId,
    /// The calendar.
    pub collection: CollectionId,
    /// The object's resource name.
    pub object_name: String,
    /// When it was due.
    pub due_ms: i64,
    /// Where it goes.
    pub destination: Destination,
    /// The message fields, a JSON object.
    pub fields: String,
    /// Tries so far, this one included.
    pub tries: i64,
    /// How long the destination's rate limit held it back, ms: not lateness.
    pub held_ms: i64,
}

/// What one claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRound {
    /// The firings to deliver now.
    pub alarms: Vec<ClaimedAlarm>,
    /// Whether the claim took as many due rows as it was allowed: more may be due, and
    /// the worker claims again at once.
    pub batch_full: bool,
    /// The soonest time a pending firing is due or retried (ms), after this claim: when
    /// the worker should look again.
    pub next_due_ms: Option<i64>,
}

/// What became of a claimed firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered; `late` when it went out after it came due while no worker ran.
    Sent {
        /// Sent late.
        late: bool,
    },
    /// Not delivered this time; try again at this instant (ms).
    Retry {
        /// Next try.
        at_ms: i64,
        /// Why this try failed.
        detail: String,
    },
    /// Given up: too old, or out of tries. Audited.
    Skipped {
        /// Why.
        detail: String,
    },
}

/// One line of an account's delivery log.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeliveryRecord {
    /// When the outcome was recorded, ms.
    pub at_ms: i64,
    /// The object's resource name.
    pub object_name: String,
    /// The destination's name.
    pub destination: String,
    /// When the alarm was due, ms.
    pub due_ms: i64,
    /// `sent`, `sent-late`, `retry`, `skipped` or `test`.
    pub status: String,
    /// Tries so far.
    pub tries: i64,
    /// What happened, for a person.
    pub detail: String,
}

#[derive(FromRow)]
struct DestinationRow {
    id: i64,
    account_id: i64,
    name: String,
    kind: String,
    url: String,
    format: String,
    template: Option<String>,
}

impl From<DestinationRow> for Destination {
    fn from(r: DestinationRow) -> Self {
        Destination {
            id: r.id,
            account: AccountId(r.account_id),
            kind: if r.kind == DestinationKind::Email.as_str() {
                DestinationKind::Email
            } else {
                DestinationKind::Webhook
            },
            name: r.name,
            url: r.url,
            format: WebhookFormat::parse(&r.format).unwrap_or(WebhookFormat::Json),
            template: r.template,
        }
    }
}

/// `SELECT <every destination column, as d> <rest>`.
macro_rules! select_destinations {
    ($rest:literal) => {
        concat!(
            "SELECT d.id, d.account_id, d.name, d.kind, d.url, d.format, d.template ",
            $rest
        )
    };
}

// One object's rows are found by the unique (collection_id, object_name, alarm_key)
// index. Its queries write `+state`: with a plain `state = 0` SQLite's planner picked
// the (state, next_try_ms) index instead and walked every pending row of every object,
// 100,000 of them per object rescheduled after the bench's refill. PostgreSQL reads the
// unary plus as a no-op.

/// The due rows a worker may claim, with their destinations.
macro_rules! select_claimable {
    ($lock:literal) => {
        concat!(
            "SELECT u.id AS due_id, u.collection_id, u.object_name, u.due_ms, u.fields, u.tries, ",
            "u.held_ms, ",
            "d.id, d.account_id, d.name, d.kind, d.url, d.format, d.template FROM reminder_due u ",
            "JOIN reminder_destinations d ON d.id = u.destination_id ",
            "WHERE u.state = 0 AND u.next_try_ms <= $1 ORDER BY u.next_try_ms LIMIT $2",
            $lock
        )
    };
}

impl Store {
    /// Adds a webhook destination; `Conflict` when the name is taken (`email` is always
    /// taken: it is the e-mail destination's).
    pub async fn add_destination(
        &self,
        account: AccountId,
        name: &str,
        url: &str,
        format: WebhookFormat,
        template: Option<&str>,
    ) -> Result<Destination> {
        if name == EMAIL_DESTINATION {
            return Err(StorageError::Conflict(
                "the name email is kept for e-mail reminders",
            ));
        }
        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO reminder_destinations (account_id, name, kind, url, format, template, \
             created_ms) VALUES ($1, $2, 'webhook', $3, $4, $5, $6) RETURNING id",
        )
        .bind(account.0)
        .bind(name)
        .bind(url)
        .bind(format.as_str())
        .bind(template)
        .bind(now_ms())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StorageError::from_unique(e, "a destination with that name exists"))?;
        tx.commit().await?;
        Ok(Destination {
            id,
            account,
            name: name.to_owned(),
            kind: DestinationKind::Webhook,
            url: url.to_owned(),
            format,
            template: template.map(str::to_owned),
        })
    }

    /// The account's destinations by name.
    pub async fn destinations(&self, account: AccountId) -> Result<Vec<Destination>> {
        let sql = select_destinations!(
            "FROM reminder_destinations d WHERE d.account_id = $1 ORDER BY d.name"
        );
        let rows: Vec<DestinationRow> = sqlx::query_as(sql)
            .bind(account.0)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.into_iter().map(Destination::from).collect())
    }

    /// One destination by name.
    pub async fn destination(&self, account: AccountId, name: &str) -> Result<Option<Destination>> {
        let sql = select_destinations!(
            "FROM reminder_destinations d WHERE d.account_id = $1 AND d.name = $2"
        );
        let row: Option<DestinationRow> = sqlx::query_as(sql)
            .bind(account.0)
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(Destination::from))
    }

    /// Whether the account has any destination: without one, no alarm of it is scheduled,
    /// and a calendar write pays only this query.
    pub async fn has_destinations(&self, account: AccountId) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM reminder_destinations WHERE account_id = $1 LIMIT 1",
        )
        .bind(account.0)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Removes a destination with its routes and pending firings; `NotFound` if absent.
    pub async fn remove_destination(&self, account: AccountId, name: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let removed =
            sqlx::query("DELETE FROM reminder_destinations WHERE account_id = $1 AND name = $2")
                .bind(account.0)
                .bind(name)
                .execute(&mut *tx.tx)
                .await?
                .rows_affected();
        if removed == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await
    }

    /// Sends every alarm of `collection` to `destination` (replacing an earlier route).
    pub async fn set_route(&self, collection: CollectionId, destination: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO reminder_routes (collection_id, destination_id) VALUES ($1, $2) \
             ON CONFLICT (collection_id) DO UPDATE SET destination_id = excluded.destination_id",
        )
        .bind(collection.0)
        .bind(destination)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// How many of the account's calendars are routed somewhere.
    pub async fn routed_calendars(&self, account: AccountId) -> Result<u32> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM reminder_routes r JOIN collections c ON c.id = r.collection_id \
             WHERE c.account_id = $1",
        )
        .bind(account.0)
        .fetch_one(&self.db.pool)
        .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// The destination `collection` is routed to.
    pub async fn route_of(&self, collection: CollectionId) -> Result<Option<Destination>> {
        let sql = select_destinations!(
            "FROM reminder_routes r JOIN reminder_destinations d ON d.id = r.destination_id \
             WHERE r.collection_id = $1"
        );
        let row: Option<DestinationRow> = sqlx::query_as(sql)
            .bind(collection.0)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(Destination::from))
    }

    /// Replaces the pending firings of one object due at or after `from_ms` with
    /// `alarms`, in one transaction. Earlier pending ones are overdue and wait for a
    /// worker (the server was down): a recomputation, which only looks ahead, keeps them;
    /// a deleted object passes `i64::MIN` to drop them all. A firing already sent or
    /// skipped keeps its row, and an identical new one is dropped, so writing an object
    /// again never sends an alarm twice.
    pub async fn replace_due_alarms(
        &self,
        account: AccountId,
        collection: CollectionId,
        object_name: &str,
        alarms: &[NewDueAlarm],
        from_ms: i64,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        write_object_alarms(&mut tx, account, collection, object_name, alarms, from_ms).await?;
        tx.commit().await
    }

    /// [`Store::replace_due_alarms`] for many objects in one transaction (one commit, one
    /// fsync, for a whole batch of the scheduler). An object with no firings that has no
    /// pending row either is left alone, and when that is every object, nothing is written.
    pub async fn replace_many_due_alarms(&self, objects: &[ObjectAlarms]) -> Result<()> {
        let mut writes = Vec::with_capacity(objects.len());
        for object in objects {
            if object.alarms.is_empty() && !self.has_pending_from(object).await? {
                continue;
            }
            writes.push(object);
        }
        if writes.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        for o in writes {
            write_object_alarms(
                &mut tx,
                o.account,
                o.collection,
                &o.object_name,
                &o.alarms,
                o.from_ms,
            )
            .await?;
        }
        tx.commit().await
    }

    /// Whether the object has a pending firing its replacement would drop.
    async fn has_pending_from(&self, object: &ObjectAlarms) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM reminder_due WHERE collection_id = $1 AND object_name = $2 \
             AND +state = 0 AND due_ms >= $3 LIMIT 1",
        )
        .bind(object.collection.0)
        .bind(&object.object_name)
        .bind(object.from_ms)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Claims up to `limit` firings due at `now_ms`: each is hidden from other workers
    /// for `lease_ms` and its try counted, in one transaction. Each destination's `rate`
    /// is kept as a token bucket ([`RateLimit`]) on its `next_send_ms`: a firing over it
    /// is moved to the time the bucket has room for it (spread behind the others held
    /// with it) instead, and that wait is counted in its `held_ms`, not as lateness.
    pub async fn claim_due_alarms(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
        rate: RateLimit,
    ) -> Result<ClaimRound> {
        let sql = match self.db.backend {
            Backend::Postgres => select_claimable!(" FOR UPDATE OF u SKIP LOCKED"),
            Backend::Sqlite => select_claimable!(""),
        };
        let mut tx = self.db.begin_write().await?;
        let rows: Vec<ClaimRow> = sqlx::query_as(sql)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&mut *tx.tx)
            .await?;
        let batch_full = rows.len() as i64 >= limit;
        // Each destination's bucket, read under a row lock on PostgreSQL so two nodes
        // claiming for one destination take turns; locked in id order, so never
        // crosswise. SQLite's single writer already serialises claims.
        let tat_of = match self.db.backend {
            Backend::Postgres => {
                "SELECT next_send_ms FROM reminder_destinations WHERE id = $1 FOR UPDATE"
            }
            Backend::Sqlite => "SELECT next_send_ms FROM reminder_destinations WHERE id = $1",
        };
        let mut buckets: BTreeMap<i64, (i64, Bucket)> = BTreeMap::new();
        for id in rows.iter().map(|r| r.destination.id) {
            if buckets.contains_key(&id) {
                continue;
            }
            let tat: i64 = sqlx::query_scalar(tat_of)
                .bind(id)
                .fetch_one(&mut *tx.tx)
                .await?;
            buckets.insert(id, (tat, Bucket::new(tat)));
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let (_, bucket) = buckets
                .get_mut(&row.destination.id)
                .expect("every claimed row's destination was read above");
            if let Admission::HoldUntil(slot) = bucket.admit(now_ms, rate) {
                sqlx::query(
                    "UPDATE reminder_due SET next_try_ms = $1, held_ms = held_ms + $2 \
                     WHERE id = $3",
                )
                .bind(slot)
                .bind(slot - now_ms)
                .bind(row.due_id)
                .execute(&mut *tx.tx)
                .await?;
                continue;
            }
            sqlx::query(
                "UPDATE reminder_due SET next_try_ms = $1, tries = tries + 1 WHERE id = $2",
            )
            .bind(now_ms.saturating_add(lease_ms))
            .bind(row.due_id)
            .execute(&mut *tx.tx)
            .await?;
            claimed.push(ClaimedAlarm {
                id: row.due_id,
                account: AccountId(row.destination.account_id),
                collection: CollectionId(row.collection_id),
                object_name: row.object_name,
                due_ms: row.due_ms,
                fields: row.fields,
                tries: row.tries + 1,
                held_ms: row.held_ms,
                destination: Destination::from(row.destination),
            });
        }
        for (id, (stored, bucket)) in &buckets {
            if bucket.tat_ms() != *stored {
                sqlx::query("UPDATE reminder_destinations SET next_send_ms = $1 WHERE id = $2")
                    .bind(bucket.tat_ms())
                    .bind(id)
                    .execute(&mut *tx.tx)
                    .await?;
            }
        }
        let next_due_ms: Option<i64> =
            sqlx::query_scalar("SELECT min(next_try_ms) FROM reminder_due WHERE state = 0")
                .fetch_one(&mut *tx.tx)
                .await?;
        tx.commit().await?;
        Ok(ClaimRound {
            alarms: claimed,
            batch_full,
            next_due_ms,
        })
    }

    /// Records what became of a claimed firing, with its log line (and, when skipped,
    /// an audit entry), in one transaction.
    pub async fn finish_due_alarm(&self, alarm: &ClaimedAlarm, outcome: &Outcome) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let (state, next_try, late, status, detail) = match outcome {
            Outcome::Sent { late } => (
                1,
                alarm.due_ms,
                *late,
                if *late { "sent-late" } else { "sent" },
                String::new(),
            ),
            Outcome::Retry { at_ms, detail } => (0, *at_ms, false, "retry", detail.clone()),
            Outcome::Skipped { detail } => (2, alarm.due_ms, false, "skipped", detail.clone()),
        };
        sqlx::query(
            "UPDATE reminder_due SET state = $1, next_try_ms = $2, late = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(next_try)
        .bind(i64::from(late))
        .bind(alarm.id)
        .execute(&mut *tx.tx)
        .await?;
        let record_line = DeliveryRecord {
            at_ms: now_ms(),
            object_name: alarm.object_name.clone(),
            destination: alarm.destination.name.clone(),
            due_ms: alarm.due_ms,
            status: status.to_owned(),
            tries: alarm.tries,
            detail: detail.clone(),
        };
        insert_log(&mut tx, alarm.account, &record_line).await?;
        if matches!(outcome, Outcome::Skipped { .. }) {
            let text = format!(
                "reminder for {} to {} skipped: {detail}",
                alarm.object_name, alarm.destination.name
            );
            record(
                &mut tx,
                alarm.account,
                AuditEvent::ReminderSkipped,
                &text,
                None,
            )
            .await?;
        }
        tx.commit().await
    }

    /// Adds a line to the account's delivery log (a test message, say).
    pub async fn log_delivery(&self, account: AccountId, line: &DeliveryRecord) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        insert_log(&mut tx, account, line).await?;
        tx.commit().await
    }

    /// The account's newest `limit` log lines, newest first.
    pub async fn delivery_log(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>> {
        let rows = sqlx::query_as(
            "SELECT at_ms, object_name, destination, due_ms, status, tries, detail \
             FROM reminder_log WHERE account_id = $1 ORDER BY at_ms DESC, id DESC LIMIT $2",
        )
        .bind(account.0)
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows)
    }

    /// Takes up to `limit` objects whose firings must be recomputed (written since the
    /// last look, or queued by [`Store::queue_all_for_reminders`]); each is taken by one
    /// caller.
    pub async fn take_stale_objects(&self, limit: i64) -> Result<Vec<(CollectionId, String)>> {
        let mut tx = self.db.begin_write().await?;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT collection_id, object_name FROM reminder_stale \
             ORDER BY collection_id, object_name LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *tx.tx)
        .await?;
        for (collection, name) in &rows {
            sqlx::query("DELETE FROM reminder_stale WHERE collection_id = $1 AND object_name = $2")
                .bind(collection)
                .bind(name)
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(collection, name)| (CollectionId(collection), name))
            .collect())
    }

    /// Queues every calendar object of every account with a destination (of one account,
    /// when given): the horizon refill, and what a new destination or route needs.
    pub async fn queue_all_for_reminders(&self, account: Option<AccountId>) -> Result<u64> {
        let mut tx = self.db.begin_write().await?;
        let queued = sqlx::query(
            "INSERT INTO reminder_stale (collection_id, object_name) \
             SELECT o.collection_id, o.name FROM dav_objects o \
             JOIN collections c ON c.id = o.collection_id \
             WHERE c.kind = 1 AND ($1 IS NULL OR c.account_id = $1) \
             AND EXISTS (SELECT 1 FROM reminder_destinations d WHERE d.account_id = c.account_id) \
             ON CONFLICT (collection_id, object_name) DO NOTHING",
        )
        .bind(account.map(|a| a.0))
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(queued)
    }

    /// Pending firings of one object, soonest first, as (due ms, alarm key): what the
    /// scheduler decided, for tests and the CLI.
    pub async fn pending_alarms(
        &self,
        collection: CollectionId,
        object_name: &str,
    ) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query_as(
            "SELECT due_ms, alarm_key FROM reminder_due WHERE collection_id = $1 \
             AND object_name = $2 AND +state = 0 ORDER BY due_ms",
        )
        .bind(collection.0)
        .bind(object_name)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows)
    }
}

#[derive(FromRow)]
struct ClaimRow {
    due_id: i64,
    collection_id: i64,
    object_name: String,
    due_ms: i64,
    fields: String,
    tries: i64,
    held_ms: i64,
    #[sqlx(flatten)]
    destination: DestinationRow,
}

async fn write_object_alarms(
    tx: &mut WriteTx,
    account: AccountId,
    collection: CollectionId,
    object_name: &str,
    alarms: &[NewDueAlarm],
    from_ms: i64,
) -> Result<()> {
    clear_pending(tx, collection, object_name, from_ms).await?;
    for alarm in alarms {
        sqlx::query(
            "INSERT INTO reminder_due (account_id, collection_id, object_name, uid, alarm_key, \
             due_ms, destination_id, fields, next_try_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6) \
             ON CONFLICT (collection_id, object_name, alarm_key) DO NOTHING",
        )
        .bind(account.0)
        .bind(collection.0)
        .bind(object_name)
        .bind(&alarm.uid)
        .bind(&alarm.alarm_key)
        .bind(alarm.due_ms)
        .bind(alarm.destination)
        .bind(&alarm.fields)
        .execute(&mut *tx.tx)
        .await?;
    }
    Ok(())
}

async fn clear_pending(
    tx: &mut WriteTx,
    collection: CollectionId,
    object_name: &str,
    from_ms: i64,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM reminder_due WHERE collection_id = $1 AND object_name = $2 AND +state = 0 \
         AND due_ms >= $3",
    )
    .bind(collection.0)
    .bind(object_name)
    .bind(from_ms)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

async fn insert_log(tx: &mut WriteTx, account: AccountId, line: &DeliveryRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO reminder_log (account_id, at_ms, object_name, destination, due_ms, status, \
         tries, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(account.0)
    .bind(line.at_ms)
    .bind(&line.object_name)
    .bind(&line.destination)
    .bind(line.due_ms)
    .bind(&line.status)
    .bind(line.tries)
    .bind(&line.detail)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}
