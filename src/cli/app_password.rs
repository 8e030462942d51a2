//! `davgate app-password …`: create (shown once), list, revoke one or all.

use clap::Subcommand;
use davgate_storage::{AuditSource, StorageError};

use super::invocation::Invocation;
use super::shared::{CliError, existing, format_time};
use crate::auth::app_password::{self, CreateError};
use crate::auth::scope::Scopes;
use crate::config::Settings;
use crate::units::Span;

#[derive(Debug, Subcommand)]
pub(super) enum AppPasswordCommand {
    /// Create an app password; it is printed once and never again.
    Create {
        /// The account.
        user: String,
        /// What it is for ("rclone on the VPS").
        #[arg(long)]
        name: String,
        /// Where it may go: files, calendars, contacts (comma-separated).
        #[arg(long, default_value = "files,calendars,contacts")]
        scope: Scopes,
        /// Allow reading and syncing down only.
        #[arg(long)]
        read_only: bool,
        /// Stop working after this long (e.g. 90d).
        #[arg(long, value_name = "DURATION")]
        expires: Option<Span>,
    },
    /// List an account's app passwords (never their secrets).
    List {
        /// The account.
        user: String,
    },
    /// Revoke one app password by its id; it stops working on the next request.
    Revoke {
        /// The account.
        user: String,
        /// The id shown by `list` (the first group of the password).
        id: String,
    },
    /// Revoke every app password of an account.
    RevokeAll {
        /// The account.
        user: String,
    },
}

impl AppPasswordCommand {
    pub(super) async fn run(
        self,
        settings: &Settings,
        davgate: &Invocation,
    ) -> Result<(), CliError> {
        let store = crate::server::open_store(settings).await?;
        match self {
            AppPasswordCommand::Create {
                user,
                name,
                scope,
                read_only,
                expires,
            } => {
                let account = existing(&store, &user, davgate).await?;
                let request = app_password::Request {
                    name: name.clone(),
                    scopes: scope,
                    read_only,
                    expires_in: expires.map(|s| s.0),
                };
                let (generated, stored) =
                    app_password::create(&store, account.id, request, &AuditSource::cli())
                        .await
                        .map_err(|e| match e {
                            CreateError::Storage(e) => CliError::Storage(e),
                            e => CliError::Usage(e.to_string()),
                        })?;
                let expires_ms = stored.expires_ms;
                println!(
                    "App password \"{name}\" for {user} (id {}):\n",
                    generated.public_id
                );
                println!("    {}\n", generated.display);
                println!(
                    "It is shown only now. Scope: {scope}{}{}.",
                    if read_only { ", read-only" } else { "" },
                    expires_ms.map_or(String::new(), |t| format!(", expires {}", format_time(t)))
                );
                println!("Use it as the password of {user} in the sync client; revoke it with");
                println!(
                    "    {}",
                    davgate.command(&format!(
                        "app-password revoke {} {}",
                        Invocation::word(&user),
                        generated.public_id
                    ))
                );
            }
            AppPasswordCommand::List { user } => {
                let account = existing(&store, &user, davgate).await?;
                println!(
                    "{:<9} {:<24} {:<26} {:<20} {:<20} last used",
                    "id", "name", "scopes", "created", "expires"
                );
                for p in store.app_passwords(account.id).await? {
                    let mut scopes = Scopes::from_bits(p.scopes).to_string();
                    if p.read_only {
                        scopes.push_str(" (read-only)");
                    }
                    let expires = match (p.revoked_ms, p.expires_ms) {
                        (Some(t), _) => format!("revoked {}", format_time(t)),
                        (None, Some(t)) => format_time(t),
                        (None, None) => "never".into(),
                    };
                    let last = p.last_used.map_or("never".into(), |u| {
                        format!("{} from {} ({})", format_time(u.at_ms), u.addr, u.agent)
                    });
                    println!(
                        "{:<9} {:<24} {:<26} {:<20} {:<20} {last}",
                        p.public_id,
                        p.name,
                        scopes,
                        format_time(p.created_ms),
                        expires
                    );
                }
            }
            AppPasswordCommand::Revoke { user, id } => {
                let account = existing(&store, &user, davgate).await?;
                let id = id.trim().to_ascii_lowercase();
                let revoked =
                    store
                        .revoke_app_password(account.id, &id)
                        .await
                        .map_err(|e| match e {
                            StorageError::NotFound => CliError::Usage(format!(
                                "{user} has no live app password with id {id:?}; see `{}`",
                                davgate.command(&format!(
                                    "app-password list {}",
                                    Invocation::word(&user)
                                ))
                            )),
                            e => e.into(),
                        })?;
                println!(
                    "revoked app password {} (\"{}\"); it stops working on its next request",
                    revoked.public_id, revoked.name
                );
            }
            AppPasswordCommand::RevokeAll { user } => {
                let account = existing(&store, &user, davgate).await?;
                let n = store.revoke_all_app_passwords(account.id).await?;
                println!("revoked {n} app passwords of {user}");
            }
        }
        Ok(())
    }
}
