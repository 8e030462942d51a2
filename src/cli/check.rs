//! `davgate check`: verifies an installation's metadata against its blobs and says what
//! to do about each problem. Read-only, safe while the server runs; exit status 1 when
//! something is wrong.

use davgate_storage::{BlobProblem, CheckReport};

use super::CliError;
use super::invocation::Invocation;
use crate::config::Settings;
use crate::units::ByteSize;

/// Files named per problem at most.
const USERS_SHOWN: i64 = 3;

/// Runs the check and prints the summary and each problem.
pub(super) async fn run(settings: &Settings, davgate: &Invocation) -> Result<(), CliError> {
    let store = crate::server::open_store(settings).await?;
    let report = store.check_blobs().await?;
    for problem in &report.problems {
        println!("{}", describe(problem, davgate));
        if let Some(key) = referenced_key(problem) {
            for user in store.blob_users(key, USERS_SHOWN).await? {
                println!("    used by {user}");
            }
        }
    }
    println!("{}", summary(&report));
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::Problems(report.problems.len()))
    }
}

/// The key of a blob some file still points at (every problem but an orphan).
fn referenced_key(problem: &BlobProblem) -> Option<&str> {
    match problem {
        BlobProblem::Missing { key }
        | BlobProblem::WrongSize { key, .. }
        | BlobProblem::WrongChecksum { key, .. }
        | BlobProblem::Unreadable { key, .. } => Some(key),
        BlobProblem::Orphan { .. } => None,
    }
}

pub(super) fn describe(problem: &BlobProblem, davgate: &Invocation) -> String {
    const RESTORE: &str =
        "restore it from a backup of the blob store, or have a client upload the file again";
    match problem {
        BlobProblem::Missing { key } => {
            format!("missing: blob {key} is referenced but not in the blob store; {RESTORE}")
        }
        BlobProblem::WrongSize {
            key,
            expected,
            found,
        } => format!(
            "wrong size: blob {key} holds {found} bytes, the database says {expected}; \
             it was truncated or replaced: {RESTORE}"
        ),
        BlobProblem::WrongChecksum {
            key,
            algorithm,
            expected,
            found,
        } => format!(
            "wrong checksum: blob {key} has {algorithm} {found}, the database says {expected}; \
             the bytes are corrupted (check the disk or the object store): {RESTORE}"
        ),
        BlobProblem::Unreadable { key, error } => format!(
            "unreadable: blob {key}: {error}; check the blob store's permissions and health, \
             then run `{}` again",
            davgate.command("check")
        ),
        BlobProblem::Orphan { key, size } => format!(
            "orphan: blob {key} ({}) is in the blob store but no file uses it (left by a crash); \
             the server's garbage collection deletes it, or delete it yourself",
            ByteSize(*size)
        ),
    }
}

fn summary(report: &CheckReport) -> String {
    let mut line = format!(
        "checked {} blobs ({} verified by checksum), {} objects in the blob store",
        report.rows,
        ByteSize(report.bytes_verified),
        report.objects
    );
    if report.in_flight > 0 {
        line.push_str(&format!(
            "; {} unreferenced but recent, which may be uploads in flight (not counted as orphans)",
            report.in_flight
        ));
    }
    match report.problems.len() {
        0 => line.push_str("; no problems"),
        1 => line.push_str("; 1 problem"),
        n => line.push_str(&format!("; {n} problems")),
    }
    line
}
