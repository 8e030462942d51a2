//! No input panics: every golden request body, truncated at every byte and mutated at
//! random, goes through every parser; random text and names go through the writer and
//! must come back as well-formed XML; random hrefs go through the decoder.

use std::fs;
use std::path::Path;

use davgate::proto::href::{decode_href, encode_path};
use davgate::proto::names::{DavProperty, Namespace, Property};
use davgate::proto::precondition::Precondition;
use davgate::proto::reader::parse_document;
use davgate::proto::request::{
    parse_mkcalendar, parse_mkcol, parse_propfind, parse_proppatch, parse_report,
};
use davgate::proto::response::{Multistatus, Response, Value, error_body};
use davgate::proto::status::Status;
use davgate::proto::{Limits, RawXml};

const LIMITS: &Limits = &Limits::DEFAULT;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn all_parsers(body: &[u8]) {
    let _ = parse_propfind(body, LIMITS);
    let _ = parse_proppatch(body, LIMITS);
    let _ = parse_mkcalendar(body, LIMITS);
    let _ = parse_mkcol(body, LIMITS);
    let _ = parse_report(body, LIMITS);
}

fn golden_bodies() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/requests");
    let mut bodies: Vec<Vec<u8>> = fs::read_dir(dir)
        .expect("golden requests")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .map(|p| fs::read(p).expect("read"))
        .collect();
    bodies.sort();
    bodies
}

#[test]
fn truncated_bodies_never_panic() {
    for body in golden_bodies() {
        for end in 0..body.len() {
            all_parsers(&body[..end]);
        }
    }
}

#[test]
fn mutated_bodies_never_panic() {
    let bodies = golden_bodies();
    let mut rng = Rng(0x5eed_da76_a7e0_0001);
    let specials = b"<>&;:\"'/=#x\x00\xff\xc3 ]!?-";
    for _ in 0..20_000 {
        let mut body = bodies[rng.below(bodies.len())].clone();
        if body.is_empty() {
            continue;
        }
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(body.len());
            match rng.below(3) {
                0 => body[at] = specials[rng.below(specials.len())],
                1 => {
                    body.remove(at);
                }
                _ => {
                    let from = rng.below(body.len());
                    let len = rng.below(40).min(body.len() - from);
                    let chunk = body[from..from + len].to_vec();
                    body.splice(at..at, chunk);
                }
            }
            if body.is_empty() {
                break;
            }
        }
        all_parsers(&body);
    }
}

fn random_text(rng: &mut Rng) -> String {
    let alphabet: Vec<char> =
        "aZ09 <>&\"']]>\r\n\t\u{0}\u{1}\u{1b}\u{7f}\u{85}\u{FFFE}\u{FFFF}é🎉%/:@"
            .chars()
            .collect();
    (0..rng.below(30))
        .map(|_| alphabet[rng.below(alphabet.len())])
        .collect()
}

#[test]
fn the_writer_always_produces_well_formed_xml() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let text = random_text(&mut rng);
        let dead = Property::Dead {
            namespace: Namespace::Other(random_text(&mut rng)),
            name: random_text(&mut rng),
        };
        let mut r = Response::new(&random_text(&mut rng));
        r.prop(
            Status::OK,
            &Property::Dav(DavProperty::DisplayName),
            Value::Text(&text),
        )
        .prop(Status::NOT_FOUND, &dead, Value::Text(&text))
        .description(&text);
        let mut ms = Multistatus::new();
        ms.push(r);
        let body = ms.finish(Some(&text));
        let parsed = parse_document(&body, LIMITS);
        assert!(
            parsed.is_ok(),
            "{parsed:?}\n{}",
            String::from_utf8_lossy(&body)
        );
        let error = error_body(&Precondition::ValidCalendarData, Some(&text));
        assert!(parse_document(&error, LIMITS).is_ok());
    }
}

#[test]
fn raw_fragments_from_storage_are_checked() {
    let mut rng = Rng(7);
    for _ in 0..5_000 {
        // Whatever storage hands back, a fragment is either refused or safe to splice.
        let fragment = random_text(&mut rng);
        if let Ok(raw) = RawXml::from_fragment(&fragment, LIMITS) {
            let wrapped = format!("<r>{}</r>", raw.as_str());
            assert!(
                parse_document(wrapped.as_bytes(), LIMITS).is_ok(),
                "{fragment:?}"
            );
        }
    }
}

#[test]
fn hrefs_never_panic_and_paths_round_trip() {
    let mut rng = Rng(99);
    for _ in 0..20_000 {
        let href = random_text(&mut rng);
        if let Ok(path) = decode_href(&href, "/dav/base/") {
            assert!(path.starts_with('/'), "{href:?} -> {path:?}");
            assert!(!path.contains("//"), "{href:?} -> {path:?}");
            // A decoded path encodes to an href that decodes to itself.
            assert_eq!(
                decode_href(&encode_path(&path), "/").as_deref(),
                Ok(path.as_str())
            );
        }
    }
}
