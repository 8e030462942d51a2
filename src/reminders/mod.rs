//! Calendar reminders delivered to chat webhooks and by e-mail (issue 15).
//!
//! Owns: turning a calendar object's VALARMs into due rows when the object is written
//! ([`schedule`]), the message a webhook receives ([`message`]), the outbound POST with
//! its server-side-request-forgery guard ([`deliver`]), the e-mail message and its SMTP
//! relay ([`email`]), what an account may set up and how fast a destination is sent to
//! ([`limits`]) and the background worker that claims due rows and sends them
//! ([`worker`]). When an alarm fires is `dav::ical`'s
//! ([`crate::dav::ical::AlarmFiring`]); the rows and the exactly-once claim are the
//! storage crate's. Does not own the portal page.

pub mod deliver;
pub mod email;
pub mod limits;
pub mod message;
pub mod schedule;
pub mod worker;

use std::time::Duration;

/// What the reminders room is told by the configuration.
#[derive(Debug, Clone)]
pub struct ReminderSettings {
    /// How far ahead alarms are scheduled (`reminders_horizon`).
    pub horizon: Duration,
    /// How late an alarm may still go out, marked late (`reminders_grace`).
    pub grace: Duration,
    /// Which webhook addresses may be reached (`reminders_allow_private`).
    pub reach: deliver::Reach,
    /// The SMTP relay for e-mail reminders (`smtp_url`, `smtp_from`); none: e-mail
    /// alarms are logged as skipped.
    pub smtp: Option<email::SmtpSettings>,
    /// Destinations and routes per account, messages per minute per destination.
    pub limits: limits::Limits,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            horizon: schedule::DEFAULT_HORIZON,
            grace: Duration::from_secs(3600),
            reach: deliver::Reach::PublicHttps,
            smtp: None,
            limits: limits::Limits::default(),
        }
    }
}
