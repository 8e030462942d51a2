//! CardDAV: PUT validation, addressbook-query filters (RFC 6352 §10.5)
//! and address-data selection (§10.4.2) over real client cards.

use std::borrow::Cow;

use davgate::dav::vcard::{
    self, AddressDataRequest, AddressFilter, Collation, MatchType, ParamFilter, ParamTest,
    PropFilter, PropRequest, TextMatch, ValueMode, VcardError, VcardObject, VcardVersion,
};

use crate::ical::common::{files, read};

#[track_caller]
fn card(path: &str) -> VcardObject {
    vcard::validate(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn client_cards_validate() {
    let cases = [
        (
            "vcard/apple_addressbook_3.0_photo_groups.vcf",
            VcardVersion::V3_0,
        ),
        ("vcard/davx5_3.0.vcf", VcardVersion::V3_0),
        ("vcard/thunderbird_cardbook_3.0.vcf", VcardVersion::V3_0),
        ("vcard/nextcloud_4.0.vcf", VcardVersion::V4_0),
        ("vcard/handmade/davx5_style_4.0.vcf", VcardVersion::V4_0),
        ("vcard/handmade/phone_style_2.1_qp.vcf", VcardVersion::V2_1),
        ("vcard/handmade/no_fn_3.0.vcf", VcardVersion::V3_0),
    ];
    for (path, version) in cases {
        let card = card(path);
        assert_eq!(card.version(), version, "{path}");
        assert!(!card.uid().is_empty(), "{path}");
        // Stored text comes back untouched.
        let all = card.address_data(&AddressDataRequest::All);
        assert!(matches!(all, Cow::Borrowed(_)));
        assert_eq!(all.as_bytes(), &read(path)[..]);
    }
    assert_eq!(card("vcard/davx5_3.0.vcf").uid(), "contact2-with-bday");
    assert_eq!(
        card("vcard/handmade/davx5_style_4.0.vcf")
            .display_name()
            .as_deref(),
        Some("Jürgen Groß")
    );
    // No FN: accepted, and a name is still available.
    assert_eq!(
        card("vcard/handmade/no_fn_3.0.vcf")
            .display_name()
            .as_deref(),
        Some("Erika Muster")
    );
}

#[test]
fn refusals() {
    let no_uid = vcard::validate(&read("vcard/android_2.1_qp_no_uid.vcf")).unwrap_err();
    assert_eq!(no_uid, VcardError::MissingUid);
    assert_eq!(no_uid.precondition(), "valid-address-data");
    assert_eq!(
        vcard::validate(&read("vcard/ezvcard_4.0_no_uid.vcf")).unwrap_err(),
        VcardError::MissingUid
    );

    let cases: &[(&[u8], &str)] = &[
        (b"BEGIN:VCARD\r\nUID:a\r\nFN:A\r\nEND:VCARD\r\n", "vCard without VERSION"),
        (b"BEGIN:VCARD\r\nVERSION:5.0\r\nUID:a\r\nEND:VCARD\r\n", "VERSION:5.0 is not supported, only 2.1, 3.0 and 4.0"),
        (
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nEND:VCARD\r\n",
            "line 5: content after END:VCARD",
        ),
        (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "line 1: expected BEGIN:VCARD, found BEGIN:VCALENDAR"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\n", "line 3: BEGIN:VCARD is never closed"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jos\xe9\r\nEND:VCARD\r\n", "vCard data is not valid UTF-8 (at byte 32)"),
    ];
    for (data, reason) in cases {
        assert_eq!(vcard::validate(data).unwrap_err().to_string(), *reason);
    }
}

#[test]
fn every_card_in_the_corpus_is_handled_without_panic() {
    for path in files("vcard", "vcf") {
        let _ = vcard::validate(&std::fs::read(&path).unwrap());
    }
}

fn text(prop: &str, needle: &str) -> PropFilter {
    PropFilter::text(prop, TextMatch::carddav(needle))
}

#[test]
fn text_match_variants() {
    let apple = card("vcard/apple_addressbook_3.0_photo_groups.vcf");
    // Default CardDAV collation is i;unicode-casemap, match-type contains.
    assert!(apple.matches(&AddressFilter::any_of(vec![text("FN", "doe john")])));
    assert!(apple.matches(&AddressFilter::any_of(vec![text("email", "IBM.COM")])));
    let equals = TextMatch::carddav("john.doe@ibm.com").with_match_type(MatchType::Equals);
    assert!(apple.matches(&AddressFilter::any_of(vec![PropFilter::text(
        "EMAIL",
        equals.clone()
    )])));
    let octet = equals.with_collation(Collation::Octet);
    assert!(apple.matches(&AddressFilter::any_of(vec![PropFilter::text(
        "EMAIL",
        octet.clone()
    )])));
    // Some EMAIL (the gmail one) is not equal to it.
    assert!(apple.matches(&AddressFilter::any_of(vec![PropFilter::text(
        "EMAIL",
        octet.negated()
    )])));
    let starts = TextMatch::carddav("+1 (212)").with_match_type(MatchType::StartsWith);
    assert!(apple.matches(&AddressFilter::any_of(vec![PropFilter::text(
        "TEL", starts
    )])));
    let ends = TextMatch::carddav("gmail.com").with_match_type(MatchType::EndsWith);
    assert!(apple.matches(&AddressFilter::any_of(vec![PropFilter::text(
        "EMAIL", ends
    )])));
    // Structured values: a component, or the whole N.
    assert!(apple.matches(&AddressFilter::any_of(vec![text("N", "johny")])));
    let whole = TextMatch::carddav("Doe;John;Johny;Mr.;I").with_match_type(MatchType::Equals);
    assert!(apple.matches(&AddressFilter::any_of(vec![PropFilter::text("N", whole)])));
    // Grouped properties match by name ("item1.ADR").
    assert!(apple.matches(&AddressFilter::any_of(vec![text("ADR", "new york")])));
    // Unicode case folding: ß matches SS.
    let german = card("vcard/handmade/davx5_style_4.0.vcf");
    assert!(german.matches(&AddressFilter::any_of(vec![text("FN", "GROSS")])));
    assert!(german.matches(&AddressFilter::any_of(vec![text("ADR", "hauptstrasse")])));
    let ascii = TextMatch::carddav("GROSS").with_collation(Collation::AsciiCasemap);
    assert!(!german.matches(&AddressFilter::any_of(vec![PropFilter::text("FN", ascii)])));
    // Negation: no EMAIL contains "example.com"? One does.
    let negated = TextMatch::carddav("example.org").negated();
    assert!(german.matches(&AddressFilter::any_of(vec![PropFilter::text(
        "EMAIL", negated
    )])));
    let none_match = TextMatch::carddav("@").negated();
    assert!(
        !german.matches(&AddressFilter::any_of(vec![PropFilter::text(
            "EMAIL", none_match
        )]))
    );
    // vCard 2.1 quoted-printable is decoded before matching.
    let phone = card("vcard/handmade/phone_style_2.1_qp.vcf");
    assert!(phone.matches(&AddressFilter::any_of(vec![text("NOTE", "zweite zeile")])));
}

#[test]
fn filter_and_prop_filter_tests() {
    let german = card("vcard/handmade/davx5_style_4.0.vcf");
    let hit = text("FN", "jürgen");
    let miss = text("FN", "maria");
    assert!(german.matches(&AddressFilter::any_of(vec![hit.clone(), miss.clone()])));
    assert!(!german.matches(&AddressFilter::all_of(vec![hit.clone(), miss.clone()])));
    assert!(german.matches(&AddressFilter::all_of(vec![
        hit,
        PropFilter::defined("BDAY")
    ])));
    // An empty filter matches every card.
    assert!(german.matches(&AddressFilter::any_of(Vec::new())));
    // prop-filter test="allof" over its own text-matches.
    let both = PropFilter::matching(
        "EMAIL",
        vec![
            TextMatch::carddav("beispiel"),
            TextMatch::carddav("example"),
        ],
        Vec::new(),
    );
    assert!(german.matches(&AddressFilter::any_of(vec![both.clone()])));
    assert!(german.matches(&AddressFilter::any_of(vec![both.all_of()])));
    let conflicting = PropFilter::matching(
        "EMAIL",
        vec![
            TextMatch::carddav("beispiel"),
            TextMatch::carddav("nowhere"),
        ],
        Vec::new(),
    );
    assert!(!german.matches(&AddressFilter::any_of(vec![conflicting.all_of()])));
    // is-not-defined
    assert!(
        german.matches(&AddressFilter::any_of(vec![PropFilter::is_not_defined(
            "PHOTO"
        )]))
    );
    assert!(
        !german.matches(&AddressFilter::any_of(vec![PropFilter::is_not_defined(
            "EMAIL"
        )]))
    );
}

#[test]
fn param_filters() {
    let german = card("vcard/handmade/davx5_style_4.0.vcf");
    let work_mail = PropFilter::matching(
        "EMAIL",
        Vec::new(),
        vec![ParamFilter {
            name: "TYPE".into(),
            test: ParamTest::TextMatch(
                TextMatch::carddav("work").with_match_type(MatchType::Equals),
            ),
        }],
    );
    assert!(german.matches(&AddressFilter::any_of(vec![work_mail])));
    let fax = PropFilter::matching(
        "TEL",
        Vec::new(),
        vec![ParamFilter {
            name: "type".into(),
            test: ParamTest::TextMatch(TextMatch::carddav("fax")),
        }],
    );
    assert!(!german.matches(&AddressFilter::any_of(vec![fax])));
    let no_pref = PropFilter::matching(
        "EMAIL",
        Vec::new(),
        vec![ParamFilter {
            name: "PREF".into(),
            test: ParamTest::IsNotDefined,
        }],
    );
    assert!(german.matches(&AddressFilter::any_of(vec![no_pref])));
    let has_type = PropFilter::matching(
        "TEL",
        Vec::new(),
        vec![ParamFilter {
            name: "TYPE".into(),
            test: ParamTest::Defined,
        }],
    );
    assert!(german.matches(&AddressFilter::any_of(vec![has_type])));
}

#[test]
fn address_data_selection() {
    let apple = card("vcard/apple_addressbook_3.0_photo_groups.vcf");
    let request = AddressDataRequest::Props(vec![
        PropRequest {
            name: "FN".into(),
            value: ValueMode::Full,
        },
        PropRequest {
            name: "EMAIL".into(),
            value: ValueMode::Full,
        },
        PropRequest {
            name: "PHOTO".into(),
            value: ValueMode::Omit,
        },
    ]);
    let text = apple.address_data(&request);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.first(), Some(&"BEGIN:VCARD"));
    assert_eq!(lines.last(), Some(&"END:VCARD"));
    assert!(lines.contains(&"VERSION:3.0"));
    assert!(lines.contains(&"FN:Mr. Doe John I Johny"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("EMAIL")).count(), 2);
    assert!(lines.contains(&"PHOTO;ENCODING=b;TYPE=JPEG:"));
    assert!(!text.contains("TEL"));
    assert!(!text.contains("NOTE"));
    // UID is always returned (the Apple card has one).
    assert!(text.contains("\r\nUID:"), "{text}");
    // The result is still a valid card.
    assert!(vcard::validate(text.as_bytes()).is_ok());
}
