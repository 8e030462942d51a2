//! E-mail reminders: the message an alarm becomes (subject and plain-text body from the
//! event), and its sending through the operator's SMTP relay with lettre.
//!
//! The relay is the operator's (`smtp_url`, `smtp_from`), so no address guard applies:
//! `smtp://host:port` (plain, or with `?tls=required` for STARTTLS) and
//! `smtps://host:port` (TLS from the first byte), user and password in the URL when the
//! relay asks for them. A message goes only to the account's own address: a VALARM's
//! `ATTENDEE`s are ignored, so a calendar cannot make the server mail strangers.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;

use super::deliver::DeliveryError;
use crate::secret::Secret;

/// The longest one SMTP step (connect, a command, the data) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a whole send may take, greeting to the relay's final answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// The operator's relay, checked when the configuration is read.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp://…` or `smtps://…`; may hold a password.
    pub url: Secret<String>,
    /// The sender of every reminder.
    pub from: Mailbox,
}

impl SmtpSettings {
    /// Checks `smtp_url` and `smtp_from`; the error is a sentence naming the key.
    pub fn new(url: Secret<String>, from: &str) -> Result<Self, String> {
        if let Err(e) = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose()) {
            return Err(format!(
                "smtp_url is not usable ({e}): write smtp://HOST:PORT, \
                 smtp://HOST:PORT?tls=required for STARTTLS, or smtps://HOST:PORT"
            ));
        }
        let from = from.parse::<Mailbox>().map_err(|e| {
            format!(
                "smtp_from {from:?} is not an e-mail address ({e}): write \
                 reminders@example.org or \"davgate <reminders@example.org>\""
            )
        })?;
        Ok(Self { url, from })
    }
}

/// Checks an address an account gives for its reminders.
pub fn check_address(address: &str) -> Result<(), String> {
    address
        .parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| format!("{address:?} is not an e-mail address ({e})"))
}

/// Sends reminder messages through the relay; one per worker.
#[derive(Clone)]
pub struct Mailer {
    transport: Arc<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for the configured relay.
    pub fn new(settings: &SmtpSettings) -> Result<Self, DeliveryError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose())
            .map_err(|e| DeliveryError::Refused(format!("smtp_url: {e}")))?
            .timeout(Some(STEP_TIMEOUT))
            .build();
        Ok(Self {
            transport: Arc::new(transport),
            from: settings.from.clone(),
        })
    }

    /// Mails the reminder described by `fields` to `to`.
    pub async fn send(&self, to: &str, fields: &Value, late: bool) -> Result<(), DeliveryError> {
        let message = compose(&self.from, to, fields, late)?;
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(smtp_error(e)),
            Err(_) => Err(DeliveryError::Timeout),
        }
    }
}

/// A refusal for good (5xx) is not retried; a relay that is down, slow or says "later"
/// (4xx) is.
fn smtp_error(e: SmtpError) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::Rejected(format!("the mail relay refused the message: {e}"))
    } else if e.is_timeout() {
        DeliveryError::Timeout
    } else {
        DeliveryError::Network(format!("mail relay: {e}"))
    }
}

/// The message for one firing.
pub fn compose(
    from: &Mailbox,
    to: &str,
    fields: &Value,
    late: bool,
) -> Result<Message, DeliveryError> {
    let to = to
        .parse::<Mailbox>()
        .map_err(|e| DeliveryError::Rejected(format!("{to:?} is not an e-mail address: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject(fields))
        .header(ContentType::TEXT_PLAIN)
        .body(body(fields, late))
        .map_err(|e| DeliveryError::Rejected(format!("the message cannot be built: {e}")))
}

fn field<'a>(fields: &'a Value, name: &str) -> &'a str {
    fields.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// `Reminder: Standup, Tue 10 Mar 2026 09:00 Europe/Berlin`; follow-ups say which.
pub fn subject(fields: &Value) -> String {
    let summary = match field(fields, "subject") {
        "" => "(no title)",
        summary => summary,
    };
    let when = match field(fields, "date") {
        "" => String::new(),
        date => format!(", {date}"),
    };
    match fields.get("repetition").and_then(Value::as_u64) {
        Some(k) if k > 0 => format!("Reminder (follow-up {k}): {summary}{when}"),
        _ => format!("Reminder: {summary}{when}"),
    }
}

/// What, when, where, which calendar, then the description; absent fields leave no line.
pub fn body(fields: &Value, late: bool) -> String {
    let mut lines = Vec::new();
    for (label, name) in [
        ("", "subject"),
        ("When: ", "date"),
        ("Where: ", "location"),
        ("Calendar: ", "calendar"),
    ] {
        let value = field(fields, name);
        if !value.is_empty() {
            lines.push(format!("{label}{value}"));
        }
    }
    let description = field(fields, "description");
    if !description.is_empty() {
        lines.push(String::new());
        lines.push(description.to_owned());
    }
    if late {
        lines.push(String::new());
        lines.push("(sent late: the server was not running when this reminder came due)".into());
    }
    // No line end after the last line: lettre ends the body with one of its own.
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(repetition: u64) -> Value {
        json!({"subject": "Standup", "date": "Tue 10 Mar 2026 09:00 Europe/Berlin",
               "description": "Bring notes", "location": "", "calendar": "Work",
               "repetition": repetition})
    }

    #[test]
    fn subject_and_body_come_from_the_event() {
        assert_eq!(
            subject(&fields(0)),
            "Reminder: Standup, Tue 10 Mar 2026 09:00 Europe/Berlin"
        );
        assert_eq!(
            subject(&fields(2)),
            "Reminder (follow-up 2): Standup, Tue 10 Mar 2026 09:00 Europe/Berlin"
        );
        assert_eq!(
            body(&fields(0), false),
            "Standup\nWhen: Tue 10 Mar 2026 09:00 Europe/Berlin\nCalendar: Work\n\nBring notes"
        );
        assert!(body(&fields(0), true).ends_with("came due)"));
    }

    #[test]
    fn bad_settings_and_addresses_are_named() {
        let err = SmtpSettings::new(Secret::new("http://relay".into()), "a@b.org").unwrap_err();
        assert!(err.contains("smtp_url"), "{err}");
        let err = SmtpSettings::new(Secret::new("smtp://relay:25".into()), "nobody").unwrap_err();
        assert!(err.contains("smtp_from"), "{err}");
        assert!(SmtpSettings::new(Secret::new("smtps://relay".into()), "d <r@b.org>").is_ok());
        assert!(check_address("alice@example.org").is_ok());
        assert!(check_address("alice").is_err());
    }
}
