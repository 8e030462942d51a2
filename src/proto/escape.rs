//! XML escaping and the character classes reader and writers share: the one place
//! that decides which characters may appear literally in what davgate writes.
//!
//! A leaf: it imports nothing else from [`crate::proto`].

/// Where escaped text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Element content.
    Text,
    /// A double-quoted attribute value: newlines and tabs must survive attribute-value
    /// normalization (XML 1.0 §3.3.3), so they become character references too.
    Attribute,
}

/// The one escaping helper for text and attributes.
///
/// `&`, `<`, `>`, `"` and `'` become entities, so `]]>` can never close anything and
/// output needs no CDATA. `\r` becomes `&#13;`: a literal CR would be folded into `\n` by
/// every XML parser, and iCalendar/vCard lines end in CRLF. Characters XML 1.0 forbids
/// (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF) cannot be represented at all, so
/// they are replaced by U+FFFD.
///
/// Most text (names, etags, dates) needs nothing escaped and is copied in one go: a
/// folder listing escapes tens of thousands of values.
pub fn escape(text: &str, mode: Escape, out: &mut String) {
    let plain = match mode {
        Escape::Text => &PLAIN_IN_TEXT,
        Escape::Attribute => &PLAIN_IN_ATTRIBUTE,
    };
    if text.bytes().all(|b| plain[usize::from(b)]) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' if mode == Escape::Attribute => out.push_str("&#10;"),
            '\t' if mode == Escape::Attribute => out.push_str("&#9;"),
            c if is_forbidden(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// `text` escaped as element content, in a new string (for `format!` arguments).
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(text, Escape::Text, &mut out);
    out
}

/// Whether a byte is copied as is. `0xEF` starts U+FFFE and U+FFFF, so text holding it
/// takes the character-by-character path.
const fn is_plain(byte: u8, mode: Escape) -> bool {
    match byte {
        b'&' | b'<' | b'>' | b'"' | b'\'' | b'\r' | 0xEF => false,
        b'\n' | b'\t' => matches!(mode, Escape::Text),
        byte => byte >= 0x20,
    }
}

/// [`is_plain`] for every byte: one load per byte on the fast path, which a listing
/// takes for nearly every value it writes.
const fn plain_bytes(mode: Escape) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = is_plain(byte as u8, mode);
        byte += 1;
    }
    table
}

static PLAIN_IN_TEXT: [bool; 256] = plain_bytes(Escape::Text);
static PLAIN_IN_ATTRIBUTE: [bool; 256] = plain_bytes(Escape::Attribute);

/// Characters XML 1.0 §2.2 forbids anywhere in a document.
pub fn is_forbidden(c: char) -> bool {
    (u32::from(c) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// An XML name without a colon. ASCII follows the XML 1.0 rules exactly; non-ASCII
/// is accepted unless it is whitespace or a control character, which is looser than
/// the spec but can never produce markup when written back.
pub fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let other = |c: char| !c.is_ascii() && !c.is_whitespace() && !c.is_control();
    let first_ok = first.is_ascii_alphabetic() || first == '_' || other(first);
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') || other(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped_as(text: &str, mode: Escape) -> String {
        let mut out = String::new();
        escape(text, mode, &mut out);
        out
    }

    #[test]
    fn escapes_markup_and_cdata_terminators() {
        assert_eq!(
            escaped_as("<a href=\"x\">&amp;</a> ]]> 'q'", Escape::Text),
            "&lt;a href=&quot;x&quot;&gt;&amp;amp;&lt;/a&gt; ]]&gt; &apos;q&apos;"
        );
        assert_eq!(
            escaped("a<b>&\"c'\u{0}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}"
        );
    }

    #[test]
    fn keeps_crlf_and_replaces_forbidden_controls() {
        assert_eq!(
            escaped_as("BEGIN:VCALENDAR\r\nX:\u{0}\u{1b}\u{FFFF}ok\t", Escape::Text),
            "BEGIN:VCALENDAR&#13;\nX:\u{FFFD}\u{FFFD}\u{FFFD}ok\t"
        );
        assert_eq!(escaped_as("a\tb\nc", Escape::Attribute), "a&#9;b&#10;c");
        assert_eq!(escaped_as("\u{FFFE}", Escape::Text), "\u{FFFD}");
        // Non-ASCII passes through untouched, on both paths.
        assert_eq!(escaped_as("Grüße 🎉", Escape::Text), "Grüße 🎉");
        assert_eq!(
            escaped_as("Grüße & 🎉 \u{FEFF}", Escape::Text),
            "Grüße &amp; 🎉 \u{FEFF}"
        );
    }

    #[test]
    fn names() {
        assert!(is_ncname("getetag"));
        assert!(is_ncname("_x-1.a"));
        assert!(!is_ncname("1abc"));
        assert!(!is_ncname("a:b"));
        assert!(!is_ncname(""));
    }
}
