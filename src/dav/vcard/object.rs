//! Accepting an address object resource on PUT, and returning it whole or
//! in part.
//!
//! Decisions, and why:
//! - vCard 2.1 is accepted: calcard reads its quoted-printable and
//!   CHARSET forms, and old phones still export it.
//! - FN is not required, although 3.0 and 4.0 demand it: Radicale stores
//!   such cards, SabreDAV repairs them by rewriting, and we store bytes
//!   as sent, so refusing would only break sync for cards made by sloppy
//!   exporters. [`VcardObject::display_name`] falls back to N, ORG, EMAIL.
//! - UID is required (RFC 6352 §6.3.2.3): without it the server cannot
//!   enforce no-uid-conflict.

use std::borrow::Cow;

use calcard::vcard::{
    VCard, VCardEntry, VCardProperty, VCardValue, VCardVersion as CalcardVersion,
};

use super::error::VcardError;
use super::ical::raw::{self, Document, Item};
use super::ical::{PropRequest, ValueMode};
use crate::proto::request::Selection;

/// A validated vCard: the text as stored plus its parsed form.
#[derive(Debug, Clone)]
pub struct VcardObject {
    raw: String,
    doc: Document,
    pub(crate) card: VCard,
    uid: String,
    version: VcardVersion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcardVersion {
    V2_1,
    V3_0,
    V4_0,
}

/// `CARDDAV:address-data` in a REPORT: everything, or the named
/// properties. BEGIN, END, VERSION and UID are always returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AddressDataRequest {
    #[default]
    All,
    Props(Vec<PropRequest>),
}

/// How a parsed `CR:address-data` element is read: no property named means the
/// whole card (RFC 6352 §10.4).
impl From<&crate::proto::request::AddressDataRequest> for AddressDataRequest {
    fn from(request: &crate::proto::request::AddressDataRequest) -> Self {
        match &request.props {
            Selection::Only(props) if !props.is_empty() => {
                AddressDataRequest::Props(props.iter().map(PropRequest::from).collect())
            }
            Selection::All | Selection::Only(_) => AddressDataRequest::All,
        }
    }
}

/// Validates vCard data for a CardDAV PUT.
pub fn validate(data: &[u8]) -> Result<VcardObject, VcardError> {
    let text = std::str::from_utf8(data).map_err(|e| VcardError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    // The skeleton enforces exactly one VCARD and balanced BEGIN/END.
    let doc = Document::parse(text, "VCARD").map_err(|e| VcardError::Syntax {
        line: e.line,
        reason: e.reason,
    })?;
    let card = VCard::parse(text).map_err(|_| VcardError::Syntax {
        line: 1,
        reason: "not a vCard".into(),
    })?;
    let version_line = card
        .property(&VCardProperty::Version)
        .ok_or(VcardError::MissingVersion)?;
    let version = match card.version() {
        Some(CalcardVersion::V2_1) => VcardVersion::V2_1,
        Some(CalcardVersion::V3_0) => VcardVersion::V3_0,
        Some(CalcardVersion::V4_0) => VcardVersion::V4_0,
        Some(CalcardVersion::V2_0) | None => {
            return Err(VcardError::UnsupportedVersion(
                first_text(version_line).unwrap_or_default(),
            ));
        }
    };
    let uid = card
        .uid()
        .map(str::trim)
        .filter(|uid| !uid.is_empty())
        .ok_or(VcardError::MissingUid)?
        .to_owned();
    Ok(VcardObject {
        raw: text.to_owned(),
        doc,
        card,
        uid,
        version,
    })
}

impl VcardObject {
    /// The text as received, byte for byte.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The UID, without surrounding whitespace. vCard 4.0 writes it as a
    /// URI ("urn:uuid:…"); it is kept as written.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    pub fn version(&self) -> VcardVersion {
        self.version
    }

    /// FN, or a name made from N, ORG or EMAIL for cards without FN.
    pub fn display_name(&self) -> Option<String> {
        let text = |property: VCardProperty| self.card.property(&property).and_then(first_text);
        if let Some(name) = text(VCardProperty::Fn).filter(|n| !n.trim().is_empty()) {
            return Some(name);
        }
        if let Some(entry) = self.card.property(&VCardProperty::N) {
            // N is family;given;additional;prefix;suffix, read as one
            // structured value or as one value per component.
            let parts: Vec<&str> = entry
                .values
                .iter()
                .flat_map(|value| match value {
                    VCardValue::Component(parts) => parts.iter().map(String::as_str).collect(),
                    VCardValue::Text(text) => vec![text.as_str()],
                    _ => Vec::new(),
                })
                .collect();
            let order = [3, 1, 2, 0, 4];
            let name = order
                .iter()
                .filter_map(|&i| parts.get(i))
                .map(|part| part.trim())
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            if !name.is_empty() {
                return Some(name);
            }
        }
        text(VCardProperty::Org).or_else(|| text(VCardProperty::Email))
    }

    /// The address data for a REPORT response. Borrows the stored text,
    /// byte for byte, when everything is asked for.
    pub fn address_data(&self, request: &AddressDataRequest) -> Cow<'_, str> {
        let AddressDataRequest::Props(props) = request else {
            return Cow::Borrowed(&self.raw);
        };
        // Invariant: Document::parse refuses input without a root component.
        let root = &self.doc.comps[0];
        let mut out = String::with_capacity(self.raw.len());
        out.push_str(&self.doc.text(&self.raw, root.begin));
        for item in &root.items {
            let Item::Prop(line) = *item else {
                // Embedded vCards (2.1 AGENT) are not properties.
                continue;
            };
            let name = &self.doc.lines[line].name;
            let always = matches!(name.as_str(), "VERSION" | "UID");
            let mode = match props
                .iter()
                .find(|prop| prop.name.eq_ignore_ascii_case(name))
            {
                Some(prop) if !always => prop.value,
                _ if always => ValueMode::Full,
                _ => continue,
            };
            let text = self.doc.text(&self.raw, line);
            match mode {
                ValueMode::Full => out.push_str(&text),
                ValueMode::Omit => {
                    let unfolded = raw::unfold(text.trim_end_matches(['\r', '\n']));
                    let head =
                        raw::value_colon(&unfolded).map_or(unfolded.as_str(), |c| &unfolded[..=c]);
                    raw::push_folded(&mut out, head, self.doc.newline);
                }
            }
        }
        out.push_str(&self.doc.text(&self.raw, root.end));
        Cow::Owned(out)
    }
}

pub(crate) fn first_text(entry: &VCardEntry) -> Option<String> {
    entry
        .values
        .first()
        .and_then(|value| value.clone().into_text())
        .map(Cow::into_owned)
}
