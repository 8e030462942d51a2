//! Black-box tests: each starts davgate on an ephemeral loopback port and speaks HTTP
//! to it; interop tests drive real clients (litmus, rclone, cadaver, gio, Python caldav,
//! headless chromium).

mod common;

mod app_passwords;
mod auth;
mod caldav;
mod carddav;
mod check;
mod cli;
mod cluster;
mod cluster_crash;
mod connections;
mod copymove;
mod crash;
mod dav_exchanges;
mod dav_sync;
mod deploy_cluster;
mod disk_full;
mod file_journeys;
mod file_methods;
mod files;
mod files_host;
mod fuzz_http;
mod headers;
mod ical;
mod interop;
mod locks;
mod metrics;
mod migrate;
mod module_cycles;
mod paths;
mod portal;
mod portal_browser;
mod principal_search;
mod profiles;
mod ranges;
mod reminders;
mod reminders_clients;
mod reminders_email;
mod reminders_rate;
mod reverse_proxy;
mod s3;
mod server;
mod small_files;
mod tls_reload;
mod trash;
mod two_factor;
mod uploads;
mod xml_golden;
mod xml_limits;
mod xml_robustness;
