//! The body of principal-search-property-set (RFC 3744 §9.5): the properties a
//! principal-property-search looks in, each with a description for people.

use super::super::names::{Namespace, Property};
use super::super::writer::XmlWriter;

/// The `D:principal-search-property-set` document for `(property, description)` pairs.
pub fn principal_search_property_set(properties: &[(Property, &str)]) -> Vec<u8> {
    let dav = Namespace::Dav;
    let mut w = XmlWriter::document(&dav, "principal-search-property-set");
    for (property, description) in properties {
        w.open(&dav, "principal-search-property");
        w.open(&dav, "prop");
        w.empty(&property.namespace(), property.local_name());
        w.close(&dav, "prop");
        // RFC 3744 wants xml:lang on the description; attribute names the writer takes
        // are unprefixed, so this one tag is written by hand.
        w.buffer().push_str("<D:description xml:lang=\"en\">");
        w.text(description);
        w.close(&dav, "description");
        w.close(&dav, "principal-search-property");
    }
    w.close(&dav, "principal-search-property-set");
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::names::DavProperty;

    #[test]
    fn lists_each_property_with_its_description() {
        let body =
            principal_search_property_set(&[(Property::Dav(DavProperty::DisplayName), "Name <&>")]);
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains(
                "<D:principal-search-property><D:prop><D:displayname/></D:prop>\
                 <D:description xml:lang=\"en\">Name &lt;&amp;&gt;</D:description>\
                 </D:principal-search-property>"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("</D:principal-search-property-set>"),
            "{text}"
        );
    }
}
