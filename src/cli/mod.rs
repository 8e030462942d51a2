//! The command line: `serve` and the administration commands, all on one configuration.

mod app_password;
mod locks;
mod share;
mod shared;
mod two_factor;
mod user;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use self::shared::CliError;
use crate::config::{ConfigFile, Settings};
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
    /// A host name on which the files tree is served at `/` [default: none].
    #[arg(long, env = "DAVGATE_FILES_HOST", value_name = "HOST")]
    files_host: Option<String>,
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
            flags.files_host = args.files_host.clone();
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
