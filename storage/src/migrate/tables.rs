//! Copying tables row by row from SQLite into PostgreSQL inside the migration's
//! transaction: which tables, in which order, and how a value crosses over.
//!
//! Columns are matched by name; each value is read as the type the PostgreSQL column has
//! (`BIGINT` from SQLite's `INTEGER`, `BYTEA` from `BLOB`, …). Rows are streamed from
//! SQLite and inserted in batches bounded by rows, parameters and bytes, so no table is
//! ever held whole in memory.

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};

use super::report::MigrationError;
use crate::db::quoted_identifier;

/// Every table copied, parents before children (the order foreign keys need).
pub(super) const TABLES: &[&str] = &[
    "accounts",
    "blobs",
    "blob_data",
    "nodes",
    "dead_props",
    "locks",
    "app_passwords",
    "backup_codes",
    "credential_addresses",
    "audit_log",
    "collections",
    "collection_props",
    "dav_objects",
    "dav_tombstones",
    "collection_shares",
    "portal_sessions",
    "reminder_destinations",
    "reminder_routes",
    "reminder_due",
    "reminder_log",
    "reminder_stale",
];

/// Tables left behind on purpose: the migrations' own bookkeeping (the target ran its
/// own), and sign-in throttling scores, which are meant to fade within minutes anyway.
const NOT_COPIED: &[&str] = &["_sqlx_migrations", "auth_failures", "auth_known_addresses"];

/// Rows per INSERT at most.
const BATCH_ROWS: usize = 1000;
/// Bind parameters per INSERT at most (PostgreSQL allows 65,535).
const BATCH_PARAMS: usize = 30_000;
/// Bytes of text and binary values per INSERT, past which it is sent (a batch may pass
/// it by one row).
const BATCH_BYTES: usize = 8 << 20;

/// The tables of [`TABLES`] the source has, in copy order; an error names a source table
/// that is in neither list, so a table added later is never silently left behind.
pub(super) async fn source_tables(source: &AnyPool) -> Result<Vec<&'static str>, MigrationError> {
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(source)
    .await?;
    if let Some(unknown) = present
        .iter()
        .find(|t| !TABLES.contains(&t.as_str()) && !NOT_COPIED.contains(&t.as_str()))
    {
        return Err(MigrationError::UnknownTable {
            table: unknown.clone(),
        });
    }
    Ok(TABLES
        .iter()
        .copied()
        .filter(|t| present.iter().any(|p| p == t))
        .collect())
}

/// Refuses a target with a row in any table a migration would fill.
pub(super) async fn ensure_empty(target: &AnyPool) -> Result<(), MigrationError> {
    for table in TABLES {
        let sql = format!("SELECT 1 FROM {} LIMIT 1", quoted_identifier(table));
        // Only names from TABLES are formatted into the statement.
        let row: Option<i32> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_optional(target)
            .await?;
        if row.is_some() {
            return Err(MigrationError::TargetNotEmpty {
                table: (*table).to_owned(),
            });
        }
    }
    Ok(())
}

/// How a column's values are read from SQLite and bound for PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Real,
    Text,
    Bytes,
}

/// A target column as `information_schema` describes it.
struct Column {
    name: String,
    kind: Kind,
}

