//! Signing in and out: the account password, then the second factor when it is on.
//!
//! A right password on an account with a second factor opens a session that can do
//! nothing but take the code; the code (or a backup code) replaces it with a new
//! session under a new id. Wrong passwords and wrong codes count in the same throttle
//! as Basic sign-ins, and every outcome lands in the account's audit log.

use davgate_storage::{AuditEvent, SessionStage, TotpState};
use http::{Response, header};

use super::error::PortalError;
use super::form::Form;
use super::session::{Issued, clear_cookie};
use super::state::{Ctx, Portal, SignedIn};
use super::views;
use crate::auth::AuthError;
use crate::response::Body;
use crate::secret::Secret;

impl Portal {
    /// `POST /account/sign-in`.
    pub(super) async fn sign_in(
        &self,
        form: &Form,
        previous: Option<SignedIn>,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let user = form.text("user").trim();
        let password = Secret::new(form.text("password").to_owned());
        if user.is_empty() || password.expose().is_empty() {
            let e = PortalError::BadForm("enter your account name and password".into());
            return Ok(views::sign_in_form(Some(user), Some(&e)));
        }
        let account = match self.auth.portal_password(user, password, &ctx.client).await {
            Ok(account) => account,
            Err(e) => {
                if matches!(e, AuthError::Invalid)
                    && let Ok(Some(account)) = self.store.account_by_name(user).await
                {
                    self.audit(
                        &account,
                        AuditEvent::PortalSignInFailed,
                        "wrong password",
                        ctx,
                    )
                    .await;
                }
                return Ok(views::sign_in_form(Some(user), Some(&e.into())));
            }
        };
        // Whatever session this browser had ends: a sign-in always gets a new id.
        if let Some(previous) = previous {
            self.store
                .end_session(previous.account.id, previous.session.row.id)
                .await?;
        }
        let stage = match account.totp {
            TotpState::On { .. } => SessionStage::SecondFactor,
            TotpState::Off | TotpState::Pending { .. } => SessionStage::SignedIn,
        };
        let issued = self.issue(&account, stage, ctx).await?;
        if stage == SessionStage::SignedIn {
            self.auth.portal_signed_in(&account, &ctx.client).await;
            self.audit(&account, AuditEvent::PortalSignIn, "password", ctx)
                .await;
        }
        Ok(home_with_cookie(&issued))
    }

    /// `POST /account/sign-in/code`: the second factor of a pending session.
    pub(super) async fn second_factor(
        &self,
        form: &Form,
        pending: &SignedIn,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let account = &pending.account;
        let user = account.username.to_lowercase();
        if let Err(e) = self.auth.portal_may_try(&user, &ctx.client).await {
            return Ok(views::second_factor_form(&pending.session, Some(&e.into())));
        }
        let two_factor = self.two_factor.by(ctx.source());
        let now_secs = davgate_storage::now_ms() / 1000;
        if let Err(e) = two_factor
            .verify(account, form.text("code"), now_secs)
            .await
        {
            let e = PortalError::from(e);
            if let PortalError::Confirmation(_) = e {
                self.auth.portal_failed(account, &ctx.client).await;
                self.audit(account, AuditEvent::PortalSignInFailed, "wrong code", ctx)
                    .await;
            }
            return Ok(views::second_factor_form(&pending.session, Some(&e)));
        }
        self.store
            .end_session(account.id, pending.session.row.id)
            .await?;
        let issued = self.issue(account, SessionStage::SignedIn, ctx).await?;
        self.auth.portal_signed_in(account, &ctx.client).await;
        self.audit(
            account,
            AuditEvent::PortalSignIn,
            "password and second factor",
            ctx,
        )
        .await;
        Ok(home_with_cookie(&issued))
    }

    /// `POST /account/sign-out`.
    pub(super) async fn sign_out(
        &self,
        s: &SignedIn,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        self.store
            .end_session(s.account.id, s.session.row.id)
            .await?;
        if !s.session.pending() {
            self.audit(&s.account, AuditEvent::PortalSignOut, "", ctx)
                .await;
        }
        let mut resp = views::see_other("/account/");
        resp.headers_mut()
            .insert(header::SET_COOKIE, clear_cookie(ctx.secure));
        Ok(resp)
    }

    /// Records a portal event; a failure to record is logged, not shown.
    pub(super) async fn audit(
        &self,
        account: &davgate_storage::Account,
        event: AuditEvent,
        detail: &str,
        ctx: &Ctx,
    ) {
        if let Err(e) = self
            .store
            .audit_by(account.id, event, detail, &ctx.source())
            .await
        {
            tracing::warn!(error = %e, %event, "could not write a portal audit entry");
        }
    }
}

/// 303 to the overview, setting the new session's cookie.
fn home_with_cookie(issued: &Issued) -> Response<Body> {
    let mut resp = views::see_other("/account/");
    resp.headers_mut()
        .insert(header::SET_COOKIE, issued.cookie.clone());
    resp
}
