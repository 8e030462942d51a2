//! `/account/two-factor`: enrolling an authenticator app (QR code and the secret as
//! text), confirming it with a code (ten backup codes, shown once, with a text
//! download), new backup codes, and turning it off (password and a code).

use davgate_storage::{Account, TotpState};
use http::Response;
use maud::{Markup, PreEscaped, html};

use super::error::PortalError;
use super::form::Form;
use super::qr;
use super::state::{Ctx, Portal, SignedIn};
use super::views::{self, Frame, csrf, layout};
use crate::error::HttpError;
use crate::response::Body;

impl Portal {
    /// `GET /account/two-factor`.
    pub(super) async fn two_factor_page(
        &self,
        s: &SignedIn,
        failed: Option<&PortalError>,
    ) -> Result<Response<Body>, PortalError> {
        let token = s.session.csrf();
        let body = html! {
            @if let Some(e) = failed { p.error role="alert" { (e.message()) } }
            @match s.account.totp {
                TotpState::On { .. } => {
                    p { "Two-factor sign-in is " strong { "on" } ". This page asks for a code from \
                         your authenticator app after the password, and sync clients must use app \
                         passwords." }
                    h2 { "New backup codes" }
                    p { "Replaces every backup code you have with ten new ones." }
                    form method="post" action="/account/two-factor/backup-codes" {
                        (csrf(token))
                        label for="regen-code" { "Current code" }
                        input #regen-code type="text" name="code" autocomplete="one-time-code" required;
                        button type="submit" { "Make new backup codes" }
                    }
                    h2 { "Turn off" }
                    form method="post" action="/account/two-factor/disable" {
                        (csrf(token))
                        label for="password" { "Account password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        label for="off-code" { "Code or backup code" }
                        input #off-code type="text" name="code" autocomplete="one-time-code" required;
                        button.danger type="submit" { "Turn two-factor sign-in off" }
                    }
                }
                TotpState::Off | TotpState::Pending { .. } => {
                    p { "Two-factor sign-in is " strong { "off" } ". With it on, signing in here \
                         needs a code from an authenticator app on your phone as well as the \
                         password." }
                    form method="post" action="/account/two-factor/enable" {
                        (csrf(token))
                        button type="submit" { "Set up an authenticator app" }
                    }
                }
            }
        };
        let status = failed.map_or(http::StatusCode::OK, HttpError::status);
        Ok(views::page_with(
            status,
            layout("Two-factor sign-in", Some(&frame(s)), body),
        ))
    }

    /// `POST /account/two-factor/enable`: a new secret, pending confirmation.
    pub(super) async fn enable_two_factor(
        &self,
        s: &SignedIn,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let enrollment = match self.two_factor.by(ctx.source()).enroll(&s.account).await {
            Ok(e) => e,
            Err(e) => return self.two_factor_page(s, Some(&e.into())).await,
        };
        let token = s.session.csrf();
        let body = html! {
            p { "Scan this code with an authenticator app (Aegis, 2FAS, Google Authenticator, \
                 1Password, …), or type the secret into it." }
            @if let Some(svg) = qr::svg(&enrollment.uri) { div.qr { (PreEscaped(svg)) } }
            p { "Secret: " span #secret .secret { (enrollment.secret) } }
            button type="button" data-copy="secret" { "Copy" }
            h2 { "Confirm" }
            form method="post" action="/account/two-factor/confirm" {
                (csrf(token))
                label for="code" { "The 6-digit code the app shows now" }
                input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required;
                button type="submit" { "Turn two-factor sign-in on" }
            }
        };
        Ok(views::page(layout(
            "Set up two-factor sign-in",
            Some(&frame(s)),
            body,
        )))
    }

    /// `POST /account/two-factor/confirm`: turns it on and shows the backup codes.
    pub(super) async fn confirm_two_factor(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        let now_secs = davgate_storage::now_ms() / 1000;
        let codes = match self
            .two_factor
            .by(ctx.source())
            .confirm(&s.account, form.text("code"), now_secs)
            .await
        {
            Ok(codes) => codes,
            Err(e) => return self.two_factor_page(s, Some(&e.into())).await,
        };
        Ok(backup_codes_page(s, &codes, "Two-factor sign-in is on"))
    }

    /// `POST /account/two-factor/backup-codes`.
    pub(super) async fn regenerate_backup_codes(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        self.throttled_code(&s.account, ctx).await?;
        let now_secs = davgate_storage::now_ms() / 1000;
        let codes = match self
            .two_factor
            .by(ctx.source())
            .regenerate(&s.account, form.text("code"), now_secs)
            .await
        {
            Ok(codes) => codes,
            Err(e) => {
                self.auth.portal_failed(&s.account, &ctx.client).await;
                return self.two_factor_page(s, Some(&e.into())).await;
            }
        };
        Ok(backup_codes_page(s, &codes, "New backup codes"))
    }

    /// `POST /account/two-factor/disable`: password and a code or backup code.
    pub(super) async fn disable_two_factor(
        &self,
        s: &SignedIn,
        form: &Form,
        ctx: &Ctx,
    ) -> Result<Response<Body>, PortalError> {
        self.confirm_password(s, form.text("password"), ctx).await?;
        self.throttled_code(&s.account, ctx).await?;
        let now_secs = davgate_storage::now_ms() / 1000;
        if let Err(e) = self
            .two_factor
            .by(ctx.source())
            .disable(&s.account, form.text("code"), now_secs)
            .await
        {
            self.auth.portal_failed(&s.account, &ctx.client).await;
            return self.two_factor_page(s, Some(&e.into())).await;
        }
        Ok(views::see_other("/account/two-factor"))
    }

    /// When the second factor is on, `code` must be a current code or an unused backup
    /// code; a wrong one counts as a failed sign-in.
    pub(super) async fn confirm_code(
        &self,
        s: &SignedIn,
        code: &str,
        ctx: &Ctx,
    ) -> Result<(), PortalError> {
        if !matches!(s.account.totp, TotpState::On { .. }) {
            return Ok(());
        }
        self.throttled_code(&s.account, ctx).await?;
        let now_secs = davgate_storage::now_ms() / 1000;
        if let Err(e) = self
            .two_factor
            .by(ctx.source())
            .verify(&s.account, code, now_secs)
            .await
        {
            self.auth.portal_failed(&s.account, &ctx.client).await;
            return Err(e.into());
        }
        Ok(())
    }

    async fn throttled_code(&self, account: &Account, ctx: &Ctx) -> Result<(), PortalError> {
        let user = account.username.to_lowercase();
        Ok(self.auth.portal_may_try(&user, &ctx.client).await?)
    }
}

fn frame(s: &SignedIn) -> Frame<'_> {
    Frame {
        user: &s.account.username,
        csrf: s.session.csrf(),
    }
}

/// The backup codes, shown once, with a download as a text file.
fn backup_codes_page(s: &SignedIn, codes: &[String], title: &str) -> Response<Body> {
    let text = format!(
        "davgate backup codes for {}\nEach works once, in place of a code from the app.\n\n{}\n",
        s.account.username,
        codes.join("\n")
    );
    let href = format!(
        "data:text/plain;charset=utf-8,{}",
        percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
    );
    let body: Markup = html! {
        p.note { "Keep these backup codes somewhere safe: each signs in once when your phone is \
                  not at hand. They are shown only now." }
        ul.codes #codes { @for c in codes { li { (c) } } }
        a href=(href) download="davgate-backup-codes.txt" { "Download as a text file" }
        " "
        button type="button" data-copy="codes" { "Copy" }
        p { a href="/account/two-factor" { "Done" } }
    };
    views::page(layout(title, Some(&frame(s)), body))
}
