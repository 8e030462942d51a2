//! Time-based one-time passwords (RFC 6238): 30-second steps, 6 digits, HMAC-SHA1, and
//! the `otpauth://` URI authenticator apps scan from a QR code.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per time step.
pub const STEP: i64 = 30;
/// Steps of clock skew accepted either side of now.
pub const SKEW: i64 = 1;
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;

/// A fresh random secret.
pub fn new_secret() -> [u8; SECRET_LEN] {
    rand::random()
}

/// The code for time step `step`.
pub fn code(secret: &[u8], step: i64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // RFC 4226 §5.3, dynamic truncation.
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

/// The time step a code matches, within the skew window around `now_secs`, if any.
/// The caller still has to refuse steps already used (replays).
pub fn matching_step(secret: &[u8], candidate: &str, now_secs: i64) -> Option<i64> {
    let candidate = candidate.trim().replace(' ', "");
    if candidate.len() != 6 || !candidate.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = now_secs.div_euclid(STEP);
    // Check every step in constant time so the answer's timing says nothing.
    let mut found = None;
    for step in now - SKEW..=now + SKEW {
        if bool::from(code(secret, step).as_bytes().ct_eq(candidate.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI for authenticator apps.
pub fn uri(secret: &[u8], account: &str) -> String {
    let issuer = "davgate";
    let label = format!("{issuer}:{account}");
    let label = percent_encoding::utf8_percent_encode(&label, percent_encoding::NON_ALPHANUMERIC);
    format!(
        "otpauth://totp/{label}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period={STEP}",
        BASE32_NOPAD.encode(secret)
    )
}

/// A QR code of `text`, drawn with Unicode half blocks for a terminal.
pub fn qr_for_terminal(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(_) => String::from("(the URI is too long for a QR code; type the secret instead)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8-digit values; we use the last 6 digits).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code(secret, time / STEP), expected[2..], "t={time}");
        }
    }

    #[test]
    fn accepts_one_step_of_skew_either_way() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = now / STEP;
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let c = code(secret, step + offset);
            assert_eq!(
                matching_step(secret, &c, now).is_some(),
                accepted,
                "offset {offset}"
            );
        }
        assert_eq!(matching_step(secret, "12345", now), None);
        assert_eq!(matching_step(secret, "abcdef", now), None);
    }

    #[test]
    fn uri_and_base32() {
        // RFC 4648 §10 vectors, unpadded and uppercase: the form authenticator apps read.
        for (bytes, text) in [
            (&b"f"[..], "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(BASE32_NOPAD.encode(bytes), text);
        }
        let uri = uri(b"12345678901234567890", "alice");
        assert!(
            uri.starts_with(
                "otpauth://totp/davgate%3Aalice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            ),
            "{uri}"
        );
        assert!(qr_for_terminal(&uri).contains('█'));
    }
}
