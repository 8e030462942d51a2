//! addressbook-query filters (RFC 6352 §10.5) as plain data, and their
//! evaluation against a [`VcardObject`].
//!
//! When a card has a property several times (three EMAILs), each
//! text-match and param-filter is satisfied by any one of them, and the
//! results are combined by the prop-filter's `test` — what SabreDAV and
//! Radicale do, so clients see the same answers as there.

use std::borrow::Cow;

use calcard::vcard::{VCardEntry, VCardValue};

use super::TextMatch;

use super::object::VcardObject;
pub use crate::proto::request::{ParamFilter, ParamTest};

/// The parser's filter types (`crate::proto::request`) are the ones evaluated here,
/// under the names this module has always used: `CARDDAV:filter` is an
/// [`AddressFilter`] of prop-filters combined by its `test`; an empty one matches
/// every card.
pub use crate::proto::request::{
    CardFilter as AddressFilter, CardPropFilter as PropFilter, CardPropTest as PropTest, FilterTest,
};

impl AddressFilter {
    pub fn any_of(props: Vec<PropFilter>) -> Self {
        Self {
            test: FilterTest::AnyOf,
            props,
        }
    }

    pub fn all_of(props: Vec<PropFilter>) -> Self {
        Self {
            test: FilterTest::AllOf,
            props,
        }
    }
}

impl PropFilter {
    /// Matches if the property exists.
    pub fn defined(name: impl Into<String>) -> Self {
        Self::matching(name, Vec::new(), Vec::new())
    }

    pub fn is_not_defined(name: impl Into<String>) -> Self {
        Self {
            name: name.into().to_ascii_uppercase(),
            test: FilterTest::AnyOf,
            condition: PropTest::IsNotDefined,
        }
    }

    pub fn text(name: impl Into<String>, text: TextMatch) -> Self {
        Self::matching(name, vec![text], Vec::new())
    }

    pub fn matching(
        name: impl Into<String>,
        text_matches: Vec<TextMatch>,
        params: Vec<ParamFilter>,
    ) -> Self {
        Self {
            name: name.into().to_ascii_uppercase(),
            test: FilterTest::AnyOf,
            condition: PropTest::Matches {
                text_matches,
                params,
            },
        }
    }

    pub fn all_of(mut self) -> Self {
        self.test = FilterTest::AllOf;
        self
    }
}

impl VcardObject {
    /// Evaluates an addressbook-query filter.
    pub fn matches(&self, filter: &AddressFilter) -> bool {
        if filter.props.is_empty() {
            return true;
        }
        let mut results = filter.props.iter().map(|prop| self.prop_matches(prop));
        match filter.test {
            FilterTest::AnyOf => results.any(|hit| hit),
            FilterTest::AllOf => results.all(|hit| hit),
        }
    }

    fn prop_matches(&self, filter: &PropFilter) -> bool {
        let entries: Vec<&VCardEntry> = self
            .card
            .entries
            .iter()
            .filter(|entry| entry.name.as_str().eq_ignore_ascii_case(&filter.name))
            .collect();
        let PropTest::Matches {
            text_matches: texts,
            params,
        } = &filter.condition
        else {
            return entries.is_empty();
        };
        if entries.is_empty() {
            return false;
        }
        if texts.is_empty() && params.is_empty() {
            return true;
        }
        let text_results = texts.iter().map(|text| {
            entries
                .iter()
                .any(|entry| text.matches_any(value_texts(entry).iter().map(|t| t.as_ref())))
        });
        let param_results = params
            .iter()
            .map(|param| entries.iter().any(|entry| param_matches(entry, param)));
        let mut results = text_results.chain(param_results);
        match filter.test {
            FilterTest::AnyOf => results.any(|hit| hit),
            FilterTest::AllOf => results.all(|hit| hit),
        }
    }
}

/// Texts a text-match is tried against: each component of a structured
/// value (N, ADR) and the value as written, with ';' between components.
fn value_texts(entry: &VCardEntry) -> Vec<Cow<'_, str>> {
    let mut texts: Vec<Cow<'_, str>> = Vec::new();
    for value in &entry.values {
        match value {
            VCardValue::Component(parts) => {
                texts.extend(parts.iter().map(|part| Cow::Borrowed(part.as_str())));
                texts.push(Cow::Owned(parts.join(";")));
            }
            VCardValue::Text(text) => texts.push(Cow::Borrowed(text.as_str())),
            other => texts.extend(other.clone().into_text()),
        }
    }
    if entry.values.len() > 1 {
        let joined: Vec<String> = entry
            .values
            .iter()
            .filter_map(|value| value.clone().into_text().map(Cow::into_owned))
            .collect();
        texts.push(Cow::Owned(joined.join(";")));
    }
    texts
}

fn param_matches(entry: &VCardEntry, filter: &ParamFilter) -> bool {
    let params: Vec<_> = entry
        .params
        .iter()
        .filter(|param| param.name.as_str().eq_ignore_ascii_case(&filter.name))
        .collect();
    match &filter.test {
        ParamTest::Defined => !params.is_empty(),
        ParamTest::IsNotDefined => params.is_empty(),
        // A text-match needs a parameter to test, negated or not.
        ParamTest::TextMatch(text) => {
            let values: Vec<Cow<'static, str>> = params
                .iter()
                .map(|param| param.value.clone().into_text())
                .collect();
            !params.is_empty() && text.matches_any(values.iter().map(|v| v.as_ref()))
        }
    }
}
