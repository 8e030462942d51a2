//! Changes to the live tree: folders, committed uploads, renames, copies, mtimes.
//!
//! Each change is one transaction. An upload's bytes are already durable in a staged blob
//! when [`Store::commit_upload`] runs (or, for a small one, in memory, and the commit
//! writes them); the commit swaps the node's blob pointer and charges the quota
//! together, and only then is the old blob released.

use crate::Store;
use crate::accounts::{AccountId, charge, release_blobs};
use crate::blob::{BlobKey, StagedBlob};
use crate::db::{WriteTx, now_ms};
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
        self.commit_upload(account, parent, name, content, CreateMode::CreateNew)
            .await
    }

    /// Makes an uploaded blob the content of `parent/name`, creating or replacing the
    /// file as `mode` allows, and charges the size difference to the quota.
    pub async fn commit_upload(
        &self,
        account: AccountId,
        parent: NodeId,
        name: &str,
        content: NewContent,
        mode: CreateMode,
    ) -> Result<Node> {
        validate_name(name)?;
        let NewContent {
            blob,
            mtime_ms,
            content_type,
        } = content;
        let key = blob.key().clone();
        let size = blob.size();
        let digests = blob.digests().cloned();
        let size_db = i64::try_from(size).map_err(|_| StorageError::TooLarge {
            limit: i64::MAX as u64,
        })?;
        let now = now_ms();
        let mtime = mtime_ms.unwrap_or(now);

        let mut tx = self.db.begin_write().await?;
        let existing = fetch_child_of_dir(&mut tx, account, parent, name).await?;
        match (&existing, mode) {
            (Some(node), _) if node.is_dir() => {
                return Err(StorageError::Conflict("a folder has that name"));
            }
            (Some(_), CreateMode::CreateNew) => {
                return Err(StorageError::Conflict("the file exists"));
            }
            (None, CreateMode::ReplaceExisting) => return Err(StorageError::NotFound),
            _ => {}
        }
        sqlx::query(
            "INSERT INTO blobs (key, size, created_ms, md5, sha1) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.as_str())
        .bind(size_db)
        .bind(now)
        .bind(digests.as_ref().and_then(|d| d.md5.as_deref()))
        .bind(digests.as_ref().map(|d| d.sha1.as_str()))
        .execute(&mut *tx.tx)
        .await?;
        if let Some(bytes) = blob.inline() {
            sqlx::query("INSERT INTO blob_data (key, bytes) VALUES ($1, $2)")
                .bind(key.as_str())
                .bind(bytes)
                .execute(&mut *tx.tx)
                .await?;
        }
        let old_size = existing.as_ref().map_or(0, |n| n.size as i64);
        charge(&mut tx, account, size_db - old_size).await?;
        // The node as written, built from what was just stored rather than read back:
        // one statement fewer while the write lock is held.
        let (node, freed) = match existing {
            Some(old) => {
                sqlx::query(
                    "UPDATE nodes SET size = $1, etag = $2, mtime_ms = $3, blob_key = $2, \
                     content_type = $4 WHERE id = $5",
                )
                .bind(size_db)
                .bind(key.as_str())
                .bind(mtime)
                .bind(&content_type)
                .bind(old.id.0)
                .execute(&mut *tx.tx)
                .await?;
                let freed = match &old.blob {
                    Some(old_key) => release_blobs(&mut tx, std::slice::from_ref(old_key)).await?,
                    None => Vec::new(),
                };
                let node = Node {
                    size,
                    etag: key.as_str().to_owned(),
                    mtime_ms: mtime,
                    content_type,
                    blob: Some(key.clone()),
                    digests: digests.clone(),
                    ..old
                };
                (node, freed)
            }
            None => {
                let id = insert_node(
                    &mut tx,
                    account,
                    parent,
                    name,
                    NodeKind::File,
                    Some((&key, size_db)),
                    mtime,
                    now,
                    content_type.as_deref(),
                )
                .await?;
                let node = Node {
                    id,
                    account,
                    parent: Some(parent),
                    name: name.to_owned(),
                    kind: NodeKind::File,
                    size,
                    etag: key.as_str().to_owned(),
                    mtime_ms: mtime,
                    created_ms: now,
                    content_type,
                    blob: Some(key.clone()),
                    trashed_ms: None,
                    trash_origin: None,
                    digests: digests.clone(),
                };
                (node, Vec::new())
            }
        };
        tx.commit().await?;
        blob.committed();
        self.delete_blobs(&freed).await;
        if digests.as_ref().is_some_and(|d| d.md5.is_none()) && !self.md5.queue(key) {
            tracing::debug!("the MD5 queue is full; upkeep fills this blob's in later");
        }
        Ok(node)
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
