//! `davgate share …` and `davgate unshare …`: calendars and address books between accounts.

use clap::{Args, ValueEnum};
use davgate_storage::{CollectionKind, StorageError};

use super::{CliError, existing};
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

#[derive(Debug, Args)]
pub(super) struct ShareArgs {
    /// calendar or addressbook.
    kind: Kind,
    /// The owner's user name.
    owner: String,
    /// The collection's name (its URL segment, e.g. "default").
    name: String,
    /// The account to share it with.
    #[arg(long = "with", value_name = "USER")]
    grantee: String,
    /// The grantee may read and sync, not change.
    #[arg(long, conflicts_with = "read_write")]
    read_only: bool,
    /// The grantee may change its objects too.
    #[arg(long)]
    read_write: bool,
}

#[derive(Debug, Args)]
pub(super) struct UnshareArgs {
    /// calendar or addressbook.
    kind: Kind,
    /// The owner's user name.
    owner: String,
    /// The collection's name.
    name: String,
    /// The account to stop sharing with.
    #[arg(long = "with", value_name = "USER")]
    grantee: String,
}

pub(super) async fn share(settings: &Settings, args: ShareArgs) -> Result<(), CliError> {
    if !args.read_only && !args.read_write {
        return Err(CliError::Usage("say --read-only or --read-write".into()));
    }
    let store = crate::server::open_store(settings).await?;
    let owner = existing(&store, &args.owner).await?;
    let grantee = existing(&store, &args.grantee).await?;
    let kind: CollectionKind = args.kind.into();
    let collection = store
        .collection(owner.id, kind, &args.name)
        .await?
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{} has no {} named {:?}: its collections are listed by PROPFIND of its home",
                args.owner,
                kind_name(kind),
                args.name
            ))
        })?;
    store
        .share(collection.id, grantee.id, args.read_only)
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
    println!(
        "shared {}'s {} {:?} with {} ({mode}); it appears in {}'s home as {}@{}",
        args.owner,
        kind_name(kind),
        args.name,
        args.grantee,
        args.grantee,
        args.name,
        args.owner
    );
    Ok(())
}

pub(super) async fn unshare(settings: &Settings, args: UnshareArgs) -> Result<(), CliError> {
    let store = crate::server::open_store(settings).await?;
    let owner = existing(&store, &args.owner).await?;
    let grantee = existing(&store, &args.grantee).await?;
    let kind: CollectionKind = args.kind.into();
    let collection = store
        .collection(owner.id, kind, &args.name)
        .await?
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{} has no {} named {:?}",
                args.owner,
                kind_name(kind),
                args.name
            ))
        })?;
    store
        .unshare(collection.id, grantee.id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => {
                CliError::Usage(format!("it is not shared with {}", args.grantee))
            }
            e => e.into(),
        })?;
    println!(
        "stopped sharing {}'s {} {:?} with {}",
        args.owner,
        kind_name(kind),
        args.name,
        args.grantee
    );
    Ok(())
}

fn kind_name(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => "calendar",
        CollectionKind::AddressBook => "address book",
    }
}
