//! The command line: `serve` and the administration commands, all on one configuration.

mod app_password;
mod locks;
mod share;
mod two_factor;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, ConfigFile, Settings};
use crate::secret::Secret;
use crate::units::{ByteSize, Span};

/// davgate: files, calendars and contacts for sync clients, behind app passwords.
#[derive(Debug, Parser)]
#[command(name = "davgate", version, about)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "DAVGATE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the database, blobs and server key [default: ./data].
    #[arg(long, global = true, env = "DAVGATE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL, sqlite://PATH or postgres://… [default: SQLite in the data directory].
    #[arg(
        long,
        global = true,
        env = "DAVGATE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage app passwords: one per sync client, shown once, revocable.
    #[command(subcommand)]
    AppPassword(app_password::AppPasswordCommand),
    /// Two-factor authentication (TOTP) for an account.
    #[command(name = "2fa", subcommand)]
    TwoFactor(two_factor::TwoFactorCommand),
    /// Share a calendar or address book with another account.
    Share(share::ShareArgs),
    /// Stop sharing a calendar or address book.
    Unshare(share::UnshareArgs),
    /// See and remove an account's WebDAV locks.
    #[command(subcommand)]
    Locks(locks::LocksCommand),
    /// Show an account's audit log, newest first.
    Audit {
        /// The account.
        user: String,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DAVGATE_LISTEN", value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, env = "DAVGATE_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "DAVGATE_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// A trusted reverse proxy terminates TLS: allow plain HTTP off loopback.
    #[arg(long, env = "DAVGATE_TRUSTED_PROXY")]
    trusted_proxy: bool,
    /// Per-file upload limit for accounts without their own [default: 50GiB, max 100GiB].
    #[arg(long, env = "DAVGATE_UPLOAD_LIMIT", value_name = "SIZE")]
    upload_limit: Option<ByteSize>,
    /// How long deleted items stay in the trash [default: 30d].
    #[arg(long, env = "DAVGATE_TRASH_RETENTION", value_name = "DURATION")]
    trash_retention: Option<Span>,
    /// How long a successful sign-in is cached [default: 10m].
    #[arg(long, env = "DAVGATE_AUTH_CACHE_TTL", value_name = "DURATION")]
    auth_cache_ttl: Option<Span>,
}

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

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> Result<(), CliError> {
        let mut flags = ConfigFile {
            data_dir: self.data_dir,
            database_url: self.database_url.map(Secret::new),
            ..ConfigFile::default()
        };
        if let Command::Serve(args) = &self.command {
            flags.listen = args.listen;
            flags.tls_cert = args.tls_cert.clone();
            flags.tls_key = args.tls_key.clone();
            flags.trusted_proxy = args.trusted_proxy.then_some(true);
            flags.upload_limit = args.upload_limit;
            flags.trash_retention = args.trash_retention;
            flags.auth_cache_ttl = args.auth_cache_ttl;
        }
        let file = match &self.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let settings = Settings::from_config(file.overlay(flags))?;
        match self.command {
            Command::Serve(_) => Ok(crate::server::run(settings).await?),
            Command::User(cmd) => cmd.run(&settings).await,
            Command::AppPassword(cmd) => cmd.run(&settings).await,
            Command::TwoFactor(cmd) => cmd.run(&settings).await,
            Command::Locks(cmd) => cmd.run(&settings).await,
            Command::Audit { user, limit } => two_factor::audit(&settings, &user, limit).await,
            Command::Share(args) => share::share(&settings, args).await,
            Command::Unshare(args) => share::unshare(&settings, args).await,
        }
    }
}

/// The account called `name`, or a usage error that says how to find the right name.
async fn existing(
    store: &davgate_storage::Store,
    name: &str,
) -> Result<davgate_storage::Account, CliError> {
    store.account_by_name(name).await?.ok_or_else(|| {
        CliError::Usage(format!(
            "there is no account named {name:?}; see `davgate user list`"
        ))
    })
}

/// A timestamp as UTC, to the second.
fn format_time(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}
