//! Calendar objects and vCards: stored text, UID and time span, and the change log.

use sqlx::FromRow;

use super::collections::{CollectionId, fetch};
use crate::Store;
use crate::blob::BlobKey;
use crate::db::{Backend, WriteTx, now_ms};
use crate::error::{Result, StorageError};

/// What listings need of an object, without its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Resource name in the collection (`event.ics`).
    pub name: String,
    /// Strong entity tag, new with every write.
    pub etag: String,
    /// Size of the text in bytes.
    pub size: u64,
    /// Component bits (the protocol layer names them).
    pub component: i64,
    /// Last write, ms since the epoch.
    pub modified_ms: i64,
    /// Number of the change that last wrote it.
    pub sync_seq: i64,
}

/// An object with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObject {
    /// Listing fields.
    pub meta: ObjectMeta,
    /// The UID inside the text.
    pub uid: String,
    /// The text, exactly as the client sent it.
    pub data: String,
    /// Earliest UTC second it may occupy; `None` when unknown (matches every range).
    pub first_start: Option<i64>,
    /// Latest UTC second it may occupy; `None` when unbounded.
    pub last_end: Option<i64>,
}

/// An object to write.
#[derive(Debug, Clone)]
pub struct NewObject {
    /// Resource name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Component bits.
    pub component: i64,
    /// The text.
    pub data: String,
    /// Index span start.
    pub first_start: Option<i64>,
    /// Index span end.
    pub last_end: Option<i64>,
}

/// What must hold before a write or delete (If-Match / If-None-Match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing.
    None,
    /// The current ETag (without quotes) must be this one.
    IfMatch(String),
    /// The resource must exist (`If-Match: *`).
    Exists,
    /// The resource must not exist (`If-None-Match: *`).
    Absent,
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new ETag.
    pub etag: String,
    /// Whether the resource was created (rather than replaced).
    pub created: bool,
}

/// One change reported by sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Resource name.
    pub name: String,
    /// Its ETag now; `None` when it was deleted.
    pub etag: Option<String>,
}

/// Changes since a sync token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The changes, oldest first.
    pub changes: Vec<Change>,
    /// The token to ask from next time.
    pub seq: i64,
    /// More changes exist past `seq` (the limit was reached).
    pub truncated: bool,
}

#[derive(FromRow)]
struct MetaRow {
    name: String,
    etag: String,
    size: i64,
    component: i64,
    modified_ms: i64,
    sync_seq: i64,
}

impl From<MetaRow> for ObjectMeta {
    fn from(r: MetaRow) -> Self {
        ObjectMeta {
            name: r.name,
            etag: r.etag,
            size: r.size.max(0) as u64,
            component: r.component,
            modified_ms: r.modified_ms,
            sync_seq: r.sync_seq,
        }
    }
}

/// A listing row as JSON array elements, in `object_metas_named`'s order.
type MetaTuple = (String, String, i64, i64, i64, i64);

impl From<MetaTuple> for MetaRow {
    fn from(t: MetaTuple) -> Self {
        MetaRow {
            name: t.0,
            etag: t.1,
            size: t.2,
            component: t.3,
            modified_ms: t.4,
            sync_seq: t.5,
        }
    }
}

/// Which objects a bulk read wants.
enum Filter<'a> {
    All,
    Named(&'a [String]),
    Overlapping(Option<i64>, Option<i64>),
}

/// An object row as JSON array elements, in `objects_where`'s order.
type ObjectTuple = (
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
);

impl From<ObjectTuple> for ObjectRow {
    fn from(t: ObjectTuple) -> Self {
        ObjectRow {
            meta: MetaRow::from((t.0, t.1, t.2, t.3, t.4, t.5)),
            uid: t.6,
            data: t.7,
            first_start: t.8,
            last_end: t.9,
        }
    }
}

#[derive(FromRow)]
struct ObjectRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    uid: String,
    data: String,
    first_start: Option<i64>,
    last_end: Option<i64>,
}

impl From<ObjectRow> for DavObject {
    fn from(r: ObjectRow) -> Self {
        DavObject {
            meta: ObjectMeta::from(r.meta),
            uid: r.uid,
            data: r.data,
            first_start: r.first_start,
            last_end: r.last_end,
        }
    }
}

/// `SELECT <every object column> FROM dav_objects <rest>`.
macro_rules! select_objects {
    ($rest:literal) => {
        concat!(
            "SELECT name, etag, size, component, modified_ms, sync_seq, uid, data, first_start, ",
            "last_end FROM dav_objects ",
            $rest
        )
    };
}

