//! `/account/devices`: connection guides for the common clients, written with this
//! server's real addresses and the account's name. (Apple configuration profiles are
//! not served yet.)

use http::Response;
use maud::{Markup, html};

use super::address::ClientSettings;
use super::error::PortalError;
use super::state::{Ctx, Portal, SignedIn};
use super::views::{self, Frame, layout};
use crate::response::Body;

impl Portal {
    /// `GET /account/devices`.
    pub(super) async fn devices(
        &self,
        s: &SignedIn,
        ctx: &Ctx,
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
        Ok(views::page(layout("Connect a device", Some(&frame), body)))
    }
}

fn guide(client: &str, how: Markup) -> Markup {
    html! { h2 { (client) } p { (how) } }
}
