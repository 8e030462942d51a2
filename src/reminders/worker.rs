//! The background tasks of reminders, two loops beside each other so neither holds up
//! the other: the scheduler recomputes the firings of objects written since
//! ([`schedule`]) and refills the horizon; the sender claims the rows that are due (the
//! claim is the storage crate's, once per row across nodes, with each destination's rate
//! limit), posts each to its webhook or relay, and records the outcome: sent, retried with
//! exponential backoff on a timeout, 429 or 5xx up to [`MAX_TRIES`], or skipped (too old,
//! refused, out of tries).
//!
//! The sender claims again at once after a full batch and otherwise sleeps until the next
//! firing is due (at most [`POLL`]); up to [`IN_FLIGHT`] sends run at once and it claims
//! more as slots free up, so a webhook that hangs for its whole timeout holds one slot,
//! not every other destination's alarms.

use std::sync::Arc;
use std::time::Duration;

use davgate_storage::{ClaimedAlarm, DestinationKind, Outcome, Store, now_ms};
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::ReminderSettings;
use super::deliver::{DeliveryError, Sender};
use super::email::Mailer;
use super::{message, schedule};

/// The longest the sender sleeps between claims, and the scheduler between looks for
/// written objects: a firing scheduled meanwhile is claimed within this.
const POLL: Duration = Duration::from_secs(1);
/// How long a claimed row stays hidden from other workers: longer than a delivery
/// with its timeout, so only a node that died mid-send gives a row back.
const LEASE_MS: i64 = 60_000;
/// Rows claimed per round, at most.
const BATCH: usize = 64;
/// Sends in flight at once, at most: bounds the sockets and memory of a burst.
const IN_FLIGHT: usize = 64;
/// Tries before a reminder is given up.
pub const MAX_TRIES: i64 = 6;
/// How often every calendar object of accounts with a destination is rescheduled.
const REFILL_EVERY_MS: i64 = 6 * 3600 * 1000;
/// An alarm sent this long after its due time counts as late even if a worker ran.
const LATE_AFTER_MS: i64 = 60_000;
/// Objects rescheduled after which, once the queue is empty, the freed heap is given back
/// to the system.
const TRIM_AFTER_OBJECTS: usize = 1_000;

/// The ways out of the server a reminder can take.
#[derive(Clone)]
pub struct Outbound {
    /// Webhook POSTs.
    pub webhooks: Sender,
    /// The SMTP relay, when the operator configured one.
    pub mail: Option<Mailer>,
}

impl Outbound {
    /// The channels `settings` allow.
    pub fn new(settings: &ReminderSettings) -> Self {
        let mail = settings
            .smtp
            .as_ref()
            .and_then(|smtp| match Mailer::new(smtp) {
                Ok(mailer) => Some(mailer),
                Err(e) => {
                    // Checked when the configuration was read; unreachable in practice.
                    tracing::warn!("e-mail reminders are off: {e}");
                    None
                }
            });
        Self {
            webhooks: Sender::new(settings.reach),
            mail,
        }
    }
}

/// Runs the scheduler and the sender until `stopped` turns true.
pub async fn run(store: Store, settings: ReminderSettings, stopped: watch::Receiver<bool>) {
    let settings = Arc::new(settings);
    tokio::join!(
        schedule_written(store.clone(), settings.horizon, stopped.clone()),
        send_due(store, settings, stopped),
    );
}

