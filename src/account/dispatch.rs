//! One portal request from start to end: assets first, then the `Origin` check and the
//! form of a POST, the request's turn, the session and the CSRF check, the page, and the
//! security headers on whatever answers.

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body as HttpBody;

use super::error::PortalError;
use super::page::Page;
use super::state::{Ctx, Portal, SignedIn};
use super::{address, assets, form, guard, views};
use crate::auth::usage::ClientInfo;
use crate::response::Body;
use crate::route::Routed;

impl Portal {
    /// Answers a request under `/account/`; returns the answer and the account signed
    /// in, for the access log.
    pub async fn handle<B>(
        &self,
        routed: &Routed,
        req: Request<B>,
        client: ClientInfo,
    ) -> (Response<Body>, Option<String>)
    where
        B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let page = Page::of(routed.verb, &routed.path);
        if let Some(asset) = page.asset() {
            return (assets::serve(asset), None);
        }
        let ctx = address::ctx(&self.settings, req.headers(), req.uri(), client);
        let (response, account) = match self.answer(page, req, &ctx).await {
            Ok(answer) => answer,
            Err(e) => (views::error_page(&e), None),
        };
        (guard::with_security_headers(response), account)
    }

    async fn answer<B>(
        &self,
        page: Page,
        req: Request<B>,
        ctx: &Ctx,
    ) -> Result<(Response<Body>, Option<String>), PortalError>
    where
        B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        // Every POST: the Origin first (no body is read for a cross-site one), then the
        // form, then the CSRF token of the session it claims to come from. The turn is
        // taken once the form is in, so a slow upload never holds one.
        let form = if page.is_post() {
            guard::check_origin(&parts.headers, ctx)?;
            Some(form::read(body).await?)
        } else {
            None
        };
        let _turn = self.turns.take(page).await?;
        let session = self.session(&parts.headers).await?;
        if let (Some(form), Some(s)) = (&form, &session)
            && page.needs_session()
        {
            guard::check_csrf(form, &s.session)?;
        }
        let name = session.as_ref().map(|s| s.account.username.clone());
        let response = self.dispatch(page, session, form, ctx).await?;
        Ok((response, name))
    }

    async fn dispatch(
        &self,
        page: Page,
        session: Option<SignedIn>,
        form: Option<form::Form>,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let form = form.unwrap_or_default();
        // Pages before sign-in.
        match (&page, &session) {
            (Page::SignIn, _) => return self.sign_in(&form, session, ctx).await,
            (Page::SecondFactor, Some(s)) if s.session.pending() => {
                return self.second_factor(&form, s, ctx).await;
            }
            (Page::Home, Some(s)) if s.session.pending() => {
                return Ok(views::second_factor_form(&s.session, None));
            }
            (Page::Home, None) => return Ok(views::sign_in_form(None, None)),
            (Page::SignOut, Some(s)) => return self.sign_out(s, ctx).await,
            (Page::NotFound, _) => return Err(PortalError::NotFound),
            (Page::MethodNotAllowed, _) => return Err(PortalError::MethodNotAllowed),
            _ => {}
        }
        let Some(s) = session.filter(|s| !s.session.pending()) else {
            return Err(PortalError::SignInFirst);
        };
        match page {
            Page::Home => self.overview(&s, ctx).await,
            Page::Password => self.change_password(&s, &form, ctx).await,
            Page::AppPasswords => self.app_passwords(&s, ctx, None).await,
            Page::CreateAppPassword => self.create_app_password(&s, &form, ctx).await,
            Page::RevokeAppPassword => self.revoke_app_password(&s, &form, ctx).await,
            Page::RevokeAllAppPasswords => self.revoke_all_app_passwords(&s, &form, ctx).await,
            Page::TwoFactor => self.two_factor_page(&s, None).await,
            Page::EnableTwoFactor => self.enable_two_factor(&s, ctx).await,
            Page::ConfirmTwoFactor => self.confirm_two_factor(&s, &form, ctx).await,
            Page::RegenerateBackupCodes => self.regenerate_backup_codes(&s, &form, ctx).await,
            Page::DisableTwoFactor => self.disable_two_factor(&s, &form, ctx).await,
            Page::Sessions => self.sessions_page(&s).await,
            Page::EndSession => self.end_session(&s, &form, ctx).await,
            Page::EndOtherSessions => self.end_other_sessions(&s, ctx).await,
            Page::SecurityLog => self.security_log(&s).await,
            Page::Devices => self.devices(&s, ctx, None).await,
            Page::DeviceProfile => self.device_profile(&s, &form, ctx).await,
            Page::Reminders => self.reminders_page(&s, None).await,
            Page::AddWebhook => self.add_webhook(&s, &form, ctx).await,
            Page::RemoveWebhook => self.remove_webhook(&s, &form, ctx).await,
            Page::RouteCalendar => self.route_calendar(&s, &form, ctx).await,
            Page::SignIn
            | Page::SecondFactor
            | Page::SignOut
            | Page::NotFound
            | Page::MethodNotAllowed
            | Page::Asset(_) => Err(PortalError::SignInFirst),
        }
    }
}
