//! Dead properties: arbitrary XML a client stores on a file or folder with PROPPATCH.

use sqlx::FromRow;

use crate::Store;
use crate::error::{Result, StorageError};
use crate::ids::AccountId;
use crate::ids::NodeId;
use crate::tree::require_node;

/// Most dead properties one node may carry; PROPPATCH past it is refused.
pub const MAX_PROPS_PER_NODE: i64 = 256;

/// One stored property.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeadProp {
    /// Namespace URI ("" for none).
    pub namespace: String,
    /// Local name.
    pub name: String,
    /// The prefix the client used, kept to echo it back.
    pub prefix: Option<String>,
    /// The whole element as the client sent it.
    pub xml: Vec<u8>,
}

/// One change in a PROPPATCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropChange {
    /// Store or replace a property.
    Set(DeadProp),
    /// Remove a property; removing an absent one is not an error (RFC 4918 §14.23).
    Remove {
        /// Namespace URI ("" for none).
        namespace: String,
        /// Local name.
        name: String,
    },
}

#[derive(FromRow)]
struct ChildPropRow {
    node_id: i64,
    namespace: String,
    name: String,
    prefix: Option<String>,
    xml: Vec<u8>,
}

impl Store {
    /// The dead properties of a node.
    pub async fn dead_props(&self, node: NodeId) -> Result<Vec<DeadProp>> {
        let props = sqlx::query_as(
            "SELECT namespace, name, prefix, xml FROM dead_props WHERE node_id = $1 \
             ORDER BY namespace, name",
        )
        .bind(node.0)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(props)
    }

    /// The dead properties of every child of `parent`, in one query (PROPFIND Depth 1).
    pub async fn dead_props_of_children(&self, parent: NodeId) -> Result<Vec<(NodeId, DeadProp)>> {
        let rows: Vec<ChildPropRow> = sqlx::query_as(
            "SELECT p.node_id, p.namespace, p.name, p.prefix, p.xml \
             FROM dead_props p JOIN nodes n ON n.id = p.node_id WHERE n.parent_id = $1",
        )
        .bind(parent.0)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let prop = DeadProp {
                    namespace: r.namespace,
                    name: r.name,
                    prefix: r.prefix,
                    xml: r.xml,
                };
                (NodeId(r.node_id), prop)
            })
            .collect())
    }

    /// Applies every change or none.
    pub async fn patch_dead_props(
        &self,
        account: AccountId,
        node: NodeId,
        changes: &[PropChange],
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        require_node(&mut tx, account, node).await?;
        for change in changes {
            match change {
                PropChange::Set(p) => {
                    sqlx::query(
                        "INSERT INTO dead_props (node_id, namespace, name, prefix, xml) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (node_id, namespace, name) \
                         DO UPDATE SET prefix = excluded.prefix, xml = excluded.xml",
                    )
                    .bind(node.0)
                    .bind(&p.namespace)
                    .bind(&p.name)
                    .bind(p.prefix.as_deref())
                    .bind(&p.xml)
                    .execute(&mut *tx.tx)
                    .await?;
                }
                PropChange::Remove { namespace, name } => {
                    sqlx::query(
                        "DELETE FROM dead_props WHERE node_id = $1 AND namespace = $2 AND name = $3",
                    )
                    .bind(node.0)
                    .bind(namespace)
                    .bind(name)
                    .execute(&mut *tx.tx)
                    .await?;
                }
            }
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_props WHERE node_id = $1")
            .bind(node.0)
            .fetch_one(&mut *tx.tx)
            .await?;
        if count > MAX_PROPS_PER_NODE {
            return Err(StorageError::Invalid(format!(
                "a resource can carry at most {MAX_PROPS_PER_NODE} properties"
            )));
        }
        tx.commit().await
    }
}
