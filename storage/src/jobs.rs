//! Background work done by one node at a time when several share a database.
//!
//! On PostgreSQL each periodic [`Job`] takes a session-level advisory lock
//! (`pg_try_advisory_lock`) on a connection taken out of the pool for the purpose, held
//! until the job ends. Closing that connection releases the lock on the server, so a
//! node killed mid-job never leaves the job taken. The lock does not wait: a node that
//! finds the job taken skips the round, since another node is doing it right now.
//! SQLite has a single node (the CLI beside it runs no periodic work): the job just runs.
//!
//! Migrations need nothing from here: sqlx's migrator takes `pg_advisory_lock` (which
//! waits) on PostgreSQL around its whole run, so a second node starting at the same
//! moment waits and then finds nothing left to apply.

use std::future::Future;

use sqlx::AnyConnection;

use crate::Store;
use crate::db::Backend;
use crate::error::Result;

/// The advisory lock space of davgate's jobs (the first key; `davg` in ASCII).
const LOCK_SPACE: i32 = 0x6461_7667;

/// A periodic job that must not run on two nodes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Purging trash past its retention.
    TrashPurge,
    /// Queueing the blobs that lack an MD5.
    Md5Backfill,
    /// Deleting unreferenced blobs.
    BlobCollection,
}

impl Job {
    /// The second advisory lock key. Fixed forever: nodes of two versions must agree.
    fn lock_key(self) -> i32 {
        match self {
            Job::TrashPurge => 1,
            Job::Md5Backfill => 2,
            Job::BlobCollection => 3,
        }
    }
}

/// The right to run a job; the job is free again once this is released or dropped.
pub struct JobLease {
    job: Job,
    /// PostgreSQL: the connection holding the lock (dropping it closes it).
    holder: Option<AnyConnection>,
}

impl JobLease {
    /// Which job this lease is for.
    pub fn job(&self) -> Job {
        self.job
    }

    /// Frees the job at once (dropping the lease frees it as soon as the server sees the
    /// connection close).
    pub async fn release(mut self) {
        if let Some(mut conn) = self.holder.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                .bind(LOCK_SPACE)
                .bind(self.job.lock_key())
                .execute(&mut conn)
                .await;
            if let Err(e) = unlocked {
                tracing::warn!(job = ?self.job, error = %e, "cannot release a job lock; closing its connection instead");
            }
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

impl Store {
    /// The lease of `job` if no other node holds it, else `None`.
    pub async fn try_job(&self, job: Job) -> Result<Option<JobLease>> {
        if self.db.backend == Backend::Sqlite {
            return Ok(Some(JobLease { job, holder: None }));
        }
        let mut conn = self.db.pool.acquire().await?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LOCK_SPACE)
            .bind(job.lock_key())
            .fetch_one(&mut *conn)
            .await?;
        // Not taken: the connection goes back to the pool holding nothing. Taken: it
        // leaves the pool, so no other query ever runs on (or unlocks with) it.
        Ok(taken.then(|| JobLease {
            job,
            holder: Some(conn.detach()),
        }))
    }

    /// Runs `work` unless another node is running `job`; `None` when it was skipped.
    pub async fn run_job<T>(
        &self,
        job: Job,
        work: impl Future<Output = Result<T>>,
    ) -> Result<Option<T>> {
        let Some(lease) = self.try_job(job).await? else {
            tracing::debug!(?job, "another node is running this job; skipped");
            return Ok(None);
        };
        let done = work.await;
        lease.release().await;
        done.map(Some)
    }
}
