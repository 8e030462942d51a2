//! The frame every portal page shares, the sign-in forms, and the error page. Pages
//! are maud templates: every interpolated value is HTML-escaped unless it is wrapped in
//! `PreEscaped`, which only our own QR SVG is.

use http::{HeaderValue, Response, StatusCode, header};
use maud::{DOCTYPE, Markup, html};

use super::error::PortalError;
use super::state::Session;
use crate::error::HttpError;
use crate::response::{self, Body};

/// Who the page is for, when signed in: the name and the session's CSRF token.
pub(crate) struct Frame<'a> {
    pub user: &'a str,
    pub csrf: &'a str,
}

/// A whole page.
pub(crate) fn layout(title: &str, frame: Option<&Frame<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · davgate" }
                link rel="stylesheet" href="/account/assets/portal.css";
                script src="/account/assets/copy.js" defer {}
            }
            body {
                header {
                    strong { "davgate" }
                    @if let Some(f) = frame {
                        nav aria-label="Account" {
                            a href="/account/" { "Overview" }
                            a href="/account/app-passwords" { "App passwords" }
                            a href="/account/two-factor" { "Two-factor sign-in" }
                            a href="/account/sessions" { "Sessions" }
                            a href="/account/security-log" { "Security log" }
                            a href="/account/devices" { "Devices" }
                            a href="/account/reminders" { "Reminders" }
                        }
                        form.inline method="post" action="/account/sign-out" {
                            (csrf(f.csrf))
                            span.muted { (f.user) " · " }
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The hidden field every form of a session carries.
pub(crate) fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A 200 HTML page.
pub(crate) fn page(markup: Markup) -> Response<Body> {
    page_with(StatusCode::OK, markup)
}

/// An HTML page with this status.
pub(crate) fn page_with(status: StatusCode, markup: Markup) -> Response<Body> {
    let mut resp = Response::new(response::full(markup.into_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// 303 to another portal page (after a form: reloading does not send it again).
pub(crate) fn see_other(location: &'static str) -> Response<Body> {
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    resp.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(location));
    resp
}

/// A refusal, as a page: the status and sentence come from [`HttpError`].
pub(crate) fn error_page(e: &PortalError) -> Response<Body> {
    if let Some(detail) = e.log_detail() {
        tracing::error!(status = %e.status(), error = %detail, "portal request failed");
    }
    let body = html! {
        p.error role="alert" { (e.message()) }
        p { a href="/account/" { "Back to your account" } }
    };
    let mut resp = page_with(e.status(), layout("Not done", None, body));
    e.add_headers(resp.headers_mut());
    resp
}

/// The sign-in form, with the reason the last try failed.
pub(crate) fn sign_in_form(user: Option<&str>, failed: Option<&PortalError>) -> Response<Body> {
    let body = html! {
        @if let Some(e) = failed { p.error role="alert" { (e.message()) } }
        p { "Sign in with your account name and account password to manage app passwords, \
             two-factor sign-in and sessions. App passwords are for sync clients and do not \
             open this page." }
        form method="post" action="/account/sign-in" {
            label for="user" { "Account name" }
            input #user type="text" name="user" autocomplete="username" required
                autocapitalize="none" spellcheck="false" value=(user.unwrap_or(""));
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    let status = failed.map_or(StatusCode::OK, HttpError::status);
    let mut resp = page_with(status, layout("Sign in", None, body));
    if let Some(e) = failed {
        e.add_headers(resp.headers_mut());
    }
    resp
}

/// The second step of signing in.
pub(crate) fn second_factor_form(
    session: &Session,
    failed: Option<&PortalError>,
) -> Response<Body> {
    let body = html! {
        @if let Some(e) = failed { p.error role="alert" { (e.message()) } }
        p { "Two-factor sign-in is on for this account. Enter the 6-digit code your \
             authenticator app shows, or one of your backup codes." }
        form method="post" action="/account/sign-in/code" {
            (csrf(session.csrf()))
            label for="code" { "Code" }
            input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code"
                required autofocus spellcheck="false";
            button type="submit" { "Continue" }
        }
        form method="post" action="/account/sign-out" {
            (csrf(session.csrf()))
            button.link type="submit" { "Cancel" }
        }
    };
    let status = failed.map_or(StatusCode::OK, HttpError::status);
    let mut resp = page_with(status, layout("Second step", None, body));
    if let Some(e) = failed {
        e.add_headers(resp.headers_mut());
    }
    resp
}

/// A time as UTC text, or "never".
pub(crate) fn time(ms: Option<i64>) -> String {
    match ms {
        None => "never".into(),
        Some(ms) => {
            let secs = ms.div_euclid(1000);
            chrono::DateTime::from_timestamp(secs, 0).map_or_else(
                || "?".into(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        }
    }
}
