//! Who may do what with a collection: its owner, or an account it is shared with.

use davgate_storage::{Collection, CollectionKind, DavObject};
use http::StatusCode;

use super::ctx::Ctx;
use super::error::{DavError, DavResult};
use super::target::CollectionRef;
use crate::proto::names::Privilege;
use crate::proto::precondition::NeededPrivilege;
use crate::proto::precondition::Precondition;

/// How the signed-in principal stands to a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Its own collection.
    Owner,
    /// Shared with it read-write.
    ReadWrite,
    /// Shared read-only, or reached with a read-only app password.
    ReadOnly,
}

impl Level {
    /// The privileges RFC 3744 current-user-privilege-set reports.
    pub fn privileges(self) -> &'static [Privilege] {
        match self {
            Level::Owner | Level::ReadWrite => &[
                Privilege::Read,
                Privilege::Write,
                Privilege::WriteProperties,
                Privilege::WriteContent,
                Privilege::Bind,
                Privilege::Unbind,
                Privilege::ReadCurrentUserPrivilegeSet,
            ],
            Level::ReadOnly => &[Privilege::Read, Privilege::ReadCurrentUserPrivilegeSet],
        }
    }
}

/// A collection opened for this request.
pub struct Opened {
    /// The collection.
    pub collection: Collection,
    /// What the principal may do with it.
    pub level: Level,
    /// The owner's user name.
    pub owner: String,
}

impl Ctx<'_> {
    /// The object `name` in the collection `cref` opens, or the 404 that says it is gone.
    pub async fn open_object(
        &self,
        kind: CollectionKind,
        cref: &CollectionRef,
        name: &str,
    ) -> DavResult<(Opened, DavObject)> {
        let opened = self.open(kind, cref).await?;
        let object = self
            .store()
            .object(opened.collection.id, name)
            .await?
            .ok_or_else(DavError::no_object)?;
        Ok((opened, object))
    }

    /// The collection a path names, own or shared; 404 when there is none.
    pub async fn open(&self, kind: CollectionKind, cref: &CollectionRef) -> DavResult<Opened> {
        let me = &self.principal.account;
        let (collection, mut level) = match &cref.owner {
            None => {
                let collection = self.store().collection(me.id, kind, &cref.slug).await?;
                (collection, Level::Owner)
            }
            Some(owner) => {
                let shares = self.store().shared_with(me.id, kind).await?;
                match shares
                    .into_iter()
                    .find(|s| &s.owner == owner && s.collection.slug == cref.slug)
                {
                    Some(share) => {
                        let level = if share.read_only {
                            Level::ReadOnly
                        } else {
                            Level::ReadWrite
                        };
                        (Some(share.collection), level)
                    }
                    None => (None, Level::ReadOnly),
                }
            }
        };
        let collection = collection.ok_or_else(|| {
            DavError::not_found(
                "there is no such calendar or address book: list your home with PROPFIND Depth 1",
            )
        })?;
        if self.principal.access.read_only {
            level = Level::ReadOnly;
        }
        let owner = cref.owner.clone().unwrap_or_else(|| me.username.clone());
        Ok(Opened {
            collection,
            level,
            owner,
        })
    }

    /// Refuses a change to a collection the principal may only read (RFC 3744
    /// need-privileges, naming the resource and the privilege).
    pub fn require_write(
        &self,
        opened: &Opened,
        path: &str,
        privilege: Privilege,
    ) -> DavResult<()> {
        if opened.level != Level::ReadOnly {
            return Ok(());
        }
        let hint = if self.principal.access.read_only {
            "this app password is read-only: create one without --read-only to make changes"
        } else {
            "this calendar or address book is shared with you read-only: ask its owner for read-write access"
        };
        Err(DavError::Condition {
            status: StatusCode::FORBIDDEN,
            precondition: Precondition::NeedPrivileges(vec![NeededPrivilege {
                path: path.to_owned(),
                privilege,
            }]),
            hint: hint.to_owned(),
        })
    }
}
