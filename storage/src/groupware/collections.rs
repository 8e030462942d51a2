//! Calendars and address books as rows: create, list, change properties, delete.

use sqlx::FromRow;

use crate::Store;
use crate::db::{WriteTx, now_ms};
use crate::error::{Result, StorageError};
use crate::ids::AccountId;
use crate::props::{DeadProp, PropChange};

/// A collection's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CollectionId(pub i64);

/// Calendar or address book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    /// CalDAV calendar (events, tasks, journals).
    Calendar,
    /// CardDAV address book.
    AddressBook,
}

impl CollectionKind {
    fn to_db(self) -> i64 {
        match self {
            CollectionKind::Calendar => 1,
            CollectionKind::AddressBook => 2,
        }
    }

    fn from_db(v: i64) -> Self {
        if v == 2 {
            CollectionKind::AddressBook
        } else {
            CollectionKind::Calendar
        }
    }
}

/// One calendar or address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// Database id.
    pub id: CollectionId,
    /// Owner.
    pub account: AccountId,
    /// Calendar or address book.
    pub kind: CollectionKind,
    /// Its URL segment.
    pub slug: String,
    /// `DAV:displayname`.
    pub displayname: Option<String>,
    /// `calendar-description` / `addressbook-description`.
    pub description: Option<String>,
    /// Apple's `calendar-color`.
    pub color: Option<String>,
    /// Apple's `calendar-order`.
    pub sort_order: Option<i64>,
    /// `calendar-timezone` (a VTIMEZONE calendar object).
    pub timezone: Option<String>,
    /// Allowed components as bits (the protocol layer names them).
    pub components: i64,
    /// The account's default collection of its kind.
    pub is_default: bool,
    /// Number of the latest change: the sync token and CTag.
    pub sync_seq: i64,
    /// When it was created.
    pub created_ms: i64,
}

/// Fields of a new collection.
#[derive(Debug, Clone, Default)]
pub struct NewCollection {
    /// URL segment.
    pub slug: String,
    /// Display name.
    pub displayname: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Colour.
    pub color: Option<String>,
    /// Order.
    pub sort_order: Option<i64>,
    /// Time zone.
    pub timezone: Option<String>,
    /// Component bits.
    pub components: i64,
    /// Dead properties to store with it.
    pub dead: Vec<DeadProp>,
}

/// One change to a collection's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionChange {
    /// Set or remove the display name.
    DisplayName(Option<String>),
    /// Set or remove the description.
    Description(Option<String>),
    /// Set or remove the colour.
    Color(Option<String>),
    /// Set or remove the order.
    Order(Option<i64>),
    /// Set or remove the time zone.
    Timezone(Option<String>),
    /// A dead property.
    Dead(PropChange),
}

#[derive(FromRow)]
struct CollectionRow {
    id: i64,
    account_id: i64,
    kind: i64,
    slug: String,
    displayname: Option<String>,
    description: Option<String>,
    color: Option<String>,
    sort_order: Option<i64>,
    timezone: Option<String>,
    components: i64,
    is_default: i64,
    sync_seq: i64,
    created_ms: i64,
}

impl From<CollectionRow> for Collection {
    fn from(r: CollectionRow) -> Self {
        Collection {
            id: CollectionId(r.id),
            account: AccountId(r.account_id),
            kind: CollectionKind::from_db(r.kind),
            slug: r.slug,
            displayname: r.displayname,
            description: r.description,
            color: r.color,
            sort_order: r.sort_order,
            timezone: r.timezone,
            components: r.components,
            is_default: r.is_default != 0,
            sync_seq: r.sync_seq,
            created_ms: r.created_ms,
        }
    }
}

/// `SELECT <every collection column> FROM collections <rest>`.
macro_rules! select_collections {
    ($rest:literal) => {
        concat!(
            "SELECT id, account_id, kind, slug, displayname, description, color, sort_order, ",
            "timezone, components, is_default, sync_seq, created_ms FROM collections ",
            $rest
        )
    };
}

