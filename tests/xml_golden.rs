//! Golden files (STYLE.md practice 9): request bodies with their expected parsed dump,
//! and response bodies produced by the writers. Both comparisons can fail; run with
//! `UPDATE_GOLDEN=1` to rewrite the expected files after a deliberate change, then
//! review the diff like code.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::golden::{check_text, check_xml, responses};
use davgate::proto::Limits;
use davgate::proto::request::{
    parse_mkcalendar, parse_mkcol, parse_propfind, parse_proppatch, parse_report,
};

const LIMITS: &Limits = &Limits::DEFAULT;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// `calendar-query-007` → `calendar-query`.
fn kind_of(stem: &str) -> &str {
    stem.rsplit_once('-').map_or(stem, |(kind, _)| kind)
}

fn dump(kind: &str, body: &[u8]) -> Result<String, String> {
    Ok(match kind {
        "propfind" => format!("{:#?}\n", parse_propfind(body, LIMITS)),
        "proppatch" => format!("{:#?}\n", parse_proppatch(body, LIMITS)),
        "mkcalendar" => format!("{:#?}\n", parse_mkcalendar(body, LIMITS)),
        "mkcol" => format!("{:#?}\n", parse_mkcol(body, LIMITS)),
        _ => {
            let report = parse_report(body, LIMITS);
            if let Ok(parsed) = &report {
                // A file named after a report must parse as that report.
                let name = parsed.name().name();
                if kind != name {
                    return Err(format!("named {kind} but parsed as {name}"));
                }
            }
            format!("{report:#?}\n")
        }
    })
}

#[test]
fn request_bodies_parse_to_their_expected_dumps() {
    let dir = golden_dir().join("requests");
    let mut failures = Vec::new();
    let mut bodies = 0;
    let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/golden/requests")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in &entries {
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        match ext {
            "xml" => {}
            // Every expected dump must still have its body, or it silently tests nothing.
            "expected" if !path.with_extension("xml").exists() => {
                failures.push(format!("{stem}.expected has no {stem}.xml"));
                continue;
            }
            _ => continue,
        }
        bodies += 1;
        let body = fs::read(path).expect("read body");
        match dump(kind_of(stem), &body) {
            Ok(text) => check_text(&path.with_extension("expected"), &text, &mut failures),
            Err(why) => failures.push(format!("{stem}: {why}")),
        }
    }
    assert!(
        bodies >= 50,
        "only {bodies} request bodies found in {}",
        dir.display()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn response_bodies_match_their_goldens() {
    let dir = golden_dir().join("responses");
    let mut failures = Vec::new();
    for case in responses::CASES {
        let path = dir.join(format!("{}.xml", case.number));
        check_xml(&path, &(case.builder)(), &mut failures);
    }
    // A golden without a case would never be compared again.
    for entry in fs::read_dir(&dir).expect("tests/golden/responses") {
        let name = entry
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let known = responses::CASES
            .iter()
            .any(|c| name == format!("{}.xml", c.number));
        if !known {
            failures.push(format!("responses/{name} has no case in tests/golden.rs"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