/// `$select`, a statement ending in `WHERE collection_id = $1 `, with the condition of
/// `$filter` for the database named: the names of [`Filter::Named`] come as one JSON
/// array in `$2`, which each database unpacks with its own function.
macro_rules! filtered {
    (sqlite, $select:expr, $filter:expr) => {
        filtered!(
            $select,
            $filter,
            "AND name IN (SELECT value FROM json_each($2))"
        )
    };
    (postgres, $select:expr, $filter:expr) => {
        filtered!(
            $select,
            $filter,
            "AND name IN (SELECT json_array_elements_text($2::json))"
        )
    };
    ($select:expr, $filter:expr, $named:literal) => {
        match $filter {
            Filter::All => $select,
            Filter::Named(_) => concat!($select, $named),
            Filter::Overlapping(..) => concat!(
                $select,
                "AND (first_start IS NULL OR $3::bigint IS NULL OR first_start < $3) \
                 AND (last_end IS NULL OR $2::bigint IS NULL OR last_end > $2)"
            ),
        }
    };
}

/// `$query` with the collection and the values of `$filter` bound, in [`filtered!`]'s
/// parameter order.
macro_rules! bind_filter {
    ($query:expr, $collection:expr, $filter:expr) => {{
        let query = $query.bind($collection.0);
        match $filter {
            Filter::All => query,
            Filter::Named(names) => {
                query.bind(serde_json::to_string(names).expect("strings serialise"))
            }
            Filter::Overlapping(start, end) => query.bind(*start).bind(*end),
        }
    }};
}

/// A listing SQLite returned as one JSON array that does not read as its rows.
fn unreadable(e: serde_json::Error) -> StorageError {
    StorageError::Invalid(format!("the database returned unreadable objects: {e}"))
}

