//! `davgate migrate`: copies this stopped single-node installation (SQLite and its blob
//! directory) into PostgreSQL and, optionally, an S3 bucket, then reads every blob back.
//!
//! The target is named like any installation: by a configuration (`--to-config FILE`,
//! the one the new nodes will run with; by default the current one) whose
//! `database_url`, `blob_store` and `s3_*` keys `--to-database` and `--to-blob-store`
//! override. The copy itself lives in `davgate_storage::migrate`; this module refuses
//! what must not be copied (a running source, a target server key that would not unseal
//! the 2FA secrets) and prints what moved.

use std::path::{Path, PathBuf};

use clap::Args;
use davgate_storage::migrate::{self, MigrationError, MigrationReport, Progress};
use davgate_storage::{BlobProblem, BlobStoreConfig};

use super::CliError;
use super::invocation::Invocation;
use crate::config::{BlobStoreKind, ConfigFile, Settings};
use crate::data_lock::{DataDirLock, LockError};
use crate::secret::Secret;
use crate::units::ByteSize;

#[derive(Debug, Args)]
pub(super) struct MigrateArgs {
    /// The PostgreSQL database to copy into (postgres://…); it must be empty.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    to_database: Option<String>,
    /// Where the target keeps file contents: `local` (the target data directory's
    /// blobs/) or `s3` (the bucket the target configuration's s3_* keys name; the
    /// credentials may come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); it must
    /// hold no blob this installation does not know.
    #[arg(long, value_name = "STORE")]
    to_blob_store: Option<BlobStoreKind>,
    /// The configuration the migrated server will run with [default: the current one].
    #[arg(long, value_name = "FILE")]
    to_config: Option<PathBuf>,
}

impl MigrateArgs {
    /// The target's configuration: `--to-config`, or else `current` (the configuration
    /// file with the global options), with `--to-database` and `--to-blob-store` on top.
    pub(super) fn target(&self, current: ConfigFile) -> Result<ConfigFile, CliError> {
        let mut target = match &self.to_config {
            Some(path) => ConfigFile::read(path)?,
            None => current,
        };
        if let Some(url) = &self.to_database {
            target.database_url = Some(Secret::new(url.clone()));
        }
        if let Some(kind) = self.to_blob_store {
            target.blob_store = Some(kind);
        }
        Ok(target)
    }
}

/// Runs the migration from `source` into `target` and prints what moved.
pub(super) async fn run(
    source: &Settings,
    target: &Settings,
    davgate: &Invocation,
) -> Result<(), CliError> {
    if davgate_storage::Backend::from_url(target.database_url.expose())
        != Some(davgate_storage::Backend::Postgres)
    {
        return Err(CliError::Usage(
            "name the PostgreSQL database to copy into: --to-database postgres://USER@HOST/DB \
             (or database_url in the --to-config file)"
                .into(),
        ));
    }
    if let Some(path) = source
        .database_url
        .expose()
        .strip_prefix("sqlite://")
        .map(|rest| Path::new(rest.split('?').next().unwrap_or(rest)))
        && !path.exists()
    {
        return Err(CliError::Usage(format!(
            "there is no installation to migrate: {} does not exist; name the installation \
             with the --config, --data-dir or --database-url that `serve` runs with",
            path.display()
        )));
    }
    let _source_lock = hold(&source.data_dir, davgate)?;
    let _target_lock = if same_dir(&source.data_dir, &target.data_dir) {
        None
    } else {
        Some(hold(&target.data_dir, davgate)?)
    };
    carry_server_key(&source.data_dir, &target.data_dir)?;

    let mut show = |step: Progress| match step {
        Progress::Table(copy) => println!("copied {:>9} rows of {}", copy.rows, copy.table),
        Progress::Blobs(blobs) if blobs.copied > 0 => {
            println!(
                "copied {:>9} blobs ({})",
                blobs.copied,
                ByteSize(blobs.bytes)
            );
        }
        Progress::Blobs(_) => {}
        Progress::Verifying => println!("committed; reading every blob back from the target"),
    };
    let report = migrate::migrate(
        &crate::server::store_config(source),
        &crate::server::store_config(target),
        &mut show,
    )
    .await
    .map_err(|e| refusal(e, davgate))?;
    summarize(&report, target, davgate)
}

