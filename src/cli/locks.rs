//! `davgate locks …`: see and remove an account's WebDAV locks.
//!
//! A lock left by a crashed client blocks writes until it expires; this lets an
//! operator clear it at once. Paths are below the account's files root, as
//! `locks list` shows them.

use clap::Subcommand;
use davgate_storage::{LockRecord, name_key};

use super::CliError;
use super::invocation::Invocation;
use super::shared::{existing, format_time};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub(super) enum LocksCommand {
    /// List an account's locks: path, token, owner, scope, depth and expiry.
    List {
        /// The user name.
        user: String,
    },
    /// Remove the locks on PATH and below it; "/" removes them all.
    Clear {
        /// The user name.
        user: String,
        /// A path below the account's files root, e.g. /Documents/report.odt.
        path: String,
    },
}

impl LocksCommand {
    pub(super) async fn run(
        self,
        settings: &Settings,
        davgate: &Invocation,
    ) -> Result<(), CliError> {
        let store = crate::server::open_store(settings).await?;
        match self {
            LocksCommand::List { user } => {
                let account = existing(&store, &user, davgate).await?;
                let locks = store.locks(account.id).await?;
                if locks.is_empty() {
                    println!("{user} holds no locks");
                    return Ok(());
                }
                println!(
                    "{:<32} {:<45} {:<24} {:<9} {:<8} expires",
                    "path", "token", "owner", "scope", "depth"
                );
                for lock in &locks {
                    println!(
                        "{:<32} {:<45} {:<24} {:<9} {:<8} {}",
                        lock.path,
                        lock.token,
                        owner_text(lock),
                        if lock.shared { "shared" } else { "exclusive" },
                        if lock.deep { "infinity" } else { "0" },
                        format_time(lock.expires_ms)
                    );
                }
            }
            LocksCommand::Clear { user, path } => {
                let account = existing(&store, &user, davgate).await?;
                let key = path_key(&path);
                let removed = store.remove_locks_under(account.id, &key).await?;
                match removed {
                    0 => println!(
                        "no locks on {key} or below; see `{}`",
                        davgate.command(&format!("locks list {}", Invocation::word(&user)))
                    ),
                    1 => println!("removed 1 lock on {key} or below"),
                    n => println!("removed {n} locks on {key} or below"),
                }
            }
        }
        Ok(())
    }
}

/// What the operator typed as the key locks are stored by: one leading slash, no
/// trailing or doubled ones, NFC.
fn path_key(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    name_key(&format!("/{}", segments.join("/")))
}

/// The text of the client's `DAV:owner` (often a `mailto:` href), or `-`.
fn owner_text(lock: &LockRecord) -> String {
    let text = lock
        .owner_xml
        .as_deref()
        .and_then(|xml| xmltree::Element::parse(xml).ok())
        .map(|owner| {
            let mut words = Vec::new();
            collect_text(&owner, &mut words);
            words.join(" ")
        })
        .unwrap_or_default();
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

fn collect_text(element: &xmltree::Element, words: &mut Vec<String>) {
    for child in &element.children {
        match child {
            xmltree::XMLNode::Element(e) => collect_text(e, words),
            xmltree::XMLNode::Text(t) | xmltree::XMLNode::CData(t) => {
                let t = t.trim();
                if !t.is_empty() {
                    words.push(t.to_owned());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_lock_keys() {
        assert_eq!(path_key("/"), "/");
        assert_eq!(path_key(""), "/");
        assert_eq!(path_key("docs/a.txt"), "/docs/a.txt");
        assert_eq!(path_key("//docs//a.txt/"), "/docs/a.txt");
        assert_eq!(path_key("/cafe\u{301}"), "/caf\u{e9}");
    }

    #[test]
    fn owners_show_their_text() {
        let lock = |xml: Option<&str>| LockRecord {
            token: "t".into(),
            path: "/".into(),
            principal: None,
            owner_xml: xml.map(|x| x.as_bytes().to_vec()),
            expires_ms: 0,
            shared: false,
            deep: false,
        };
        assert_eq!(
            owner_text(&lock(Some(
                "<D:owner xmlns:D=\"DAV:\"><D:href>mailto:a@b</D:href></D:owner>"
            ))),
            "mailto:a@b"
        );
        assert_eq!(owner_text(&lock(None)), "-");
        assert_eq!(owner_text(&lock(Some("not xml <"))), "-");
    }
}