impl Store {
    /// Every object of a collection, without text, by name.
    pub async fn object_list(&self, collection: CollectionId) -> Result<Vec<ObjectMeta>> {
        let rows: Vec<MetaRow> = sqlx::query_as(
            "SELECT name, etag, size, component, modified_ms, sync_seq FROM dav_objects \
             WHERE collection_id = $1 ORDER BY name",
        )
        .bind(collection.0)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.into_iter().map(ObjectMeta::from).collect())
    }

    /// One object with its text.
    pub async fn object(&self, collection: CollectionId, name: &str) -> Result<Option<DavObject>> {
        let row: Option<ObjectRow> =
            sqlx::query_as(select_objects!("WHERE collection_id = $1 AND name = $2"))
                .bind(collection.0)
                .bind(name)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(row.map(DavObject::from))
    }

    /// Every object with its text.
    pub async fn objects(&self, collection: CollectionId) -> Result<Vec<DavObject>> {
        self.objects_where(collection, Filter::All).await
    }

    /// Listing fields of the objects with these names, without their text (a
    /// sync-collection that asks for no calendar or address data), sorted by name;
    /// missing names are skipped.
    pub async fn object_metas_named(
        &self,
        collection: CollectionId,
        names: &[String],
    ) -> Result<Vec<ObjectMeta>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // One JSON row on SQLite, plain rows on PostgreSQL, as in `objects_where`: an
        // initial sync names every object.
        let filter = Filter::Named(names);
        let mut metas: Vec<ObjectMeta> = match self.db.backend {
            Backend::Sqlite => {
                let sql = filtered!(
                    sqlite,
                    "SELECT COALESCE(json_group_array(json_array(name, etag, size, component, \
                     modified_ms, sync_seq)), '[]') FROM dav_objects WHERE collection_id = $1 ",
                    &filter
                );
                let json: String = bind_filter!(sqlx::query_scalar(sql), collection, &filter)
                    .fetch_one(&self.db.pool)
                    .await?;
                let rows: Vec<MetaTuple> = serde_json::from_str(&json).map_err(unreadable)?;
                rows.into_iter()
                    .map(|t| ObjectMeta::from(MetaRow::from(t)))
                    .collect()
            }
            Backend::Postgres => {
                let sql = filtered!(
                    postgres,
                    "SELECT name, etag, size, component, modified_ms, sync_seq FROM dav_objects \
                     WHERE collection_id = $1 ",
                    &filter
                );
                let rows: Vec<MetaRow> = bind_filter!(sqlx::query_as(sql), collection, &filter)
                    .fetch_all(&self.db.pool)
                    .await?;
                rows.into_iter().map(ObjectMeta::from).collect()
            }
        };
        // Sorted here, not by the database: PostgreSQL's collation may order names
        // differently from the byte order callers search them in.
        metas.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(metas)
    }

    /// The objects with these names (a multiget), sorted by name; missing names are
    /// skipped.
    pub async fn objects_named(
        &self,
        collection: CollectionId,
        names: &[String],
    ) -> Result<Vec<DavObject>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        self.objects_where(collection, Filter::Named(names)).await
    }

    /// Objects whose indexed span may overlap [start, end) (either bound open): the
    /// candidates a time-range query then checks precisely.
    pub async fn objects_overlapping(
        &self,
        collection: CollectionId,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<DavObject>> {
        self.objects_where(collection, Filter::Overlapping(start, end))
            .await
    }

    /// Objects of a bulk read, sorted by name. SQLite returns them as one row holding a
    /// JSON array: sqlx hands every SQLite row to its worker thread separately, and a
    /// report may read thousands. PostgreSQL sends plain rows: there the JSON aggregate
    /// was the slow part, as in a folder listing (`Store::children`).
    async fn objects_where(
        &self,
        collection: CollectionId,
        filter: Filter<'_>,
    ) -> Result<Vec<DavObject>> {
        let mut objects: Vec<DavObject> = match self.db.backend {
            Backend::Sqlite => {
                let sql = filtered!(
                    sqlite,
                    "SELECT COALESCE(json_group_array(json_array(name, etag, size, component, \
                     modified_ms, sync_seq, uid, data, first_start, last_end)), '[]') \
                     FROM dav_objects WHERE collection_id = $1 ",
                    &filter
                );
                let json: String = bind_filter!(sqlx::query_scalar(sql), collection, &filter)
                    .fetch_one(&self.db.pool)
                    .await?;
                let rows: Vec<ObjectTuple> = serde_json::from_str(&json).map_err(unreadable)?;
                rows.into_iter()
                    .map(|t| DavObject::from(ObjectRow::from(t)))
                    .collect()
            }
            Backend::Postgres => {
                let sql = filtered!(
                    postgres,
                    select_objects!("WHERE collection_id = $1 "),
                    &filter
                );
                let rows: Vec<ObjectRow> = bind_filter!(sqlx::query_as(sql), collection, &filter)
                    .fetch_all(&self.db.pool)
                    .await?;
                rows.into_iter().map(DavObject::from).collect()
            }
        };
        objects.sort_unstable_by(|a, b| a.meta.name.cmp(&b.meta.name));
        Ok(objects)
    }

    /// Writes an object, creating or replacing it, under `precondition`.
    pub async fn put_object(
        &self,
        collection: CollectionId,
        new: NewObject,
        precondition: Precondition,
    ) -> Result<Written> {
        let mut tx = self.db.begin_write().await?;
        fetch(&mut tx, collection).await?;
        let existing = current_etag(&mut tx, collection, &new.name).await?;
        check(&precondition, existing.as_deref())?;
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT name FROM dav_objects WHERE collection_id = $1 AND uid = $2 AND name <> $3",
        )
        .bind(collection.0)
        .bind(&new.uid)
        .bind(&new.name)
        .fetch_optional(&mut *tx.tx)
        .await?;
        if let Some(name) = holder {
            return Err(StorageError::UidConflict { name });
        }
        let seq = next_seq(&mut tx, collection).await?;
        let etag = BlobKey::random().as_str().to_owned();
        sqlx::query(
            "INSERT INTO dav_objects (collection_id, name, uid, etag, component, data, size, first_start, \
             last_end, modified_ms, sync_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (collection_id, name) DO UPDATE SET uid = excluded.uid, etag = excluded.etag, \
             component = excluded.component, data = excluded.data, size = excluded.size, \
             first_start = excluded.first_start, last_end = excluded.last_end, \
             modified_ms = excluded.modified_ms, sync_seq = excluded.sync_seq",
        )
        .bind(collection.0)
        .bind(&new.name)
        .bind(&new.uid)
        .bind(&etag)
        .bind(new.component)
        .bind(&new.data)
        .bind(new.data.len() as i64)
        .bind(new.first_start)
        .bind(new.last_end)
        .bind(now_ms())
        .bind(seq)
        .execute(&mut *tx.tx)
        .await?;
        sqlx::query("DELETE FROM dav_tombstones WHERE collection_id = $1 AND name = $2")
            .bind(collection.0)
            .bind(&new.name)
            .execute(&mut *tx.tx)
            .await?;
        mark_reminders_stale(&mut tx, collection, &new.name).await?;
        tx.commit().await?;
        Ok(Written {
            etag,
            created: existing.is_none(),
        })
    }

    /// Deletes an object under `precondition`, leaving a tombstone for sync.
    pub async fn delete_object(
        &self,
        collection: CollectionId,
        name: &str,
        precondition: Precondition,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let existing = current_etag(&mut tx, collection, name).await?;
        if existing.is_none() {
            return Err(StorageError::NotFound);
        }
        check(&precondition, existing.as_deref())?;
        let seq = next_seq(&mut tx, collection).await?;
        sqlx::query("DELETE FROM dav_objects WHERE collection_id = $1 AND name = $2")
            .bind(collection.0)
            .bind(name)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query(
            "INSERT INTO dav_tombstones (collection_id, name, sync_seq) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, name) DO UPDATE SET sync_seq = excluded.sync_seq",
        )
        .bind(collection.0)
        .bind(name)
        .bind(seq)
        .execute(&mut *tx.tx)
        .await?;
        mark_reminders_stale(&mut tx, collection, name).await?;
        tx.commit().await
    }

    /// What changed after change number `since` (0: everything that exists now), oldest
    /// first, at most `limit` entries. `Invalid` for a number the collection never had.
    pub async fn changes_since(
        &self,
        collection: CollectionId,
        since: i64,
        limit: Option<usize>,
    ) -> Result<Changes> {
        let current: i64 = sqlx::query_scalar("SELECT sync_seq FROM collections WHERE id = $1")
            .bind(collection.0)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        if since < 0 || since > current {
            return Err(StorageError::Invalid("unknown sync token".into()));
        }
        let rows: Vec<(String, Option<String>, i64)> = if since == 0 {
            sqlx::query_as("SELECT name, etag, sync_seq FROM dav_objects WHERE collection_id = $1 ORDER BY sync_seq")
                .bind(collection.0)
                .fetch_all(&self.db.pool)
                .await?
        } else {
            sqlx::query_as(
                "SELECT name, etag, sync_seq FROM dav_objects WHERE collection_id = $1 AND sync_seq > $2 \
                 UNION ALL SELECT name, NULL, sync_seq FROM dav_tombstones WHERE collection_id = $1 AND sync_seq > $2 \
                 ORDER BY sync_seq",
            )
            .bind(collection.0)
            .bind(since)
            .fetch_all(&self.db.pool)
            .await?
        };
        let truncated = limit.is_some_and(|l| rows.len() > l);
        let kept = if truncated {
            &rows[..limit.unwrap_or(0)]
        } else {
            &rows[..]
        };
        // Each change has its own number, so a truncated answer resumes after the last kept.
        let seq = match (truncated, kept.last()) {
            (true, Some((_, _, seq))) => *seq,
            (true, None) => since,
            (false, _) => current,
        };
        Ok(Changes {
            changes: kept
                .iter()
                .map(|(name, etag, _)| Change {
                    name: name.clone(),
                    etag: etag.clone(),
                })
                .collect(),
            seq,
            truncated,
        })
    }
}

