//! PROPPATCH on a file or folder (RFC 4918 §9.2): dead properties kept in storage,
//! Windows Explorer's Win32 times and attributes accepted, live properties refused.
//!
//! The instructions are judged first and applied only if every one may be: one refused
//! property fails them all (424 for the rest, RFC 4918 §9.2), and the dead ones are then
//! written in one storage transaction. `Win32LastModifiedTime` sets the file's
//! modification time — Explorer copies files that way — while the other Win32
//! properties are answered 200 and not kept: Explorer only needs to hear they were set.

use bytes::Bytes;
use davgate_storage::{DeadProp, PropChange};
use http::{HeaderValue, Response, StatusCode, header};

use super::errors::FilesError;
use super::request::Ctx;
use crate::proto::names::{Namespace, Property};
use crate::proto::precondition::Precondition;
use crate::proto::raw::property_element;
use crate::proto::request::{Instruction, PropertyValue, SetProperty, parse_proppatch};
use crate::proto::response::{Multistatus, Response as DavResponse, Value};
use crate::proto::status::Status;
use crate::proto::{Limits, RawXml};
use crate::response::{self, Body};

/// The Microsoft namespace of the Win32 properties Windows Explorer sets.
const MICROSOFT: &str = "urn:schemas-microsoft-com:";
/// Apache's namespace: mod_dav's `executable`, which we do not keep.
const APACHE: &str = "http://apache.org/dav/props/";

/// What one instruction becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Store or replace a dead property.
    Keep(PropChange),
    /// Accepted without storing (Win32 properties), maybe setting the mtime.
    Accept { mtime_ms: Option<i64> },
    /// Refused with this status.
    Refuse(Status),
}

/// Answers a PROPPATCH of the request path with `body`.
pub(crate) async fn proppatch(ctx: &Ctx<'_>, body: &Bytes) -> Result<Response<Body>, FilesError> {
    let node = ctx.node().await?.ok_or(FilesError::NotFound)?;
    ctx.check_conditions(Some(&node)).await?;
    ctx.check_locks(false).await?;
    let update = parse_proppatch(body, &Limits::DEFAULT).map_err(FilesError::Xml)?;

    let judged: Vec<(&Property, Verdict)> = update
        .instructions
        .iter()
        .map(|instruction| match instruction {
            Instruction::Set(set) => (&set.property, judge_set(set)),
            Instruction::Remove(property) => (property, judge_remove(property)),
        })
        .collect();
    let failed = judged.iter().any(|(_, v)| matches!(v, Verdict::Refuse(_)));
    let mut answer = DavResponse::new(&ctx.href(node.is_dir()));
    if failed {
        for (property, verdict) in &judged {
            let status = match verdict {
                Verdict::Refuse(status) => *status,
                _ => Status::FAILED_DEPENDENCY,
            };
            answer.prop(status, property, Value::Empty);
        }
        if judged
            .iter()
            .any(|(_, v)| *v == Verdict::Refuse(Status::FORBIDDEN))
        {
            answer.error(Precondition::CannotModifyProtectedProperty);
        }
        return Ok(multistatus(answer));
    }

    let changes: Vec<PropChange> = judged
        .iter()
        .filter_map(|(_, v)| match v {
            Verdict::Keep(change) => Some(change.clone()),
            _ => None,
        })
        .collect();
    if !changes.is_empty() {
        ctx.store
            .patch_dead_props(ctx.account.id, node.id, &changes)
            .await?;
    }
    let mtime = judged.iter().rev().find_map(|(_, v)| match v {
        Verdict::Accept { mtime_ms } => *mtime_ms,
        _ => None,
    });
    if let Some(ms) = mtime {
        ctx.store.set_mtime(ctx.account.id, node.id, ms).await?;
    }
    for (property, _) in &judged {
        answer.prop(Status::OK, property, Value::Empty);
    }
    Ok(multistatus(answer))
}

fn multistatus(answer: DavResponse) -> Response<Body> {
    let mut ms = Multistatus::new();
    ms.push(answer);
    let mut resp = Response::new(response::full(ms.finish(None)));
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    resp
}

/// Whether a `set` may be applied, and how.
fn judge_set(set: &SetProperty) -> Verdict {
    let property = &set.property;
    let text_only = !matches!(set.value, PropertyValue::Invalid(_)) && !has_elements(&set.raw);
    match (property.namespace(), property.local_name()) {
        // RFC 4918 §15: the only DAV: properties a client sets; they are kept as given.
        (Namespace::Dav, "displayname" | "getcontentlanguage") if !text_only => {
            Verdict::Refuse(Status::CONFLICT)
        }
        (Namespace::Dav, "displayname" | "getcontentlanguage") => keep(set),
        (Namespace::Dav, _) => Verdict::Refuse(Status::FORBIDDEN),
        (Namespace::Other(ns), name) if ns == MICROSOFT => match name {
            "Win32CreationTime"
            | "Win32FileAttributes"
            | "Win32LastAccessTime"
            | "Win32LastModifiedTime"
                if !text_only =>
            {
                Verdict::Refuse(Status::CONFLICT)
            }
            "Win32LastModifiedTime" => Verdict::Accept {
                mtime_ms: http_date_ms(set.raw.as_str()),
            },
            "Win32CreationTime" | "Win32FileAttributes" | "Win32LastAccessTime" => {
                Verdict::Accept { mtime_ms: None }
            }
            _ => Verdict::Refuse(Status::FORBIDDEN),
        },
        (Namespace::Other(ns), _) if ns == APACHE => Verdict::Refuse(Status::FORBIDDEN),
        _ => keep(set),
    }
}

