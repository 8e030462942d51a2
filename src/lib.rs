//! davgate: WebDAV files, CalDAV calendars and CardDAV contacts for sync clients that
//! can only send a user name and a password.
//!
//! A request goes: [`server`] accepts it (TLS, HTTP/1.1 or HTTP/2) → [`route::Route`]
//! parses it once (verb, decoded path, WebDAV headers) and decides where it goes →
//! [`auth`] turns Basic credentials into an [`auth::Principal`] and checks its scope,
//! once, for every protected route → [`files`] (`/files/`, `/trash/`) or [`dav`]
//! (`/dav/`) serves it over the `davgate-storage` crate, the only code that touches SQL
//! or blob bytes. Both rooms read and write protocol XML through [`proto`]. [`account`]
//! (`/account/`) is the portal where people manage their own app passwords, second
//! factor and sessions in a browser, signed in by cookie. Every room's error becomes
//! HTTP in one place, [`error`]. Settings come from [`config`] and
//! are passed down explicitly; [`cli`] is the command line.

pub mod account;
pub mod auth;
pub mod cli;
pub mod config;
pub mod data_lock;
pub mod dav;
pub mod error;
pub mod files;
pub mod memory;
pub mod metrics;
#[cfg(test)]
mod mutation;
#[cfg(test)]
mod parser_fuzz;
pub mod priority;
pub mod proto;
pub mod public_url;
pub mod reminders;
pub mod response;
pub mod route;
pub mod secret;
pub(crate) mod sendfile;
pub mod server;
pub mod units;
