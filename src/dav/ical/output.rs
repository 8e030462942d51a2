//! A component tree for writing calendar data back out: copied lines stay
//! byte for byte as the client sent them, synthesised lines are folded
//! and use the input's line ending.

use std::borrow::Cow;

use super::raw::{self, Document, Item};
use crate::proto::request::{self, Selection};

/// A component to write: BEGIN line, content in order, END line.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    pub name: String,
    pub begin: Cow<'a, str>,
    pub end: Cow<'a, str>,
    pub items: Vec<Piece<'a>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Piece<'a> {
    /// A property line: upper-case name, full text with line ending.
    Line {
        name: String,
        text: Cow<'a, str>,
    },
    Node(Node<'a>),
}

/// Which components and properties to return (RFC 4791 §9.6.1–9.6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompRequest {
    pub name: String,
    pub props: PropsRequest,
    pub comps: CompsRequest,
}

/// `CALDAV:allprop` or a list of `CALDAV:prop` (empty: no properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropsRequest {
    All,
    Only(Vec<PropRequest>),
}

/// `CALDAV:allcomp` or a list of `CALDAV:comp` (empty: no components).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompsRequest {
    All,
    Only(Vec<CompRequest>),
}

/// One `CALDAV:prop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropRequest {
    pub name: String,
    pub value: ValueMode,
}

/// The `novalue` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueMode {
    Full,
    /// `novalue="yes"`: name, parameters and a trailing colon only.
    Omit,
}

impl CompRequest {
    /// `<C:comp name=…><C:allprop/><C:allcomp/></C:comp>`.
    pub fn all(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            props: PropsRequest::All,
            comps: CompsRequest::All,
        }
    }

    /// A comp element listing properties and sub-components.
    pub fn only(name: impl Into<String>, props: &[&str], comps: Vec<CompRequest>) -> Self {
        Self {
            name: name.into(),
            props: PropsRequest::Only(
                props
                    .iter()
                    .map(|name| PropRequest {
                        name: (*name).to_owned(),
                        value: ValueMode::Full,
                    })
                    .collect(),
            ),
            comps: CompsRequest::Only(comps),
        }
    }
}

/// How a parsed `C:comp` selection is read: names compare without regard to case.
impl From<&request::CompSelection> for CompRequest {
    fn from(selection: &request::CompSelection) -> Self {
        CompRequest {
            name: selection.name.name().to_owned(),
            props: match &selection.props {
                Selection::All => PropsRequest::All,
                Selection::Only(props) => {
                    PropsRequest::Only(props.iter().map(PropRequest::from).collect())
                }
            },
            comps: match &selection.comps {
                Selection::All => CompsRequest::All,
                Selection::Only(comps) => {
                    CompsRequest::Only(comps.iter().map(CompRequest::from).collect())
                }
            },
        }
    }
}

/// A parsed `C:prop` or `CR:prop` selector (`novalue="yes"` omits the value).
impl From<&request::PropSelector> for PropRequest {
    fn from(selector: &request::PropSelector) -> Self {
        PropRequest {
            name: selector.name.to_ascii_uppercase(),
            value: if selector.novalue {
                ValueMode::Omit
            } else {
                ValueMode::Full
            },
        }
    }
}

impl<'a> Node<'a> {
    /// A verbatim copy of component `comp` of the skeleton.
    pub fn copy(doc: &Document, raw: &'a str, comp: usize) -> Self {
        let source = &doc.comps[comp];
        Self {
            name: source.name.clone(),
            begin: doc.text(raw, source.begin),
            end: doc.text(raw, source.end),
            items: source
                .items
                .iter()
                .map(|item| match *item {
                    Item::Prop(line) => Piece::Line {
                        name: doc.lines[line].name.clone(),
                        text: doc.text(raw, line),
                    },
                    Item::Comp(child) => Piece::Node(Self::copy(doc, raw, child)),
                })
                .collect(),
        }
    }

