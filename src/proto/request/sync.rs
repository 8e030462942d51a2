//! The sync-collection REPORT (RFC 6578 §3.2, §6.1).

use super::super::error::XmlError;
use super::super::names::Namespace;
use super::super::reader::Element;
use super::propfind::{ReportProps, parse_nresults, parse_report_props};

const CLARK: &str = "{DAV:}sync-collection";

/// How deep changes are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    /// Direct members only (what every calendar and contacts client sends).
    One,
    /// All descendants.
    Infinite,
}

/// A sync-collection request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCollection {
    /// The token from the previous sync; `None` for an initial sync (an empty
    /// `<D:sync-token/>`, which Thunderbird and DAVx5 send the first time).
    pub sync_token: Option<String>,
    /// How deep.
    pub sync_level: SyncLevel,
    /// `D:limit/D:nresults`: return at most this many changes.
    pub limit: Option<u32>,
    /// What to return for each changed member.
    pub props: ReportProps,
}

pub(crate) fn parse(root: &Element) -> Result<SyncCollection, XmlError> {
    let mut request = SyncCollection {
        sync_token: None,
        // RFC 6578 requires sync-level, but Apple's CalDAVTester bodies and Radicale's
        // own tests leave it out; depth one is what such a client means.
        sync_level: SyncLevel::One,
        limit: None,
        props: parse_report_props(root)?,
    };
    for child in root.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::Dav, "sync-token") => {
                let token = child.text().trim().to_owned();
                request.sync_token = (!token.is_empty()).then_some(token);
            }
            (Namespace::Dav, "sync-level") => request.sync_level = parse_level(child)?,
            (Namespace::Dav, "limit") => {
                request.limit = parse_nresults(child, &Namespace::Dav, CLARK)?
            }
            _ => {}
        }
    }
    Ok(request)
}

fn parse_level(element: &Element) -> Result<SyncLevel, XmlError> {
    match element.text().trim() {
        "1" => Ok(SyncLevel::One),
        // "infinity" is the Depth header's spelling, which some clients carry over.
        "infinite" | "infinity" => Ok(SyncLevel::Infinite),
        other => Err(XmlError::invalid(
            CLARK,
            format!("sync-level {other:?} is neither 1 nor infinite"),
        )),
    }
}
