//! `davgate profile USER --device NAME`: writes an Apple configuration profile for one
//! device (Calendar and Contacts, with a new app password), signed when the server has
//! its own TLS certificate.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use clap::Args;

use super::invocation::Invocation;
use super::shared::{CliError, existing};
use davgate_storage::AuditSource;

use crate::account::profile::{self, ProfileError, ProfileRequest, Signing, Unsigned};
use crate::auth::app_password::CreateError;
use crate::config::{Settings, Transport};
use crate::public_url::PublicUrl;
use crate::server::tls::CertFiles;

#[derive(Debug, Args)]
pub(super) struct ProfileArgs {
    /// The account.
    user: String,
    /// The device's name ("Anna's iPhone"); the new app password is named after it.
    #[arg(long)]
    device: String,
    /// Where to write the profile [default: ./davgate-DEVICE.mobileconfig]; never
    /// overwrites a file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The address devices connect to, e.g. https://dav.example.org [default: public_url].
    #[arg(long, value_name = "URL")]
    url: Option<String>,
}

/// Issues the profile and writes it, saying where, whether it is signed, and how to
/// revoke its password.
pub(super) async fn write(
    settings: &Settings,
    davgate: &Invocation,
    args: ProfileArgs,
) -> Result<(), CliError> {
    let url = match (&args.url, &settings.portal.public_url) {
        (Some(text), _) => PublicUrl::parse(text).map_err(|e| CliError::Usage(e.to_string()))?,
        (None, Some(url)) => url.clone(),
        (None, None) => {
            return Err(CliError::Usage(
                "devices need this server's public address: set public_url in the \
                 configuration or pass --url https://HOST"
                    .into(),
            ));
        }
    };
    let signing_key = match &settings.transport {
        Transport::Tls { cert, key } => {
            // The server's own loader: the key the profile is signed with is the one
            // `serve` would present, checked the same way.
            Some(
                CertFiles::new(cert, key)
                    .load()
                    .map_err(|e| CliError::Usage(e.0))?,
            )
        }
        Transport::PlainLoopback | Transport::PlainBehindProxy => None,
    };
    let store = crate::server::open_store(settings).await?;
    let account = existing(&store, &args.user, davgate).await?;
    let issued = profile::issue(
        &store,
        &account,
        ProfileRequest {
            url: &url,
            device: &args.device,
            signing_key: signing_key.as_deref(),
            source: &AuditSource::cli(),
        },
    )
    .await
    .map_err(|e| match e {
        ProfileError::DeviceName => CliError::Usage(e.to_string()),
        ProfileError::Create(CreateError::Storage(e)) => CliError::Storage(e),
        ProfileError::Create(e) => CliError::Usage(e.to_string()),
    })?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(issued.file_name()));
    // Owner-only and never over another file: the profile holds a working password.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&out)
        .map_err(|e| {
            CliError::Usage(format!(
                "cannot create {}: {e}; name another file with --out",
                out.display()
            ))
        })?;
    file.write_all(&issued.bytes)?;
    file.sync_all()?;
    match &issued.signing {
        Signing::Signed => println!(
            "Wrote {}: a signed profile for {} at {url}; Apple devices show it as verified.",
            out.display(),
            args.user
        ),
        Signing::Unsigned(why) => {
            println!(
                "Wrote {}: an UNSIGNED profile for {} at {url}; Apple devices show it as \
                 unverified.",
                out.display(),
                args.user
            );
            match why {
                Unsigned::NoCertificate => println!(
                    "It is unsigned because this server has no TLS certificate of its own \
                     (tls_cert/tls_key)."
                ),
                Unsigned::CannotSign(e) => println!("It is unsigned because {e}."),
            }
        }
    }
    println!(
        "It holds the new app password \"{}\" (id {}), for calendars and contacts; \
         keep the file private and delete it once installed. Revoke the password with",
        issued.app_password_name, issued.app_password_id
    );
    println!(
        "    {}",
        davgate.command(&format!(
            "app-password revoke {} {}",
            Invocation::word(&args.user),
            issued.app_password_id
        ))
    );
    Ok(())
}
