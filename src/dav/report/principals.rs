//! Looking people up: principal-property-search and principal-search-property-set
//! (RFC 3744 §9.4–9.5) on the principal collection and principal URLs. Apple Calendar
//! and Contacts search as the user types an attendee or a delegate; Thunderbird finds
//! a principal by its calendar home.
//!
//! Only accounts the signed-in one may see are searched: itself, and the accounts it
//! shares a calendar or address book with (either way round). Everyone else on the
//! server stays invisible, whatever the search.

use davgate_storage::CollectionKind;
use http::{HeaderValue, Response, StatusCode, header};

use crate::dav::ctx::Ctx;
use crate::dav::error::DavResult;
use crate::dav::props::{Resource, calendar_user_addresses, is_email};
use crate::dav::target::{home_path, principal_path};
use crate::proto::href::encode_path;
use crate::proto::names::{
    CalDavProperty, CalendarServerProperty, CardDavProperty, DavProperty, Property,
};
use crate::proto::precondition::Precondition;
use crate::proto::request::{PrincipalPropertySearch, PropertySearch, SearchTest};
use crate::proto::response::{Multistatus, Response as XmlResponse, principal_search_property_set};
use crate::proto::status::Status;
use crate::response::{Body, full, multistatus_pieces};

/// The most principals one search returns; past it, a 507 says to type more.
const MAX_RESULTS: u32 = 50;

/// The most share partners read per search: memory stays bounded however widely an
/// account shares.
const MAX_VISIBLE: u32 = 1000;

/// What a search can look in, as principal-search-property-set tells clients.
const SEARCHABLE: &[(Property, &str)] = &[
    (Property::Dav(DavProperty::DisplayName), "Name"),
    (
        Property::CalDav(CalDavProperty::CalendarUserAddressSet),
        "Calendar user address",
    ),
    (
        Property::CalendarServer(CalendarServerProperty::EmailAddressSet),
        "E-mail address",
    ),
];

/// Answers principal-search-property-set (RFC 3744 §9.5).
pub(super) fn search_property_set() -> Response<Body> {
    let mut resp = Response::new(full(principal_search_property_set(SEARCHABLE)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    *resp.status_mut() = StatusCode::OK;
    resp
}

/// Answers principal-property-search (RFC 3744 §9.4). RFC 3744 defines it at Depth 0;
/// Thunderbird sends Depth 1. Both get the same answer: the principals that match,
/// never their members.
pub(super) async fn search(
    ctx: &Ctx<'_>,
    request: &PrincipalPropertySearch,
) -> DavResult<Response<Body>> {
    let me = ctx.user().to_owned();
    let mut visible = vec![me];
    visible.extend(
        ctx.store()
            .share_partners(ctx.principal.account.id, MAX_VISIBLE)
            .await?,
    );
    let limit = request.limit.map_or(MAX_RESULTS, |n| n.min(MAX_RESULTS)) as usize;
    let mut ms = Multistatus::new();
    for (found, user) in visible
        .iter()
        .filter(|user| matches(request, user))
        .enumerate()
    {
        if found == limit {
            ms.push_status_with(
                &ctx.target.path(),
                Status::INSUFFICIENT_STORAGE,
                Some(&Precondition::NumberOfMatchesWithinLimits),
                Some("more people match than are returned: type more of the name or address"),
            );
            break;
        }
        let mut response = XmlResponse::new(&principal_path(user));
        Resource::Principal(user).write(ctx, &request.props.props, &mut response);
        ms.push(response);
    }
    Ok(multistatus_pieces(ms.into_pieces(None)))
}

fn matches(request: &PrincipalPropertySearch, user: &str) -> bool {
    let mut results = request.searches.iter().map(|s| search_matches(s, user));
    match request.test {
        SearchTest::AllOf => results.all(|hit| hit),
        SearchTest::AnyOf => results.any(|hit| hit),
    }
}

/// Whether the needle is found in any of the properties searched. A property that
/// cannot be searched (first-name, which accounts do not have) finds nothing.
fn search_matches(search: &PropertySearch, user: &str) -> bool {
    search.props.iter().any(|property| {
        let values = searchable_values(property, user);
        !values.is_empty() && search.needle.matches_any(values.iter().map(String::as_str))
    })
}

/// The texts a property of `user`'s principal is searched in: its values, and for
/// addresses and paths the forms clients type or send (a bare e-mail address, an
/// encoded path).
fn searchable_values(property: &Property, user: &str) -> Vec<String> {
    let paths = |path: String| {
        let encoded = encode_path(&path);
        vec![path, encoded]
    };
    match property {
        Property::Dav(DavProperty::DisplayName) => vec![user.to_owned()],
        Property::Dav(DavProperty::PrincipalUrl) => paths(principal_path(user)),
        Property::CalDav(CalDavProperty::CalendarUserAddressSet) => {
            let mut values = calendar_user_addresses(user);
            values.push(principal_path(user));
            if is_email(user) {
                values.push(user.to_owned());
            }
            values
        }
        Property::CalendarServer(CalendarServerProperty::EmailAddressSet) if is_email(user) => {
            vec![user.to_owned()]
        }
        Property::CalDav(CalDavProperty::CalendarHomeSet) => {
            paths(home_path(CollectionKind::Calendar, user))
        }
        Property::CardDav(CardDavProperty::AddressbookHomeSet) => {
            paths(home_path(CollectionKind::AddressBook, user))
        }
        _ => Vec::new(),
    }
}