impl Store {
    /// The account's collections of a kind, by slug.
    pub async fn collections(
        &self,
        account: AccountId,
        kind: CollectionKind,
    ) -> Result<Vec<Collection>> {
        let rows: Vec<CollectionRow> = sqlx::query_as(select_collections!(
            "WHERE account_id = $1 AND kind = $2 ORDER BY slug"
        ))
        .bind(account.0)
        .bind(kind.to_db())
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.into_iter().map(Collection::from).collect())
    }

    /// One collection by owner, kind and slug.
    pub async fn collection(
        &self,
        account: AccountId,
        kind: CollectionKind,
        slug: &str,
    ) -> Result<Option<Collection>> {
        let row: Option<CollectionRow> = sqlx::query_as(select_collections!(
            "WHERE account_id = $1 AND kind = $2 AND slug = $3"
        ))
        .bind(account.0)
        .bind(kind.to_db())
        .bind(slug)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.map(Collection::from))
    }

    /// One collection by id.
    pub async fn collection_by_id(&self, id: CollectionId) -> Result<Option<Collection>> {
        let row: Option<CollectionRow> = sqlx::query_as(select_collections!("WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(Collection::from))
    }

    /// Creates a collection; `Conflict` if the slug is taken.
    pub async fn create_collection(
        &self,
        account: AccountId,
        kind: CollectionKind,
        new: NewCollection,
    ) -> Result<Collection> {
        validate_slug(&new.slug)?;
        let mut tx = self.db.begin_write().await?;
        let id = insert(&mut tx, account, kind, &new, false).await?;
        let created = fetch(&mut tx, id).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Creates the account's default calendar and address book if it has none of a kind
    /// (on first access); returns whether anything was created.
    pub async fn ensure_default_collections(
        &self,
        account: AccountId,
        calendar: NewCollection,
        book: NewCollection,
    ) -> Result<bool> {
        let existing: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT kind) FROM collections WHERE account_id = $1",
        )
        .bind(account.0)
        .fetch_one(&self.db.pool)
        .await?;
        if existing == 2 {
            return Ok(false);
        }
        let mut tx = self.db.begin_write().await?;
        let mut created = false;
        for (kind, new) in [
            (CollectionKind::Calendar, calendar),
            (CollectionKind::AddressBook, book),
        ] {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM collections WHERE account_id = $1 AND kind = $2",
            )
            .bind(account.0)
            .bind(kind.to_db())
            .fetch_one(&mut *tx.tx)
            .await?;
            if count == 0 {
                insert(&mut tx, account, kind, &new, true).await?;
                created = true;
            }
        }
        tx.commit().await?;
        Ok(created)
    }

    /// Applies property changes all together; changes count as a change of the collection
    /// (clients re-read its properties when the CTag moves).
    pub async fn update_collection(
        &self,
        id: CollectionId,
        changes: &[CollectionChange],
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        fetch(&mut tx, id).await?;
        for change in changes {
            let (sql, text): (&'static str, Option<&str>) = match change {
                CollectionChange::DisplayName(v) => (
                    "UPDATE collections SET displayname = $1 WHERE id = $2",
                    v.as_deref(),
                ),
                CollectionChange::Description(v) => (
                    "UPDATE collections SET description = $1 WHERE id = $2",
                    v.as_deref(),
                ),
                CollectionChange::Color(v) => (
                    "UPDATE collections SET color = $1 WHERE id = $2",
                    v.as_deref(),
                ),
                CollectionChange::Timezone(v) => (
                    "UPDATE collections SET timezone = $1 WHERE id = $2",
                    v.as_deref(),
                ),
                CollectionChange::Order(v) => {
                    sqlx::query("UPDATE collections SET sort_order = $1 WHERE id = $2")
                        .bind(*v)
                        .bind(id.0)
                        .execute(&mut *tx.tx)
                        .await?;
                    continue;
                }
                CollectionChange::Dead(change) => {
                    apply_dead(&mut tx, id, change).await?;
                    continue;
                }
            };
            sqlx::query(sql)
                .bind(text)
                .bind(id.0)
                .execute(&mut *tx.tx)
                .await?;
        }
        sqlx::query("UPDATE collections SET sync_seq = sync_seq + 1 WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// A collection's dead properties.
    pub async fn collection_dead_props(&self, id: CollectionId) -> Result<Vec<DeadProp>> {
        let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT namespace, name, xml FROM collection_props WHERE collection_id = $1 ORDER BY namespace, name",
        )
        .bind(id.0)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(namespace, name, xml)| DeadProp {
                namespace,
                name,
                prefix: None,
                xml,
            })
            .collect())
    }

    /// Deletes a collection with all its objects, shares and properties.
    pub async fn delete_collection(&self, id: CollectionId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query("DELETE FROM collections WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await
    }
}

/// Slugs are one URL segment of safe characters, so hrefs need no escaping surprises.
fn validate_slug(slug: &str) -> Result<()> {
    let ok = (1..=128).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
        && slug != "."
        && slug != "..";
    if ok {
        return Ok(());
    }
    Err(StorageError::Invalid(format!(
        "{slug:?} cannot name a collection: use 1 to 128 letters, digits and - _ . + (no @: it marks shared collections)"
    )))
}

async fn insert(
    tx: &mut WriteTx,
    account: AccountId,
    kind: CollectionKind,
    new: &NewCollection,
    is_default: bool,
) -> Result<CollectionId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO collections (account_id, kind, slug, displayname, description, color, sort_order, \
         timezone, components, is_default, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(account.0)
    .bind(kind.to_db())
    .bind(&new.slug)
    .bind(new.displayname.as_deref())
    .bind(new.description.as_deref())
    .bind(new.color.as_deref())
    .bind(new.sort_order)
    .bind(new.timezone.as_deref())
    .bind(new.components)
    .bind(i64::from(is_default))
    .bind(now_ms())
    .fetch_one(&mut *tx.tx)
    .await
    .map_err(|e| StorageError::from_unique(e, "a collection with that name exists"))?;
    for prop in &new.dead {
        apply_dead(tx, CollectionId(id), &PropChange::Set(prop.clone())).await?;
    }
    Ok(CollectionId(id))
}

async fn apply_dead(tx: &mut WriteTx, id: CollectionId, change: &PropChange) -> Result<()> {
    match change {
        PropChange::Set(p) => {
            sqlx::query(
                "INSERT INTO collection_props (collection_id, namespace, name, xml) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (collection_id, namespace, name) DO UPDATE SET xml = excluded.xml",
            )
            .bind(id.0)
            .bind(&p.namespace)
            .bind(&p.name)
            .bind(&p.xml)
            .execute(&mut *tx.tx)
            .await?;
        }
        PropChange::Remove { namespace, name } => {
            sqlx::query("DELETE FROM collection_props WHERE collection_id = $1 AND namespace = $2 AND name = $3")
                .bind(id.0)
                .bind(namespace)
                .bind(name)
                .execute(&mut *tx.tx)
                .await?;
        }
    }
    Ok(())
}

pub(crate) async fn fetch(tx: &mut WriteTx, id: CollectionId) -> Result<Collection> {
    let row: Option<CollectionRow> = sqlx::query_as(select_collections!("WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *tx.tx)
        .await?;
    row.map(Collection::from).ok_or(StorageError::NotFound)
}
