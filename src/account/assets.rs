//! The portal's stylesheet and copy-button script, served from the binary. Pages
//! reference them as files so the CSP needs no `unsafe-inline`; every page works
//! without the script.

use http::{HeaderValue, Response, StatusCode, header};

use super::guard::with_security_headers;
use super::page::Asset;
use crate::response::{self, Body};

const STYLE: &str = r#":root { color-scheme: light dark; --bg: #fdfdfc; --fg: #1d1d1f; --muted: #5f6368;
  --line: #d9d9de; --accent: #1b5fc1; --danger: #b3261e; --panel: #f3f4f6; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15171a; --fg: #e8e8ea; --muted: #a4a7ad; --line: #33363b; --accent: #7fb0ff;
    --danger: #ff8a80; --panel: #1f2226; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main { max-width: 52rem; margin: 0 auto; padding: 1rem; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center;
  border-bottom: 1px solid var(--line); }
header strong { margin-right: auto; }
nav a { margin-right: .8rem; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus { outline: 2px solid var(--accent); outline-offset: 2px; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
label.check { display: inline-block; font-weight: normal; margin-right: 1rem; }
input[type=text], input[type=password], select { width: 100%; max-width: 24rem; padding: .5rem;
  font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
button { font: inherit; padding: .45rem 1rem; margin-top: .8rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--bg); }
button.danger { border-color: var(--danger); background: transparent; color: var(--danger); }
button.link { border: none; background: none; color: var(--accent); padding: 0; margin: 0; text-decoration: underline; }
form.inline { display: inline; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.table { overflow-x: auto; }
.muted { color: var(--muted); }
.error { border-left: 4px solid var(--danger); padding: .5rem 1rem; background: var(--panel); }
.note { border-left: 4px solid var(--accent); padding: .5rem 1rem; background: var(--panel); }
.secret { font: 1.25rem/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all;
  padding: .6rem; background: var(--panel); border-radius: 6px; }
pre { white-space: pre-wrap; word-break: break-all; background: var(--panel); padding: .6rem; border-radius: 6px; }
.qr svg { width: 14rem; height: 14rem; background: #fff; padding: .5rem; }
ul.codes { columns: 2; font-family: ui-monospace, monospace; }
"#;

const COPY_SCRIPT: &str = r#"// Copy buttons: <button data-copy="ELEMENT-ID">. The pages work without this.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) { return; }
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) { return; }
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = "Copied";
  });
});
"#;

/// Answers an asset request.
pub(super) fn serve(asset: Asset) -> Response<Body> {
    let (body, kind) = match asset {
        Asset::Style => (STYLE, "text/css; charset=utf-8"),
        Asset::CopyScript => (COPY_SCRIPT, "text/javascript; charset=utf-8"),
    };
    let mut resp = Response::new(response::full(body));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    with_security_headers(resp)
}
