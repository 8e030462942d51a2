//! sync-collection (RFC 6578), getctag, sharing with privileges, and scopes on /dav/.

use crate::app_passwords::create;
use crate::caldav::{CAL, event, put};
use crate::carddav::{BOOK, card};
use crate::common::bin::davgate_ok;
use crate::common::server::PASSWORD;
use crate::common::{Dav, TestServer};

fn sync_body(token: &str, limit: Option<u32>) -> String {
    let limit = limit.map_or(String::new(), |n| {
        format!("<D:limit><D:nresults>{n}</D:nresults></D:limit>")
    });
    format!(
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>{limit}<D:prop><D:getetag/></D:prop></D:sync-collection>"#
    )
}

async fn sync(
    dav: &Dav,
    path: &str,
    token: &str,
    limit: Option<u32>,
) -> crate::common::client::Resp {
    // Thunderbird sends Depth: 1 with sync-collection; it is tolerated.
    dav.req("REPORT", path)
        .header("Depth", "1")
        .body(sync_body(token, limit))
        .send()
        .await
        .status(207)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_changes_and_deletions_and_survives_restarts() {
    let mut srv = TestServer::start().await;
    let dav = srv.alice();
    for i in 0..3 {
        put(
            &dav,
            &format!("{CAL}{i}.ics"),
            &event(&format!("u{i}"), "20261201T100000Z", "20261201T110000Z", ""),
        )
        .await
        .status(201);
    }
    let first = sync(&dav, CAL, "", None).await;
    assert_eq!(first.hrefs().len(), 3);
    let token = first.prop("sync-token");
    let ctag = dav
        .req("PROPFIND", CAL)
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>"#)
        .send()
        .await;
    assert_eq!(ctag.prop("sync-token"), token);
    assert_eq!(ctag.prop("getctag"), token);

    put(
        &dav,
        &format!("{CAL}1.ics"),
        &event("u1", "20261202T100000Z", "20261202T110000Z", ""),
    )
    .await
    .status(204);
    dav.delete(&format!("{CAL}2.ics")).await.status(204);
    put(
        &dav,
        &format!("{CAL}3.ics"),
        &event("u3", "20261203T100000Z", "20261203T110000Z", ""),
    )
    .await
    .status(201);

    // Tokens and ETags live in the database: a restart changes nothing.
    let settings = crate::common::server::settings(srv.dir.path(), "");
    srv.running.take().unwrap().shutdown().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    srv.running = Some(davgate::server::start_on(settings, listener).await.unwrap());
    let dav = srv.alice();

    let delta = sync(&dav, CAL, &token, None).await;
    let mut hrefs = delta.hrefs();
    hrefs.sort();
    assert_eq!(
        hrefs,
        [
            format!("{CAL}1.ics"),
            format!("{CAL}2.ics"),
            format!("{CAL}3.ics")
        ]
    );
    let deleted = delta
        .text()
        .split("<D:response>")
        .filter(|r| r.contains("2.ics"))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(
        deleted[0].contains("404"),
        "a deletion is a 404 entry: {}",
        deleted[0]
    );
    let newest = delta.prop("sync-token");
    assert!(sync(&dav, CAL, &newest, None).await.hrefs().is_empty());

    // limit: a 507 marker and a token to continue from.
    let page = sync(&dav, CAL, &token, Some(2)).await;
    assert!(
        page.text().contains("507") && page.text().contains("number-of-matches-within-limits"),
        "{}",
        page.text()
    );
    let rest = sync(&dav, CAL, &page.prop("sync-token"), Some(2)).await;
    assert_eq!(rest.hrefs(), [format!("{CAL}3.ics")]);

    for bad in [
        "http://davgate.org/ns/sync/1-999",
        "bogus",
        "http://davgate.org/ns/sync/99-1",
    ] {
        dav.req("REPORT", CAL)
            .body(sync_body(bad, None))
            .send()
            .await
            .status(403)
            .says("valid-sync-token");
    }
    // Address books sync the same way.
    put(
        &dav,
        &format!("{BOOK}a.vcf"),
        &card("a", "A", "a@example.org", "4.0"),
    )
    .await;
    assert_eq!(
        sync(&dav, BOOK, "", None).await.hrefs(),
        [format!("{BOOK}a.vcf")]
    );
}

/// A sync that asks for no data is answered from the objects' listing fields alone; one
/// that asks for calendar-data names the same members, in the same order, with the same
/// ETags, and their text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_with_and_without_data_names_the_same_members() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    for i in [3, 1, 2] {
        put(
            &dav,
            &format!("{CAL}{i}.ics"),
            &event(&format!("u{i}"), "20261201T100000Z", "20261201T110000Z", ""),
        )
        .await
        .status(201);
    }
    let bare = sync(&dav, CAL, "", None).await;
    let with_data = dav
        .req("REPORT", CAL)
        .body(
            r#"<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token></D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>"#,
        )
        .send()
        .await
        .status(207);
    assert_eq!(
        bare.hrefs(),
        [3, 1, 2].map(|i| format!("{CAL}{i}.ics")),
        "oldest change first"
    );
    assert_eq!(bare.hrefs(), with_data.hrefs());
    assert_eq!(bare.values("getetag"), with_data.values("getetag"));
    assert!(bare.values("calendar-data").is_empty());
    let data = with_data.values("calendar-data");
    assert_eq!(data.len(), 3);
    assert!(
        data.iter().all(|d| d.contains("BEGIN:VCALENDAR")),
        "{data:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_collections_appear_in_the_grantees_home_with_their_privileges() {
    let srv = TestServer::start().await;
    srv.add_account("bob").await;
    let alice = srv.alice();
    let bob = alice.as_user("bob", PASSWORD);
    alice.propfind("/dav/", "0").await.status(207);
    bob.propfind("/dav/", "0").await.status(207);
    put(
        &alice,
        &format!("{CAL}team.ics"),
        &event("team", "20261201T100000Z", "20261201T110000Z", ""),
    )
    .await
    .status(201);
    davgate_ok(
        srv.data_dir(),
        &[
            "share",
            "calendar",
            "alice",
            "default",
            "--with",
            "bob",
            "--read-only",
        ],
        "",
    );
    let shared = "/dav/calendars/bob/default@alice/";
    let home = bob.propfind("/dav/calendars/bob/", "1").await.status(207);
    assert!(
        home.hrefs().contains(&shared.to_owned()),
        "{:?}",
        home.hrefs()
    );
    let privs = bob
        .props(shared, "0", &["current-user-privilege-set", "owner"])
        .await
        .status(207);
    assert!(
        privs.text().contains("<D:read/>") && !privs.text().contains("<D:write/>"),
        "{}",
        privs.text()
    );
    assert_eq!(privs.prop("owner"), "/dav/principals/alice/");
    assert!(
        bob.get(&format!("{shared}team.ics"))
            .await
            .status(200)
            .text()
            .contains("UID:team")
    );
    let denied = put(
        &bob,
        &format!("{shared}x.ics"),
        &event("x", "20261201T100000Z", "20261201T110000Z", ""),
    )
    .await
    .status(403);
    assert!(
        denied.text().contains("need-privileges"),
        "{}",
        denied.text()
    );
    bob.delete(&format!("{shared}team.ics"))
        .await
        .status(403)
        .says("need-privileges");

    davgate_ok(
        srv.data_dir(),
        &[
            "share",
            "calendar",
            "alice",
            "default",
            "--with",
            "bob",
            "--read-write",
        ],
        "",
    );
    put(
        &bob,
        &format!("{shared}x.ics"),
        &event("x", "20261201T100000Z", "20261201T110000Z", ""),
    )
    .await
    .status(201);
    assert!(
        alice
            .get(&format!("{CAL}x.ics"))
            .await
            .status(200)
            .text()
            .contains("UID:x")
    );
    bob.delete(shared).await.status(403);

    davgate_ok(
        srv.data_dir(),
        &["unshare", "calendar", "alice", "default", "--with", "bob"],
        "",
    );
    bob.propfind(shared, "0").await.status(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_password_scopes_reach_calendars_and_contacts_separately() {
    let srv = TestServer::start().await;
    srv.alice().propfind("/dav/", "0").await.status(207);
    let (_, files_only) = create(&srv, &["--scope", "files"]);
    let (_, calendars) = create(&srv, &["--scope", "calendars"]);
    let (_, contacts) = create(&srv, &["--scope", "contacts"]);
    let (_, read_only) = create(&srv, &["--scope", "calendars,contacts", "--read-only"]);
    let as_ = |pw: &str| srv.alice().as_user("alice", pw);
    as_(&files_only)
        .propfind("/dav/", "0")
        .await
        .status(403)
        .says("lacks the calendars scope");
    as_(&calendars).propfind(CAL, "1").await.status(207);
    as_(&calendars)
        .propfind(BOOK, "1")
        .await
        .status(403)
        .says("contacts scope");
    as_(&contacts).propfind(BOOK, "1").await.status(207);
    as_(&contacts)
        .propfind(CAL, "1")
        .await
        .status(403)
        .says("calendars scope");
    as_(&contacts)
        .propfind("/dav/principals/alice/", "0")
        .await
        .status(207);
    // Read-only: sync works, writes are refused.
    let ro = as_(&read_only);
    sync(&ro, CAL, "", None).await;
    put(
        &ro,
        &format!("{CAL}r.ics"),
        &event("r", "20261201T100000Z", "20261201T110000Z", ""),
    )
    .await
    .status(403)
    .says("read-only");
    ro.req("MKCALENDAR", "/dav/calendars/alice/new/")
        .send()
        .await
        .status(403);
}
