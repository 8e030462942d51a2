//! Recomputes a calendar object's due firings after every write. The storage crate
//! queues each written or deleted calendar object inside the write's own transaction
//! (so no hook in the CalDAV handlers, and no write is missed across a crash); the
//! worker calls [`refresh_stale`] every round, and the horizon refill queues them all.
//!
//! An account with no destination pays one indexed lookup per write and nothing else.
//! A firing goes to the destination its VALARM names (`X-DAVGATE-DESTINATION`), else by
//! e-mail to the account's address when its action is `EMAIL`, else to its calendar's
//! route; with none of these it gets no row and stays the devices' business.

use std::collections::HashMap;
use std::time::Duration;

use davgate_storage::{Collection, Destination, EMAIL_DESTINATION, NewDueAlarm, Store, now_ms};

use crate::dav::ical::{self, Options, Zone};

/// The default scheduling horizon: 30 days.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(30 * 86_400);

/// Objects rescheduled per round.
const STALE_BATCH: i64 = 64;

/// Recomputes the firings of the objects written since the last round (the storage
/// crate queues each calendar write in its own transaction); how many were done.
pub async fn refresh_stale(store: &Store, horizon: Duration) -> Result<usize, ScheduleError> {
    let stale = store.take_stale_objects(STALE_BATCH).await?;
    for (collection, name) in &stale {
        let Some(collection) = store.collection_by_id(*collection).await? else {
            continue;
        };
        if let Err(e) = reschedule(store, &collection, name, horizon).await {
            // One unreadable object must not stop the others.
            tracing::warn!(collection = collection.id.0, name = %name, "reminders not rescheduled: {e}");
        }
    }
    Ok(stale.len())
}

/// Why an object's firings could not be recomputed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The database failed.
    #[error("{0}")]
    Storage(#[from] davgate_storage::StorageError),
    /// The stored text no longer parses (it was accepted on PUT, so this is a defect).
    #[error("{0}")]
    Ical(#[from] ical::IcalError),
}

/// Recomputes the firings of one object within `horizon` from now.
pub async fn reschedule(
    store: &Store,
    collection: &Collection,
    name: &str,
    horizon: Duration,
) -> Result<usize, ScheduleError> {
    if !store.has_destinations(collection.account).await? {
        return Ok(0);
    }
    let Some(object) = store.object(collection.id, name).await? else {
        // Deleted: nothing of it is sent, overdue or not.
        store
            .replace_due_alarms(collection.account, collection.id, name, &[], i64::MIN)
            .await?;
        return Ok(0);
    };
    let parsed = ical::parse_stored(object.data.as_bytes())?;
    let options = Options {
        floating: collection
            .timezone
            .as_deref()
            .and_then(|tz| Zone::from_vtimezone(tz.as_bytes()).ok())
            .unwrap_or_else(Zone::utc),
        ..Options::default()
    };
    let now = now_ms() / 1000;
    let until = now.saturating_add(horizon.as_secs() as i64);
    let firings = parsed.alarm_firings(now, until, &options)?;
    let route = store.route_of(collection.id).await?;
    let mut named: HashMap<String, Option<Destination>> = HashMap::new();
    let calendar = collection
        .displayname
        .clone()
        .unwrap_or_else(|| collection.slug.clone());
    let mut rows = Vec::new();
    for firing in firings {
        let wanted = match &firing.destination {
            Some(wanted) => Some(wanted.as_str()),
            None if firing.action.eq_ignore_ascii_case("EMAIL") => Some(EMAIL_DESTINATION),
            None => None,
        };
        let destination = match wanted {
            Some(wanted) => {
                if !named.contains_key(wanted) {
                    let found = store.destination(collection.account, wanted).await?;
                    named.insert(wanted.to_owned(), found);
                }
                named.get(wanted).cloned().flatten()
            }
            None => route.clone(),
        };
        let Some(destination) = destination else {
            continue;
        };
        let fields = serde_json::json!({
            "subject": firing.summary,
            "date": firing.start_text,
            "description": firing.description,
            "location": firing.location,
            "calendar": calendar,
            "uid": parsed.uid(),
            "object": name,
            "start": firing.start.map(ical::format_utc),
            "due": ical::format_utc(firing.at),
            "repetition": firing.repetition,
        });
        rows.push(NewDueAlarm {
            alarm_key: firing.key,
            uid: parsed.uid().to_owned(),
            due_ms: firing.at.saturating_mul(1000),
            destination: destination.id,
            fields: fields.to_string(),
        });
    }
    store
        .replace_due_alarms(collection.account, collection.id, name, &rows, now * 1000)
        .await?;
    Ok(rows.len())
}
