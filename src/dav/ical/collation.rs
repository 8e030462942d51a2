//! Text matching for `text-match` in calendar-query (RFC 4791 §9.7.5) and
//! addressbook-query (RFC 6352 §10.5.4), with the collations of RFC 4790 and
//! RFC 5051.
//!
//! Shared by `vcard`, because both protocols name the same collations.

use unicode_normalization::UnicodeNormalization;

/// A text-match: the needle, how to compare, where to look, and whether the
/// result is negated (`negate-condition="yes"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub match_type: MatchType,
    pub negate: bool,
}

/// The collations davgate supports; advertise all three in
/// `supported-collation-set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `i;ascii-casemap`: ASCII letters compare case-insensitively, all
    /// other octets exactly. The CalDAV default.
    AsciiCasemap,
    /// `i;octet`: octet by octet.
    Octet,
    /// `i;unicode-casemap` (RFC 5051): full case folding plus NFKD, so
    /// "STRASSE" matches "Straße". The CardDAV default.
    UnicodeCasemap,
}

/// Where the needle must occur (RFC 6352 `match-type`; CalDAV only knows
/// substring matches, i.e. `Contains`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

impl TextMatch {
    /// A CalDAV text-match with its defaults: substring, `i;ascii-casemap`,
    /// not negated.
    pub fn caldav(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            collation: Collation::AsciiCasemap,
            match_type: MatchType::Contains,
            negate: false,
        }
    }

    /// A CardDAV text-match with its defaults: substring,
    /// `i;unicode-casemap`, not negated.
    pub fn carddav(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            collation: Collation::UnicodeCasemap,
            match_type: MatchType::Contains,
            negate: false,
        }
    }

    pub fn with_collation(mut self, collation: Collation) -> Self {
        self.collation = collation;
        self
    }

    pub fn with_match_type(mut self, match_type: MatchType) -> Self {
        self.match_type = match_type;
        self
    }

    pub fn negated(mut self) -> Self {
        self.negate = true;
        self
    }

    /// True when any of `values` matches, inverted by `negate`.
    ///
    /// A multi-valued property (CATEGORIES, N, ADR) is offered as its
    /// components plus the whole value, so "contains Smith" and "equals
    /// Smith;John;;;" both work; negation applies to the property as a whole.
    pub fn matches_any<'a>(&self, values: impl IntoIterator<Item = &'a str>) -> bool {
        let needle = self.collation.fold(&self.text);
        let hit = values
            .into_iter()
            .any(|value| self.match_type.test(&self.collation.fold(value), &needle));
        hit != self.negate
    }
}

impl Collation {
    /// Parses a collation identifier from a request; `None` means the
    /// server must answer with the `supported-collation` precondition.
    /// "default" is not accepted here because its meaning differs between
    /// CalDAV and CardDAV: the XML layer picks the protocol's default.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "i;ascii-casemap" => Some(Self::AsciiCasemap),
            "i;octet" => Some(Self::Octet),
            "i;unicode-casemap" => Some(Self::UnicodeCasemap),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::AsciiCasemap => "i;ascii-casemap",
            Self::Octet => "i;octet",
            Self::UnicodeCasemap => "i;unicode-casemap",
        }
    }

    /// Maps a string to the form in which equal strings are identical, so
    /// that substring tests can work on plain `str`.
    fn fold(self, text: &str) -> String {
        match self {
            Self::Octet => text.to_owned(),
            Self::AsciiCasemap => text.to_ascii_lowercase(),
            // RFC 5051 asks for titlecase then NFKD; full uppercase maps the
            // same characters together (ß → SS, ǅ → Ǆ) and std has it.
            Self::UnicodeCasemap => text.chars().flat_map(char::to_uppercase).nfkd().collect(),
        }
    }
}

impl MatchType {
    fn test(self, haystack: &str, needle: &str) -> bool {
        match self {
            Self::Equals => haystack == needle,
            Self::Contains => haystack.contains(needle),
            Self::StartsWith => haystack.starts_with(needle),
            Self::EndsWith => haystack.ends_with(needle),
        }
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
