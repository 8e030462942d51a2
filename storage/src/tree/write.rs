//! Changes to the live tree: folders, committed uploads, renames, copies, mtimes.
//!
//! Each change is one transaction; on SQLite, uploads finishing at the same time share
//! theirs (`db::batch`). An upload's bytes are already durable in a staged blob when
//! [`Store::commit_upload`] runs (or, for a small one, in memory, and the commit writes
//! them); the commit swaps the node's blob pointer and charges the quota together, and
//! only then is the old blob released. Each upload's rows go to the database in one
//! round trip (`create_if_free`, `replace_file`): a hand-off to SQLite's thread, or a
//! round trip to PostgreSQL, costs as much as a small write, and the batch's write
//! lock waits for each.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;
use tokio::sync::oneshot;

use crate::Store;
use crate::accounts::{
    AccountId, charge, charge_if_room, leaves_stored_bytes, release_if_unreferenced,
};
use crate::blob::{BlobKey, StagedBlob};
use crate::db::batch::{BatchItem, write_batch};
use crate::db::{Backend, Durability, WriteTx, Wrote, now_ms};
use crate::error::{Result, StorageError};
use crate::names::{name_key, validate_name};
use crate::tree::{MAX_DEPTH, Node, NodeId, NodeKind, NodeRow, select_nodes};

/// What must be true of the target name when a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateMode {
    /// Create the file or replace its content.
    CreateOrReplace,
    /// Only create: fail with `Conflict` if the name exists (`If-None-Match: *`).
    CreateNew,
    /// Only replace: fail with `NotFound` if it does not (`If-Match: *`).
    ReplaceExisting,
}

/// Whether the name an upload goes to was free when the request looked, before its
/// body arrived. Only a guess (it is checked again in the commit's transaction), it
/// picks the cheaper way to write: a name seen free is claimed and written at once, and
/// one taken meanwhile is then looked up and replaced; a name seen taken is looked up
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameWas {
    /// Nothing was there.
    Free,
    /// A file was there (or a folder: the commit refuses that either way).
    Taken,
}

/// Why an upload's commit refuses a name a folder holds (`StorageError::Conflict`).
pub const FOLDER_AT_NAME: &str = "a folder has that name";

/// What a committed upload did at its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileWritten {
    /// Made a new file.
    Created,
    /// Replaced the content of the file there.
    Replaced,
}

/// A committed, durable upload.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The file as written.
    pub node: Node,
    /// Whether it made the file or replaced one.
    pub written: FileWritten,
}

/// The content of a finished upload, ready to commit.
pub struct NewContent {
    /// The durable, still unreferenced blob.
    pub blob: Box<dyn StagedBlob>,
    /// Modification time to record; `None` means now.
    pub mtime_ms: Option<i64>,
    /// Content type the client declared, if any.
    pub content_type: Option<String>,
}

impl Store {
    /// Creates a folder.
    pub async fn create_dir(&self, account: AccountId, parent: NodeId, name: &str) -> Result<Node> {
        validate_name(name)?;
        let mut tx = self.db.begin_write().await?;
        require_dir(&mut tx, account, parent).await?;
        let now = now_ms();
        let id = insert_node(
            &mut tx,
            account,
            parent,
            name,
            NodeKind::Dir,
            None,
            now,
            now,
            None,
        )
        .await?;
        let node = fetch_node(&mut tx, id).await?;
        tx.commit().await?;
        Ok(node)
    }

    /// Creates an empty file unless the name is taken (a LOCK on an unmapped URL).
    pub async fn create_empty_file(
        &self,
        account: AccountId,
        parent: NodeId,
        name: &str,
    ) -> Result<Node> {
        validate_name(name)?;
        let staged = self.upload().await?.finish().await?;
        let content = NewContent {
            blob: staged,
            mtime_ms: None,
            content_type: None,
        };
        self.commit_upload(
            account,
            parent,
            name,
            content,
            CreateMode::CreateNew,
            NameWas::Free,
        )
        .await
        .map(|uploaded| uploaded.node)
    }

