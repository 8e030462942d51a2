//! Recomputes a calendar object's due firings after every write. The storage crate
//! queues each written or deleted calendar object inside the write's own transaction
//! (so no hook in the CalDAV handlers, and no write is missed across a crash); the
//! worker calls [`refresh_stale`] until the queue is empty, and the horizon refill queues
//! them all. A round is a batch: one transaction takes its objects off the queue, one
//! query per calendar reads them, lookups (routes, destinations) are made once per batch,
//! and one transaction writes every firing, so a refill of 100,000 alarms pays a few
//! hundred commits, not one per object.
//!
//! An account with no destination pays one indexed lookup per batch and nothing else;
//! an object with no routed firing and no pending row writes nothing.
//! A firing goes to the destination its VALARM names (`X-DAVGATE-DESTINATION`), else by
//! e-mail to the account's address when its action is `EMAIL`, else to its calendar's
//! route; with none of these it gets no row and stays the devices' business.

use std::collections::HashMap;
use std::time::Duration;

use davgate_storage::{
    AccountId, Collection, CollectionId, DavObject, Destination, EMAIL_DESTINATION, NewDueAlarm,
    ObjectAlarms, Store, now_ms,
};

use crate::dav::ical::{self, Options, Zone};

/// The default scheduling horizon: 30 days.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(30 * 86_400);

/// Objects rescheduled per round: one transaction takes them off the queue, one writes
/// their firings. Bounds the memory of a round (the objects' text and their rows) and
/// how long its write holds SQLite's one writer (a few ms) from the PUTs beside it.
const STALE_BATCH: i64 = 64;

/// Recomputes the firings of a batch of objects written since the last round (the
/// storage crate queues each calendar write in its own transaction) and writes them in
/// one transaction; how many objects were taken (0: none was waiting).
pub async fn refresh_stale(store: &Store, horizon: Duration) -> Result<usize, ScheduleError> {
    let stale = store.take_stale_objects(STALE_BATCH).await?;
    let taken = stale.len();
    let mut lookups = Lookups::default();
    let mut writes = Vec::new();
    // Taken in (collection, name) order: each collection's objects come together and
    // are read in one query.
    let mut rest = &stale[..];
    while let Some((collection, _)) = rest.first() {
        let same = rest.iter().take_while(|(c, _)| c == collection).count();
        let names: Vec<String> = rest[..same].iter().map(|(_, n)| n.clone()).collect();
        rest = &rest[same..];
        let Some(collection) = store.collection_by_id(*collection).await? else {
            continue;
        };
        if !lookups.has_destinations(store, collection.account).await? {
            // No destination, nothing of it is scheduled: it has no rows either.
            continue;
        }
        let objects = store.objects_named(collection.id, &names).await?;
        let now = now_ms() / 1000;
        for name in names {
            let Ok(at) = objects.binary_search_by(|o| o.meta.name.as_str().cmp(&name)) else {
                // Deleted: nothing of it is sent, overdue or not.
                writes.push(ObjectAlarms {
                    account: collection.account,
                    collection: collection.id,
                    object_name: name,
                    alarms: Vec::new(),
                    from_ms: i64::MIN,
                });
                continue;
            };
            match firings(store, &mut lookups, &collection, &objects[at], now, horizon).await {
                Ok(alarms) => writes.push(ObjectAlarms {
                    account: collection.account,
                    collection: collection.id,
                    object_name: name,
                    alarms,
                    from_ms: now * 1000,
                }),
                // One unreadable object must not stop the others.
                Err(ScheduleError::Ical(e)) => {
                    tracing::warn!(collection = collection.id.0, name = %name, "reminders not rescheduled: {e}");
                }
                Err(e) => return Err(e),
            }
        }
    }
    store.replace_many_due_alarms(&writes).await?;
    Ok(taken)
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

/// What one batch looked up once: whether an account has destinations, where a calendar
/// is routed, a destination by name.
#[derive(Default)]
struct Lookups {
    has_destinations: HashMap<AccountId, bool>,
    routes: HashMap<CollectionId, Option<Destination>>,
    named: HashMap<(AccountId, String), Option<Destination>>,
}

impl Lookups {
    async fn has_destinations(
        &mut self,
        store: &Store,
        account: AccountId,
    ) -> Result<bool, ScheduleError> {
        if let Some(has) = self.has_destinations.get(&account) {
            return Ok(*has);
        }
        let has = store.has_destinations(account).await?;
        self.has_destinations.insert(account, has);
        Ok(has)
    }

    async fn route(
        &mut self,
        store: &Store,
        collection: CollectionId,
    ) -> Result<Option<Destination>, ScheduleError> {
        if let Some(route) = self.routes.get(&collection) {
            return Ok(route.clone());
        }
        let route = store.route_of(collection).await?;
        self.routes.insert(collection, route.clone());
        Ok(route)
    }

    async fn named(
        &mut self,
        store: &Store,
        account: AccountId,
        name: &str,
    ) -> Result<Option<Destination>, ScheduleError> {
        let key = (account, name.to_owned());
        if let Some(found) = self.named.get(&key) {
            return Ok(found.clone());
        }
        let found = store.destination(account, name).await?;
        self.named.insert(key, found.clone());
        Ok(found)
    }
}

/// The routed firings of one object from `now` (s) to the horizon.
async fn firings(
    store: &Store,
    lookups: &mut Lookups,
    collection: &Collection,
    object: &DavObject,
    now: i64,
    horizon: Duration,
) -> Result<Vec<NewDueAlarm>, ScheduleError> {
    let parsed = ical::parse_stored(object.data.as_bytes())?;
    let options = Options {
        floating: collection
            .timezone
            .as_deref()
            .and_then(|tz| Zone::from_vtimezone(tz.as_bytes()).ok())
            .unwrap_or_else(Zone::utc),
        ..Options::default()
    };
    let until = now.saturating_add(horizon.as_secs() as i64);
    let firings = parsed.alarm_firings(now, until, &options)?;
    let calendar = collection
        .displayname
        .as_deref()
        .unwrap_or(&collection.slug);
    let mut rows = Vec::new();
    for firing in firings {
        let wanted = match &firing.destination {
            Some(wanted) => Some(wanted.as_str()),
            None if firing.action.eq_ignore_ascii_case("EMAIL") => Some(EMAIL_DESTINATION),
            None => None,
        };
        let destination = match wanted {
            Some(wanted) => lookups.named(store, collection.account, wanted).await?,
            None => lookups.route(store, collection.id).await?,
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
            "object": object.meta.name,
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
    Ok(rows)
}
