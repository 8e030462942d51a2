//! davgate: WebDAV files (and, later, CalDAV and CardDAV) for sync clients that can
//! only send a user name and a password.
//!
//! A request goes: [`server`] accepts it (TLS, HTTP/1.1 or HTTP/2) → [`route::Route`]
//! decides where it goes from method and path alone → [`auth`] turns Basic credentials
//! into a [`auth::Principal`] when the route needs one → [`files`] serves it over the
//! `davgate-storage` crate, the only code that touches SQL or blob bytes. Settings come
//! from [`config`] and are passed down explicitly; [`cli`] is the command line.

pub mod auth;
pub mod cli;
pub mod config;
pub mod dav;
pub mod error;
pub mod files;
pub mod priority;
pub mod proto;
pub mod response;
pub mod route;
pub mod secret;
pub(crate) mod sendfile;
pub mod server;
pub mod units;
