//! Incomplete multipart uploads left in the bucket, and their abort.
//!
//! A writer aborts its own multipart upload when it is dropped; what remains is the
//! upload of a node killed mid-body, whose parts S3 keeps (and bills) until someone
//! aborts it. object_store has no call that lists them, so this module sends
//! ListMultipartUploads itself: a plain GET signed by object_store's own SigV4
//! authorizer with the bucket's credentials, its XML read with quick-xml. The abort goes
//! through object_store. Only uploads older than the configured age are aborted: a
//! younger one may be streaming on another node right now.

use std::time::Duration;

use object_store::aws::{AmazonS3, AwsAuthorizer};
use object_store::client::{HttpClient, HttpRequestBody};
use object_store::multipart::MultipartStore;
use quick_xml::events::Event;

use super::error::io_error;
use crate::blob::contract::BlobKey;
use crate::error::{Result, StorageError};

/// Listing pages read per run (1,000 uploads each); the rest waits for the next run, so
/// one run's memory stays bounded.
const MAX_PAGES: usize = 20;

/// One incomplete multipart upload as ListMultipartUploads names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Incomplete {
    pub(super) key: String,
    pub(super) upload_id: String,
    /// When it was started, in milliseconds since the epoch; `None` when the server did
    /// not say (it is then never aborted).
    pub(super) initiated_ms: Option<i64>,
}

/// How to reach the bucket outside object_store's own calls.
pub(super) struct BucketApi {
    pub(super) http: HttpClient,
    /// The bucket's URL, as object_store forms it (path-style or virtual-hosted).
    pub(super) url: String,
    pub(super) region: String,
}

/// The bucket's URL exactly as object_store's builder forms it: with virtual-hosted
/// addressing a given endpoint already names the bucket.
pub(super) fn bucket_url(
    endpoint: Option<&str>,
    bucket: &str,
    region: &str,
    path_style: bool,
) -> String {
    match (endpoint, path_style) {
        (Some(endpoint), false) => endpoint.trim_end_matches('/').to_owned(),
        (Some(endpoint), true) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        (None, false) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        (None, true) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
    }
}