    /// The same component with only what `request` asks for; BEGIN and END
    /// are always kept.
    pub fn select(self, request: &CompRequest, newline: &str) -> Self {
        let items = self
            .items
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Line { name, text } => {
                    let mode = match &request.props {
                        PropsRequest::All => Some(ValueMode::Full),
                        PropsRequest::Only(props) => props
                            .iter()
                            .find(|prop| prop.name.eq_ignore_ascii_case(&name))
                            .map(|prop| prop.value),
                    }?;
                    let text = match mode {
                        ValueMode::Full => text,
                        ValueMode::Omit => Cow::Owned(without_value(&text, newline)),
                    };
                    Some(Piece::Line { name, text })
                }
                Piece::Node(node) => match &request.comps {
                    CompsRequest::All => Some(Piece::Node(node)),
                    CompsRequest::Only(comps) => comps
                        .iter()
                        .find(|comp| comp.name.eq_ignore_ascii_case(&node.name))
                        .map(|comp| Piece::Node(node.select(comp, newline))),
                },
            })
            .collect();
        Self { items, ..self }
    }

    pub fn write(&self, out: &mut String) {
        out.push_str(&self.begin);
        for piece in &self.items {
            match piece {
                Piece::Line { text, .. } => out.push_str(text),
                Piece::Node(node) => node.write(out),
            }
        }
        out.push_str(&self.end);
    }
}

/// A new property line, folded.
pub(crate) fn line(name: &str, params: &str, value: &str, newline: &str) -> Piece<'static> {
    let mut text = String::new();
    raw::push_folded(&mut text, &format!("{name}{params}:{value}"), newline);
    Piece::Line {
        name: name.to_owned(),
        text: Cow::Owned(text),
    }
}

/// `NAME;PARAMS:` of a line, for `novalue="yes"`.
fn without_value(text: &str, newline: &str) -> String {
    let unfolded = raw::unfold(text.trim_end_matches(['\r', '\n']));
    let head = match raw::value_colon(&unfolded) {
        Some(colon) => &unfolded[..=colon],
        None => unfolded.as_str(),
    };
    let mut out = String::new();
    raw::push_folded(&mut out, head, newline);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VEVENT\nUID:1\nSUMMARY:Lunch\nATTENDEE;CN=\"A: B\";PARTSTAT=ACCEPTED:mailto:a@example.com\nBEGIN:VALARM\nACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n";

    fn tree() -> (Document, Node<'static>) {
        let doc = Document::parse(TEXT, "VCALENDAR").unwrap();
        let node = Node::copy(&doc, TEXT, 0);
        (doc, node)
    }

    #[test]
    fn copy_is_verbatim() {
        let (_, node) = tree();
        let mut out = String::new();
        node.write(&mut out);
        assert_eq!(out, TEXT);
    }

    #[test]
    fn selection_keeps_only_requested_parts() {
        let (_, node) = tree();
        let request = CompRequest::only(
            "VCALENDAR",
            &["VERSION"],
            vec![CompRequest {
                name: "VEVENT".into(),
                props: PropsRequest::Only(vec![
                    PropRequest {
                        name: "UID".into(),
                        value: ValueMode::Full,
                    },
                    PropRequest {
                        name: "attendee".into(),
                        value: ValueMode::Omit,
                    },
                ]),
                comps: CompsRequest::Only(Vec::new()),
            }],
        );
        let mut out = String::new();
        node.select(&request, "\n").write(&mut out);
        assert_eq!(
            out,
            "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nATTENDEE;CN=\"A: B\";PARTSTAT=ACCEPTED:\nEND:VEVENT\nEND:VCALENDAR\n"
        );
    }

    #[test]
    fn allcomp_keeps_subcomponents() {
        let (_, node) = tree();
        let request = CompRequest::only(
            "VCALENDAR",
            &[],
            vec![CompRequest::only("VEVENT", &["UID"], Vec::new())],
        );
        let mut out = String::new();
        node.select(&request, "\n").write(&mut out);
        assert!(!out.contains("VALARM"));
        let request = CompRequest::only(
            "VCALENDAR",
            &[],
            vec![CompRequest {
                comps: CompsRequest::All,
                ..CompRequest::only("VEVENT", &["UID"], Vec::new())
            }],
        );
        let mut out = String::new();
        tree().1.select(&request, "\n").write(&mut out);
        assert!(out.contains("BEGIN:VALARM\nACTION:DISPLAY\nEND:VALARM\n"));
    }
}
