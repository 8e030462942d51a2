//! What every subcommand shares: the error a command fails with (and its exit code),
//! the account lookup that says how to find the right name, and the time format.

use std::process::ExitCode;

use crate::config::ConfigError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server could not start.
    #[error(transparent)]
    Start(#[from] crate::server::StartError),
    /// The store failed.
    #[error("{0}")]
    Storage(#[from] davgate_storage::StorageError),
    /// The command was used wrongly.
    #[error("{0}")]
    Usage(String),
    /// Reading input failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The command would do harm now (a server still running, a target not empty).
    #[error("{0}")]
    Refused(String),
    /// A check ran and found problems (each already printed).
    #[error("{0} problem(s) found; see above")]
    Problems(usize),
}

impl CliError {
    /// Exit code: 2 for mistakes in how davgate was called, 1 for failures.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_) | CliError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::from(1),
        }
    }
}

/// The account called `name`, or a usage error that says how to find the right name.
pub(super) async fn existing(
    store: &davgate_storage::Store,
    name: &str,
    davgate: &super::invocation::Invocation,
) -> Result<davgate_storage::Account, CliError> {
    store.account_by_name(name).await?.ok_or_else(|| {
        CliError::Usage(format!(
            "there is no account named {name:?}; see `{}`",
            davgate.command("user list")
        ))
    })
}

/// A timestamp as UTC, to the second.
pub(super) fn format_time(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}