/// Whether a `remove` may be applied.
fn judge_remove(property: &Property) -> Verdict {
    let remove = || {
        Verdict::Keep(PropChange::Remove {
            namespace: property.namespace().uri().to_owned(),
            name: property.local_name().to_owned(),
        })
    };
    match (property.namespace(), property.local_name()) {
        (Namespace::Dav, "displayname" | "getcontentlanguage") => remove(),
        (Namespace::Dav, _) => Verdict::Refuse(Status::FORBIDDEN),
        (Namespace::Other(ns), _) if ns == MICROSOFT || ns == APACHE => {
            Verdict::Refuse(Status::FORBIDDEN)
        }
        _ => remove(),
    }
}

fn keep(set: &SetProperty) -> Verdict {
    let element = property_element(&set.property, set.lang.as_deref(), &set.raw);
    Verdict::Keep(PropChange::Set(DeadProp {
        namespace: set.property.namespace().uri().to_owned(),
        name: set.property.local_name().to_owned(),
        prefix: None,
        xml: element.into_string().into_bytes(),
    }))
}

/// Whether a value holds elements: text is escaped in a fragment, so a `<` opens one.
fn has_elements(raw: &RawXml) -> bool {
    raw.as_str().contains('<')
}

/// An HTTP date (how Explorer writes Win32 times) as ms since the epoch.
fn http_date_ms(text: &str) -> Option<i64> {
    httpdate::parse_http_date(text.trim())
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(body: &str) -> Vec<(String, Verdict)> {
        let update = parse_proppatch(body.as_bytes(), &Limits::DEFAULT).unwrap();
        update
            .instructions
            .iter()
            .map(|i| match i {
                Instruction::Set(set) => (set.property.to_string(), judge_set(set)),
                Instruction::Remove(p) => (p.to_string(), judge_remove(p)),
            })
            .collect()
    }

    fn set(props: &str) -> String {
        format!(
            r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:" xmlns:E="urn:e"><D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>"#
        )
    }

    #[test]
    fn each_property_gets_its_verdict() {
        let status = |body: &str| match &judged(body)[0].1 {
            Verdict::Keep(_) => 200,
            Verdict::Accept { .. } => 200,
            Verdict::Refuse(s) => s.code(),
        };
        let table = [
            ("<E:colour>blue</E:colour>", 200),
            ("<E:empty/>", 200),
            ("<E:deep><E:x/></E:deep>", 200),
            ("<D:displayname>Doc</D:displayname>", 200),
            ("<D:displayname><E:x/></D:displayname>", 409),
            ("<D:getetag>x</D:getetag>", 403),
            ("<D:resourcetype/>", 403),
            (
                "<D:getlastmodified>Wed, 24 Jan 2024 10:00:00 GMT</D:getlastmodified>",
                403,
            ),
            (
                "<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>",
                200,
            ),
            ("<Z:Win32CreationTime><E:x/></Z:Win32CreationTime>", 409),
            ("<Z:SomethingElse>1</Z:SomethingElse>", 403),
        ];
        for (props, want) in table {
            assert_eq!(status(&set(props)), want, "{props}");
        }
    }

    #[test]
    fn win32_last_modified_time_sets_the_mtime() {
        let body =
            set("<Z:Win32LastModifiedTime>Wed, 24 Jan 2024 10:00:00 GMT</Z:Win32LastModifiedTime>");
        assert_eq!(
            judged(&body)[0].1,
            Verdict::Accept {
                mtime_ms: Some(1_706_090_400_000)
            }
        );
    }

    #[test]
    fn removals_of_live_properties_are_refused() {
        let body = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:E="urn:e"><D:remove><D:prop><E:colour/><D:getetag/><D:displayname/></D:prop></D:remove></D:propertyupdate>"#;
        let verdicts: Vec<bool> = judged(body)
            .iter()
            .map(|(_, v)| matches!(v, Verdict::Keep(PropChange::Remove { .. })))
            .collect();
        assert_eq!(verdicts, [true, false, true]);
    }

    #[test]
    fn kept_values_are_whole_self_contained_elements() {
        let [(_, Verdict::Keep(PropChange::Set(prop)))] = &judged(&set(
            r#"<E:colour xml:lang="en">blue &amp; <b xmlns="urn:b">green</b></E:colour>"#,
        ))[..] else {
            panic!("not kept");
        };
        assert_eq!(
            String::from_utf8_lossy(&prop.xml),
            r#"<X:colour xmlns:X="urn:e" xml:lang="en">blue &amp; <b xmlns="urn:b">green</b></X:colour>"#
        );
        assert_eq!(
            (prop.namespace.as_str(), prop.name.as_str()),
            ("urn:e", "colour")
        );
    }
}