/// The exclusive lock on `data_dir`, or why a server must be stopped first.
fn hold(data_dir: &Path, davgate: &Invocation) -> Result<DataDirLock, CliError> {
    DataDirLock::exclusive(data_dir).map_err(|e| match e {
        LockError::Held { .. } => CliError::Refused(format!(
            "a davgate server (or another migration) is using {} ({e}): stop it \
             (e.g. `systemctl stop davgate`) and run `{}` again",
            data_dir.display(),
            davgate.command("migrate …")
        )),
        LockError::Io { .. } => CliError::Refused(format!("cannot lock the data directory: {e}")),
    })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// Puts the source's `server.key` into the target data directory: it seals the TOTP
/// secrets being copied, so a target with another key could not check a second factor.
fn carry_server_key(source: &Path, target: &Path) -> Result<(), CliError> {
    if same_dir(source, target) {
        return Ok(());
    }
    let from = source.join("server.key");
    let to = target.join("server.key");
    let key = match std::fs::read(&from) {
        Ok(key) => key,
        // A server that never started has none; the target makes its own.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CliError::Refused(format!("{}: {e}", from.display()))),
    };
    match std::fs::read(&to) {
        Ok(existing) if existing == key => Ok(()),
        Ok(_) => Err(CliError::Refused(format!(
            "{} differs from {}, which seals the two-factor secrets being copied: replace it \
             with a copy of {} (or remove it) and run the migration again",
            to.display(),
            from.display(),
            from.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&to)?;
            file.write_all(&key)?;
            file.sync_all()?;
            println!("copied the server key to {}", to.display());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The refusals a person can act on, said with what to do.
fn refusal(e: MigrationError, davgate: &Invocation) -> CliError {
    match e {
        MigrationError::TargetNotEmpty { table } => CliError::Refused(format!(
            "the target database is not empty (table {table} has rows); migrate into a new, \
             empty database: `createdb NAME`, or drop and recreate the one named"
        )),
        MigrationError::TargetStoreNotEmpty { .. } => CliError::Refused(format!(
            "{e}; migrate into a new, empty bucket (s3_bucket) or blob directory, or empty \
             this one first if nothing else uses it (blobs under this installation's own \
             keys, as a failed run leaves them, are fine: they are replaced)"
        )),
        MigrationError::BlobNotCopied { .. } => CliError::Refused(format!(
            "{e}; nothing was committed: once the target store takes writes again, run the \
             same command again (the blobs already copied are replaced)"
        )),
        MigrationError::UnknownTable { .. } | MigrationError::Schema { .. } => {
            CliError::Refused(format!("{e}; run the same davgate version on both sides"))
        }
        MigrationError::RowsLost { .. } => CliError::Refused(format!(
            "{e}; nothing was committed. Run `{}` on the source and report this",
            davgate.command("check")
        )),
        MigrationError::TargetNotPostgres(_) | MigrationError::SourceNotSqlite(_) => {
            CliError::Usage(e.to_string())
        }
        MigrationError::Storage(e) => CliError::Storage(e),
    }
}

/// Prints what moved and what the read-back found; an error when a blob does not match.
fn summarize(
    report: &MigrationReport,
    target: &Settings,
    davgate: &Invocation,
) -> Result<(), CliError> {
    let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
    let blobs = &report.blobs;
    println!(
        "moved {rows} rows in {} tables; blobs: {} copied ({}), {} kept in the database, \
         {} left in place",
        report.tables.len(),
        blobs.copied,
        ByteSize(blobs.bytes),
        blobs.inline,
        blobs.in_place
    );
    if blobs.replaced > 0 {
        println!(
            "the target store already held {} of the copied blobs, left by an earlier run \
             that failed; each was replaced",
            blobs.replaced
        );
    }
    if blobs.unreadable > 0 {
        println!(
            "{} blobs could not be read from the source; the target lacks them too (below)",
            blobs.unreadable
        );
    }
    let mut problems = 0;
    for problem in &report.check.problems {
        match problem {
            BlobProblem::Orphan { key, .. } => {
                println!("note: blob {key} in the target store is used by no file (left alone)");
            }
            other => {
                problems += 1;
                println!("{}", super::check::describe(other, davgate));
            }
        }
    }
    println!(
        "verified {} blobs read back from the target ({} hashed): {}",
        report.check.rows,
        ByteSize(report.check.bytes_verified),
        match problems {
            0 => "all match".to_owned(),
            n => format!("{n} do not match"),
        }
    );
    if problems > 0 {
        return Err(CliError::Problems(problems));
    }
    let store = match &target.blob_store {
        BlobStoreConfig::Local(dir) => {
            format!("blob_store = \"local\" (blobs in {})", dir.display())
        }
        BlobStoreConfig::S3(s3) => format!("blob_store = \"s3\" (bucket {})", s3.bucket),
    };
    println!(
        "done: run davgate with the target's database_url and {store}, and give every node \
         {}",
        target.data_dir.join("server.key").display()
    );
    Ok(())
}
