//! How fast reminders go out: a burst due in the same second reaches its webhook at once
//! when the rate limit allows it (a token bucket of `reminders_rate_limit` messages a
//! minute), the part over the limit is held and sent later (none lost, none late), and a
//! webhook that hangs until its timeout does not hold up another destination's alarm.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use davgate_storage::{CollectionKind, WebhookFormat};
use tokio::net::TcpListener;

use crate::common::server::TestServer;
use crate::reminders::Receiver;

const CAL: &str = "/dav/calendars/alice/default/";
const ALLOW: &str = "reminders_allow_private = true";

/// Now, in whole seconds since the epoch.
fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Now, ms since the epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An event whose one alarm is due at `due` (s since the epoch), a minute before it
/// starts; `destination` names it with `X-DAVGATE-DESTINATION`.
fn event_due(uid: &str, due: i64, destination: Option<&str>) -> String {
    let start = chrono::DateTime::from_timestamp(due + 60, 0).unwrap();
    let named = destination
        .map(|d| format!("X-DAVGATE-DESTINATION:{d}\r\n"))
        .unwrap_or_default();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:{uid}\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT1M\r\n{named}END:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n",
        start.format("%Y%m%dT%H%M%SZ")
    )
}

/// Adds webhook `name` at `url` for alice, routing her default calendar to it when `routed`.
async fn webhook(server: &TestServer, name: &str, url: &str, routed: bool) {
    server.alice().propfind(CAL, "0").await.status(207);
    let alice = server.account("alice").await;
    let destination = server
        .store
        .add_destination(alice.id, name, url, WebhookFormat::Json, None)
        .await
        .unwrap();
    if routed {
        let calendar = server
            .store
            .collection(alice.id, CollectionKind::Calendar, "default")
            .await
            .unwrap()
            .unwrap();
        server
            .store
            .set_route(calendar.id, destination.id)
            .await
            .unwrap();
    }
}

/// PUTs `count` events whose alarms are all due at `due`.
async fn put_burst(server: &TestServer, prefix: &str, count: usize, due: i64) {
    let dav = server.alice();
    for i in 0..count {
        dav.put(
            &format!("{CAL}{prefix}{i}.ics"),
            event_due(&format!("{prefix}{i}"), due, None),
        )
        .await
        .status(201);
    }
}

/// Waits until `n` bodies arrived or the clock passes `deadline_ms`; the time the n-th
/// was seen (ms), if it was.
async fn arrival_of(receiver: &Receiver, n: usize, deadline_ms: i64) -> Option<i64> {
    // Bounded by the deadline.
    while now_ms() <= deadline_ms {
        if receiver.bodies().len() >= n {
            return Some(now_ms());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// With `reminders_rate_limit = 6000`, 30 alarms due in the same second all arrive
/// within about 2 s of their due time (they used to go one a second).
#[tokio::test]
async fn a_burst_within_the_rate_limit_arrives_at_once() {
    let receiver = Receiver::start(&[]).await;
    let server = TestServer::start_with(&format!("{ALLOW}\nreminders_rate_limit = 6000")).await;
    webhook(&server, "chat", &receiver.url, true).await;
    let due = now_s() + 12;
    put_burst(&server, "at-once", 30, due).await;
    assert!(now_s() < due, "the PUTs took too long to test anything");
    let all = arrival_of(&receiver, 30, (due + 20) * 1000).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 30, "{bodies:?}");
    let after_due_ms = all.unwrap() - due * 1000;
    assert!(
        after_due_ms < 2_500,
        "the 30th arrived {after_due_ms} ms after its due time"
    );
    assert!(bodies.iter().all(|b| b["late"] == false), "{bodies:?}");
    server.stop().await;
}

/// With `reminders_rate_limit = 6` (a bucket of 6, refilled one per 10 s), of 10 alarms
/// due together 6 arrive at once and the other 4 are held and follow 10 s apart: every one
/// delivered once, none marked late.
#[tokio::test]
async fn a_burst_over_the_rate_limit_is_held_not_dropped() {
    let receiver = Receiver::start(&[]).await;
    let server = TestServer::start_with(&format!("{ALLOW}\nreminders_rate_limit = 6")).await;
    webhook(&server, "chat", &receiver.url, true).await;
    let due = now_s() + 8;
    put_burst(&server, "held", 10, due).await;
    assert!(now_s() < due, "the PUTs took too long to test anything");
    let six = arrival_of(&receiver, 6, (due + 20) * 1000).await;
    let after_due_ms = six.expect("six arrived") - due * 1000;
    assert!(
        after_due_ms < 2_500,
        "the 6th arrived {after_due_ms} ms late"
    );
    tokio::time::sleep(Duration::from_millis(
        ((due + 7) * 1000 - now_ms()).max(0) as u64
    ))
    .await;
    assert_eq!(receiver.bodies().len(), 6, "the 7th waits for the bucket");
    let all = arrival_of(&receiver, 10, (due + 60) * 1000).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 10, "{bodies:?}");
    let last_ms = all.unwrap() - due * 1000;
    assert!(
        (35_000..50_000).contains(&last_ms),
        "the 10th came {last_ms} ms after due"
    );
    assert!(bodies.iter().all(|b| b["late"] == false), "{bodies:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.bodies().len(), 10, "each once");
    let alice = server.account("alice").await;
    let log = server.store.delivery_log(alice.id, 50).await.unwrap();
    let statuses: Vec<&str> = log.iter().map(|l| l.status.as_str()).collect();
    assert_eq!(statuses, ["sent"; 10]);
    server.stop().await;
}

/// A webhook that accepts the connection and never answers holds its sends for the 5 s
/// timeout; another destination's alarm due 2 s later still arrives on time.
#[tokio::test]
async fn a_hanging_webhook_does_not_hold_up_another_destination() {
    let stuck = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stuck_url = format!("http://{}/hook", stuck.local_addr().unwrap());
    let hang = tokio::spawn(async move {
        let mut open = Vec::new();
        // Bounded: aborted at the end of the test.
        while let Ok((stream, _)) = stuck.accept().await {
            open.push(stream);
        }
    });
    let receiver = Receiver::start(&[]).await;
    let server = TestServer::start_with(ALLOW).await;
    webhook(&server, "stuck", &stuck_url, true).await;
    webhook(&server, "chat", &receiver.url, false).await;
    let due = now_s() + 8;
    put_burst(&server, "hang", 3, due).await;
    server
        .alice()
        .put(
            &format!("{CAL}other.ics"),
            event_due("other", due + 2, Some("chat")),
        )
        .await
        .status(201);
    assert!(now_s() < due, "the PUTs took too long to test anything");
    let arrived = arrival_of(&receiver, 1, (due + 20) * 1000).await;
    let after_due_ms = arrived.expect("the other alarm arrived") - (due + 2) * 1000;
    assert!(
        after_due_ms < 1_500,
        "the other destination's alarm came {after_due_ms} ms after its due time"
    );
    assert_eq!(receiver.bodies()[0]["subject"], "other");
    hang.abort();
    server.stop().await;
}