    /// Makes an uploaded blob the content of `parent/name`, creating or replacing the
    /// file as `mode` allows, and charges the size difference to the quota. Returns once
    /// the commit is durable. On SQLite the upload joins the next batch of writes to be
    /// committed together (see `db::batch`).
    pub async fn commit_upload(
        &self,
        account: AccountId,
        parent: NodeId,
        name: &str,
        content: NewContent,
        mode: CreateMode,
        name_was: NameWas,
    ) -> Result<Uploaded> {
        validate_name(name)?;
        let size_db = i64::try_from(content.blob.size()).map_err(|_| StorageError::TooLarge {
            limit: i64::MAX as u64,
        })?;
        let upload = QueuedUpload {
            account,
            parent,
            name: name.to_owned(),
            content,
            mode,
            name_was,
            size_db,
        };
        let (reply, outcome) = oneshot::channel();
        let item = Box::new(PendingUpload {
            upload,
            outcome: None,
            reply,
        });
        if self.db.writes_one_at_a_time() {
            self.write_batches.push(&self.db, item);
        } else {
            // PostgreSQL runs writers side by side: alone, in the request's own task.
            write_batch(&self.db, vec![item]).await;
        }
        let committed = outcome.await.map_err(|_| abandoned())??;
        committed.durability.wait().await?;
        self.delete_blobs(&committed.freed).await;
        let node = committed.node;
        if let (Some(digests), Some(key)) = (&node.digests, &node.blob)
            && digests.md5.is_none()
            && !self.md5.queue(key.clone())
        {
            tracing::debug!("the MD5 queue is full; upkeep fills this blob's in later");
        }
        Ok(Uploaded {
            node,
            written: committed.written,
        })
    }

    /// Sets a node's modification time (X-OC-Mtime, Win32LastModifiedTime).
    pub async fn set_mtime(&self, account: AccountId, node: NodeId, mtime_ms: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query("UPDATE nodes SET mtime_ms = $1 WHERE id = $2 AND account_id = $3")
            .bind(mtime_ms)
            .bind(node.0)
            .bind(account.0)
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await
    }
}

/// An upload whose bytes are staged, waiting for its commit.
pub(crate) struct QueuedUpload {
    pub(crate) account: AccountId,
    pub(crate) parent: NodeId,
    pub(crate) name: String,
    pub(crate) content: NewContent,
    pub(crate) mode: CreateMode,
    pub(crate) name_was: NameWas,
    /// The blob's size as the database stores it.
    pub(crate) size_db: i64,
}

/// An upload written into a transaction that is still open.
pub(crate) struct Applied {
    /// The node as written, built from what was stored rather than read back: one
    /// statement fewer while the write lock is held.
    pub(crate) node: Node,
    pub(crate) written: FileWritten,
    /// Blobs the replaced content held that nothing references any more.
    pub(crate) freed: Vec<BlobKey>,
}

/// Why an upload was not written.
enum NotApplied {
    /// Refused before it wrote anything (its name taken, its folder gone, the quota):
    /// the transaction can go on without it.
    Refused(StorageError),
    /// Failed after writing part of it: the transaction must be rolled back.
    Broken(StorageError),
}

/// An upload committed to the database, not yet known to be durable.
pub(crate) struct Committed {
    pub(crate) node: Node,
    pub(crate) written: FileWritten,
    /// Blobs nothing references any more, to delete once the commit is durable.
    pub(crate) freed: Vec<BlobKey>,
    /// Shared by every write of the batch.
    pub(crate) durability: Arc<Durability>,
}

/// An upload as one write of a batch (see `db::batch`).
pub(crate) struct PendingUpload {
    pub(crate) upload: QueuedUpload,
    /// What writing it did, once it was tried: the upload written, or why it was not.
    pub(crate) outcome: Option<Result<Applied>>,
    pub(crate) reply: oneshot::Sender<Result<Committed>>,
}

