//! Black-box tests: each starts davgate on an ephemeral loopback port and speaks HTTP
//! to it; interop tests drive real clients (litmus, rclone, cadaver, gio, Python caldav,
//! headless chromium).

mod common;

mod app_passwords;
mod auth;
mod caldav;
mod carddav;
mod cli;
mod connections;
mod copymove;
mod dav_exchanges;
mod dav_sync;
mod disk_full;
mod file_journeys;
mod files;
mod files_host;
mod headers;
mod ical;
mod interop;
mod locks;
mod module_cycles;
mod paths;
mod portal;
mod portal_browser;
mod principal_search;
mod ranges;
mod reverse_proxy;
mod server;
mod tls_reload;
mod trash;
mod two_factor;
mod uploads;
mod xml_golden;
mod xml_limits;
mod xml_robustness;
