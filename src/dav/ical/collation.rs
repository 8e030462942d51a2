//! Text matching for `text-match` in calendar-query (RFC 4791 §9.7.5) and
//! addressbook-query (RFC 6352 §10.5.4), with the collations of RFC 4790 and
//! RFC 5051.
//!
//! Shared by `vcard`, because both protocols name the same collations.

use unicode_normalization::UnicodeNormalization;

pub use crate::proto::request::{Collation, MatchType, TextMatch};

// The request parser produces these types (`crate::proto::request`); what they mean
// for a value is decided here.
impl TextMatch {
    /// True when any of `values` matches, inverted by `negate`.
    ///
    /// A multi-valued property (CATEGORIES, N, ADR) is offered as its
    /// components plus the whole value, so "contains Smith" and "equals
    /// Smith;John;;;" both work; negation applies to the property as a whole.
    pub fn matches_any<'a>(&self, values: impl IntoIterator<Item = &'a str>) -> bool {
        let needle = fold(self.collation, &self.value);
        let hit = values
            .into_iter()
            .any(|value| test(self.match_type, &fold(self.collation, value), &needle));
        hit != self.negate
    }
}

/// Maps a string to the form in which equal strings are identical, so that substring
/// tests can work on plain `str`.
fn fold(collation: Collation, text: &str) -> String {
    match collation {
        Collation::Octet => text.to_owned(),
        Collation::AsciiCasemap => text.to_ascii_lowercase(),
        // RFC 5051 asks for titlecase then NFKD; full uppercase maps the
        // same characters together (ß → SS, ǅ → Ǆ) and std has it.
        Collation::UnicodeCasemap => text.chars().flat_map(char::to_uppercase).nfkd().collect(),
    }
}

fn test(match_type: MatchType, haystack: &str, needle: &str) -> bool {
    match match_type {
        MatchType::Equals => haystack == needle,
        MatchType::Contains => haystack.contains(needle),
        MatchType::StartsWith => haystack.starts_with(needle),
        MatchType::EndsWith => haystack.ends_with(needle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_casemap_folds_only_ascii() {
        let m = TextMatch::caldav("meeting");
        assert!(m.matches_any(["Weekly MEETING"]));
        assert!(!TextMatch::caldav("é").matches_any(["É"]));
    }

    #[test]
    fn octet_is_exact() {
        let m = TextMatch::caldav("Meeting").with_collation(Collation::Octet);
        assert!(m.matches_any(["Weekly Meeting"]));
        assert!(!m.matches_any(["weekly meeting"]));
    }

    #[test]
    fn unicode_casemap_folds_case_and_compatibility_forms() {
        let m = TextMatch::carddav("strasse");
        assert!(m.matches_any(["Hauptstraße 5"]));
        assert!(TextMatch::carddav("é").matches_any(["CAFÉ"]));
        // NFKD: the "ﬁ" ligature decomposes to "fi".
        assert!(TextMatch::carddav("fi").matches_any(["\u{fb01}sh"]));
    }

    #[test]
    fn match_types() {
        let base = TextMatch::carddav("doe");
        assert!(
            base.clone()
                .with_match_type(MatchType::Equals)
                .matches_any(["DOE"])
        );
        assert!(
            !base
                .clone()
                .with_match_type(MatchType::Equals)
                .matches_any(["John Doe"])
        );
        assert!(
            base.clone()
                .with_match_type(MatchType::EndsWith)
                .matches_any(["John Doe"])
        );
        assert!(
            !base
                .clone()
                .with_match_type(MatchType::StartsWith)
                .matches_any(["John Doe"])
        );
        assert!(
            base.with_match_type(MatchType::StartsWith)
                .matches_any(["Doe, John"])
        );
    }

    #[test]
    fn negation_applies_to_the_whole_value_set() {
        let m = TextMatch::caldav("CANCELLED").negated();
        assert!(m.matches_any(["CONFIRMED"]));
        assert!(!m.matches_any(["CONFIRMED", "CANCELLED"]));
        // An absent value does not contain the text, so negation matches.
        assert!(m.matches_any([]));
    }

    #[test]
    fn collation_names_round_trip() {
        for c in [
            Collation::AsciiCasemap,
            Collation::Octet,
            Collation::UnicodeCasemap,
        ] {
            assert_eq!(Collation::from_name(c.name()), Some(c));
        }
        assert_eq!(Collation::from_name("i;basic"), None);
    }
}