impl BucketApi {
    /// The incomplete multipart uploads in the bucket, at most [`MAX_PAGES`] pages.
    pub(super) async fn incomplete(&self, bucket: &AmazonS3) -> Result<Vec<Incomplete>> {
        let mut found = Vec::new();
        let mut marker: Option<(String, String)> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!("{}/?uploads=", self.url);
            if let Some((key, id)) = &marker {
                url.push_str(&format!(
                    "&key-marker={}&upload-id-marker={}",
                    encode(key),
                    encode(id)
                ));
            }
            // No bucket yet (SeaweedFS makes it on the first upload): nothing left in it.
            let Some(xml) = self.get(bucket, &url).await? else {
                break;
            };
            let page = parse_page(&xml)?;
            found.extend(page.uploads);
            match page.next {
                Some(next) if page.truncated => marker = Some(next),
                _ => break,
            }
        }
        Ok(found)
    }

    /// Deletes the bucket itself, which must be empty (tests: a bucket per test would
    /// otherwise keep its volumes on a small S3 server).
    pub(super) async fn delete_bucket(&self, bucket: &AmazonS3) -> Result<()> {
        self.send(bucket, http::Method::DELETE, &format!("{}/", self.url))
            .await
            .map(drop)
    }

    /// Whether the bucket exists (SeaweedFS and MinIO make it on the first upload).
    pub(super) async fn bucket_exists(&self, bucket: &AmazonS3) -> Result<bool> {
        self.send(bucket, http::Method::HEAD, &format!("{}/", self.url))
            .await
            .map(|answer| answer.is_some())
    }

    /// A signed GET of `url`, its body as text; `None` when the bucket does not exist.
    async fn get(&self, bucket: &AmazonS3, url: &str) -> Result<Option<String>> {
        self.send(bucket, http::Method::GET, url).await
    }

    /// A signed request without a body; the answer's body as text, `None` on 404.
    async fn send(
        &self,
        bucket: &AmazonS3,
        method: http::Method,
        url: &str,
    ) -> Result<Option<String>> {
        let credential = bucket
            .credentials()
            .get_credential()
            .await
            .map_err(io_error)?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(url)
            .body(HttpRequestBody::empty())
            .map_err(|e| StorageError::Invalid(format!("S3 request URL {url}: {e}")))?;
        AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| std::io::Error::other(format!("S3 request {url}: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .bytes()
            .await
            .map_err(|e| std::io::Error::other(format!("S3 request {url}: {e}")))?;
        if status == http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(std::io::Error::other(format!(
                "S3 request {url} answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ))
            .into());
        }
        String::from_utf8(body.to_vec())
            .map(Some)
            .map_err(|_| std::io::Error::other("S3 answer is not UTF-8").into())
    }

    /// Aborts every incomplete upload of a blob key started more than `max_age` ago;
    /// returns how many were aborted.
    pub(super) async fn abort_older_than(
        &self,
        bucket: &AmazonS3,
        max_age: Duration,
    ) -> Result<usize> {
        let age = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = crate::db::now_ms().saturating_sub(age);
        let mut aborted = 0;
        for upload in self.incomplete(bucket).await? {
            // Only our own objects: anything else in the bucket is not ours to touch.
            if BlobKey::parse(&upload.key).is_none()
                || upload.initiated_ms.is_none_or(|at| at > cutoff)
            {
                continue;
            }
            tracing::info!(
                blob = upload.key.as_str(),
                "aborting an incomplete multipart upload its node left"
            );
            match bucket
                .abort_multipart(&upload.key.as_str().into(), &upload.upload_id)
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => aborted += 1,
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(aborted)
    }
}

/// A marker value in a query string: everything but the unreserved characters escaped.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One page of a ListMultipartUploads answer.
#[derive(Debug, Default, PartialEq, Eq)]
struct Page {
    uploads: Vec<Incomplete>,
    truncated: bool,
    /// NextKeyMarker and NextUploadIdMarker.
    next: Option<(String, String)>,
}

/// Reads a ListMultipartUploadsResult document.
fn parse_page(xml: &str) -> Result<Page> {
    let bad = |e: &dyn std::fmt::Display| -> StorageError {
        std::io::Error::other(format!("S3 multipart listing is not valid XML: {e}")).into()
    };
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut page = Page::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let (mut next_key, mut next_id) = (None, None);
    let mut upload = Incomplete {
        key: String::new(),
        upload_id: String::new(),
        initiated_ms: None,
    };
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(start) => {
                path.push(start.local_name().as_ref().to_owned());
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(|e| bad(&e))? {
                Some(c) => text.push(c),
                None => text.push(match &*r.xml10_content() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    other => return Err(bad(&format!("unknown entity &{other};"))),
                }),
            },
            Event::End(_) => {
                let value = std::mem::take(&mut text);
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                match names.as_slice() {
                    [_, "IsTruncated"] => page.truncated = value.trim() == "true",
                    [_, "NextKeyMarker"] => next_key = Some(value),
                    [_, "NextUploadIdMarker"] => next_id = Some(value),
                    [_, "Upload", "Key"] => upload.key = value,
                    [_, "Upload", "UploadId"] => upload.upload_id = value,
                    [_, "Upload", "Initiated"] => {
                        upload.initiated_ms = chrono::DateTime::parse_from_rfc3339(value.trim())
                            .ok()
                            .map(|t| t.timestamp_millis())
                    }
                    [_, "Upload"] => page.uploads.push(std::mem::replace(
                        &mut upload,
                        Incomplete {
                            key: String::new(),
                            upload_id: String::new(),
                            initiated_ms: None,
                        },
                    )),
                    _ => {}
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    page.next = next_key.zip(next_id).filter(|(k, _)| !k.is_empty());
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_page_names_each_upload_and_where_to_go_on() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>0123456789abcdef0123456789abcdef</NextKeyMarker>
  <NextUploadIdMarker>id&amp;2</NextUploadIdMarker>
  <MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>0123456789abcdef0123456789abcdef</Key><UploadId>id&amp;2</UploadId>
    <Initiator><ID>x</ID></Initiator><Initiated>2026-12-05T04:00:00.000Z</Initiated></Upload>
  <Upload><Key>other</Key><UploadId>id3</UploadId></Upload>
</ListMultipartUploadsResult>"#;
        let page = parse_page(xml).unwrap();
        assert!(page.truncated);
        assert_eq!(
            page.next,
            Some(("0123456789abcdef0123456789abcdef".into(), "id&2".into()))
        );
        assert_eq!(
            page.uploads,
            vec![
                Incomplete {
                    key: "0123456789abcdef0123456789abcdef".into(),
                    upload_id: "id&2".into(),
                    initiated_ms: Some(1_796_443_200_000),
                },
                Incomplete {
                    key: "other".into(),
                    upload_id: "id3".into(),
                    initiated_ms: None,
                },
            ]
        );
        assert!(parse_page("<a><b></a>").is_err());
    }

    #[test]
    fn the_bucket_url_is_object_stores() {
        let url = |e, p| bucket_url(e, "b", "eu-west-1", p);
        assert_eq!(url(Some("http://h:1/"), true), "http://h:1/b");
        assert_eq!(url(Some("https://b.h"), false), "https://b.h");
        assert_eq!(url(None, false), "https://b.s3.eu-west-1.amazonaws.com");
        assert_eq!(url(None, true), "https://s3.eu-west-1.amazonaws.com/b");
    }
}