/// One value on its way across.
enum Value {
    Integer(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Value {
    fn read(row: &AnyRow, index: usize, kind: Kind) -> Result<Value, sqlx::Error> {
        Ok(match kind {
            Kind::Integer => Value::Integer(row.try_get(index)?),
            Kind::Real => Value::Real(row.try_get(index)?),
            // SQLite keeps whatever it was given: a text column may hold bytes and a
            // binary one text.
            Kind::Text => match row.try_get::<Option<String>, _>(index) {
                Ok(text) => Value::Text(text),
                Err(_) => {
                    let bytes: Option<Vec<u8>> = row.try_get(index)?;
                    Value::Text(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
                }
            },
            Kind::Bytes => match row.try_get::<Option<Vec<u8>>, _>(index) {
                Ok(bytes) => Value::Bytes(bytes),
                Err(_) => Value::Bytes(
                    row.try_get::<Option<String>, _>(index)?
                        .map(String::into_bytes),
                ),
            },
        })
    }

    /// Bytes it takes in a batch, roughly.
    fn weight(&self) -> usize {
        match self {
            Value::Text(Some(s)) => s.len(),
            Value::Bytes(Some(b)) => b.len(),
            _ => 8,
        }
    }
}

/// The columns of `table` in the target that the source also has, with an error for a
/// source column the target lacks or a type this copy does not carry.
async fn columns(
    source: &AnyPool,
    tx: &mut Transaction<'static, Any>,
    table: &str,
) -> Result<Vec<Column>, MigrationError> {
    let source_columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(source)
        .await?;
    let target_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    let schema = |column: &str, problem: String| MigrationError::Schema {
        table: table.to_owned(),
        column: column.to_owned(),
        problem,
    };
    let mut columns = Vec::new();
    for name in source_columns {
        let Some((_, data_type)) = target_columns.iter().find(|(n, _)| *n == name) else {
            return Err(schema(
                &name,
                "the target database has no such column (is it from another davgate version?)"
                    .into(),
            ));
        };
        let kind = match data_type.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Integer,
            "double precision" | "real" => Kind::Real,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            other => return Err(schema(&name, format!("type {other} is not copied"))),
        };
        columns.push(Column { name, kind });
    }
    Ok(columns)
}

/// Copies every row of `table`; returns how many, after checking they are all the
/// source holds.
pub(super) async fn copy_table(
    source: &AnyPool,
    tx: &mut Transaction<'static, Any>,
    table: &'static str,
) -> Result<u64, MigrationError> {
    let columns = columns(source, tx, table).await?;
    let names: Vec<String> = columns.iter().map(|c| quoted_identifier(&c.name)).collect();
    let select = if table == "nodes" {
        // A folder before what it holds: a file moved into a newer folder has a parent
        // with a higher id, so id order would break the parent's foreign key.
        let prefixed: Vec<String> = names.iter().map(|n| format!("n.{n}")).collect();
        format!(
            "WITH RECURSIVE walk (id, depth) AS ( \
               SELECT id, 0 FROM nodes WHERE parent_id IS NULL \
               UNION ALL SELECT n.id, walk.depth + 1 FROM nodes n JOIN walk ON n.parent_id = walk.id) \
             SELECT {} FROM walk JOIN nodes n ON n.id = walk.id ORDER BY walk.depth, n.id",
            prefixed.join(", ")
        )
    } else {
        format!(
            "SELECT {} FROM {}",
            names.join(", "),
            quoted_identifier(table)
        )
    };
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ",
        quoted_identifier(table),
        names.join(", ")
    );
    let rows_per_batch = BATCH_ROWS.min(BATCH_PARAMS / columns.len().max(1));

    let mut copied = 0u64;
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(rows_per_batch);
    let mut weight = 0usize;
    // Only column names read from the two schemas and quoted are formatted in.
    let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(source);
    while let Some(row) = rows.try_next().await? {
        let values = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Value::read(&row, i, c.kind))
            .collect::<Result<Vec<_>, _>>()?;
        weight += values.iter().map(Value::weight).sum::<usize>();
        batch.push(values);
        if batch.len() >= rows_per_batch || weight >= BATCH_BYTES {
            copied += insert_batch(tx, &insert, columns.len(), &mut batch).await?;
            weight = 0;
        }
    }
    drop(rows);
    copied += insert_batch(tx, &insert, columns.len(), &mut batch).await?;

    let count = format!("SELECT COUNT(*) FROM {}", quoted_identifier(table));
    let source_rows: i64 = sqlx::query_scalar(AssertSqlSafe(count))
        .fetch_one(source)
        .await?;
    if source_rows as u64 != copied {
        return Err(MigrationError::RowsLost {
            table,
            source_rows: source_rows as u64,
            copied,
        });
    }
    Ok(copied)
}

/// Sends `batch` as one INSERT and empties it.
async fn insert_batch(
    tx: &mut Transaction<'static, Any>,
    insert: &str,
    width: usize,
    batch: &mut Vec<Vec<Value>>,
) -> Result<u64, MigrationError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let mut sql = String::from(insert);
    for row in 0..batch.len() {
        if row > 0 {
            sql.push_str(", ");
        }
        let placeholders: Vec<String> = (1..=width)
            .map(|c| format!("${}", row * width + c))
            .collect();
        sql.push('(');
        sql.push_str(&placeholders.join(", "));
        sql.push(')');
    }
    // Only numbered placeholders are formatted in after the checked column names.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    let rows = batch.len() as u64;
    for values in batch.drain(..) {
        for value in values {
            query = match value {
                Value::Integer(v) => query.bind(v),
                Value::Real(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bytes(v) => query.bind(v),
            };
        }
    }
    query.execute(&mut **tx).await?;
    Ok(rows)
}

/// Sets every identity column's sequence past the highest id copied, so the next row the
/// server inserts does not collide with a copied one.
pub(super) async fn advance_sequences(
    tx: &mut Transaction<'static, Any>,
    tables: &[&'static str],
) -> Result<(), MigrationError> {
    for &table in tables {
        let identities: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'",
        )
        .bind(table)
        .fetch_all(&mut **tx)
        .await?;
        for column in identities {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                 (SELECT COALESCE(MAX({col}), 0) + 1 FROM {tab}), false)",
                col = quoted_identifier(&column),
                tab = quoted_identifier(table),
            );
            // `table` is from TABLES and `column` from the schema: plain identifiers.
            sqlx::query(AssertSqlSafe(sql)).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table the migrations create is either copied or left out on purpose.
    #[test]
    fn every_table_of_the_migrations_is_accounted_for() {
        for dir in ["migrations/sqlite", "migrations/postgres"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            for entry in std::fs::read_dir(path).unwrap() {
                let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                for line in sql.lines() {
                    let Some(rest) = line.trim().strip_prefix("CREATE TABLE ") else {
                        continue;
                    };
                    let rest = rest.trim_start_matches("IF NOT EXISTS ");
                    let name = rest.split([' ', '(']).next().unwrap();
                    assert!(
                        TABLES.contains(&name) || NOT_COPIED.contains(&name),
                        "{dir}: table {name} is neither copied by `davgate migrate` nor listed in NOT_COPIED"
                    );
                }
            }
        }
    }
}
