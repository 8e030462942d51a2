//! The account room: what a person manages for their own account in the browser at
//! `/account/` — sessions, sign-in, app passwords, two-factor — and the Apple device
//! profiles ([`profile`]) the devices page hands out.

pub mod profile;
