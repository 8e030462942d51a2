//! `davgate share …` and `davgate unshare …`: calendars and address books between accounts.

use clap::{Args, ValueEnum};
use davgate_storage::{CollectionKind, StorageError};

use super::invocation::Invocation;
use super::shared::{CliError, existing};
use crate::config::Settings;

/// What kind of collection.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Kind {
    /// A calendar.
    Calendar,
    /// An address book.
    Addressbook,
}

impl From<Kind> for CollectionKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Calendar => CollectionKind::Calendar,
            Kind::Addressbook => CollectionKind::AddressBook,
        }
    }
}

/// Which collection, and which other account.
#[derive(Debug, Args)]
pub(super) struct Grant {
    /// calendar or addressbook.
    kind: Kind,
    /// The owner's user name.
    owner: String,
    /// The collection's name (its URL segment, e.g. "default").
    name: String,
    /// The other account.
    #[arg(long = "with", value_name = "USER")]
    grantee: String,
}

#[derive(Debug, Args)]
pub(super) struct ShareArgs {
    #[command(flatten)]
    grant: Grant,
    /// The grantee may read and sync, not change.
    #[arg(long, conflicts_with = "read_write")]
    read_only: bool,
    /// The grantee may change its objects too.
    #[arg(long)]
    read_write: bool,
}

#[derive(Debug, Args)]
pub(super) struct UnshareArgs {
    #[command(flatten)]
    grant: Grant,
}

/// The collection and the grantee's account id, or a usage error naming what is missing.
async fn resolve(
    store: &davgate_storage::Store,
    davgate: &Invocation,
    grant: &Grant,
) -> Result<(davgate_storage::CollectionId, davgate_storage::AccountId), CliError> {
    let owner = existing(store, &grant.owner, davgate).await?;
    let grantee = existing(store, &grant.grantee, davgate).await?;
    let kind: CollectionKind = grant.kind.into();
    let collection = store
        .collection(owner.id, kind, &grant.name)
        .await?
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{} has no {} named {:?}: its collections are listed by PROPFIND of its home",
                grant.owner,
                kind_name(kind),
                grant.name
            ))
        })?;
    Ok((collection.id, grantee.id))
}

pub(super) async fn share(
    settings: &Settings,
    davgate: &Invocation,
    args: ShareArgs,
) -> Result<(), CliError> {
    if !args.read_only && !args.read_write {
        return Err(CliError::Usage("say --read-only or --read-write".into()));
    }
    let store = crate::server::open_store(settings).await?;
    let (collection, grantee) = resolve(&store, davgate, &args.grant).await?;
    store
        .share(collection, grantee, args.read_only)
        .await
        .map_err(|e| match e {
            StorageError::Invalid(why) => CliError::Usage(why),
            e => e.into(),
        })?;
    let mode = if args.read_only {
        "read-only"
    } else {
        "read-write"
    };
    let g = &args.grant;
    println!(
        "shared {}'s {} {:?} with {} ({mode}); it appears in {}'s home as {}@{}",
        g.owner,
        kind_name(g.kind.into()),
        g.name,
        g.grantee,
        g.grantee,
        g.name,
        g.owner
    );
    Ok(())
}

pub(super) async fn unshare(
    settings: &Settings,
    davgate: &Invocation,
    args: UnshareArgs,
) -> Result<(), CliError> {
    let store = crate::server::open_store(settings).await?;
    let g = &args.grant;
    let (collection, grantee) = resolve(&store, davgate, g).await?;
    store
        .unshare(collection, grantee)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => {
                CliError::Usage(format!("it is not shared with {}", g.grantee))
            }
            e => e.into(),
        })?;
    println!(
        "stopped sharing {}'s {} {:?} with {}",
        g.owner,
        kind_name(g.kind.into()),
        g.name,
        g.grantee
    );
    Ok(())
}

fn kind_name(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => "calendar",
        CollectionKind::AddressBook => "address book",
    }
}
