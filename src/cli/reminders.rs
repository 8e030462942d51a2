//! `davgate reminders …`: an account's webhook destinations, which calendar goes where,
//! a test message, and the delivery log.

use clap::Subcommand;
use davgate_storage::{
    CollectionKind, DeliveryRecord, DestinationKind, EMAIL_DESTINATION, StorageError,
    WebhookFormat, now_ms,
};

use super::invocation::Invocation;
use super::shared::{CliError, existing, format_time};
use crate::config::Settings;
use crate::reminders::deliver::{self, Sender};
use crate::reminders::limits::LimitError;
use crate::reminders::message;

#[derive(Debug, Subcommand)]
pub enum RemindersCommand {
    /// Chat webhooks reminders are posted to.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Send every alarm of a calendar to a destination.
    Route {
        /// The account.
        user: String,
        /// The calendar's name (its URL segment, e.g. "default").
        calendar: String,
        /// The destination's name.
        destination: String,
    },
    /// Show the account's delivery log, newest first.
    Log {
        /// The account.
        user: String,
        /// How many lines.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a webhook.
    Add {
        /// The account.
        user: String,
        /// A name for it, e.g. team-chat.
        name: String,
        /// Its incoming-webhook URL (https://…).
        url: String,
        /// slack (also Mattermost, kChat, Rocket.Chat), discord, teams or json.
        #[arg(long, default_value = "slack")]
        format: String,
        /// The message, with %subject%, %date%, %description%, %location% and %calendar%
        /// [default: one per format].
        #[arg(long)]
        template: Option<String>,
    },
    /// List the account's webhooks.
    List {
        /// The account.
        user: String,
    },
    /// Remove a webhook, its routes and its pending reminders.
    Remove {
        /// The account.
        user: String,
        /// The webhook's name.
        name: String,
    },
    /// Send a sample reminder to a webhook now.
    Test {
        /// The account.
        user: String,
        /// The webhook's name.
        name: String,
    },
}

impl RemindersCommand {
    /// Runs the command.
    pub async fn run(self, settings: &Settings, davgate: &Invocation) -> Result<(), CliError> {
        let store = crate::server::open_store(settings).await?;
        match self {
            Self::Webhook(cmd) => cmd.run(settings, &store, davgate).await,
            Self::Route {
                user,
                calendar,
                destination,
            } => {
                let account = existing(&store, &user, davgate).await?;
                let collection = store
                    .collection(account.id, CollectionKind::Calendar, &calendar)
                    .await?
                    .ok_or_else(|| {
                        CliError::Usage(format!("{user} has no calendar named {calendar:?}"))
                    })?;
                let target = store
                    .destination(account.id, &destination)
                    .await?
                    .ok_or_else(|| no_destination(davgate, &user, &destination))?;
                settings
                    .reminders
                    .limits
                    .check_new_route(&store, account.id, collection.id)
                    .await
                    .map_err(limit_error)?;
                store.set_route(collection.id, target.id).await?;
                // The calendar's existing events are scheduled by the server's next round.
                store.queue_all_for_reminders(Some(account.id)).await?;
                println!("alarms of {user}'s calendar {calendar:?} now go to {destination}");
                Ok(())
            }
            Self::Log { user, limit } => {
                let account = existing(&store, &user, davgate).await?;
                for line in store.delivery_log(account.id, limit).await? {
                    println!(
                        "{}  {:<9}  {}  due {}  to {}  tries {}  {}",
                        format_time(line.at_ms),
                        line.status,
                        line.object_name,
                        format_time(line.due_ms),
                        line.destination,
                        line.tries,
                        line.detail
                    );
                }
                Ok(())
            }
        }
    }
}

impl WebhookCommand {
    async fn run(
        self,
        settings: &Settings,
        store: &davgate_storage::Store,
        davgate: &Invocation,
    ) -> Result<(), CliError> {
        match self {
            Self::Add {
                user,
                name,
                url,
                format,
                template,
            } => {
                let account = existing(store, &user, davgate).await?;
                let format = WebhookFormat::parse(&format).ok_or_else(|| {
                    CliError::Usage(format!(
                        "unknown format {format:?}: use slack, discord, teams or json"
                    ))
                })?;
                deliver::check_url(&url, settings.reminders.reach)
                    .map_err(|e| CliError::Usage(format!("the URL is not usable: {e}")))?;
                settings
                    .reminders
                    .limits
                    .check_new_destination(store, account.id)
                    .await
                    .map_err(limit_error)?;
                store
                    .add_destination(account.id, &name, &url, format, template.as_deref())
                    .await
                    .map_err(|e| match e {
                        StorageError::Conflict(_) if name == EMAIL_DESTINATION => {
                            CliError::Usage(format!(
                                "the name {EMAIL_DESTINATION} is kept for e-mail reminders \
                                 (`{}`); choose another",
                                davgate.command(&format!("user set-email {user} ADDRESS"))
                            ))
                        }
                        StorageError::Conflict(_) => CliError::Usage(format!(
                            "{user} already has a destination named {name:?}"
                        )),
                        e => e.into(),
                    })?;
                // Alarms that name it with X-DAVGATE-DESTINATION get scheduled now.
                store.queue_all_for_reminders(Some(account.id)).await?;
                println!(
                    "added webhook {name} ({}) for {user}; route a calendar to it with `{}`",
                    format.as_str(),
                    davgate.command(&format!("reminders route {user} CALENDAR {name}"))
                );
                Ok(())
            }
            Self::List { user } => {
                let account = existing(store, &user, davgate).await?;
                for d in store.destinations(account.id).await? {
                    if d.kind == DestinationKind::Email {
                        println!("{}  e-mail  {}", d.name, d.url);
                        continue;
                    }
                    println!(
                        "{}  {}  {}{}",
                        d.name,
                        d.format.as_str(),
                        deliver::shown_url(&d.url),
                        d.template
                            .map(|t| format!("  template {t:?}"))
                            .unwrap_or_default()
                    );
                }
                Ok(())
            }
            Self::Remove { user, name } => {
                let account = existing(store, &user, davgate).await?;
                webhook_only(store, &account, &name, davgate).await?;
                store
                    .remove_destination(account.id, &name)
                    .await
                    .map_err(|e| match e {
                        StorageError::NotFound => no_destination(davgate, &user, &name),
                        e => e.into(),
                    })?;
                println!("removed webhook {name} of {user}");
                Ok(())
            }
            Self::Test { user, name } => {
                let account = existing(store, &user, davgate).await?;
                webhook_only(store, &account, &name, davgate).await?;
                let d = store
                    .destination(account.id, &name)
                    .await?
                    .ok_or_else(|| no_destination(davgate, &user, &name))?;
                let body = message::payload(
                    d.format,
                    d.template.as_deref(),
                    &message::sample_fields("test"),
                    false,
                );
                let sent = Sender::new(settings.reminders.reach)
                    .post(&d.url, body.to_string().into_bytes())
                    .await;
                let (status, detail) = match &sent {
                    Ok(code) => ("test-sent", format!("answered {code}")),
                    Err(e) => ("test-failed", e.to_string()),
                };
                let now = now_ms();
                store
                    .log_delivery(
                        account.id,
                        &DeliveryRecord {
                            at_ms: now,
                            object_name: "(test)".into(),
                            destination: d.name.clone(),
                            due_ms: now,
                            status: status.into(),
                            tries: 1,
                            detail: detail.clone(),
                        },
                    )
                    .await?;
                match sent {
                    Ok(_) => {
                        println!("sent a test reminder to {name}: {detail}");
                        Ok(())
                    }
                    Err(e) => Err(CliError::Usage(format!(
                        "the test reminder to {name} failed: {e}"
                    ))),
                }
            }
        }
    }
}

fn limit_error(e: LimitError) -> CliError {
    match e {
        LimitError::Storage(e) => e.into(),
        e => CliError::Usage(e.to_string()),
    }
}

/// Refuses the e-mail destination where only webhooks make sense: it follows the
/// account's address and goes with it.
async fn webhook_only(
    store: &davgate_storage::Store,
    account: &davgate_storage::Account,
    name: &str,
    davgate: &Invocation,
) -> Result<(), CliError> {
    match store.destination(account.id, name).await? {
        Some(d) if d.kind == DestinationKind::Email => Err(CliError::Usage(format!(
            "{name} is the e-mail destination, not a webhook; it follows the account's \
             address: `{}`",
            davgate.command(&format!("user set-email {} ADDRESS|none", account.username))
        ))),
        _ => Ok(()),
    }
}

fn no_destination(davgate: &Invocation, user: &str, name: &str) -> CliError {
    CliError::Usage(format!(
        "{user} has no destination named {name:?}; see `{}`",
        davgate.command(&format!("reminders webhook list {user}"))
    ))
}