async fn current_etag(
    tx: &mut WriteTx,
    collection: CollectionId,
    name: &str,
) -> Result<Option<String>> {
    let etag =
        sqlx::query_scalar("SELECT etag FROM dav_objects WHERE collection_id = $1 AND name = $2")
            .bind(collection.0)
            .bind(name)
            .fetch_optional(&mut *tx.tx)
            .await?;
    Ok(etag)
}

fn check(precondition: &Precondition, existing: Option<&str>) -> Result<()> {
    let holds = match precondition {
        Precondition::None => true,
        Precondition::IfMatch(etag) => existing == Some(etag.as_str()),
        Precondition::Exists => existing.is_some(),
        Precondition::Absent => existing.is_none(),
    };
    if holds {
        Ok(())
    } else {
        Err(StorageError::PreconditionFailed)
    }
}

/// Queues the object for the reminder scheduler, in the write's own transaction, when
/// its owner has a reminder destination (otherwise this one indexed lookup is all a
/// write pays).
async fn mark_reminders_stale(
    tx: &mut WriteTx,
    collection: CollectionId,
    name: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO reminder_stale (collection_id, object_name) SELECT $1, $2 \
         WHERE EXISTS (SELECT 1 FROM collections c JOIN reminder_destinations d \
         ON d.account_id = c.account_id WHERE c.id = $1 AND c.kind = 1) \
         ON CONFLICT (collection_id, object_name) DO NOTHING",
    )
    .bind(collection.0)
    .bind(name)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

async fn next_seq(tx: &mut WriteTx, collection: CollectionId) -> Result<i64> {
    let seq = sqlx::query_scalar(
        "UPDATE collections SET sync_seq = sync_seq + 1 WHERE id = $1 RETURNING sync_seq",
    )
    .bind(collection.0)
    .fetch_one(&mut *tx.tx)
    .await?;
    Ok(seq)
}