#[async_trait]
impl BatchItem for PendingUpload {
    async fn apply(&mut self, tx: &mut WriteTx) -> Result<()> {
        self.outcome = None;
        match apply_upload(tx, &self.upload).await {
            Ok(applied) => self.outcome = Some(Ok(applied)),
            Err(NotApplied::Refused(refusal)) => self.outcome = Some(Err(refusal)),
            Err(NotApplied::Broken(e)) => return Err(e),
        }
        Ok(())
    }

    fn finish(self: Box<Self>, commit: Result<Arc<Durability>>) {
        let PendingUpload {
            upload,
            outcome,
            reply,
        } = *self;
        let answer = match (commit, outcome) {
            (Ok(durability), Some(Ok(applied))) => {
                // The database references the blob now: it is kept.
                upload.content.blob.committed();
                Ok(Committed {
                    node: applied.node,
                    written: applied.written,
                    freed: applied.freed,
                    durability,
                })
            }
            (Ok(_), Some(Err(refusal))) => Err(refusal),
            (Ok(_), None) => Err(abandoned()),
            (Err(e), _) => Err(e),
        };
        // An uploader that went away still had its upload committed, as it would
        // written alone once its COMMIT was sent.
        let _ = reply.send(answer);
    }

    fn wrote(&self) -> Wrote {
        // A node, a blob's rows, the account's usage: see `apply_upload`.
        Wrote::FileContent
    }
}

/// An upload whose commit never finished.
fn abandoned() -> StorageError {
    StorageError::Io(std::io::Error::other(
        "the upload's commit did not finish (the server may be stopping); upload the file again",
    ))
}

/// Writes `upload` into `tx`: the blob's rows, the node, the quota. Every check that
/// can refuse it runs before its first write, so a refused upload leaves `tx` as it was.
async fn apply_upload(
    tx: &mut WriteTx,
    upload: &QueuedUpload,
) -> std::result::Result<Applied, NotApplied> {
    let QueuedUpload {
        account,
        parent,
        ref name,
        ref content,
        mode,
        name_was,
        size_db,
    } = *upload;
    let blob = &content.blob;
    let key = blob.key();
    let digests = blob.digests().cloned();
    let now = now_ms();
    let mtime = content.mtime_ms.unwrap_or(now);
    let content_type = content.content_type.clone();

    let created = |id| Applied {
        node: Node {
            id,
            account,
            parent: Some(parent),
            name: name.clone(),
            kind: NodeKind::File,
            size: size_db as u64,
            etag: key.as_str().to_owned(),
            mtime_ms: mtime,
            created_ms: now,
            content_type: content_type.clone(),
            blob: Some(key.clone()),
            trashed_ms: None,
            trash_origin: None,
            digests: digests.clone(),
        },
        written: FileWritten::Created,
        freed: Vec::new(),
    };
    let replaced = |old: Node| Node {
        size: size_db as u64,
        etag: key.as_str().to_owned(),
        mtime_ms: mtime,
        content_type: content_type.clone(),
        blob: Some(key.clone()),
        digests: digests.clone(),
        ..old
    };
    let seen_free = name_was == NameWas::Free && mode != CreateMode::ReplaceExisting;
    if seen_free
        && let Some(id) = create_if_free(tx, upload, now, mtime, content_type.as_deref())
            .await
            .map_err(NotApplied::Broken)?
    {
        return Ok(created(id));
    }
    let existing = fetch_child_of_dir(tx, account, parent, name)
        .await
        .map_err(refused_unless_backend)?;
    match (&existing, mode) {
        (Some(node), _) if node.is_dir() => {
            return Err(NotApplied::Refused(StorageError::Conflict(FOLDER_AT_NAME)));
        }
        (Some(_), CreateMode::CreateNew) => {
            return Err(NotApplied::Refused(StorageError::Conflict(
                "the file exists",
            )));
        }
        (None, CreateMode::ReplaceExisting) => {
            return Err(NotApplied::Refused(StorageError::NotFound));
        }
        _ => {}
    }
    match &existing {
        Some(old) => {
            match replace_file(tx, upload, old, now, mtime, content_type.as_deref())
                .await
                .map_err(NotApplied::Broken)?
            {
                Replacement::Done { freed } => {
                    return Ok(Applied {
                        node: replaced(old.clone()),
                        written: FileWritten::Replaced,
                        freed,
                    });
                }
                Replacement::NotCharged => {}
                Replacement::NodeGoneMeanwhile => {
                    return Err(NotApplied::Broken(changed_meanwhile()));
                }
            }
        }
        // Claimed above already, and refused: a second try would fail alike.
        None if seen_free => {}
        None => {
            if let Some(id) = create_if_free(tx, upload, now, mtime, content_type.as_deref())
                .await
                .map_err(NotApplied::Broken)?
            {
                return Ok(created(id));
            }
        }
    }
    // Nothing was written, and every check but the quota passed above: the charge
    // refuses and says why. One that holds here means another transaction changed the
    // account between the statements (PostgreSQL): undone, and the upload tried alone.
    let old_size = existing.as_ref().map_or(0, |n| n.size as i64);
    charge(tx, account, size_db - old_size)
        .await
        .map_err(refused_unless_backend)?;
    Err(NotApplied::Broken(changed_meanwhile()))
}

