//! The overview, the password change, the session list and the security log: what the
//! owner sees of the account's own security.

use davgate_storage::TotpState;
use http::Response;
use maud::html;

use super::error::PortalError;
use super::form::Form;
use super::state::{Ctx, Portal, SignedIn};
use super::views::{self, Frame, csrf, layout, time};
use crate::response::Body;
use crate::secret::Secret;

/// Shortest account password the portal sets.
const MIN_PASSWORD: usize = 12;
/// Entries the security log page shows.
const LOG_ENTRIES: u32 = 200;

impl Portal {
    /// `GET /account/`.
    pub(super) async fn overview(
        &self,
        s: &SignedIn,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let live = self
            .store
            .app_passwords(s.account.id)
            .await?
            .into_iter()
            .filter(|p| p.revoked_ms.is_none())
            .count();
        let two_factor = matches!(s.account.totp, TotpState::On { .. });
        let frame = Frame {
            user: &s.account.username,
            csrf: s.session.csrf(),
        };
        let body = html! {
            ul {
                li { a href="/account/app-passwords" { "App passwords" } ": " (live) " in use. \
                     Give every sync client its own." }
                li { a href="/account/two-factor" { "Two-factor sign-in" } ": "
                     @if two_factor { "on." } @else { "off. Turn it on to protect this page." } }
                li { a href="/account/sessions" { "Sessions" } ": where you are signed in here." }
                li { a href="/account/security-log" { "Security log" } ": sign-ins and changes." }
                li { a href="/account/devices" { "Connect a device" } ": settings for rclone, \
                     NAS, file managers, calendars and contacts." }
            }
            p.muted { "Files: " code { (ctx.base_url) "/files/" } " · Calendars and contacts: "
                      code { (ctx.base_url) "/dav/" } }
            h2 { "Change password" }
            p { "Changing the password signs out every other session of this page. App \
                 passwords keep working." }
            form method="post" action="/account/password" {
                (csrf(s.session.csrf()))
                label for="current" { "Current password" }
                input #current type="password" name="current" autocomplete="current-password" required;
                label for="new" { "New password (at least 12 characters)" }
                input #new type="password" name="new" autocomplete="new-password" required minlength="12";
                label for="repeat" { "New password again" }
                input #repeat type="password" name="repeat" autocomplete="new-password" required minlength="12";
                button type="submit" { "Change password" }
            }
        };
        Ok(views::page(layout("Your account", Some(&frame), body)))
    }

    /// `POST /account/password`: needs the current password; ends every other session
    /// and every cached sign-in of the old password.
    pub(super) async fn change_password(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let new = form.text("new");
        if new.chars().count() < MIN_PASSWORD {
            return Err(PortalError::BadForm(
                "the new password needs at least 12 characters; nothing was changed".into(),
            ));
        }
        if new != form.text("repeat") {
            return Err(PortalError::BadForm(
                "the two new passwords differ; nothing was changed".into(),
            ));
        }
        self.confirm_password(s, form.text("current"), ctx).await?;
        let hash = self.auth.hash_secret(Secret::new(new.to_owned())).await?;
        self.store
            .change_password(s.account.id, &hash, Some(s.session.row.id), &ctx.source())
            .await?;
        Ok(views::see_other("/account/"))
    }

    /// Checks the account password typed to confirm an action; a wrong one counts in
    /// the throttle like a failed sign-in.
    pub(super) async fn confirm_password(
        &self,
        s: &SignedIn,
        password: &str,
        ctx: &Ctx,
    ) -> Result<(), PortalError> {
        let user = s.account.username.to_lowercase();
        self.auth.portal_may_try(&user, &ctx.client).await?;
        let ok = self
            .auth
            .verify_account_password(&s.account, Secret::new(password.to_owned()))
            .await?;
        if ok {
            return Ok(());
        }
        self.auth.portal_failed(&s.account, &ctx.client).await;
        Err(PortalError::Confirmation(
            "the account password is wrong; nothing was changed".into(),
        ))
    }

    /// `GET /account/sessions`.
    pub(super) async fn sessions_page(&self, s: &SignedIn) -> Result<Response<Body>, PortalError> {
        let sessions = self
            .store
            .sessions(s.account.id, self.settings.limits())
            .await?;
        let frame = Frame {
            user: &s.account.username,
            csrf: s.session.csrf(),
        };
        let body = html! {
            p { "Browsers signed in to this page. Sync clients use app passwords and are listed "
                a href="/account/app-passwords" { "there" } "." }
            div.table { table {
                thead { tr { th { "Signed in" } th { "Last seen" } th { "Address" } th { "Browser" } th {} } }
                tbody {
                    @for row in &sessions {
                        tr {
                            td { (time(Some(row.created_ms))) }
                            td { (time(Some(row.last_seen_ms))) }
                            td { (row.addr) }
                            td { (row.agent) }
                            td {
                                @if row.id == s.session.row.id { "this session" } @else {
                                    form.inline method="post" action="/account/sessions/end" {
                                        (csrf(s.session.csrf()))
                                        input type="hidden" name="id" value=(row.id);
                                        button.danger type="submit" { "End" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            form method="post" action="/account/sessions/end-others" {
                (csrf(s.session.csrf()))
                button.danger type="submit" { "End all other sessions" }
            }
        };
        Ok(views::page(layout("Sessions", Some(&frame), body)))
    }

    /// `POST /account/sessions/end`.
    pub(super) async fn end_session(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let id: i64 = form
            .text("id")
            .parse()
            .map_err(|_| PortalError::BadForm("no session was named".into()))?;
        if self.store.end_session(s.account.id, id).await? {
            self.audit(
                &s.account,
                davgate_storage::AuditEvent::SessionsEnded,
                "1 other session ended",
                ctx,
            )
            .await;
        }
        Ok(views::see_other("/account/sessions"))
    }

    /// `POST /account/sessions/end-others`.
    pub(super) async fn end_other_sessions(
        &self,
        s: &SignedIn,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        self.store
            .end_sessions(s.account.id, Some(s.session.row.id), &ctx.source())
            .await?;
        Ok(views::see_other("/account/sessions"))
    }

    /// `GET /account/security-log`: the account's own audit entries, newest first.
    pub(super) async fn security_log(&self, s: &SignedIn) -> Result<Response<Body>, PortalError> {
        let entries = self.store.audit_log(s.account.id, LOG_ENTRIES).await?;
        let frame = Frame {
            user: &s.account.username,
            csrf: s.session.csrf(),
        };
        let body = html! {
            p { "Sign-ins to this page, app passwords created, revoked or used from a new \
                 address, two-factor changes and throttled sign-ins, newest first." }
            div.table { table {
                thead { tr { th { "When" } th { "What" } th { "Detail" } th { "Address" } th { "Client" } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td { (time(Some(e.at_ms))) }
                            td { (e.event_name) }
                            td { (e.detail) }
                            td { (e.addr.as_deref().unwrap_or("")) }
                            td { (e.agent.as_deref().unwrap_or("")) }
                        }
                    }
                }
            } }
        };
        Ok(views::page(layout("Security log", Some(&frame), body)))
    }
}
