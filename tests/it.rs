//! Black-box tests: each starts davgate on an ephemeral loopback port and speaks HTTP
//! to it; interop tests drive real clients (litmus, rclone).

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
mod files;
mod files_host;
mod headers;
mod ical;
mod interop;
mod locks;
mod module_cycles;
mod paths;
mod ranges;
mod s3;
mod server;
mod trash;
mod two_factor;
mod uploads;
mod xml_golden;
mod xml_limits;
mod xml_robustness;
