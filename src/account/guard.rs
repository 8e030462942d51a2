//! What every portal request meets: the security headers on every answer, and on every
//! POST the `Origin` check and the CSRF token bound to the session.
//!
//! A form from another site fails on its `Origin` (or, when the browser hides that, on
//! `Sec-Fetch-Site`) before its body is read; a form
//! replayed from an old or another session fails on the token. Both are 403 and change
//! nothing.

use http::{HeaderMap, HeaderValue, Response, header};
use subtle::ConstantTimeEq;

use super::error::{Forbidden, PortalError};
use super::form::Form;
use super::state::{Ctx, Session};
use crate::response::Body;

/// Fetch metadata: how the request's initiator relates to us, set by the browser.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// No inline script or style: the page's only script and stylesheet are files of ours.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers every portal answer carries. Nothing the portal shows may be kept
/// by a cache: app passwords and backup codes appear once.
pub(super) fn with_security_headers(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A POST must come from this server's own page: its `Origin` names this server, or is
/// `null` with `Sec-Fetch-Site: same-origin`. Browsers send `Origin` with every POST, but
/// under our `Referrer-Policy: no-referrer` they send it as `null` (Fetch: the referrer
/// policy decides whether a POST tells its origin; Chromium does so). `Sec-Fetch-Site` is
/// set by the browser alone, never by a page's script, so it tells our own form from a
/// forged one there.
pub(super) fn check_origin(headers: &HeaderMap, ctx: &Ctx) -> Result<(), PortalError> {
    let origin = headers
        .get(header::ORIGIN)
        .ok_or(PortalError::Forbidden(Forbidden::NoOrigin))?;
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    let named_here = origin.eq_ignore_ascii_case(&ctx.origin)
        || origin.eq_ignore_ascii_case(&ctx.base_url.origin());
    let same_origin_by_metadata = origin == "null"
        && headers
            .get(SEC_FETCH_SITE)
            .is_some_and(|site| site.as_bytes() == b"same-origin");
    if named_here || same_origin_by_metadata {
        Ok(())
    } else {
        Err(PortalError::Forbidden(Forbidden::CrossOrigin))
    }
}

/// The form must carry its session's CSRF token.
pub(super) fn check_csrf(form: &Form, session: &Session) -> Result<(), PortalError> {
    let sent = form
        .get("csrf")
        .ok_or(PortalError::Forbidden(Forbidden::NoToken))?;
    if bool::from(sent.as_bytes().ct_eq(session.csrf().as_bytes())) {
        Ok(())
    } else {
        Err(PortalError::Forbidden(Forbidden::WrongToken))
    }
}
