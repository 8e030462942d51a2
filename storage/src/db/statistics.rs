//! Planner statistics that follow a growing table on PostgreSQL: ANALYZE of each of our
//! tables changed by at least as many rows as it held at its last ANALYZE.
//!
//! Why: sqlx keeps every statement prepared on each pooled connection, and after five
//! runs PostgreSQL switches it to a generic plan, made once from the statistics of that
//! moment and kept until the table's next ANALYZE. Made while `nodes` held a handful of
//! rows, that plan scans the whole table at each step of the path walk, and keeps doing
//! so as the table grows (5 ms per step on a 10,000-entry folder against 0.09 ms).
//! Autovacuum analyzes after 10% growth, but only once its nap (a minute) is over; a
//! table filled from empty wants a new plan at each doubling, soon after it. Past a few
//! hundred rows the plans use the indexes, and a doubling is rare.
//!
//! Each node checks on its own: two nodes analyzing the same table at once do the work
//! twice, once per doubling, and need no lock between them.

use sqlx::AssertSqlSafe;

use super::{Backend, Db, quoted_identifier};
use crate::error::Result;

/// Fewer changes than this never call for an ANALYZE: below it a sequential scan is
/// what any plan does anyway.
const MIN_CHANGES: i64 = 100;

impl Db {
    /// Analyzes the tables that have grown (or changed) by as many rows as they held at
    /// their last ANALYZE, and returns their names. Nothing on SQLite, whose planner does
    /// not cost by table size.
    pub(crate) async fn analyze_grown_tables(&self) -> Result<Vec<String>> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        // `reltuples` is -1 until the first ANALYZE, so a never-analyzed table counts from
        // MIN_CHANGES. PostgreSQL skips, with a mere warning, a table its user may not
        // analyze (not its owner): such tables are left to autovacuum.
        let grown: Vec<String> = sqlx::query_scalar(
            "SELECT s.relname::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() \
             AND s.n_mod_since_analyze >= GREATEST(c.reltuples::bigint, $1) \
             AND pg_has_role(c.relowner, 'USAGE') \
             ORDER BY s.relname",
        )
        .bind(MIN_CHANGES)
        .fetch_all(&self.pool)
        .await?;
        for table in &grown {
            sqlx::query(AssertSqlSafe(format!(
                "ANALYZE {}",
                quoted_identifier(table)
            )))
            .execute(&self.pool)
            .await?;
        }
        Ok(grown)
    }
}