/// Another transaction changed what an upload's commit read, between its statements
/// (PostgreSQL runs them beside others). The batch is rolled back and the upload
/// written alone; if that meets another change, the uploader gets this.
fn changed_meanwhile() -> StorageError {
    StorageError::Io(std::io::Error::other(
        "the file or the account changed while the upload was committed; upload the file again",
    ))
}

/// Which of an upload's one-round-trip writes `backend` runs: SQLite takes a list of
/// statements in one hand-off, PostgreSQL one statement of `WITH` steps.
fn one_round_trip(backend: Backend, sqlite: &'static str, postgres: &'static str) -> &'static str {
    match backend {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    }
}

/// What [`replace_file`] did.
enum Replacement {
    /// The node points at the new blob; `freed` are blobs nothing references now, to
    /// delete once durable.
    Done { freed: Vec<BlobKey> },
    /// The quota refused the difference: nothing was written.
    NotCharged,
    /// The node was deleted by another transaction after it was read (PostgreSQL): the
    /// charge and the blob's rows may be written, so the transaction must be undone.
    NodeGoneMeanwhile,
}

/// The insert of a new blob's `blobs` row from a `SELECT` of the parameters holding
/// each column, for the caller to finish with the `WHERE` that decides whether it is
/// written.
macro_rules! insert_blob_row {
    ($key:literal, $size:literal, $now:literal, $md5:literal, $sha1:literal) => {
        concat!(
            "INSERT INTO blobs (key, size, created_ms, md5, sha1) SELECT ",
            $key,
            ", ",
            $size,
            ", ",
            $now,
            ", ",
            $md5,
            ", ",
            $sha1
        )
    };
}

/// A new blob's rows, appended to a list of statements after the one that decides
/// whether it is written: its `blobs` row only when that statement changed a row, its
/// bytes (`$bytes`, NULL when not inline) only when that row was written. The
/// arguments are the parameters holding each column.
macro_rules! blob_rows_after_a_write {
    ($key:literal, $size:literal, $now:literal, $md5:literal, $sha1:literal, $bytes:literal) => {
        concat!(
            ";\n",
            insert_blob_row!($key, $size, $now, $md5, $sha1),
            " WHERE changes() = 1;\nINSERT INTO blob_data (key, bytes) SELECT ",
            $key,
            ", ",
            $bytes,
            " WHERE ",
            $bytes,
            " IS NOT NULL AND changes() = 1"
        )
    };
}

/// The same rows in one PostgreSQL statement: two `WITH` steps, `blob` and `bytes`,
/// written only when `$when` holds (it names the step before).
macro_rules! blob_rows_in_steps {
    ($when:literal, $key:literal, $size:literal, $now:literal, $md5:literal, $sha1:literal, $bytes:literal) => {
        concat!(
            "blob AS (",
            insert_blob_row!($key, $size, $now, $md5, $sha1),
            " WHERE ",
            $when,
            " RETURNING key), bytes AS (INSERT INTO blob_data (key, bytes) SELECT key, ",
            $bytes,
            " FROM blob WHERE ",
            $bytes,
            " IS NOT NULL)"
        )
    };
}