/// Recomputes the firings of written objects, a batch (one transaction) at a time until
/// none is left, then looks again after [`POLL`]; every [`REFILL_EVERY_MS`] it queues
/// every object, as the horizon moved on.
async fn schedule_written(store: Store, horizon: Duration, mut stopped: watch::Receiver<bool>) {
    let mut refilled_ms = i64::MIN;
    // Objects rescheduled since the last trim.
    let mut untrimmed = 0;
    loop {
        if now_ms().saturating_sub(refilled_ms) > REFILL_EVERY_MS {
            // Firings that entered the horizon since the last write of their object get
            // rows. At start this also catches up on writes made while no server ran
            // (the CLI's).
            match store.queue_all_for_reminders(None).await {
                Ok(_) => refilled_ms = now_ms(),
                Err(e) => tracing::warn!(error = %e, "reminder refill failed; will retry"),
            }
        }
        // Bounded: each round takes its objects off the queue, and a stop ends it.
        while !*stopped.borrow() {
            match schedule::refresh_stale(&store, horizon).await {
                Ok(0) => break,
                Ok(n) => untrimmed += n,
                Err(e) => {
                    tracing::warn!(error = %e, "reminders not rescheduled; will retry");
                    break;
                }
            }
        }
        if untrimmed >= TRIM_AFTER_OBJECTS {
            untrimmed = 0;
            // Thousands of parsed objects and their rows were freed in small blocks on
            // several threads' heaps, which glibc keeps unless asked.
            crate::memory::trim_now().await;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Claims due rows and sends them, at most [`IN_FLIGHT`] at once; on stop, waits for the
/// sends under way (each bounded by its timeout) so none is cut off mid-request.
async fn send_due(
    store: Store,
    settings: Arc<ReminderSettings>,
    mut stopped: watch::Receiver<bool>,
) {
    let outbound = Outbound::new(&settings);
    let started_ms = now_ms();
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut sends = JoinSet::new();
    loop {
        // Finished sends leave the set, so it holds at most IN_FLIGHT tasks.
        while sends.try_join_next().is_some() {}
        let free = slots.available_permits().min(BATCH);
        let mut wait = POLL;
        if free > 0 {
            let claim = store
                .claim_due_alarms(now_ms(), LEASE_MS, free as i64, settings.limits.rate())
                .await;
            match claim {
                Ok(round) => {
                    for alarm in round.alarms {
                        // Only this loop takes slots, and it claimed no more than were free.
                        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                            break;
                        };
                        let (store, outbound) = (store.clone(), outbound.clone());
                        let settings = Arc::clone(&settings);
                        sends.spawn(async move {
                            let outcome = deliver(&outbound, &alarm, &settings, started_ms).await;
                            if let Err(e) = store.finish_due_alarm(&alarm, &outcome).await {
                                tracing::warn!(error = %e, "reminder outcome not recorded; it will be retried after its lease");
                            }
                            drop(slot);
                        });
                    }
                    if round.batch_full {
                        continue;
                    }
                    if let Some(next) = round.next_due_ms {
                        let until = next
                            .saturating_sub(now_ms())
                            .clamp(0, POLL.as_millis() as i64);
                        wait = Duration::from_millis(until as u64);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not claim due reminders; will retry"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // Every slot busy: look again as soon as one frees.
            Ok(_) = slots.acquire(), if free == 0 => {}
            _ = stopped.changed() => break,
        }
    }
    while sends.join_next().await.is_some() {}
}

/// Sends one claimed alarm and says what became of it.
pub async fn deliver(
    outbound: &Outbound,
    alarm: &ClaimedAlarm,
    settings: &ReminderSettings,
    started_ms: i64,
) -> Outcome {
    let now = now_ms();
    // Time the rate limit held it back is not lateness.
    let overdue = now - alarm.due_ms - alarm.held_ms;
    if overdue > settings.grace.as_millis() as i64 {
        return Outcome::Skipped {
            detail: format!(
                "came due {} ago, more than the grace of {}",
                humantime::format_duration(Duration::from_secs((overdue / 1000).max(0) as u64)),
                humantime::format_duration(settings.grace)
            ),
        };
    }
    let late = alarm.due_ms < started_ms || overdue > LATE_AFTER_MS;
    let fields: Value = serde_json::from_str(&alarm.fields).unwrap_or(Value::Null);
    let destination = &alarm.destination;
    let sent = match destination.kind {
        DestinationKind::Webhook => {
            let body = message::payload(
                destination.format,
                destination.template.as_deref(),
                &fields,
                late,
            );
            outbound
                .webhooks
                .post(&destination.url, body.to_string().into_bytes())
                .await
                .map(|_| ())
        }
        DestinationKind::Email => match &outbound.mail {
            Some(mailer) => mailer.send(&destination.url, &fields, late).await,
            None => Err(DeliveryError::Refused(
                "e-mail reminders are off: the operator has set no smtp_url".into(),
            )),
        },
    };
    match sent {
        Ok(()) => Outcome::Sent { late },
        Err(e) if e.is_transient() && alarm.tries < MAX_TRIES => Outcome::Retry {
            at_ms: now + backoff_ms(alarm.tries),
            detail: e.to_string(),
        },
        Err(e) => {
            // The URL is a secret of its own: the log names the destination, not it.
            tracing::info!(destination = %destination.name, tries = alarm.tries, "reminder not delivered: {e}");
            Outcome::Skipped {
                detail: e.to_string(),
            }
        }
    }
}

/// 1 s, 2 s, 4 s, … after the `tries`-th failure, at most 5 minutes.
fn backoff_ms(tries: i64) -> i64 {
    let exponent = (tries - 1).clamp(0, 20) as u32;
    (1000_i64 << exponent).min(300_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        let waits: Vec<i64> = (1..=4).map(super::backoff_ms).collect();
        assert_eq!(waits, [1000, 2000, 4000, 8000]);
        assert_eq!(super::backoff_ms(40), 300_000);
    }
}
