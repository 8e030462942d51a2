//! Loading corpus files and writing times the way the RFCs do.

use std::path::{Path, PathBuf};

use davgate::dav::ical::{self, CalendarObject, Instance, Options, TimeRange, Zone};

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[track_caller]
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[track_caller]
pub fn object(path: &str) -> CalendarObject {
    ical::validate(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[track_caller]
pub fn parse(text: &str) -> CalendarObject {
    ical::validate(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A VCALENDAR around `body`, with CRLF line endings.
pub fn calendar(body: &str) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davcal tests//EN\r\n");
    for line in body.lines() {
        text.push_str(line.trim_start());
        text.push_str("\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

#[track_caller]
pub fn utc(text: &str) -> i64 {
    ical::parse_utc(text).unwrap()
}

#[track_caller]
pub fn range(start: &str, end: &str) -> TimeRange {
    TimeRange::between(utc(start), utc(end)).unwrap()
}

pub fn floating(zone: &str) -> Options {
    Options {
        floating: Zone::named(zone).unwrap(),
        ..Options::default()
    }
}

/// Instance starts in a range, as UTC strings, for readable asserts.
#[track_caller]
pub fn starts(object: &CalendarObject, range: &TimeRange, options: &Options) -> Vec<String> {
    object
        .instances(range, options)
        .unwrap()
        .iter()
        .map(|i: &Instance| i.start.map_or_else(|| "-".to_owned(), ical::format_utc))
        .collect()
}

/// Every file under a data sub-directory with the given extension.
pub fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![data_dir().join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
