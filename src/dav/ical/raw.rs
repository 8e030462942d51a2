//! The content-line skeleton of an iCalendar or vCard text: where each
//! logical line and each BEGIN/END block sits in the original bytes.
//!
//! calcard gives us typed values but not where they came from. Partial
//! retrieval and expansion must copy untouched properties byte for byte
//! (unknown X- properties, parameter order, folding), so we keep this
//! skeleton next to calcard's tree. It also enforces what calcard's lenient
//! parser lets through: every BEGIN has a matching END, and nothing trails
//! the object. Values are never interpreted here.

use std::ops::Range;

/// One object (VCALENDAR or VCARD) split into lines and components.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub lines: Vec<Line>,
    /// Components in BEGIN order; index 0 is the root. This is the order in
    /// which calcard numbers its components, which lets the two trees be
    /// zipped.
    pub comps: Vec<Comp>,
    /// The line ending the input uses, reused for lines we synthesise.
    pub newline: &'static str,
}

/// A logical content line, folded continuation lines included.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// Bytes of the line in the input, up to and including its line ending
    /// (absent only on a last line without one).
    pub span: Range<usize>,
    /// Property name, upper-cased, without group prefix.
    pub name: String,
    /// 1-based number of the first physical line, for error messages.
    pub number: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Comp {
    /// Component name, upper-cased.
    pub name: String,
    pub begin: usize,
    pub end: usize,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Prop(usize),
    Comp(usize),
}

/// A structural defect, with the physical line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub reason: String,
}

impl Document {
    /// Splits `text` into lines and nested components. `root` is the only
    /// top-level component allowed ("VCALENDAR" or "VCARD").
    pub fn parse(text: &str, root: &str) -> Result<Self, SyntaxError> {
        let lines = split_lines(text)?;
        let newline = match text.find('\n') {
            Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
            Some(_) => "\n",
            None => "\r\n",
        };
        let comps = nest(text, &lines, root)?;
        Ok(Self {
            lines,
            comps,
            newline,
        })
    }

    /// The line exactly as it was sent, terminated.
    pub fn text<'a>(&self, raw: &'a str, line: usize) -> std::borrow::Cow<'a, str> {
        let text = &raw[self.lines[line].span.clone()];
        if text.ends_with(['\n', '\r']) {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(format!("{text}{}", self.newline))
        }
    }

    /// Children of component `comp` that are components, in order.
    pub fn children(&self, comp: usize) -> impl Iterator<Item = usize> + '_ {
        self.comps[comp].items.iter().filter_map(|item| match item {
            Item::Comp(index) => Some(*index),
            Item::Prop(_) => None,
        })
    }
}

