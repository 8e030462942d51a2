//! The labels of request series: small fixed sets, never raw paths, names or addresses,
//! so no request can add a series and a scrape stays the same size however the server is
//! used.

use std::fmt::Write;

use davgate_storage::TreeRoot;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

use crate::route::{Route, Verb};

/// Which part of davgate a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteLabel {
    /// `/files/…`
    Files,
    /// `/trash/…`
    Trash,
    /// `/dav/…`: principals, calendars, contacts.
    Dav,
    /// `/.well-known/caldav` and `/.well-known/carddav`.
    WellKnown,
    /// `/account/…`: the portal.
    Account,
    /// `OPTIONS /` and `PROPFIND /`.
    Root,
    /// `/healthz`, `/readyz` and `/metrics`: probes and scrapes.
    Health,
    /// Anything else: unknown or refused paths.
    Other,
}

impl RouteLabel {
    /// Every route label, in the order of [`RouteLabel::index`].
    pub const ALL: [RouteLabel; 8] = [
        RouteLabel::Files,
        RouteLabel::Trash,
        RouteLabel::Dav,
        RouteLabel::WellKnown,
        RouteLabel::Account,
        RouteLabel::Root,
        RouteLabel::Health,
        RouteLabel::Other,
    ];

    /// The label of a routed request.
    pub fn of(route: &Route) -> Self {
        match route {
            Route::Files(tree) | Route::Options(tree) => match tree {
                TreeRoot::Files => RouteLabel::Files,
                TreeRoot::Trash => RouteLabel::Trash,
            },
            Route::Dav(_) | Route::DavOptions => RouteLabel::Dav,
            Route::WellKnown => RouteLabel::WellKnown,
            Route::Account => RouteLabel::Account,
            Route::RootOptions | Route::ServerRoot => RouteLabel::Root,
            Route::Health | Route::Ready => RouteLabel::Health,
            Route::BadPath(_) | Route::NotFound => RouteLabel::Other,
        }
    }

    /// Position in [`RouteLabel::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    fn as_str(self) -> &'static str {
        match self {
            RouteLabel::Files => "files",
            RouteLabel::Trash => "trash",
            RouteLabel::Dav => "dav",
            RouteLabel::WellKnown => "well-known",
            RouteLabel::Account => "account",
            RouteLabel::Root => "root",
            RouteLabel::Health => "health",
            RouteLabel::Other => "other",
        }
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// A request method as a label: the [`Verb`]s, and `OTHER` for every method davgate
/// does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodLabel(pub Verb);

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(match self.0 {
            Verb::Options => "OPTIONS",
            Verb::Get => "GET",
            Verb::Head => "HEAD",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
            Verb::PropFind => "PROPFIND",
            Verb::PropPatch => "PROPPATCH",
            Verb::MkCol => "MKCOL",
            Verb::Copy => "COPY",
            Verb::Move => "MOVE",
            Verb::Lock => "LOCK",
            Verb::Unlock => "UNLOCK",
            Verb::Report => "REPORT",
            Verb::MkCalendar => "MKCALENDAR",
            Verb::Other => "OTHER",
        })
    }
}

/// The labels of one request series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// Which part of davgate.
    pub route: RouteLabel,
    /// The method.
    pub method: MethodLabel,
    /// The status code answered (499 when the client went away first).
    pub status: u16,
}

/// The label of a per-route series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    /// Which part of davgate.
    pub route: RouteLabel,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_labels_are_indexed_in_order() {
        for (i, label) in RouteLabel::ALL.iter().enumerate() {
            assert_eq!(label.index(), i);
        }
    }
}
