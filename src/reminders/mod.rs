//! Calendar reminders delivered to chat webhooks (issue 15, first slice).
//!
//! Owns: turning a calendar object's VALARMs into due rows when the object is written
//! ([`schedule`]), the message a webhook receives ([`message`]), the outbound POST with
//! its server-side-request-forgery guard ([`deliver`]) and the background worker that
//! claims due rows and sends them ([`worker`]). When an alarm fires is `dav::ical`'s
//! ([`crate::dav::ical::AlarmFiring`]); the rows and the exactly-once claim are the
//! storage crate's. Does not own e-mail (a later slice) or the portal page.

pub mod deliver;
pub mod message;
pub mod schedule;
pub mod worker;

use std::time::Duration;

/// What the reminders room is told by the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderSettings {
    /// How far ahead alarms are scheduled (`reminders_horizon`).
    pub horizon: Duration,
    /// How late an alarm may still go out, marked late (`reminders_grace`).
    pub grace: Duration,
    /// Which webhook addresses may be reached (`reminders_allow_private`).
    pub reach: deliver::Reach,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            horizon: schedule::DEFAULT_HORIZON,
            grace: Duration::from_secs(3600),
            reach: deliver::Reach::PublicHttps,
        }
    }
}