/// Removes folding (CRLF or LF followed by one space or tab).
pub(crate) fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                if matches!(chars.peek(), Some(' ' | '\t')) {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Byte offset of the colon that separates name and parameters from the
/// value, skipping colons inside quoted parameter values
/// (`ALTREP="http://…"`).
pub(crate) fn value_colon(unfolded: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, b) in unfolded.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Appends `line` (no line ending) folded at 75 octets, never inside a
/// UTF-8 sequence (RFC 5545 §3.1, RFC 6350 §3.2).
pub(crate) fn push_folded(out: &mut String, line: &str, newline: &str) {
    const LIMIT: usize = 75;
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > LIMIT {
            out.push_str(newline);
            out.push(' ');
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str(newline);
}

/// Physical lines grouped into logical lines.
fn split_lines(text: &str) -> Result<Vec<Line>, SyntaxError> {
    // (span, first physical line number) of each logical line.
    let mut logical: Vec<(Range<usize>, usize)> = Vec::new();
    let mut start = 0;
    let mut number = 0;
    while start < text.len() {
        number += 1;
        let end = line_end(text, start);
        let content = text[start..end].trim_end_matches(['\n', '\r']);
        let span = start..end;
        start = end;
        if content.trim().is_empty() {
            // Blank lines carry nothing; some exporters emit them (vCard
            // 2.1 base64 blocks, hand edits).
            continue;
        }
        let continues = logical.last().is_some_and(|(last, _)| {
            content.starts_with([' ', '\t']) || continues_encoded(&text[last.clone()], content)
        });
        match logical.last_mut() {
            Some((last, _)) if continues => last.end = span.end,
            _ => logical.push((span, number)),
        }
    }
    logical
        .into_iter()
        .map(|(span, number)| {
            let unfolded = unfold(&text[span.clone()]);
            let content = unfolded
                .trim_end_matches(['\n', '\r'])
                .trim_start_matches('\u{feff}');
            if value_colon(content).is_none() {
                return Err(SyntaxError {
                    line: number,
                    reason: format!("\"{}\" is not a content line (no ':')", shorten(content)),
                });
            }
            let head = content.split([':', ';']).next().unwrap_or_default();
            // vCard groups ("item1.EMAIL") are not part of the name.
            let name = head.rsplit_once('.').map_or(head, |(_, name)| name);
            if name.is_empty() {
                return Err(SyntaxError {
                    line: number,
                    reason: format!("\"{}\" has no property name", shorten(content)),
                });
            }
            Ok(Line {
                span,
                name: name.to_ascii_uppercase(),
                number,
            })
        })
        .collect()
}

/// End of the physical line starting at `start`, terminator included:
/// CRLF, LF, or a lone CR (classic Mac OS and Lotus Notes exports).
fn line_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    match text[start..].find(['\n', '\r']) {
        None => text.len(),
        Some(i) if bytes[start + i] == b'\r' && bytes.get(start + i + 1) == Some(&b'\n') => {
            start + i + 2
        }
        Some(i) => start + i + 1,
    }
}

/// vCard 2.1 continuations without leading whitespace: a quoted-printable
/// soft line break ("=" at the end), or base64 data lines.
fn continues_encoded(open: &str, next: &str) -> bool {
    match Encoding::of(&unfold(open)) {
        Encoding::QuotedPrintable => open.trim_end_matches(['\n', '\r']).ends_with('='),
        Encoding::Base64 => !next.contains(':'),
        Encoding::None => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    None,
    QuotedPrintable,
    Base64,
}

impl Encoding {
    fn of(line: &str) -> Self {
        let params = match value_colon(line) {
            Some(colon) => &line[..colon],
            None => line,
        }
        .to_ascii_uppercase();
        if params.contains("QUOTED-PRINTABLE") {
            Self::QuotedPrintable
        } else if params.contains("ENCODING=B") || params.contains(";BASE64") {
            Self::Base64
        } else {
            Self::None
        }
    }
}

/// Builds the component tree and checks BEGIN/END pairing.
fn nest(text: &str, lines: &[Line], root: &str) -> Result<Vec<Comp>, SyntaxError> {
    let mut comps: Vec<Comp> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut closed_root = false;
    for (index, line) in lines.iter().enumerate() {
        let is_marker = line.name == "BEGIN" || line.name == "END";
        if closed_root {
            return Err(SyntaxError {
                line: line.number,
                reason: format!("content after END:{root}"),
            });
        }
        if !is_marker {
            match stack.last() {
                Some(&open) => comps[open].items.push(Item::Prop(index)),
                None => {
                    return Err(SyntaxError {
                        line: line.number,
                        reason: format!("{} before BEGIN:{root}", line.name),
                    });
                }
            }
            continue;
        }
        let unfolded = unfold(&text[line.span.clone()]);
        let value = value_colon(&unfolded)
            .map(|colon| unfolded[colon + 1..].trim().to_ascii_uppercase())
            .unwrap_or_default();
        if value.is_empty() {
            return Err(SyntaxError {
                line: line.number,
                reason: format!("{} without a component name", line.name),
            });
        }
        if line.name == "BEGIN" {
            if stack.is_empty() && value != root {
                return Err(SyntaxError {
                    line: line.number,
                    reason: format!("expected BEGIN:{root}, found BEGIN:{value}"),
                });
            }
            let id = comps.len();
            if let Some(&open) = stack.last() {
                comps[open].items.push(Item::Comp(id));
            }
            comps.push(Comp {
                name: value,
                begin: index,
                end: index,
                items: Vec::new(),
            });
            stack.push(id);
            continue;
        }
        let Some(open) = stack.pop() else {
            return Err(SyntaxError {
                line: line.number,
                reason: format!("END:{value} without BEGIN"),
            });
        };
        if comps[open].name != value {
            return Err(SyntaxError {
                line: line.number,
                reason: format!("END:{value} closes BEGIN:{}", comps[open].name),
            });
        }
        comps[open].end = index;
        closed_root = stack.is_empty();
    }
    if let Some(&open) = stack.last() {
        return Err(SyntaxError {
            line: lines.last().map_or(0, |l| l.number),
            reason: format!("BEGIN:{} is never closed", comps[open].name),
        });
    }
    if comps.is_empty() {
        return Err(SyntaxError {
            line: 1,
            reason: format!("no BEGIN:{root}"),
        });
    }
    Ok(comps)
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nDESCRIPTION:a long\r\n  folded line\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn splits_components_in_begin_order() {
        let doc = Document::parse(SAMPLE, "VCALENDAR").unwrap();
        let names: Vec<_> = doc.comps.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["VCALENDAR", "VEVENT", "VALARM"]);
        assert_eq!(doc.newline, "\r\n");
        assert_eq!(doc.children(0).collect::<Vec<_>>(), [1]);
        let description = doc
            .lines
            .iter()
            .position(|l| l.name == "DESCRIPTION")
            .unwrap();
        assert_eq!(
            doc.text(SAMPLE, description),
            "DESCRIPTION:a long\r\n  folded line\r\n"
        );
        assert_eq!(
            unfold(&doc.text(SAMPLE, description)),
            "DESCRIPTION:a long folded line"
        );
    }

    #[test]
    fn rejects_bad_nesting() {
        let bad = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VTODO\nEND:VCALENDAR\n";
        let err = Document::parse(bad, "VCALENDAR").unwrap_err();
        assert_eq!(err.line, 3);
        assert_eq!(err.reason, "END:VTODO closes BEGIN:VEVENT");
        let unclosed = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VEVENT\n";
        assert!(
            Document::parse(unclosed, "VCALENDAR")
                .unwrap_err()
                .reason
                .contains("never closed")
        );
        let trailing = "BEGIN:VCALENDAR\nEND:VCALENDAR\nBEGIN:VCALENDAR\nEND:VCALENDAR\n";
        assert!(
            Document::parse(trailing, "VCALENDAR")
                .unwrap_err()
                .reason
                .contains("after END")
        );
        let wrong_root = "BEGIN:VCARD\nEND:VCARD\n";
        assert!(Document::parse(wrong_root, "VCALENDAR").is_err());
        let classic_mac = "BEGIN:VCALENDAR\rVERSION:2.0\rEND:VCALENDAR\r";
        assert_eq!(
            Document::parse(classic_mac, "VCALENDAR")
                .unwrap()
                .lines
                .len(),
            3
        );
        let folded_params =
            "BEGIN:VCALENDAR\nATTENDEE;CN=A;X-NUM-GUE\n STS=0:mailto:a@b\nEND:VCALENDAR\n";
        assert_eq!(
            Document::parse(folded_params, "VCALENDAR").unwrap().lines[1].name,
            "ATTENDEE"
        );
        let garbage = "BEGIN:VCALENDAR\nthis is not ical\nEND:VCALENDAR\n";
        assert!(
            Document::parse(garbage, "VCALENDAR")
                .unwrap_err()
                .reason
                .contains("not a content line")
        );
    }

    #[test]
    fn quoted_colons_and_groups() {
        assert_eq!(
            value_colon("ATTENDEE;DELEGATED-TO=\"mailto:a@b\":mailto:c@d"),
            Some(34)
        );
        let card = "BEGIN:VCARD\nitem1.EMAIL;type=INTERNET:a@b\nEND:VCARD";
        let doc = Document::parse(card, "VCARD").unwrap();
        assert_eq!(doc.lines[1].name, "EMAIL");
        assert_eq!(doc.newline, "\n");
        // The last line has no terminator; text() adds the file's own.
        assert_eq!(doc.text(card, 2), "END:VCARD\n");
    }

    #[test]
    fn vcard21_soft_breaks_and_bare_base64() {
        let card = "BEGIN:VCARD\r\nVERSION:2.1\r\nNOTE;ENCODING=QUOTED-PRINTABLE:one=0D=0A=\r\ntwo\r\nPHOTO;ENCODING=BASE64;TYPE=JPEG:AAAA\r\nBBBB\r\n\r\nEND:VCARD\r\n";
        let doc = Document::parse(card, "VCARD").unwrap();
        let names: Vec<_> = doc.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["BEGIN", "VERSION", "NOTE", "PHOTO", "END"]);
    }

    #[test]
    fn folding_respects_utf8() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(60));
        push_folded(&mut out, &long, "\r\n");
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(physical.len() <= 75, "{physical}");
        }
        assert_eq!(unfold(&out), long);
    }
}