/// The writes for a file that replaces `old` (charge the difference, the blob's rows,
/// point the node at it, release the old blob) in one round trip, where separate
/// statements took six. The blob's row is written only when the charge held, its bytes
/// only when that row was written, the node only when that row is there, and the old
/// blob's rows are deleted only when no node points at them any more. As in
/// [`create_if_free`], SQLite runs a list of statements and PostgreSQL one statement of
/// `WITH` steps; only there can another transaction delete the node meanwhile, and its
/// statement says when the blob's row was written for a node it then did not find.
async fn replace_file(
    tx: &mut WriteTx,
    upload: &QueuedUpload,
    old: &Node,
    now: i64,
    mtime: i64,
    content_type: Option<&str>,
) -> Result<Replacement> {
    const SQLITE: &str = concat!(
        charge_if_room!(""),
        blob_rows_after_a_write!("$3", "$4", "$5", "$6", "$7", "$8"),
        ";\nUPDATE nodes SET size = $4, etag = $3, mtime_ms = $9, blob_key = $3, \
         content_type = $10 WHERE id = $11 AND EXISTS (SELECT 1 FROM blobs WHERE key = $3) \
         RETURNING 'replaced';\n",
        release_if_unreferenced!("blob_data", "$12", "'inline'"),
        ";\n",
        release_if_unreferenced!("blobs", "$12", "'row'"),
    );
    const POSTGRES: &str = concat!(
        // A file replaced by one of its size charges nothing, and takes no lock on
        // the account's row: concurrent overwrites would wait for each other's commit.
        "WITH charged AS (",
        charge_if_room!(" AND $1 <> 0"),
        " RETURNING 1), ",
        blob_rows_in_steps!(
            "$1 = 0 OR EXISTS (SELECT 1 FROM charged)",
            "$3",
            "$4",
            "$5",
            "$6",
            "$7",
            "$8"
        ),
        ", node AS (UPDATE nodes SET size = $4, etag = $3, mtime_ms = $9, blob_key = blob.key, \
         content_type = $10 FROM blob WHERE id = $11 RETURNING 'replaced'::text AS done), \
         inline AS (",
        release_if_unreferenced!("blob_data", "$12", "'inline'::text AS done", after "node" moved "$11"),
        "), gone AS (",
        release_if_unreferenced!("blobs", "$12", "'row'::text AS done", after "node" moved "$11"),
        ")\nSELECT 'written'::text FROM blob UNION ALL SELECT done FROM node \
         UNION ALL SELECT done FROM inline UNION ALL SELECT done FROM gone",
    );
    let blob = &upload.content.blob;
    let digests = blob.digests();
    // fetch_all for the reason create_if_free gives.
    let rows = sqlx::query(one_round_trip(tx.backend, SQLITE, POSTGRES))
        .bind(upload.size_db - old.size as i64)
        .bind(upload.account.0)
        .bind(blob.key().as_str())
        .bind(upload.size_db)
        .bind(now)
        .bind(digests.and_then(|d| d.md5.as_deref()))
        .bind(digests.map(|d| d.sha1.as_str()))
        .bind(blob.inline())
        .bind(mtime)
        .bind(content_type)
        .bind(old.id.0)
        .bind(old.blob.as_ref().map(BlobKey::as_str))
        .fetch_all(&mut *tx.tx)
        .await?;
    let mut done = Vec::with_capacity(rows.len());
    for row in &rows {
        done.push(row.try_get::<String, _>(0)?);
    }
    let did = |what: &str| done.iter().any(|d| d == what);
    if !did("replaced") {
        return Ok(if did("written") {
            Replacement::NodeGoneMeanwhile
        } else {
            Replacement::NotCharged
        });
    }
    let freed = match &old.blob {
        Some(old_key) if leaves_stored_bytes(did("row"), did("inline")) => vec![old_key.clone()],
        _ => Vec::new(),
    };
    Ok(Replacement::Done { freed })
}

