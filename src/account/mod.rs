//! The account portal at `/account/`: people sign in with their account password and
//! second factor, and manage their own app passwords, two-factor sign-in and portal
//! sessions, read their security log and connection guides, and download an Apple device
//! profile, in a browser.
//!
//! Owns the portal's pages ([`views`], server-rendered with maud, escaped by
//! construction), its cookie sessions ([`session`], kept in the database as hashes),
//! the checks every request meets ([`guard`]: security headers, the CSRF token bound to
//! the session, and `Origin` on every POST), the client settings written with this
//! server's address ([`address`]), the share of the machine its pages may take
//! ([`turns`]), and the device profiles ([`profile`]: the
//! `.mobileconfig` with a fresh app password, signed with the server's certificate,
//! also written by `davgate profile`). Does not own the rules it applies: passwords,
//! throttling, app passwords and the second factor live in `crate::auth`, rows in the
//! storage crate. Basic credentials never open the portal.

mod address;
mod app_passwords;
mod assets;
mod devices;
mod dispatch;
mod error;
mod form;
mod guard;
mod page;
pub mod profile;
mod qr;
mod reminders;
mod security;
mod session;
mod sign_in;
mod state;
mod turns;
mod two_factor;
mod views;

pub use self::state::{Portal, PortalSettings};
