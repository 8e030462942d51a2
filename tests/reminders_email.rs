//! E-mail reminders end to end: a VALARM with `ACTION:EMAIL` PUT over CalDAV reaches an
//! SMTP sink inside the test (tests/common/smtp.rs) addressed to the account, with the
//! subject and body taken from the event and its date in the event's own zone; REPEAT
//! follow-ups come as messages of their own; a relay that is down gets the message
//! retried and delivered once; without a relay the log says why nothing went out.

use std::time::Duration;

use davgate_storage::CollectionKind;

use crate::common::bin::{davgate, davgate_ok};
use crate::common::server::TestServer;
use crate::common::smtp::SmtpSink;

const CAL: &str = "/dav/calendars/alice/default/";

fn relay(sink: &SmtpSink) -> String {
    format!(
        "smtp_url = \"{}\"\nsmtp_from = \"davgate <reminders@example.org>\"",
        sink.url()
    )
}

/// An event in Europe/Berlin starting `start_in` seconds from now, with an e-mail alarm
/// `lead` seconds before it repeated `repeat` times every 3 s; and the start as the
/// message shows it.
fn event(uid: &str, start_in: i64, lead: i64, repeat: u32) -> (String, String) {
    let start = (chrono::Utc::now() + chrono::TimeDelta::seconds(start_in))
        .with_timezone(&chrono_tz::Europe::Berlin);
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:{}\r\nDURATION:PT1H\r\n\
SUMMARY:Standup\r\nLOCATION:Room 1\r\nDESCRIPTION:Bring notes\r\n\
BEGIN:VALARM\r\nACTION:EMAIL\r\nSUMMARY:alarm subject\r\nDESCRIPTION:alarm body\r\n\
ATTENDEE:mailto:stranger@example.com\r\nTRIGGER:-PT{lead}S\r\nREPEAT:{repeat}\r\n\
DURATION:PT3S\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        start.format("%Y%m%dT%H%M%S")
    );
    let shown = format!("{} Europe/Berlin", start.format("%a %-d %b %Y %H:%M"));
    (ics, shown)
}

/// Gives alice an address and her default calendar; the calendar's shown name.
async fn with_address(server: &TestServer) -> String {
    server.alice().propfind(CAL, "0").await.status(207);
    let alice = server.account("alice").await;
    server
        .store
        .set_account_email(alice.id, Some("alice@example.org"))
        .await
        .unwrap();
    let calendar = server
        .store
        .collection(alice.id, CollectionKind::Calendar, "default")
        .await
        .unwrap()
        .unwrap();
    calendar.displayname.unwrap_or(calendar.slug)
}

async fn statuses(server: &TestServer) -> Vec<String> {
    let alice = server.account("alice").await;
    let mut log = server.store.delivery_log(alice.id, 50).await.unwrap();
    log.reverse();
    log.into_iter().map(|l| l.status).collect()
}

#[tokio::test]
async fn an_email_alarm_reaches_the_account_with_its_follow_ups() {
    let sink = SmtpSink::start(0).await;
    let server = TestServer::start_with(&relay(&sink)).await;
    let calendar = with_address(&server).await;
    let (ics, date) = event("e1", 62, 60, 1);
    server
        .alice()
        .put(&format!("{CAL}standup.ics"), ics)
        .await
        .status(201);
    let mails = sink.wait_for(2, 20).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    let first = &mails[0];
    // Only the account's own address: the VALARM's ATTENDEE is never mailed.
    assert_eq!(first.envelope_to, ["alice@example.org"]);
    assert_eq!(first.envelope_from, "reminders@example.org");
    assert_eq!(
        first.header("From"),
        Some("davgate <reminders@example.org>")
    );
    assert_eq!(first.header("To"), Some("alice@example.org"));
    assert_eq!(
        first.header("Subject").map(str::to_owned),
        Some(format!("Reminder: Standup, {date}"))
    );
    assert_eq!(
        first.body,
        format!("Standup\nWhen: {date}\nWhere: Room 1\nCalendar: {calendar}\n\nBring notes\n")
    );
    assert_eq!(
        mails[1].header("Subject").map(str::to_owned),
        Some(format!("Reminder (follow-up 1): Standup, {date}"))
    );
    assert_eq!(mails[1].body, first.body);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.mails().len(), 2, "each sent once");
    assert_eq!(statuses(&server).await, ["sent", "sent"]);
    server.stop().await;
}

#[tokio::test]
async fn a_relay_down_then_up_gets_the_message_retried_and_delivered_once() {
    let sink = SmtpSink::start(2).await;
    let server = TestServer::start_with(&relay(&sink)).await;
    with_address(&server).await;
    let (ics, _) = event("e2", 61, 60, 0);
    server
        .alice()
        .put(&format!("{CAL}retry.ics"), ics)
        .await
        .status(201);
    let mails = sink.wait_for(1, 20).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.mails().len(), 1, "delivered once");
    assert_eq!(
        sink.connections(),
        3,
        "two refused tries, then the delivery"
    );
    assert_eq!(statuses(&server).await, ["retry", "retry", "sent"]);
    server.stop().await;
}

#[tokio::test]
async fn without_a_relay_the_log_says_why_nothing_was_mailed() {
    let server = TestServer::start().await;
    with_address(&server).await;
    let (ics, _) = event("e3", 61, 60, 0);
    server
        .alice()
        .put(&format!("{CAL}norelay.ics"), ics)
        .await
        .status(201);
    let alice = server.account("alice").await;
    let mut log = Vec::new();
    for _ in 0..100 {
        log = server.store.delivery_log(alice.id, 10).await.unwrap();
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        (log[0].status.as_str(), log[0].destination.as_str()),
        ("skipped", "email")
    );
    assert!(log[0].detail.contains("smtp_url"), "{}", log[0].detail);
    server.stop().await;
}

/// `davgate user set-email`: a bad address is refused, the e-mail destination shows in
/// the list and is not a webhook to remove or rename, and "none" takes it away.
#[test]
fn the_cli_sets_and_clears_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    davgate_ok(
        d,
        &["user", "add", "carol", "--password-stdin"],
        "long enough password\n",
    );
    let bad = davgate(d, &["user", "set-email", "carol", "not-an-address"], "");
    assert_eq!(bad.status.code(), Some(2));
    let set = davgate_ok(d, &["user", "set-email", "carol", "carol@example.org"], "");
    assert!(set.contains("now go to carol@example.org"), "{set}");
    assert!(set.contains("smtp_url"), "no relay configured: {set}");
    let list = davgate_ok(d, &["reminders", "webhook", "list", "carol"], "");
    assert_eq!(list, "email  e-mail  carol@example.org\n");
    let taken = davgate(
        d,
        &[
            "reminders",
            "webhook",
            "add",
            "carol",
            "email",
            "https://hooks.example.com/x",
        ],
        "",
    );
    assert_eq!(taken.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&taken.stderr).contains("kept for e-mail"));
    let remove = davgate(d, &["reminders", "webhook", "remove", "carol", "email"], "");
    assert_eq!(remove.status.code(), Some(2));
    davgate_ok(d, &["user", "set-email", "carol", "none"], "");
    assert_eq!(
        davgate_ok(d, &["reminders", "webhook", "list", "carol"], ""),
        ""
    );
}
