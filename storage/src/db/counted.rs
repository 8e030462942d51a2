//! Counting the statements a request sends to the database.
//!
//! [`CountedPool`] is the pool every query of the store runs on; each statement it runs
//! adds one to the [`QueryCount`] of the task that runs it, if that task was started
//! under [`QueryCount::scope`]. The server scopes each request, so its access log line
//! says how many database round trips the request cost, and a test can prove that a
//! cached GET costs none. A write transaction counts once, when it begins: its
//! statements run on its own connection, not on the pool.

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyPool, Either, Execute, Executor};

use super::readers::Readers;

tokio::task_local! {
    static COUNTED: Arc<AtomicU64>;
}

/// Statements sent to the database by the tasks scoped to it.
#[derive(Debug, Clone, Default)]
pub struct QueryCount(Arc<AtomicU64>);

impl QueryCount {
    /// A count at zero.
    pub fn new() -> Self {
        QueryCount::default()
    }

    /// Runs `work`, counting the statements it sends.
    pub async fn scope<F: Future>(&self, work: F) -> F::Output {
        COUNTED.scope(self.0.clone(), work).await
    }

    /// Statements counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Adds one to the current task's count, if it has one.
pub(crate) fn count_one() {
    let _ = COUNTED.try_with(|count| count.fetch_add(1, Ordering::Relaxed));
}

/// The pool, counting each statement run on it. On an SQLite file its queries run on
/// [`Readers`] instead of the pool's connections; the pool itself is still there for what
/// takes a connection or a transaction of its own (migrations, a copy between stores).
#[derive(Debug, Clone)]
pub(crate) struct CountedPool {
    pool: AnyPool,
    readers: Option<Arc<Readers>>,
}

impl CountedPool {
    pub(crate) fn new(pool: AnyPool, readers: Option<Arc<Readers>>) -> Self {
        CountedPool { pool, readers }
    }

    /// The read connections queries run on, if they are not the pool's.
    pub(crate) fn readers(&self) -> Option<&Readers> {
        self.readers.as_deref()
    }
}

impl Deref for CountedPool {
    type Target = AnyPool;

    fn deref(&self) -> &AnyPool {
        &self.pool
    }
}

impl<'p> Executor<'p> for &'p CountedPool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        count_one();
        match &self.readers {
            Some(readers) => readers.fetch_many(query),
            None => (&self.pool).fetch_many(query),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        count_one();
        match &self.readers {
            Some(readers) => readers.fetch_optional(query),
            None => (&self.pool).fetch_optional(query),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        match &self.readers {
            Some(readers) => readers.prepare_with(sql, parameters),
            None => (&self.pool).prepare_with(sql, parameters),
        }
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        match &self.readers {
            Some(readers) => readers.describe(sql),
            None => (&self.pool).describe(sql),
        }
    }
}
