//! `/account/devices`: connection guides for the common clients, written with this
//! server's real addresses and the account's name, and the form whose POST downloads an
//! Apple configuration profile ([`super::profile`]) carrying a new app password, signed
//! with the server's certificate when it has one.

use davgate_storage::AuditEvent;
use http::{HeaderValue, Response, header};
use maud::{Markup, html};

use super::address::ClientSettings;
use super::error::PortalError;
use super::form::Form;
use super::profile::{self, ProfileError, ProfileRequest, Signing, Unsigned, sign};
use super::state::{Ctx, Portal, SignedIn};
use super::views::{self, Frame, layout};
use crate::auth::app_password::MAX_NAME;
use crate::error::HttpError;
use crate::response::{self, Body};

impl Portal {
    /// `GET /account/devices`, and again with what was wrong after a refused profile form.
    pub(super) async fn devices(
        &self,
        s: &SignedIn,
        ctx: &Ctx,
        failed: Option<&PortalError>,
    ) -> Result<Response<Body>, PortalError> {
        let user = s.account.username.as_str();
        let c = ClientSettings::new(&ctx.base_url, user, "APP-PASSWORD");
        let frame = Frame {
            user,
            csrf: s.session.csrf(),
        };
        let https = ctx.base_url.uses_tls();
        let davs = if https { "davs" } else { "dav" };
        let port = ctx.base_url.port();
        let files_path = format!("{}/files/", ctx.base_url.prefix());
        let body = html! {
            h2 { "Mac, iPhone, iPad: a configuration profile" }
            p { "One download sets up Calendar and Contacts. The profile carries a new app \
                 password for calendars and contacts, named after the device; it is listed \
                 under " a href="/account/app-passwords" { "app passwords" } " and revoked \
                 there like any other. Open the file on the device, or send it there, then \
                 install it in Settings." }
            @match self.profile_signing() {
                Signing::Signed => p { "Profiles are signed with this server's certificate, \
                                        so the device shows them as verified." }
                Signing::Unsigned(Unsigned::NoCertificate) => p.note {
                    "Profiles are unsigned: this server has no TLS certificate of its own \
                     (TLS ends at a proxy in front, or it serves plain HTTP), so the device \
                     shows the profile as unverified. Install it only from this page." }
                Signing::Unsigned(Unsigned::CannotSign(e)) => p.note {
                    "Profiles are unsigned: " (e) ", so the device shows the profile as \
                     unverified. Install it only from this page." }
            }
            @if let Some(e) = failed { p.error role="alert" { (e.message()) } }
            form method="post" action="/account/devices" {
                (views::csrf(frame.csrf))
                label for="device" { "Device name" }
                input #device type="text" name="device" required maxlength=(MAX_NAME)
                      placeholder="Anna's iPhone";
                button type="submit" { "Download profile" }
            }
            h2 { "Other clients" }
            p { "Create an " a href="/account/app-passwords" { "app password" } " for each \
                 device first, and use it wherever a guide says APP-PASSWORD. The user name \
                 is " code { (user) } " everywhere." }
            (guide("rclone", html! {
                pre { (c.rclone) }
                "The " code { "owncloud" } " vendor makes rclone keep modification times and \
                 compare checksums."
            }))
            (guide("Synology Cloud Sync, QNAP HBS 3", html! {
                "WebDAV; server " code { (c.host) } ", port " code { (port) }
                @if https { ", HTTPS on" } ", path " code { (files_path) } "."
            }))
            (guide("Windows Explorer", html! {
                "Map network drive → " code { (c.files_url) }
            }))
            (guide("macOS Finder", html! {
                "Go → Connect to Server → " code { (c.files_url) }
            }))
            (guide("GNOME Files", html! {
                "Other Locations → Connect to Server → "
                code { (davs) "://" (c.host) (files_path) }
            }))
            (guide("Thunderbird", html! {
                "New calendar → On the network → location " code { (c.dav_url) }
                "; address book: New CardDAV address book → " code { (c.dav_url) }
            }))
            (guide("DAVx5 (Android)", html! {
                "Add account → Login with URL and user name → base URL "
                code { (ctx.base_url) "/" }
            }))
            (guide("Apple Calendar and Contacts (macOS, iOS, iPadOS)", html! {
                "Add a CalDAV (or CardDAV) account, manual setup, server "
                code { (c.host) } "; the principal is " code { (c.principal_url) }
            }))
            (guide("Joplin", html! {
                "Synchronisation target WebDAV, URL " code { (c.files_url) "Joplin/" }
                " (create the folder first)."
            }))
        };
        let status = failed.map_or(http::StatusCode::OK, HttpError::status);
        Ok(views::page_with(
            status,
            layout("Connect a device", Some(&frame), body),
        ))
    }

    /// `POST /account/devices`: a profile for the device named in the form, as a
    /// download that is never cached (it holds a working password).
    pub(super) async fn device_profile(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let key = self.certificate.as_ref().map(|c| c.current());
        let source = ctx.source();
        let request = ProfileRequest {
            url: &ctx.base_url,
            device: form.text("device"),
            signing_key: key.as_deref(),
            source: &source,
        };
        let issued = match profile::issue(&self.store, &s.account, request).await {
            Ok(issued) => issued,
            Err(ProfileError::Create(e)) => {
                let e = PortalError::from(e);
                if let PortalError::Storage(_) = e {
                    return Err(e);
                }
                return self.devices(s, ctx, Some(&e)).await;
            }
            Err(e @ ProfileError::DeviceName) => {
                let e = PortalError::BadForm(e.to_string());
                return self.devices(s, ctx, Some(&e)).await;
            }
        };
        let signed = match issued.signing {
            Signing::Signed => "signed",
            Signing::Unsigned(_) => "unsigned",
        };
        let detail = format!(
            "{} ({signed}, app password {})",
            issued.app_password_name, issued.app_password_id
        );
        self.audit(
            &s.account,
            AuditEvent::DeviceProfileDownloaded,
            &detail,
            ctx,
        )
        .await;
        let disposition = format!("attachment; filename=\"{}\"", issued.file_name());
        let mut resp = Response::new(response::full(issued.bytes));
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(profile::CONTENT_TYPE),
        );
        // The file name holds only ASCII letters, digits and '-'.
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(resp)
    }

    /// Whether profiles made now are signed, and why not, for the page.
    fn profile_signing(&self) -> Signing {
        let Some(certificate) = &self.certificate else {
            return Signing::Unsigned(Unsigned::NoCertificate);
        };
        match sign::check(&certificate.current()) {
            Ok(()) => Signing::Signed,
            Err(e) => Signing::Unsigned(Unsigned::CannotSign(e)),
        }
    }
}

fn guide(client: &str, how: Markup) -> Markup {
    html! { h2 { (client) } p { (how) } }
}
