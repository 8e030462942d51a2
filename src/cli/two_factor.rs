//! `davgate 2fa …` and `davgate audit`: the second factor and the audit log.

use clap::Subcommand;

use super::invocation::Invocation;
use super::shared::{CliError, existing, format_time};
use crate::auth::cache::load_or_create_server_key;
use crate::auth::two_factor::{TwoFactor, TwoFactorError};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub(super) enum TwoFactorCommand {
    /// Start enrolment: prints an otpauth:// URI and a QR code for an authenticator app.
    Enable {
        /// The account.
        user: String,
    },
    /// Finish enrolment with the app's current code; prints 10 single-use backup codes.
    Confirm {
        /// The account.
        user: String,
        /// The 6-digit code the app shows now.
        code: String,
    },
    /// Turn the second factor off, given a current code or an unused backup code.
    Disable {
        /// The account.
        user: String,
        /// A current 6-digit code or a backup code.
        code: String,
    },
    /// Turn the second factor off without a code, for an owner who lost both the phone
    /// and the backup codes (audited); they can enrol again in the portal.
    Reset {
        /// The account.
        user: String,
    },
}

impl TwoFactorCommand {
    pub(super) async fn run(
        self,
        settings: &Settings,
        davgate: &Invocation,
    ) -> Result<(), CliError> {
        let store = crate::server::open_store(settings).await?;
        let key = load_or_create_server_key(&settings.data_dir)?;
        let two_factor = TwoFactor::new(store.clone(), &key);
        let now = davgate_storage::now_ms() / 1000;
        match self {
            TwoFactorCommand::Enable { user } => {
                let account = existing(&store, &user, davgate).await?;
                let enrollment = two_factor.enroll(&account).await.map_err(usage)?;
                println!(
                    "Scan this with an authenticator app (or enter the secret {}):\n",
                    enrollment.secret
                );
                println!("{}", enrollment.qr);
                println!("{}\n", enrollment.uri);
                println!("Then turn it on with the code the app shows:");
                println!(
                    "    {}",
                    davgate.command(&format!("2fa confirm {} CODE", Invocation::word(&user)))
                );
            }
            TwoFactorCommand::Confirm { user, code } => {
                let account = existing(&store, &user, davgate).await?;
                let codes = two_factor
                    .confirm(&account, &code, now)
                    .await
                    .map_err(usage)?;
                println!(
                    "Two-factor authentication is on for {user}. Its password no longer signs in sync"
                );
                println!("clients: give each one an app password,");
                println!(
                    "    {}\n",
                    davgate.command(&format!(
                        "app-password create {} --name NAME",
                        Invocation::word(&user)
                    ))
                );
                println!(
                    "Backup codes, each usable once; store them somewhere safe, they are shown only now:\n"
                );
                for c in codes {
                    println!("    {c}");
                }
            }
            TwoFactorCommand::Disable { user, code } => {
                let account = existing(&store, &user, davgate).await?;
                two_factor
                    .disable(&account, &code, now)
                    .await
                    .map_err(usage)?;
                println!("two-factor authentication is off for {user}");
            }
            TwoFactorCommand::Reset { user } => {
                let account = existing(&store, &user, davgate).await?;
                two_factor.reset(&account).await.map_err(usage)?;
                println!(
                    "two-factor authentication was reset for {user}: the password alone signs in \
                     to /account/ again, where a new authenticator can be enrolled"
                );
            }
        }
        Ok(())
    }
}

fn usage(e: TwoFactorError) -> CliError {
    match e {
        TwoFactorError::Storage(e) => CliError::Storage(e),
        e => CliError::Usage(e.to_string()),
    }
}

/// Prints an account's audit log, newest first.
pub(super) async fn audit(
    settings: &Settings,
    davgate: &Invocation,
    user: &str,
    limit: u32,
) -> Result<(), CliError> {
    let store = crate::server::open_store(settings).await?;
    let account = existing(&store, user, davgate).await?;
    for entry in store.audit_log(account.id, limit).await? {
        println!(
            "{}  {:<26} {}{}",
            format_time(entry.at_ms),
            entry.event_name,
            entry.detail,
            entry.addr.map_or(String::new(), |a| format!(" [{a}]"))
        );
    }
    Ok(())
}
