//! `/account/app-passwords`: the list with last use, creating one (shown once with
//! ready-to-paste client settings and a QR code), revoking one, and revoking all (which
//! asks for the password, and a code when the second factor is on).

use std::time::Duration;

use davgate_storage::{AppPassword, TotpState};
use http::Response;
use maud::{Markup, PreEscaped, html};

use super::address::ClientSettings;
use super::error::PortalError;
use super::form::Form;
use super::qr;
use super::state::{Ctx, Portal, SignedIn};
use super::views::{self, Frame, csrf, layout, time};
use crate::auth::app_password::{self, Request};
use crate::auth::scope::{Scope, Scopes};
use crate::error::HttpError;
use crate::response::Body;

/// The expiry choices of the create form: value, label, length.
const EXPIRIES: [(&str, &str, Option<u64>); 5] = [
    ("never", "Never", None),
    ("7d", "In 7 days", Some(7)),
    ("30d", "In 30 days", Some(30)),
    ("90d", "In 90 days", Some(90)),
    ("365d", "In a year", Some(365)),
];

impl Portal {
    /// `GET /account/app-passwords`.
    pub(super) async fn app_passwords(
        &self,
        s: &SignedIn,
        _ctx: &Ctx,
        failed: Option<&PortalError>,
    ) -> Result<Response<Body>, PortalError> {
        let list = self.store.app_passwords(s.account.id).await?;
        let frame = Frame {
            user: &s.account.username,
            csrf: s.session.csrf(),
        };
        let two_factor = matches!(s.account.totp, TotpState::On { .. });
        let body = html! {
            @if let Some(e) = failed { p.error role="alert" { (e.message()) } }
            p { "Give every sync client (rclone, a NAS, Thunderbird, DAVx5, a phone) its own \
                 app password, and revoke it here when the device is gone." }
            (list_table(&list, s.session.csrf()))
            h2 { "Create an app password" }
            form method="post" action="/account/app-passwords" {
                (csrf(s.session.csrf()))
                label for="name" { "Name (what it is for)" }
                input #name type="text" name="name" required maxlength="100"
                    placeholder="rclone on the VPS";
                fieldset {
                    legend { "May use" }
                    label.check { input type="checkbox" name="scope" value="files" checked; " Files" }
                    label.check { input type="checkbox" name="scope" value="calendars" checked; " Calendars" }
                    label.check { input type="checkbox" name="scope" value="contacts" checked; " Contacts" }
                }
                label.check { input type="checkbox" name="read_only" value="1"; " Read-only" }
                label for="expires" { "Expires" }
                select #expires name="expires" {
                    @for (value, label, _) in EXPIRIES { option value=(value) { (label) } }
                }
                button type="submit" { "Create" }
            }
            h2 { "Revoke all app passwords" }
            p { "Every sync client stops at its next request. Confirm with your account password"
                @if two_factor { " and a current code" } "." }
            form method="post" action="/account/app-passwords/revoke-all" {
                (csrf(s.session.csrf()))
                label for="password" { "Account password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                @if two_factor {
                    label for="code" { "Code or backup code" }
                    input #code type="text" name="code" autocomplete="one-time-code" required;
                }
                button.danger type="submit" { "Revoke all" }
            }
        };
        let status = failed.map_or(http::StatusCode::OK, HttpError::status);
        Ok(views::page_with(
            status,
            layout("App passwords", Some(&frame), body),
        ))
    }

    /// `POST /account/app-passwords`: creates one and shows it once.
    pub(super) async fn create_app_password(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let request = match request(form) {
            Ok(r) => r,
            Err(e) => return self.app_passwords(s, ctx, Some(&e)).await,
        };
        let (generated, stored) =
            match app_password::create(&self.store, s.account.id, request, &ctx.source()).await {
                Ok(done) => done,
                Err(e) => {
                    let e = PortalError::from(e);
                    if let PortalError::Storage(_) = e {
                        return Err(e);
                    }
                    return self.app_passwords(s, ctx, Some(&e)).await;
                }
            };
        let settings = ClientSettings::new(&ctx.base_url, &s.account.username, &generated.display);
        let frame = Frame {
            user: &s.account.username,
            csrf: s.session.csrf(),
        };
        let scopes = Scopes::from_bits(stored.scopes);
        let body = html! {
            p.note { "This is the only time the password is shown. Copy it into the client now; \
                      it is not stored anywhere it could be shown again." }
            p { "App password " strong { (stored.name) } " for " strong { (s.account.username) } ":" }
            p #password .secret { (generated.display) }
            button type="button" data-copy="password" { "Copy" }
            @if let Some(svg) = qr::svg(&generated.display) {
                div.qr { (PreEscaped(svg)) }
            }
            h2 { "Settings for your clients" }
            dl {
                dt { "User name" } dd { code { (s.account.username) } }
                @if scopes.contains(Scope::Files) {
                    dt { "rclone" }
                    dd { pre #rclone { (settings.rclone) }
                         button type="button" data-copy="rclone" { "Copy" } }
                    dt { "File manager, NAS (WebDAV)" }
                    dd { code { (settings.files_url) } " — on a NAS form: server "
                         code { (settings.host) } ", path " code { "/files/" } }
                }
                @if scopes.sees_groupware() {
                    dt { "CalDAV and CardDAV (Thunderbird, DAVx5, Apple)" }
                    dd { code { (settings.dav_url) } " — principal "
                         code { (settings.principal_url) } }
                }
            }
            p { a href="/account/app-passwords" { "Done" } }
        };
        Ok(views::page(layout("New app password", Some(&frame), body)))
    }

    /// `POST /account/app-passwords/revoke`.
    pub(super) async fn revoke_app_password(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let id = form.text("id").trim().to_ascii_lowercase();
        match self
            .store
            .revoke_app_password_by(s.account.id, &id, &ctx.source())
            .await
        {
            Ok(_) | Err(davgate_storage::StorageError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(views::see_other("/account/app-passwords"))
    }

    /// `POST /account/app-passwords/revoke-all`.
    pub(super) async fn revoke_all_app_passwords(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        self.confirm_password(s, form.text("password"), ctx).await?;
        self.confirm_code(s, form.text("code"), ctx).await?;
        self.store
            .revoke_all_app_passwords_by(s.account.id, &ctx.source())
            .await?;
        Ok(views::see_other("/account/app-passwords"))
    }
}

/// The create form as a request.
fn request(form: &Form) -> Result<Request, PortalError> {
    let scopes = if form.all("scope").is_empty() {
        Scopes::from_bits(0)
    } else {
        form.all("scope")
            .join(",")
            .parse::<Scopes>()
            .map_err(PortalError::BadForm)?
    };
    let expires = form.get("expires").unwrap_or("never");
    let days = EXPIRIES
        .iter()
        .find(|(value, _, _)| *value == expires)
        .ok_or_else(|| PortalError::BadForm("choose an expiry from the list".into()))?
        .2;
    Ok(Request {
        name: form.text("name").to_owned(),
        scopes,
        read_only: form.checked("read_only"),
        expires_in: days.map(|d| Duration::from_secs(d * 86400)),
    })
}

/// The table of app passwords with their last use.
fn list_table(list: &[AppPassword], token: &str) -> Markup {
    html! {
        @if list.is_empty() {
            p.muted { "No app passwords yet." }
        } @else {
            div.table { table {
                thead { tr {
                    th { "Name" } th { "Id" } th { "May use" } th { "Created" } th { "Expires" }
                    th { "Last used" } th {}
                } }
                tbody {
                    @for p in list {
                        tr {
                            td { (p.name) }
                            td { code { (p.public_id) } }
                            td { (Scopes::from_bits(p.scopes).to_string().replace(',', ", "))
                                 @if p.read_only { " (read-only)" } }
                            td { (time(Some(p.created_ms))) }
                            td { (time(p.expires_ms)) }
                            td {
                                @match &p.last_used {
                                    None => { "never" }
                                    Some(u) => {
                                        (time(Some(u.at_ms))) br;
                                        span.muted { (u.addr) " · " (u.agent) }
                                    }
                                }
                            }
                            td {
                                @if let Some(t) = p.revoked_ms { "revoked " (time(Some(t))) } @else {
                                    form.inline method="post" action="/account/app-passwords/revoke" {
                                        (csrf(token))
                                        input type="hidden" name="id" value=(p.public_id);
                                        button.danger type="submit"
                                            aria-label={ "Revoke " (p.name) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}