/// The claim of a free name, what a read and a charge would check, in one statement: charges `$1` bytes to account `$2` if the quota has room,
/// `$3` is a folder of the account (`$4` the folder kind) and no node in it has the
/// name key `$5`. It changes no row when any of that does not hold.
macro_rules! claim_free_name_sql {
    () => {
        charge_if_room!(
            " AND EXISTS (SELECT 1 FROM nodes WHERE id = $3 AND account_id = $2 AND kind = $4) \
             AND NOT EXISTS (SELECT 1 FROM nodes WHERE parent_id = $3 AND name_key = $5)"
        )
    };
}

/// The new file's node, inserted from a row that carries its blob's key (`FROM` what
/// follows). The parameters are those [`create_if_free`] binds.
macro_rules! insert_new_file_node {
    ($from:literal) => {
        concat!(
            "INSERT INTO nodes (account_id, parent_id, name, name_key, kind, size, etag, \
             mtime_ms, created_ms, content_type, blob_key) \
             SELECT $2, $3, $11, $5, $12, $1, $6, $13, $7, $14, $6 ",
            $from,
            " RETURNING id"
        )
    };
}

/// Claims the free name the upload was seen to go to (`claim_free_name_sql!`) and
/// writes the new file's rows (its blob, the blob's bytes when inline, its node) in one
/// round trip to the database, where separate statements took four while the batch's
/// write lock waited for each. The blob's row is written only when the claim charged,
/// its bytes only when that row was written, and the node only when that row is there;
/// so a claim that does not hold writes nothing and gives `None`, and the caller then
/// finds out why.
///
/// SQLite runs it as a list of statements, each gated on the one before
/// (`changes()`). PostgreSQL takes one statement per query, so there each step is a
/// data-modifying `WITH` that selects from the step before; all of them see the same
/// snapshot, which the steps do not need, as each only reads what the one before
/// returned.
async fn create_if_free(
    tx: &mut WriteTx,
    upload: &QueuedUpload,
    now: i64,
    mtime: i64,
    content_type: Option<&str>,
) -> Result<Option<NodeId>> {
    const SQLITE: &str = concat!(
        claim_free_name_sql!(),
        blob_rows_after_a_write!("$6", "$1", "$7", "$8", "$9", "$10"),
        ";\n",
        insert_new_file_node!("WHERE EXISTS (SELECT 1 FROM blobs WHERE key = $6)"),
    );
    const POSTGRES: &str = concat!(
        "WITH claim AS (",
        claim_free_name_sql!(),
        " RETURNING 1), ",
        blob_rows_in_steps!(
            "EXISTS (SELECT 1 FROM claim)",
            "$6",
            "$1",
            "$7",
            "$8",
            "$9",
            "$10"
        ),
        "\n",
        insert_new_file_node!("FROM blob"),
    );
    let blob = &upload.content.blob;
    let digests = blob.digests();
    // fetch_all, not fetch_optional: sqlx stops reading at a list's first result, which
    // on SQLite is the claim's, and would leave the inserts unrun.
    let rows = sqlx::query(one_round_trip(tx.backend, SQLITE, POSTGRES))
        .bind(upload.size_db)
        .bind(upload.account.0)
        .bind(upload.parent.0)
        .bind(NodeKind::Dir.to_db())
        .bind(name_key(&upload.name))
        .bind(blob.key().as_str())
        .bind(now)
        .bind(digests.and_then(|d| d.md5.as_deref()))
        .bind(digests.map(|d| d.sha1.as_str()))
        .bind(blob.inline())
        .bind(upload.name.as_str())
        .bind(NodeKind::File.to_db())
        .bind(mtime)
        .bind(content_type)
        .fetch_all(&mut *tx.tx)
        .await
        .map_err(|e| StorageError::from_unique(e, "the name is taken"))?;
    match rows.first() {
        Some(row) => Ok(Some(NodeId(row.try_get(0)?))),
        None => Ok(None),
    }
}

