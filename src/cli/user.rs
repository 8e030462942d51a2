//! `davgate user …`: create, list, change and delete accounts.

use std::io::BufRead;

use clap::Subcommand;

use super::invocation::Invocation;
use super::shared::{CliError, existing};
use crate::auth::password::hash_now;
use crate::config::{MAX_UPLOAD_LIMIT, Settings};
use crate::secret::Secret;
use crate::units::ByteSize;

/// Account passwords shorter than this are refused.
const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create an account; the password is asked for, or read from stdin.
    Add {
        /// The user name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts with their usage and limits.
    List,
    /// Change an account's password; every sign-in with the old one ends.
    Passwd {
        /// The user name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: nothing signs in until it is enabled again; files are kept.
    Disable {
        /// The user name.
        name: String,
    },
    /// Enable a disabled account.
    Enable {
        /// The user name.
        name: String,
    },
    /// Delete an account with all its files.
    Delete {
        /// The user name.
        name: String,
    },
    /// Set the storage quota: a size like 10GiB, or "none".
    SetQuota {
        /// The user name.
        name: String,
        /// Size, or "none" for unlimited.
        size: String,
    },
    /// Set the per-file upload limit (at most 100GiB), or "default" for the server's.
    SetUploadLimit {
        /// The user name.
        name: String,
        /// Size, or "default".
        size: String,
    },
    /// Set the address e-mail reminders (VALARMs with ACTION:EMAIL) go to, or "none".
    SetEmail {
        /// The user name.
        name: String,
        /// An e-mail address, or "none" to stop e-mail reminders.
        address: String,
    },
}

impl UserCommand {
    pub(super) async fn run(
        self,
        settings: &Settings,
        davgate: &Invocation,
    ) -> Result<(), CliError> {
        let store = crate::server::open_store(settings).await?;
        match self {
            UserCommand::Add {
                name,
                password_stdin,
            } => {
                let retry = davgate.command(&format!(
                    "user add {} --password-stdin",
                    Invocation::word(&name)
                ));
                let password =
                    read_password(password_stdin, &format!("Password for {name}: "), &retry)?;
                let hash = hash_on_blocking_pool(password).await?;
                let account = store
                    .create_account(&name, &hash)
                    .await
                    .map_err(|e| match e {
                        davgate_storage::StorageError::Conflict(_) => CliError::Usage(format!(
                            "an account named {name:?} exists already (names are compared \
                                 without case)"
                        )),
                        e => e.into(),
                    })?;
                println!("created account {}", account.username);
                println!("Give each sync client its own app password:");
                println!(
                    "    {}",
                    davgate.command(&format!(
                        "app-password create {} --name NAME",
                        Invocation::word(&account.username)
                    ))
                );
            }
            UserCommand::List => {
                println!(
                    "{:<24} {:>12} {:>12} {:>14}  status",
                    "name", "used", "quota", "upload limit"
                );
                for a in store.accounts().await? {
                    println!(
                        "{:<24} {:>12} {:>12} {:>14}  {}",
                        a.username,
                        ByteSize(a.used_bytes).to_string(),
                        a.quota_bytes
                            .map_or("none".into(), |q| ByteSize(q).to_string()),
                        a.upload_limit_bytes.map_or(
                            format!("{} (default)", ByteSize(settings.upload_limit)),
                            |l| ByteSize(l).to_string()
                        ),
                        if a.disabled { "disabled" } else { "active" }
                    );
                }
            }
            UserCommand::Passwd {
                name,
                password_stdin,
            } => {
                let account = existing(&store, &name, davgate).await?;
                let retry = davgate.command(&format!(
                    "user passwd {} --password-stdin",
                    Invocation::word(&name)
                ));
                let password = read_password(
                    password_stdin,
                    &format!("New password for {name}: "),
                    &retry,
                )?;
                let hash = hash_on_blocking_pool(password).await?;
                store.set_password_hash(account.id, &hash).await?;
                println!(
                    "changed the password of {name}; existing sign-ins with the old one end now"
                );
            }
            UserCommand::Disable { name } => {
                let account = existing(&store, &name, davgate).await?;
                store.set_disabled(account.id, true).await?;
                println!("disabled {name}: every sign-in is refused from its next request on");
            }
            UserCommand::Enable { name } => {
                let account = existing(&store, &name, davgate).await?;
                store.set_disabled(account.id, false).await?;
                println!("enabled {name}");
            }
            UserCommand::Delete { name } => {
                let account = existing(&store, &name, davgate).await?;
                store.delete_account(account.id).await?;
                println!("deleted account {name} and all its files");
            }
            UserCommand::SetQuota { name, size } => {
                let account = existing(&store, &name, davgate).await?;
                let quota = parse_size_or(&size, "none")?;
                store.set_quota(account.id, quota).await?;
                match quota {
                    Some(q) => println!("quota of {name} set to {}", ByteSize(q)),
                    None => println!("quota of {name} removed"),
                }
            }
            UserCommand::SetUploadLimit { name, size } => {
                let account = existing(&store, &name, davgate).await?;
                let limit = parse_size_or(&size, "default")?;
                if let Some(l) = limit
                    && (l == 0 || l > MAX_UPLOAD_LIMIT)
                {
                    return Err(CliError::Usage(format!(
                        "the upload limit must be between 1 byte and {}",
                        ByteSize(MAX_UPLOAD_LIMIT)
                    )));
                }
                store.set_upload_limit(account.id, limit).await?;
                match limit {
                    Some(l) => println!("upload limit of {name} set to {}", ByteSize(l)),
                    None => println!("upload limit of {name} follows the server default"),
                }
            }
            UserCommand::SetEmail { name, address } => {
                let account = existing(&store, &name, davgate).await?;
                set_email(&store, settings, &account, &address).await?;
            }
        }
        Ok(())
    }
}

async fn set_email(
    store: &davgate_storage::Store,
    settings: &Settings,
    account: &davgate_storage::Account,
    address: &str,
) -> Result<(), CliError> {
    let name = &account.username;
    let address = Some(address).filter(|a| !a.eq_ignore_ascii_case("none"));
    if let Some(address) = address {
        crate::reminders::email::check_address(address).map_err(CliError::Usage)?;
    }
    store
        .set_account_email(account.id, address)
        .await
        .map_err(|e| match e {
            davgate_storage::StorageError::Conflict(why) => {
                CliError::Usage(format!("{name} cannot take e-mail reminders: {why}"))
            }
            e => e.into(),
        })?;
    let Some(address) = address else {
        println!("{name} gets no e-mail reminders any more");
        return Ok(());
    };
    // Alarms already stored get scheduled by the server's next round.
    store.queue_all_for_reminders(Some(account.id)).await?;
    println!("e-mail reminders (alarms with ACTION:EMAIL) of {name} now go to {address}");
    if settings.reminders.smtp.is_none() {
        println!(
            "note: no SMTP relay is configured, so they are logged as skipped until \
             smtp_url and smtp_from are set"
        );
    }
    Ok(())
}

fn parse_size_or(text: &str, keyword: &str) -> Result<Option<u64>, CliError> {
    if text.eq_ignore_ascii_case(keyword) {
        return Ok(None);
    }
    text.parse::<ByteSize>()
        .map(|s| Some(s.0))
        .map_err(|e| CliError::Usage(format!("{e}, or \"{keyword}\"")))
}

/// `retry` is the same command with `--password-stdin`, shown when there is no terminal.
fn read_password(from_stdin: bool, prompt: &str, retry: &str) -> Result<Secret<String>, CliError> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password(prompt).map_err(|e| no_terminal(e, retry))?;
        let again = rpassword::prompt_password("Repeat it: ").map_err(|e| no_terminal(e, retry))?;
        if first != again {
            return Err(CliError::Usage(
                "the two passwords differ; nothing was changed".into(),
            ));
        }
        first
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CliError::Usage(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(Secret::new(password))
}

/// rpassword reads from the terminal; without one (a script, a container, cron) it
/// fails with "No such device or address", which says nothing about what to do.
fn no_terminal(e: std::io::Error, retry: &str) -> CliError {
    CliError::Usage(format!(
        "cannot ask for the password: there is no terminal to type it in ({e}). Pipe it to \
         the same command with --password-stdin instead, e.g. \
         printf '%s\\n' \"$PASSWORD\" | {retry}"
    ))
}

async fn hash_on_blocking_pool(password: Secret<String>) -> Result<String, CliError> {
    tokio::task::spawn_blocking(move || hash_now(password.expose()))
        .await
        .map_err(|e| CliError::Io(std::io::Error::other(e.to_string())))
}
