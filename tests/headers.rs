//! Request headers a hostile or broken client sends: each gets a 400 that says which
//! header is wrong, never a dropped connection.

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_conditional_and_destination_headers_get_400() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/doc.txt", "v1").await.status(201);
    let cases: [(&str, &str, &str, &str); 7] = [
        ("PUT", "If", "(<garbage", "If header"),
        ("PUT", "If-Match", "\"", "If-Match"),
        ("PUT", "If-None-Match", "\"", "If-None-Match"),
        ("GET", "If-Match", "\"", "If-Match"),
        (
            "DELETE",
            "If",
            "(<urn:uuid:x> [\"unterminated)",
            "If header",
        ),
        ("MOVE", "Destination", "/files/", "Destination"),
        ("COPY", "Destination", "/files/", "Destination"),
    ];
    for (method, name, value, words) in cases {
        dav.req(method, "/files/doc.txt")
            .header(name, value)
            .body("v2")
            .send()
            .await
            .status(400)
            .says(words);
    }
    // Nothing was changed by the refused requests.
    assert_eq!(dav.get("/files/doc.txt").await.status(200).text(), "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_formed_conditions_still_work() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let etag = dav
        .put("/files/doc.txt", "v1")
        .await
        .status(201)
        .header("etag")
        .expect("etag");
    dav.req("PUT", "/files/doc.txt")
        .header("If-Match", "\"nope\"")
        .body("v2")
        .send()
        .await
        .status(412);
    dav.req("PUT", "/files/doc.txt")
        .header("If-Match", &etag)
        .body("v2")
        .send()
        .await
        .status(204);
    dav.req("PUT", "/files/new.txt")
        .header("If-None-Match", "*")
        .body("n")
        .send()
        .await
        .status(201);
    dav.req("PUT", "/files/doc.txt")
        .header("If", &format!("([{etag}])"))
        .body("v3")
        .send()
        .await
        .status(412);
    dav.req("PUT", "/files/doc.txt")
        .header("If", "(Not <DAV:no-lock>)")
        .body("v3")
        .send()
        .await
        .status(204);
}