/// A check's error: a refusal, unless the database itself failed.
fn refused_unless_backend(e: StorageError) -> NotApplied {
    match e {
        StorageError::Backend(_) | StorageError::Io(_) => NotApplied::Broken(e),
        refusal => NotApplied::Refused(refusal),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_node(
    tx: &mut WriteTx,
    account: AccountId,
    parent: NodeId,
    name: &str,
    kind: NodeKind,
    blob: Option<(&BlobKey, i64)>,
    mtime_ms: i64,
    created_ms: i64,
    content_type: Option<&str>,
) -> Result<NodeId> {
    let etag = match blob {
        Some((key, _)) => key.clone(),
        None => BlobKey::random(),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO nodes (account_id, parent_id, name, name_key, kind, size, etag, mtime_ms, \
         created_ms, content_type, blob_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(account.0)
    .bind(parent.0)
    .bind(name)
    .bind(name_key(name))
    .bind(kind.to_db())
    .bind(blob.map_or(0, |(_, size)| size))
    .bind(etag.as_str())
    .bind(mtime_ms)
    .bind(created_ms)
    .bind(content_type)
    .bind(blob.map(|(key, _)| key.as_str()))
    .fetch_one(&mut *tx.tx)
    .await
    .map_err(|e| StorageError::from_unique(e, "the name is taken"))?;
    Ok(NodeId(id))
}

pub(crate) async fn fetch_node(tx: &mut WriteTx, id: NodeId) -> Result<Node> {
    let row: Option<NodeRow> = sqlx::query_as(select_nodes!("WHERE n.id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *tx.tx)
        .await?;
    row.map(Node::from).ok_or(StorageError::NotFound)
}

pub(super) async fn fetch_child(
    tx: &mut WriteTx,
    parent: NodeId,
    name: &str,
) -> Result<Option<Node>> {
    let row: Option<NodeRow> =
        sqlx::query_as(select_nodes!("WHERE n.parent_id = $1 AND n.name_key = $2"))
            .bind(parent.0)
            .bind(name_key(name))
            .fetch_optional(&mut *tx.tx)
            .await?;
    Ok(row.map(Node::from))
}

/// The child `name` of the folder `parent` of `account`, in one statement with the
/// folder's own row; `NotFound` unless that folder exists.
pub(super) async fn fetch_child_of_dir(
    tx: &mut WriteTx,
    account: AccountId,
    parent: NodeId,
    name: &str,
) -> Result<Option<Node>> {
    let rows: Vec<NodeRow> = sqlx::query_as(select_nodes!(
        "WHERE n.id = $1 OR (n.parent_id = $1 AND n.name_key = $2)"
    ))
    .bind(parent.0)
    .bind(name_key(name))
    .fetch_all(&mut *tx.tx)
    .await?;
    let (dirs, children): (Vec<Node>, Vec<Node>) = rows
        .into_iter()
        .map(Node::from)
        .partition(|n| n.id == parent);
    match dirs.first() {
        Some(dir) if dir.account == account && dir.is_dir() => Ok(children.into_iter().next()),
        _ => Err(StorageError::NotFound),
    }
}

/// Fails unless `id` is a folder of `account`.
pub(crate) async fn require_dir(tx: &mut WriteTx, account: AccountId, id: NodeId) -> Result<()> {
    let node = fetch_node(tx, id).await?;
    if node.account != account || !node.is_dir() {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// True when `node` is `ancestor` or lies below it.
pub(super) async fn is_within(tx: &mut WriteTx, node: NodeId, ancestor: NodeId) -> Result<bool> {
    let mut current = Some(node);
    for _ in 0..=MAX_DEPTH {
        let Some(id) = current else {
            return Ok(false);
        };
        if id == ancestor {
            return Ok(true);
        }
        current = fetch_node(tx, id).await?.parent;
    }
    Ok(true)
}

/// Fails unless `id` is a node of `account`.
pub(crate) async fn require_node(tx: &mut WriteTx, account: AccountId, id: NodeId) -> Result<()> {
    if fetch_node(tx, id).await?.account != account {
        return Err(StorageError::NotFound);
    }
    Ok(())
}
