//! Comparison helpers for the golden tests: exact text with a line diff, and XML
//! compared token by token with a readable diff of pretty-printed forms.

pub mod responses;
pub mod transcript;

use std::fs;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Whether this run rewrites goldens instead of comparing against them.
fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the file exactly (or writes it under `UPDATE_GOLDEN=1`).
pub fn check_text(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if updating() {
        fs::write(path, actual).expect("write golden");
        return;
    }
    match fs::read_to_string(path) {
        Err(_) => failures.push(format!(
            "{} is missing; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )),
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{} differs (- expected, + actual):\n{}",
            path.display(),
            line_diff(&expected, actual)
        )),
    }
}

/// Compares XML token by token: element names with their prefixes, attributes (in any
/// order), and text exactly; whitespace-only text between tags is not significant, so
/// the golden file can be pretty-printed for review.
pub fn check_xml(path: &Path, actual: &[u8], failures: &mut Vec<String>) {
    let Ok(actual) = std::str::from_utf8(actual) else {
        failures.push(format!("{}: the writer produced non-UTF-8", path.display()));
        return;
    };
    let actual_tokens = match tokens(actual) {
        Ok(tokens) => tokens,
        Err(e) => {
            failures.push(format!(
                "{}: the writer produced malformed XML: {e}\n{actual}",
                path.display()
            ));
            return;
        }
    };
    if updating() {
        fs::write(path, pretty(actual)).expect("write golden");
        return;
    }
    let expected = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(_) => {
            failures.push(format!(
                "{} is missing; run with UPDATE_GOLDEN=1 to create it",
                path.display()
            ));
            return;
        }
    };
    let expected_tokens = match tokens(&expected) {
        Ok(tokens) => tokens,
        Err(e) => {
            failures.push(format!(
                "{}: the golden file is malformed: {e}",
                path.display()
            ));
            return;
        }
    };
    if expected_tokens == actual_tokens {
        return;
    }
    let first = expected_tokens
        .iter()
        .zip(&actual_tokens)
        .position(|(e, a)| e != a)
        .unwrap_or(expected_tokens.len().min(actual_tokens.len()));
    failures.push(format!(
        "{} differs at token {first}: expected {:?}, got {:?}\n(- expected, + actual):\n{}",
        path.display(),
        expected_tokens.get(first),
        actual_tokens.get(first),
        line_diff(&pretty(&expected), &pretty(actual))
    ));
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Declaration(String),
    Start(String, Vec<(String, String)>),
    End(String),
    Text(String),
}

fn tokens(xml: &str) -> Result<Vec<Token>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("byte {}: {e}", reader.error_position()))?;
        match &event {
            Event::Text(t) => {
                text.push_str(&t.xml10_content());
                continue;
            }
            Event::CData(t) => {
                text.push_str(&t.xml10_content());
                continue;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c,
                    None => match &**r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(format!("unknown entity &{other};")),
                    },
                };
                text.push(c);
                continue;
            }
            _ => {}
        }
        if !text.trim().is_empty() {
            out.push(Token::Text(std::mem::take(&mut text)));
        }
        text.clear();
        match event {
            Event::Decl(d) => out.push(Token::Declaration(d.to_string())),
            Event::Start(s) => out.push(start(&s)?),
            Event::Empty(s) => {
                out.push(start(&s)?);
                out.push(Token::End(s.name().0.to_owned()));
            }
            Event::End(e) => out.push(Token::End(e.name().0.to_owned())),
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

fn start(s: &quick_xml::events::BytesStart<'_>) -> Result<Token, String> {
    let mut attributes = Vec::new();
    for attribute in s.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        attributes.push((attribute.key.0.to_owned(), value.into_owned()));
    }
    attributes.sort();
    Ok(Token::Start(s.name().0.to_owned(), attributes))
}

/// What `pretty` wrote last, which decides whether the next tag starts a line.
#[derive(PartialEq)]
enum Last {
    Nothing,
    Open,
    Close,
    Text,
}

/// Indents tags that are not next to text; text is left exactly as written.
pub fn pretty(xml: &str) -> String {
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut depth = 0usize;
    let mut last = Last::Nothing;
    let indent = |out: &mut String, depth: usize| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&"  ".repeat(depth));
    };
    // Text and references between two tags, written as one piece (or dropped when it
    // is only whitespace), exactly as `tokens` merges them.
    let mut pending = String::new();
    loop {
        let Ok(event) = reader.read_event() else {
            return xml.to_owned();
        };
        match &event {
            Event::Text(t) => {
                pending.push_str(t);
                continue;
            }
            Event::GeneralRef(r) => {
                pending.push('&');
                pending.push_str(r);
                pending.push(';');
                continue;
            }
            _ => {}
        }
        if !pending.trim().is_empty() {
            out.push_str(&pending);
            last = Last::Text;
        }
        pending.clear();
        match event {
            Event::Decl(d) => {
                out.push_str("<?");
                out.push_str(&d);
                out.push_str("?>");
            }
            Event::Start(s) => {
                if last != Last::Text {
                    indent(&mut out, depth);
                }
                out.push('<');
                out.push_str(&s);
                out.push('>');
                depth += 1;
                last = Last::Open;
            }
            Event::Empty(s) => {
                if last != Last::Text {
                    indent(&mut out, depth);
                }
                out.push('<');
                out.push_str(&s);
                out.push_str("/>");
                last = Last::Close;
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                if last == Last::Close {
                    indent(&mut out, depth);
                }
                out.push_str("</");
                out.push_str(&e);
                out.push('>');
                last = Last::Close;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out.push('\n');
    out
}

/// A line diff (longest common subsequence), unchanged runs shortened to two lines of
/// context.
fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            lines.push(('-', a[i]));
            i += 1;
        } else {
            lines.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        let from = k.saturating_sub(2);
        let to = (k + 3).min(lines.len());
        lines[from..to].iter().any(|(mark, _)| *mark != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (mark, line)) in lines.iter().enumerate() {
        if *mark == ' ' && !near_change(k) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push_str("  ...\n");
            skipped = false;
        }
        out.push(*mark);
        out.push(' ');
        out.push_str(line);
        out.push('\n');
    }
    out
}
