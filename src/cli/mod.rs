//! The command line: `serve` and the administration commands, all on one configuration.

mod app_password;
mod check;
mod health;
mod invocation;
mod listen;
mod locks;
mod migrate;
mod profile;
mod reminders;
mod share;
mod shared;
mod two_factor;
mod user;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use self::invocation::Invocation;
use self::listen::ListenArgs;
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
    /// Write an Apple configuration profile (Calendar and Contacts) for one device, with
    /// a new app password named after it.
    Profile(profile::ProfileArgs),
    /// Share a calendar or address book with another account.
    Share(share::ShareArgs),
    /// Stop sharing a calendar or address book.
    Unshare(share::UnshareArgs),
    /// See and remove an account's WebDAV locks.
    #[command(subcommand)]
    Locks(locks::LocksCommand),
    /// Calendar reminders to chat webhooks: destinations, routes, the delivery log.
    #[command(subcommand)]
    Reminders(reminders::RemindersCommand),
    /// Ask a running server's /healthz: exit 0 when it answers 200 (for container
    /// health checks; the same options as `serve` name the same server).
    Health(health::HealthArgs),
    /// Verify the metadata against the blob store: blobs missing, orphaned, of the wrong
    /// size or checksum. Read-only; exit status 1 when something is wrong.
    Check,
    /// Copy this stopped installation (SQLite and its blob directory) into an empty
    /// PostgreSQL database and, with --to-blob-store s3, an S3 bucket; every blob is read
    /// back and checked. Exit status 1 when one does not match.
    Migrate(migrate::MigrateArgs),
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
    #[command(flatten)]
    listener: ListenArgs,
    /// A host name on which the files tree is served at `/` [default: none].
    #[arg(long, env = "DAVGATE_FILES_HOST", value_name = "HOST")]
    files_host: Option<String>,
    /// Per-file upload limit for accounts without their own [default: 50GiB, max 100GiB].
    #[arg(long, env = "DAVGATE_UPLOAD_LIMIT", value_name = "SIZE")]
    upload_limit: Option<ByteSize>,
    /// How long deleted items stay in the trash [default: 30d].
    #[arg(long, env = "DAVGATE_TRASH_RETENTION", value_name = "DURATION")]
    trash_retention: Option<Span>,
    /// How long a successful sign-in is cached [default: 10m].
    #[arg(long, env = "DAVGATE_AUTH_CACHE_TTL", value_name = "DURATION")]
    auth_cache_ttl: Option<Span>,
    /// Header a trusted proxy puts the client address in, e.g. X-Forwarded-For.
    #[arg(long, env = "DAVGATE_CLIENT_ADDRESS_HEADER", value_name = "HEADER")]
    client_address_header: Option<String>,
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> Result<(), CliError> {
        let davgate = Invocation::new(
            self.config.as_deref(),
            self.data_dir.as_deref(),
            self.database_url.as_deref(),
        );
        let mut flags = ConfigFile {
            data_dir: self.data_dir,
            database_url: self.database_url.map(Secret::new),
            ..ConfigFile::default()
        };
        if let Command::Health(args) = &self.command {
            args.listener.apply(&mut flags);
        }
        if let Command::Serve(args) = &self.command {
            args.listener.apply(&mut flags);
            flags.files_host = args.files_host.clone();
            flags.upload_limit = args.upload_limit;
            flags.trash_retention = args.trash_retention;
            flags.auth_cache_ttl = args.auth_cache_ttl;
            flags.client_address_header = args.client_address_header.clone();
        }
        let read_config = || match &self.config {
            Some(path) => ConfigFile::read(path),
            None => Ok(ConfigFile::default()),
        };
        let migration_target = match &self.command {
            Command::Migrate(args) => {
                let current = read_config()?.overlay(ConfigFile {
                    data_dir: flags.data_dir.clone(),
                    ..ConfigFile::default()
                });
                Some(Settings::from_config(args.target(current)?)?)
            }
            _ => None,
        };
        let settings = Settings::from_config(read_config()?.overlay(flags))?;
        match self.command {
            Command::Serve(_) => {
                let add_user = davgate.command("user add NAME");
                Ok(crate::server::run(settings, &add_user).await?)
            }
            Command::Health(args) => health::check(&settings, args).await,
            Command::Check => check::run(&settings, &davgate).await,
            Command::Migrate(_) => {
                let target = migration_target.expect("set for Command::Migrate above");
                migrate::run(&settings, &target, &davgate).await
            }
            Command::User(cmd) => cmd.run(&settings, &davgate).await,
            Command::AppPassword(cmd) => cmd.run(&settings, &davgate).await,
            Command::TwoFactor(cmd) => cmd.run(&settings, &davgate).await,
            Command::Locks(cmd) => cmd.run(&settings, &davgate).await,
            Command::Reminders(cmd) => cmd.run(&settings, &davgate).await,
            Command::Audit { user, limit } => {
                two_factor::audit(&settings, &davgate, &user, limit).await
            }
            Command::Profile(args) => profile::write(&settings, &davgate, args).await,
            Command::Share(args) => share::share(&settings, &davgate, args).await,
            Command::Unshare(args) => share::unshare(&settings, &davgate, args).await,
        }
    }
}
