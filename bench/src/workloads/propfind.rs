//! propfind_10k: PROPFIND Depth 1 on a folder of `--entries` files, as rclone lists a folder.
//!
//! The folder (`propfind-N/`) is set up untimed and kept, so later runs reuse it: a Depth 1
//! count first decides whether it is complete. Every timed run reads the whole multistatus
//! and must find one `response` per entry plus the folder itself; the count goes by local name
//! so `D:`, `d:` and default-namespace servers are all counted alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Request, StatusCode};

use super::small_files::put_many;
use super::{Plan, ROOT, WorkloadError, ensure_collection};
use crate::body::{ReqBody, payload};
use crate::client::{ClientError, Conn, Exchange, Keep, Target, propfind as propfind_method};
use crate::report::{Measure, WorkloadReport};

/// The properties rclone's WebDAV backend asks for (less its ownCloud extensions).
const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<d:propfind xmlns:d="DAV:">
 <d:prop>
  <d:resourcetype />
  <d:getcontentlength />
  <d:getlastmodified />
  <d:getetag />
  <d:getcontenttype />
 </d:prop>
</d:propfind>
"#;
/// Bytes in each entry: the listing, not the content, is under test.
const ENTRY_LEN: usize = 128;
/// Longest listing held in memory (a million entries at ~500 bytes each fits).
const MAX_LISTING: usize = 1 << 30;

pub async fn run(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let (folder, notes) = ensure_folder(target, plan.entries, plan.put_clients).await?;
    let expected = plan.entries as usize + 1;
    let mut conn = target.conn();
    let mut runs = Vec::new();
    for run in 1..=plan.propfind_runs {
        let (elapsed, _) = timed_listing(&mut conn, target, &folder, expected).await?;
        let ms = elapsed.as_secs_f64() * 1000.0;
        runs.push(vec![Measure::lower("latency", "ms", ms)]);
        eprintln!(
            "davgate-bench:   run {run}/{}: {ms:.1} ms",
            plan.propfind_runs
        );
    }
    Ok(WorkloadReport::from_runs(name, runs, notes))
}

/// One PROPFIND Depth 1 of `folder`, timed from send to the answer's last byte and then
/// checked to list `expected` responses; the time and the answer's length.
pub(super) async fn timed_listing(
    conn: &mut Conn,
    target: &Target,
    folder: &str,
    expected: usize,
) -> Result<(Duration, u64), WorkloadError> {
    let req = propfind(target, folder)?;
    let started = Instant::now();
    let exchange = conn.send(req, &[], Keep::Upto(MAX_LISTING)).await?;
    let elapsed = started.elapsed();
    verify_count(folder, multistatus_responses(&exchange)?, expected)?;
    Ok((elapsed, exchange.body_len))
}

/// Makes sure `propfind-N/` holds `entries` files (untimed, from `put_clients`
/// connections); the folder's path and what was done, as notes.
pub(super) async fn ensure_folder(
    target: &Arc<Target>,
    entries: u32,
    put_clients: u32,
) -> Result<(String, Vec<String>), WorkloadError> {
    let folder = format!("{ROOT}propfind-{entries}/");
    let expected = entries as usize + 1;
    let mut conn = target.conn();
    let mut notes = Vec::new();
    match count_responses_of(&mut conn, target, &folder).await? {
        Some(found) if found == expected => notes.push("reused the existing folder".to_owned()),
        Some(found) if found > expected => {
            return Err(WorkloadError::Verify(format!(
                "{folder} lists {found} responses, more than the {expected} expected: delete it"
            )));
        }
        found => {
            if found.is_none() {
                ensure_collection(&mut conn, target, &folder).await?;
            }
            let entry = payload(ENTRY_LEN);
            put_many(target, &folder, entries, put_clients, &entry).await?;
            notes.push("created the folder first (untimed)".to_owned());
            // Untimed, and also a check that the setup left exactly the expected entries.
            let found = count_responses_of(&mut conn, target, &folder).await?;
            verify_count(&folder, found.unwrap_or(0), expected)?;
        }
    }
    Ok((folder, notes))
}

/// `response` elements in `folder`'s Depth 1 listing; `None` when it does not exist.
async fn count_responses_of(
    conn: &mut Conn,
    target: &Target,
    folder: &str,
) -> Result<Option<usize>, WorkloadError> {
    let req = propfind(target, folder)?;
    let exchange = conn
        .send(req, &[StatusCode::NOT_FOUND], Keep::Upto(MAX_LISTING))
        .await?;
    if exchange.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    multistatus_responses(&exchange).map(Some)
}

fn propfind(target: &Target, folder: &str) -> Result<Request<ReqBody>, ClientError> {
    let body = Bytes::from_static(PROPFIND_BODY.as_bytes());
    let req = target
        .request(propfind_method(), folder)
        .header("depth", "1")
        .header(CONTENT_TYPE, "application/xml; charset=utf-8")
        .header(CONTENT_LENGTH, body.len())
        .body(ReqBody::bytes(body))?;
    Ok(req)
}

/// The number of responses in a 207 Multi-Status; any other success status is an error.
fn multistatus_responses(exchange: &Exchange) -> Result<usize, WorkloadError> {
    if exchange.status != StatusCode::MULTI_STATUS {
        return Err(WorkloadError::Verify(format!(
            "PROPFIND answered {}, expected 207 Multi-Status",
            exchange.status
        )));
    }
    Ok(count_responses(&exchange.body))
}

fn verify_count(folder: &str, found: usize, expected: usize) -> Result<(), WorkloadError> {
    if found == expected {
        return Ok(());
    }
    Err(WorkloadError::Verify(format!(
        "PROPFIND {folder} listed {found} responses, expected {expected}"
    )))
}

/// Start tags whose local name is `response`, whatever their prefix. Not a full XML parser:
/// a multistatus has no CDATA or comments that could hide a tag from this scan.
fn count_responses(xml: &[u8]) -> usize {
    xml.split(|&b| b == b'<')
        .skip(1)
        .filter(|tag| {
            let end = tag
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
                .unwrap_or(tag.len());
            let name = &tag[..end];
            let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
            local == b"response"
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_responses_whatever_the_prefix() {
        let nginx = br#"<?xml version="1.0" encoding="utf-8" ?>
<D:multistatus xmlns:D="DAV:">
<D:response><D:href>/dav/</D:href></D:response>
<D:response><D:href>/dav/a</D:href></D:response>
</D:multistatus>"#;
        assert_eq!(count_responses(nginx), 2);
        let lower = br#"<d:multistatus xmlns:d="DAV:"><d:response ><d:href>/</d:href></d:response></d:multistatus>"#;
        assert_eq!(count_responses(lower), 1);
        let default_ns = br#"<multistatus xmlns="DAV:"><response><href>/</href></response>
<response xmlns="DAV:"><href>/x</href></response></multistatus>"#;
        assert_eq!(count_responses(default_ns), 2);
    }

    #[test]
    fn ignores_end_tags_and_lookalikes() {
        let xml = br#"<D:multistatus><D:responsedescription>x</D:responsedescription>
<D:href>/response</D:href><x:response-code/></D:multistatus>"#;
        assert_eq!(count_responses(xml), 0);
        assert_eq!(count_responses(b""), 0);
        assert_eq!(count_responses(b"no tags at all"), 0);
    }

    #[test]
    fn propfind_body_asks_for_the_rclone_properties() {
        for prop in [
            "resourcetype",
            "getcontentlength",
            "getlastmodified",
            "getetag",
            "getcontenttype",
        ] {
            assert!(PROPFIND_BODY.contains(&format!("<d:{prop} />")), "{prop}");
        }
    }
}
