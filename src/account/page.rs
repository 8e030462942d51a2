//! Which portal page a request is for: the stable URLs under `/account/`, by method.

use crate::route::Verb;

/// A file the portal serves from the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asset {
    /// The stylesheet.
    Style,
    /// The copy-button script.
    CopyScript,
}

/// A portal page or form target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// `GET /account/`: sign-in, the second-factor step, or the overview.
    Home,
    /// `POST /account/sign-in`.
    SignIn,
    /// `POST /account/sign-in/code`: the second factor.
    SecondFactor,
    /// `POST /account/sign-out`.
    SignOut,
    /// `POST /account/password`.
    Password,
    /// `GET /account/app-passwords`.
    AppPasswords,
    /// `POST /account/app-passwords`.
    CreateAppPassword,
    /// `POST /account/app-passwords/revoke`.
    RevokeAppPassword,
    /// `POST /account/app-passwords/revoke-all`.
    RevokeAllAppPasswords,
    /// `GET /account/two-factor`.
    TwoFactor,
    /// `POST /account/two-factor/enable`.
    EnableTwoFactor,
    /// `POST /account/two-factor/confirm`.
    ConfirmTwoFactor,
    /// `POST /account/two-factor/backup-codes`.
    RegenerateBackupCodes,
    /// `POST /account/two-factor/disable`.
    DisableTwoFactor,
    /// `GET /account/sessions`.
    Sessions,
    /// `POST /account/sessions/end`.
    EndSession,
    /// `POST /account/sessions/end-others`.
    EndOtherSessions,
    /// `GET /account/security-log`.
    SecurityLog,
    /// `GET /account/devices`: connection guides and the profile form.
    Devices,
    /// `POST /account/devices`: an Apple device profile to download.
    DeviceProfile,
    /// `GET /account/reminders`: destinations, routes and the delivery log.
    Reminders,
    /// `POST /account/reminders`: a new webhook.
    AddWebhook,
    /// `POST /account/reminders/remove`.
    RemoveWebhook,
    /// `POST /account/reminders/route`.
    RouteCalendar,
    /// `GET /account/assets/…`.
    Asset(Asset),
    /// A known path with the wrong method.
    MethodNotAllowed,
    /// Nothing here.
    NotFound,
}

impl Page {
    /// The page for a method and the path segments below `/account`.
    pub(crate) fn of(verb: Verb, path: &[String]) -> Page {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let (get, post) = match path.as_slice() {
            [] => (Some(Page::Home), None),
            ["sign-in"] => (None, Some(Page::SignIn)),
            ["sign-in", "code"] => (None, Some(Page::SecondFactor)),
            ["sign-out"] => (None, Some(Page::SignOut)),
            ["password"] => (None, Some(Page::Password)),
            ["app-passwords"] => (Some(Page::AppPasswords), Some(Page::CreateAppPassword)),
            ["app-passwords", "revoke"] => (None, Some(Page::RevokeAppPassword)),
            ["app-passwords", "revoke-all"] => (None, Some(Page::RevokeAllAppPasswords)),
            ["two-factor"] => (Some(Page::TwoFactor), None),
            ["two-factor", "enable"] => (None, Some(Page::EnableTwoFactor)),
            ["two-factor", "confirm"] => (None, Some(Page::ConfirmTwoFactor)),
            ["two-factor", "backup-codes"] => (None, Some(Page::RegenerateBackupCodes)),
            ["two-factor", "disable"] => (None, Some(Page::DisableTwoFactor)),
            ["sessions"] => (Some(Page::Sessions), None),
            ["sessions", "end"] => (None, Some(Page::EndSession)),
            ["sessions", "end-others"] => (None, Some(Page::EndOtherSessions)),
            ["security-log"] => (Some(Page::SecurityLog), None),
            ["devices"] => (Some(Page::Devices), Some(Page::DeviceProfile)),
            ["reminders"] => (Some(Page::Reminders), Some(Page::AddWebhook)),
            ["reminders", "remove"] => (None, Some(Page::RemoveWebhook)),
            ["reminders", "route"] => (None, Some(Page::RouteCalendar)),
            ["assets", "portal.css"] => (Some(Page::Asset(Asset::Style)), None),
            ["assets", "copy.js"] => (Some(Page::Asset(Asset::CopyScript)), None),
            _ => return Page::NotFound,
        };
        let wanted = match verb {
            Verb::Get | Verb::Head => get,
            Verb::Post => post,
            _ => None,
        };
        wanted.unwrap_or(Page::MethodNotAllowed)
    }

    /// The asset this is, if it is one.
    pub(crate) fn asset(self) -> Option<Asset> {
        match self {
            Page::Asset(a) => Some(a),
            _ => None,
        }
    }

    /// Whether the request meets the sign-in throttle, which may hold its answer: the
    /// sign-in steps and the forms confirmed with the account password or a code.
    pub(crate) fn meets_throttle(self) -> bool {
        matches!(
            self,
            Page::SignIn
                | Page::SecondFactor
                | Page::Password
                | Page::RevokeAllAppPasswords
                | Page::RegenerateBackupCodes
                | Page::DisableTwoFactor
        )
    }

    /// Whether this is a form target (every one is a POST).
    pub(crate) fn is_post(self) -> bool {
        !matches!(
            self,
            Page::Home
                | Page::AppPasswords
                | Page::TwoFactor
                | Page::Sessions
                | Page::SecurityLog
                | Page::Devices
                | Page::Reminders
                | Page::Asset(_)
                | Page::MethodNotAllowed
                | Page::NotFound
        )
    }

    /// Whether the form comes from a session (so it carries that session's CSRF token).
    pub(crate) fn needs_session(self) -> bool {
        self.is_post() && self != Page::SignIn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(verb: Verb, path: &str) -> Page {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Page::of(verb, &segments)
    }

    #[test]
    fn pages_by_method_and_path() {
        assert_eq!(page(Verb::Get, ""), Page::Home);
        assert_eq!(page(Verb::Post, ""), Page::MethodNotAllowed);
        assert_eq!(page(Verb::Post, "sign-in"), Page::SignIn);
        assert_eq!(page(Verb::Get, "sign-in"), Page::MethodNotAllowed);
        assert_eq!(page(Verb::Get, "app-passwords"), Page::AppPasswords);
        assert_eq!(page(Verb::Post, "app-passwords"), Page::CreateAppPassword);
        assert_eq!(page(Verb::Put, "app-passwords"), Page::MethodNotAllowed);
        assert_eq!(page(Verb::Post, "devices"), Page::DeviceProfile);
        assert!(Page::DeviceProfile.needs_session());
        assert_eq!(page(Verb::Get, "nope"), Page::NotFound);
        assert!(Page::SignIn.is_post() && !Page::SignIn.needs_session());
        assert!(Page::SecondFactor.needs_session());
        assert!(!Page::SecurityLog.is_post());
    }
}
