//! `/account/reminders`: where an account's calendar reminders go. Lists the
//! destinations (webhooks shown by scheme and host only: a webhook's path is its
//! secret), which calendar is routed where, and the delivery log; adds and removes
//! webhooks and routes calendars, checked and limited as the CLI does, and audited.

use davgate_storage::{CollectionKind, DestinationKind, StorageError, WebhookFormat};
use http::Response;
use maud::html;

use super::error::PortalError;
use super::form::Form;
use super::state::{Ctx, Portal, SignedIn};
use super::views::{self, Frame, csrf, layout, time};
use crate::error::HttpError;
use crate::reminders::deliver;
use crate::reminders::limits::LimitError;
use crate::response::Body;

/// Delivery log lines shown.
const LOG_LINES: u32 = 50;

impl Portal {
    /// `GET /account/reminders`.
    pub(super) async fn reminders_page(
        &self,
        s: &SignedIn,
        failed: Option<&PortalError>,
    ) -> Result<Response<Body>, PortalError> {
        let account = s.account.id;
        let destinations = self.store.destinations(account).await?;
        let calendars = self
            .store
            .collections(account, CollectionKind::Calendar)
            .await?;
        let mut routes = Vec::with_capacity(calendars.len());
        for calendar in &calendars {
            routes.push((calendar, self.store.route_of(calendar.id).await?));
        }
        let log = self.store.delivery_log(account, LOG_LINES).await?;
        let token = s.session.csrf();
        let frame = Frame {
            user: &s.account.username,
            csrf: token,
        };
        let body = html! {
            @if let Some(e) = failed { p.error role="alert" { (e.message()) } }
            p { "Alarms of a routed calendar are posted to its destination when due; an alarm \
                 may also name one with X-DAVGATE-DESTINATION. Alarms with ACTION:EMAIL go to \
                 your e-mail address, which the operator sets." }
            h2 { "Destinations" }
            @if destinations.is_empty() {
                p.muted { "No destinations yet." }
            } @else {
                div.table { table {
                    thead { tr { th { "Name" } th { "Kind" } th { "Address" } th {} } }
                    tbody { @for d in &destinations { tr {
                        td { (d.name) }
                        @match d.kind {
                            DestinationKind::Email => {
                                td { "e-mail" } td { (d.url) } td {}
                            }
                            DestinationKind::Webhook => {
                                td { (d.format.as_str()) }
                                td { code { (deliver::shown_url(&d.url)) } }
                                td { form.inline method="post" action="/account/reminders/remove" {
                                    (csrf(token))
                                    input type="hidden" name="name" value=(d.name);
                                    button.danger type="submit"
                                        aria-label={ "Remove " (d.name) } { "Remove" }
                                } }
                            }
                        }
                    } } }
                } }
            }
            h2 { "Add a webhook" }
            form method="post" action="/account/reminders" {
                (csrf(token))
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength="64" placeholder="team-chat";
                label for="url" { "Incoming-webhook URL" }
                input #url type="url" name="url" required placeholder="https://hooks.slack.com/services/…";
                label for="format" { "Format" }
                select #format name="format" {
                    @for f in WebhookFormat::ALL { option value=(f.as_str()) { (f.as_str()) } }
                }
                label for="template" { "Message (optional): %subject%, %date%, %description%, \
                                        %location%, %calendar%" }
                input #template type="text" name="template" maxlength="1000";
                button type="submit" { "Add" }
            }
            h2 { "Calendars" }
            div.table { table {
                thead { tr { th { "Calendar" } th { "Alarms go to" } } }
                tbody { @for (calendar, route) in &routes { tr {
                    td { (calendar.displayname.as_deref().unwrap_or(&calendar.slug)) }
                    td { @match route { Some(d) => { (d.name) } None => { span.muted { "the devices" } } } }
                } } }
            } }
            @if !destinations.is_empty() && !calendars.is_empty() {
                form method="post" action="/account/reminders/route" {
                    (csrf(token))
                    label for="calendar" { "Calendar" }
                    select #calendar name="calendar" {
                        @for c in &calendars {
                            option value=(c.slug) { (c.displayname.as_deref().unwrap_or(&c.slug)) }
                        }
                    }
                    label for="destination" { "Destination" }
                    select #destination name="destination" {
                        @for d in &destinations { option value=(d.name) { (d.name) } }
                    }
                    button type="submit" { "Route" }
                }
            }
            h2 { "Delivery log" }
            @if log.is_empty() {
                p.muted { "Nothing sent yet." }
            } @else {
                div.table { table {
                    thead { tr { th { "When" } th { "Event" } th { "Due" } th { "To" }
                                 th { "Status" } th { "Tries" } th { "Detail" } } }
                    tbody { @for l in &log { tr {
                        td { (time(Some(l.at_ms))) } td { (l.object_name) }
                        td { (time(Some(l.due_ms))) } td { (l.destination) }
                        td { (l.status) } td { (l.tries) } td { (l.detail) }
                    } } }
                } }
            }
        };
        let status = failed.map_or(http::StatusCode::OK, HttpError::status);
        Ok(views::page_with(
            status,
            layout("Reminders", Some(&frame), body),
        ))
    }

    /// `POST /account/reminders`: adds a webhook.
    pub(super) async fn add_webhook(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let name = form.text("name").trim();
        let url = form.text("url").trim();
        let template = Some(form.text("template").trim()).filter(|t| !t.is_empty());
        let format = WebhookFormat::parse(form.get("format").unwrap_or("slack"));
        let checked = match format {
            _ if name.is_empty() || name.chars().count() > 64 => Err(PortalError::BadForm(
                "give the webhook a name of 1 to 64 characters".into(),
            )),
            None => Err(PortalError::BadForm("choose a format from the list".into())),
            Some(format) => deliver::check_url(url, self.reminders.reach)
                .map(|_| format)
                .map_err(|e| PortalError::BadForm(format!("the URL is not usable: {e}"))),
        };
        let format = match checked {
            Ok(format) => format,
            Err(e) => return self.reminders_page(s, Some(&e)).await,
        };
        let account = s.account.id;
        if let Err(e) = self
            .reminders
            .limits
            .check_new_destination(&self.store, account)
            .await
        {
            return self.refused(s, e).await;
        }
        match self
            .store
            .add_destination(account, name, url, format, template)
            .await
        {
            Ok(_) => {}
            Err(StorageError::Conflict(why)) => {
                let e = PortalError::BadForm(format!("{name:?} cannot be added: {why}"));
                return self.reminders_page(s, Some(&e)).await;
            }
            Err(e) => return Err(e.into()),
        }
        self.store.queue_all_for_reminders(Some(account)).await?;
        let detail = format!("webhook {name} ({}) added", format.as_str());
        self.changed(s, &detail, ctx).await
    }

    /// `POST /account/reminders/remove`: removes a webhook, its routes and pending alarms.
    pub(super) async fn remove_webhook(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let name = form.text("name");
        let account = s.account.id;
        match self.store.destination(account, name).await? {
            None => return Ok(views::see_other("/account/reminders")),
            Some(d) if d.kind == DestinationKind::Email => {
                let e = PortalError::BadForm(
                    "the e-mail destination follows your address and goes with it".into(),
                );
                return self.reminders_page(s, Some(&e)).await;
            }
            Some(_) => {}
        }
        match self.store.remove_destination(account, name).await {
            Ok(()) | Err(StorageError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        self.changed(s, &format!("webhook {name} removed"), ctx)
            .await
    }

    /// `POST /account/reminders/route`: sends a calendar's alarms to a destination.
    pub(super) async fn route_calendar(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let account = s.account.id;
        let (slug, name) = (form.text("calendar"), form.text("destination"));
        let calendar = self
            .store
            .collection(account, CollectionKind::Calendar, slug)
            .await?;
        let destination = self.store.destination(account, name).await?;
        let (Some(calendar), Some(destination)) = (calendar, destination) else {
            let e =
                PortalError::BadForm("choose a calendar and a destination from the lists".into());
            return self.reminders_page(s, Some(&e)).await;
        };
        if let Err(e) = self
            .reminders
            .limits
            .check_new_route(&self.store, account, calendar.id)
            .await
        {
            return self.refused(s, e).await;
        }
        self.store.set_route(calendar.id, destination.id).await?;
        self.store.queue_all_for_reminders(Some(account)).await?;
        self.changed(s, &format!("calendar {slug} routed to {name}"), ctx)
            .await
    }

    /// A limit refused the change: the page again, saying which.
    async fn refused(&self, s: &SignedIn, e: LimitError) -> Result<Response<Body>, PortalError> {
        match e {
            LimitError::Storage(e) => Err(e.into()),
            e => {
                let e = PortalError::BadForm(e.to_string());
                self.reminders_page(s, Some(&e)).await
            }
        }
    }

    /// Audits a change and goes back to the page.
    async fn changed(
        &self,
        s: &SignedIn,
        detail: &str,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        self.store
            .audit_by(
                s.account.id,
                davgate_storage::AuditEvent::ReminderChanged,
                detail,
                &ctx.source(),
            )
            .await?;
        Ok(views::see_other("/account/reminders"))
    }
}
