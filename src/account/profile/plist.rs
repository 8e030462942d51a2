//! A small XML property list writer: the few value kinds a configuration profile needs,
//! written with every string escaped. Our own rather than the `plist` crate: a profile
//! is a handful of strings, integers and booleans, and writing them is shorter than the
//! dependency (with its date, binary-format and serde machinery) is to audit.

/// A property list value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<string>`.
    String(String),
    /// `<integer>`.
    Integer(i64),
    /// `<true/>` or `<false/>`.
    Bool(bool),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<dict>`, keys in the order given.
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// A `<dict>` from `(key, value)` pairs, in this order.
    pub fn dict<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Dict(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

/// The whole document: XML declaration, Apple's DOCTYPE and `<plist>` around `root`.
pub fn document(root: &Value) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n",
    );
    write_value(&mut out, root, 0);
    out.push_str("</plist>\n");
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    indent(out, depth);
    match value {
        Value::String(s) => {
            out.push_str("<string>");
            escape_into(out, s);
            out.push_str("</string>\n");
        }
        Value::Integer(n) => out.push_str(&format!("<integer>{n}</integer>\n")),
        Value::Bool(true) => out.push_str("<true/>\n"),
        Value::Bool(false) => out.push_str("<false/>\n"),
        Value::Array(items) => {
            out.push_str("<array>\n");
            for item in items {
                write_value(out, item, depth + 1);
            }
            indent(out, depth);
            out.push_str("</array>\n");
        }
        Value::Dict(entries) => {
            out.push_str("<dict>\n");
            for (key, item) in entries {
                indent(out, depth + 1);
                out.push_str("<key>");
                escape_into(out, key);
                out.push_str("</key>\n");
                write_value(out, item, depth + 1);
            }
            indent(out, depth);
            out.push_str("</dict>\n");
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push('\t');
    }
}

/// Escapes text content. Characters XML 1.0 cannot carry at all (most controls) are
/// dropped rather than written as references a parser would refuse.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_strings_is_escaped() {
        let doc = document(&Value::dict([(
            "PayloadDisplayName",
            "Tom & Jerry's <iPhone> > </string>".into(),
        )]));
        assert!(
            doc.contains("<string>Tom &amp; Jerry's &lt;iPhone&gt; &gt; &lt;/string&gt;</string>"),
            "{doc}"
        );
        assert_eq!(doc.matches("<string>").count(), 1);
    }

    #[test]
    fn control_characters_are_dropped() {
        let doc = document(&Value::String("a\u{0}b\u{1b}c\td".into()));
        assert!(doc.contains("<string>abc\td</string>"), "{doc}");
    }

    #[test]
    fn writes_every_kind_nested() {
        let doc = document(&Value::dict([
            (
                "A",
                Value::Array(vec![Value::Integer(443), Value::Bool(true)]),
            ),
            ("B", Value::Bool(false)),
        ]));
        let expected = "<plist version=\"1.0\">\n<dict>\n\t<key>A</key>\n\t<array>\n\
                        \t\t<integer>443</integer>\n\t\t<true/>\n\t</array>\n\
                        \t<key>B</key>\n\t<false/>\n</dict>\n</plist>\n";
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist"));
        assert!(doc.ends_with(expected), "{doc}");
    }
}
