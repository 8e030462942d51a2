use super::super::raw::RawXml;
use super::*;

fn parse(xml: &str) -> Result<Element, XmlError> {
    parse_document(xml.as_bytes(), &Limits::DEFAULT)
}

fn reason(result: Result<Element, XmlError>) -> String {
    match result {
        Err(XmlError::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn resolves_prefixes_defaults_and_redeclarations() {
    let root = parse(
        r#"<D:propfind xmlns:D="DAV:" xmlns="urn:default">
             <D:prop>
               <x/>
               <y xmlns="http://apple.com/ns/ical/"><z/></y>
               <D:a xmlns:D="urn:shadowed"/>
               <w xmlns=""/>
             </D:prop>
           </D:propfind>"#,
    )
    .unwrap();
    assert!(root.is(&Namespace::Dav, "propfind"));
    let prop = root.child(&Namespace::Dav, "prop").unwrap();
    let names: Vec<(Namespace, &str)> = prop
        .elements()
        .map(|e| (e.namespace.clone(), e.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            (Namespace::Other("urn:default".into()), "x"),
            (Namespace::AppleIcal, "y"),
            (Namespace::Other("urn:shadowed".into()), "a"),
            (Namespace::Other(String::new()), "w"),
        ]
    );
    // The redeclared default namespace reaches the grandchild too.
    let z = prop.elements().nth(1).unwrap().elements().next().unwrap();
    assert_eq!(z.namespace, Namespace::AppleIcal);
}

#[test]
fn bindings_end_with_their_element() {
    let root =
        parse(r#"<r xmlns="DAV:"><a xmlns:C="urn:ietf:params:xml:ns:caldav"><C:x/></a><b/></r>"#)
            .unwrap();
    assert_eq!(root.elements().nth(1).unwrap().namespace, Namespace::Dav);
    let err = parse(r#"<r xmlns:D="DAV:"><a xmlns:C="urn:c"/><C:x/></r>"#);
    assert!(reason(err).contains("prefix \"C\" is not declared"));
}

#[test]
fn attributes_resolve_without_the_default_namespace() {
    let root = parse(r#"<r xmlns="DAV:" xmlns:x="urn:x" name="VEVENT" x:flag="1" xml:lang="de"/>"#)
        .unwrap();
    assert_eq!(root.attribute("name"), Some("VEVENT"));
    assert_eq!(
        root.attributes[1].namespace,
        Namespace::Other("urn:x".into())
    );
    assert_eq!(root.attribute("flag"), None);
    assert_eq!(root.lang(), Some("de"));
}

#[test]
fn text_merges_entities_cdata_and_keeps_escaped_carriage_returns() {
    let root = parse("<r>a &amp; b &lt;c&gt; <![CDATA[<raw> & ]]>&#x41;&#13;\r\nz</r>").unwrap();
    // `&#13;` survives as CR; the literal CRLF is normalized to LF as XML requires.
    assert_eq!(root.text(), "a & b <c> <raw> & A\r\nz");
    assert_eq!(root.children.len(), 1, "adjacent text is one node");
}

#[test]
fn malformed_input_is_reported_with_a_position() {
    let err = parse("<a>\n  <b>\n</a>").unwrap_err();
    let XmlError::Malformed {
        line, reason: why, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*line, 3);
    assert!(why.contains("`</b>`"), "{why}");

    for (xml, expect) in [
        ("<D:propfind xmlns:D=\"DAV:\"><D:prop>", "is not closed"),
        ("<a></a><b/>", "second element"),
        ("<a/>trailing", "outside the root"),
        ("junk<a/>", "outside the root"),
        ("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "DOCTYPE"),
        ("<a>&nbsp;</a>", "unknown entity"),
        ("<a>\u{1}</a>", "U+0001"),
        ("<a>&#1;</a>", "U+0001"),
        ("<a b=\"&#27;\"/>", "U+001B"),
        ("<a&b/>", "not a valid element name"),
        ("<a\"b/>", "attribute value not closed"),
        ("<1a/>", "not a valid element name"),
        ("<a:b:c xmlns:a=\"urn:a\"/>", "not a valid element name"),
        ("<x:a xmlns:x=\"\"/>", "empty URI"),
        ("<a xmlns:xml=\"urn:evil\"/>", "xml prefix"),
        ("<a><?xml version=\"1.0\"?></a>", "declaration"),
        ("<a b='1' b='2'/>", "b"),
    ] {
        let got = reason(parse(xml));
        assert!(got.contains(expect), "{xml:?}: {got:?}");
    }
}

#[test]
fn empty_and_non_utf8_bodies() {
    assert_eq!(parse("  \n\t "), Err(XmlError::EmptyBody));
    let err = parse_document(b"<a>\xff</a>", &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        err,
        XmlError::Malformed {
            line: 1,
            column: 4,
            reason: "the body is not valid UTF-8".into()
        }
    );
    // A byte order mark is fine.
    assert!(parse_document(b"\xEF\xBB\xBF<a/>", &Limits::DEFAULT).is_ok());
    assert!(reason(parse("<!-- only a comment -->")).contains("no root element"));
}

#[test]
fn deep_nesting_stops_at_the_depth_limit_without_recursion() {
    let depth = 100_000;
    let xml = "<a>".repeat(depth) + &"</a>".repeat(depth);
    assert_eq!(
        parse(&xml),
        Err(XmlError::LimitExceeded {
            limit: Limit::Depth,
            max: 64
        })
    );
    // Exactly at the limit parses, and the tree drops without trouble.
    let xml = "<a>".repeat(64) + &"</a>".repeat(64);
    assert!(parse(&xml).is_ok());
}

#[test]
fn element_count_is_bounded() {
    let xml = format!("<r>{}</r>", "<D:href xmlns:D=\"DAV:\"/>".repeat(30_000));
    let limits = Limits {
        max_input_bytes: usize::MAX,
        ..Limits::DEFAULT
    };
    assert_eq!(
        parse_document(xml.as_bytes(), &limits),
        Err(XmlError::LimitExceeded {
            limit: Limit::Elements,
            max: 20_000
        })
    );
}

#[test]
fn ten_megabytes_of_text_in_a_prop_is_refused() {
    let body = format!(
        "<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><D:displayname>{}</D:displayname>\
         </D:prop></D:set></D:propertyupdate>",
        "x".repeat(10 * 1024 * 1024)
    );
    // First bound: the body itself.
    assert_eq!(
        parse(&body),
        Err(XmlError::LimitExceeded {
            limit: Limit::InputBytes,
            max: 1024 * 1024
        })
    );
    // With the body bound lifted, the per-element text bound still holds, and text
    // split by entities is counted as a whole.
    let limits = Limits {
        max_input_bytes: 64 * 1024 * 1024,
        ..Limits::DEFAULT
    };
    let err = parse_document(body.as_bytes(), &limits);
    assert_eq!(
        err,
        Err(XmlError::LimitExceeded {
            limit: Limit::TextBytes,
            max: 256 * 1024
        })
    );
    let split = format!("<a>{}</a>", "xxxxxxxxx&amp;".repeat(30_000));
    assert!(matches!(
        parse_document(split.as_bytes(), &limits),
        Err(XmlError::LimitExceeded {
            limit: Limit::TextBytes,
            ..
        })
    ));
}

#[test]
fn long_attribute_values_are_bounded() {
    let xml = format!("<r name=\"{}\"/>", "v".repeat(300 * 1024));
    assert_eq!(
        parse(&xml),
        Err(XmlError::LimitExceeded {
            limit: Limit::TextBytes,
            max: 256 * 1024
        })
    );
}

#[test]
fn attributes_per_element_are_bounded() {
    let attrs: String = (0..100).map(|i| format!(" a{i}=\"v\"")).collect();
    assert_eq!(
        parse(&format!("<r{attrs}/>")),
        Err(XmlError::LimitExceeded {
            limit: Limit::Attributes,
            max: 64
        })
    );
}

#[test]
fn inner_xml_is_self_contained_and_preserves_namespaces() {
    let root = parse(
        r#"<D:prop xmlns:D="DAV:" xmlns:Z="urn:z" xmlns="urn:default">
<Z:color Z:kind="a&quot;b">#FF0000</Z:color><plain>x &amp; y</plain><none xmlns="">n</none><D:href>/a</D:href><Z:e/></D:prop>"#,
    )
    .unwrap();
    let raw = root.inner_xml();
    assert_eq!(
        raw.as_str(),
        "\n<Z:color xmlns:Z=\"urn:z\" Z:kind=\"a&quot;b\">#FF0000</Z:color>\
         <plain xmlns=\"urn:default\">x &amp; y</plain><none>n</none>\
         <D:href xmlns:D=\"DAV:\">/a</D:href><Z:e xmlns:Z=\"urn:z\"/>"
    );
    // Re-parsed inside a root that declares nothing, it means the same thing.
    let again = RawXml::from_fragment(raw.as_str(), &Limits::DEFAULT).unwrap();
    assert_eq!(again, raw);
    let wrapped = parse(&format!("<w>{}</w>", raw.as_str())).unwrap();
    let original: Vec<_> = root.elements().map(|e| (&e.namespace, &e.name)).collect();
    let reparsed: Vec<_> = wrapped
        .elements()
        .map(|e| (&e.namespace, &e.name))
        .collect();
    assert_eq!(original, reparsed);
}

#[test]
fn nested_default_namespace_changes_are_written_back() {
    let root = parse(r#"<r xmlns="urn:a"><x><y xmlns="urn:b"><z xmlns=""/></y></x></r>"#).unwrap();
    assert_eq!(
        root.inner_xml().as_str(),
        "<x xmlns=\"urn:a\"><y xmlns=\"urn:b\"><z xmlns=\"\"/></y></x>"
    );
}

#[test]
fn stored_fragments_cannot_escape_their_wrapper() {
    for hostile in [
        "</davgate-fragment><evil/><davgate-fragment>",
        "<a>",
        "<?xml version=\"1.0\"?><a/>",
        "<!DOCTYPE x><a/>",
        "<p:a/>",
    ] {
        assert!(
            RawXml::from_fragment(hostile, &Limits::DEFAULT).is_err(),
            "{hostile:?}"
        );
    }
    let ok =
        RawXml::from_fragment("text &amp; <b xmlns=\"urn:b\">x</b>", &Limits::DEFAULT).unwrap();
    assert_eq!(ok.as_str(), "text &amp; <b xmlns=\"urn:b\">x</b>");
    assert_eq!(
        format!("{ok:?}"),
        "RawXml(\"text &amp; <b xmlns=\\\"urn:b\\\">x</b>\")"
    );
}
