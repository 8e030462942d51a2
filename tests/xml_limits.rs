//! XML request bodies are bounded before parsing: 64 KiB on the file tree (dav-server's
//! own bound; file clients send a handful of properties), 1 MiB on /dav/ (a
//! calendar-multiget of a few thousand hrefs), as the README says.

use crate::common::TestServer;

const CAL: &str = "/dav/calendars/alice/default/";

/// A calendar-multiget of about `size` bytes.
fn multiget(size: usize) -> String {
    let href = format!("<D:href>{CAL}event-0000000000.ics</D:href>");
    let hrefs = href.repeat(size / href.len() + 1);
    format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>{hrefs}</C:calendar-multiget>"#
    )
}

/// A PROPFIND for `size` bytes of property names.
fn propfind(size: usize) -> String {
    let prop = "<Z:some-property-name/>";
    let props = prop.repeat(size / prop.len() + 1);
    format!(r#"<D:propfind xmlns:D="DAV:" xmlns:Z="urn:x"><D:prop>{props}</D:prop></D:propfind>"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_take_64_kib_of_xml() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.req("PROPFIND", "/files/")
        .header("Depth", "0")
        .body(propfind(60 * 1024))
        .send()
        .await
        .status(207);
    dav.req("PROPFIND", "/files/")
        .header("Depth", "0")
        .body(propfind(65 * 1024))
        .send()
        .await
        .status(413)
        .says("limited to 64 KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dav_takes_1_mib_of_xml() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    // Creates the default calendar.
    dav.req("PROPFIND", CAL).header("Depth", "0").send().await;
    dav.req("REPORT", CAL)
        .header("Depth", "1")
        .body(multiget(900 * 1024))
        .send()
        .await
        .status(207);
    dav.req("REPORT", CAL)
        .header("Depth", "1")
        .body(multiget(1025 * 1024))
        .send()
        .await
        .status(413);
}
