//! Sealing small secrets at rest (the TOTP secret) with a key derived from the server key.
//!
//! ChaCha20-Poly1305 from ring (already in the build through rustls). The key for each
//! purpose comes from the server key by HKDF-SHA256 (RFC 5869) with the purpose as its
//! info. A sealed value is a version byte, a random nonce, then ciphertext and tag.
//! Whoever holds the database but not the data directory's `server.key` cannot read the
//! secrets.
//!
//! Values sealed before HKDF (no version byte, key = HMAC-SHA256 of a fixed label and
//! the purpose) still open, so an installation's enrolled second factors keep working;
//! new values are always sealed the current way.

use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use sha2::Sha256;

/// First byte of a value sealed with the HKDF-derived key.
const VERSION_HKDF: u8 = 2;
/// HKDF salt: keeps these keys apart from anything else derived from the server key.
const HKDF_SALT: &[u8] = b"davgate seal";

/// A sealing key for one purpose.
pub struct Sealer {
    key: LessSafeKey,
    /// The key values sealed before HKDF were sealed with; only ever opens.
    legacy: LessSafeKey,
}

impl Sealer {
    /// Derives the keys for `purpose` from the server key.
    pub fn new(server_key: &[u8; 32], purpose: &str) -> Self {
        let info = [purpose.as_bytes()];
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(server_key);
        let okm = prk
            .expand(&info, &CHACHA20_POLY1305)
            // Invariant: a 32-byte key is far below HKDF-SHA256's 8160-byte output limit.
            .expect("HKDF output of one AEAD key");
        Sealer {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            legacy: legacy_key(server_key, purpose),
        }
    }

    /// Seals `plain`: version byte, nonce, then ciphertext and tag.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::empty(),
                &mut sealed,
            )
            .expect("sealing a short value cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION_HKDF);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a sealed value, current or legacy; `None` when it was sealed with another
    /// key or altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if let Some((&VERSION_HKDF, current)) = sealed.split_first()
            && let Some(plain) = open_with(&self.key, current)
        {
            return Some(plain);
        }
        // A legacy value starts with its random nonce, whose first byte may equal the
        // version byte: the tag check, not the first byte, tells the two apart.
        open_with(&self.legacy, sealed)
    }
}

/// The key of the first sealing format: HMAC-SHA256(server key, label ‖ purpose).
fn legacy_key(server_key: &[u8; 32], purpose: &str) -> LessSafeKey {
    let mut mac = Hmac::<Sha256>::new_from_slice(server_key).expect("HMAC takes any key length");
    mac.update(b"davgate seal v1: ");
    mac.update(purpose.as_bytes());
    let derived = mac.finalize().into_bytes();
    // Invariant: HMAC-SHA256 output is 32 bytes, ChaCha20-Poly1305's key length.
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &derived).expect("32-byte key"))
}

/// Opens nonce ‖ ciphertext ‖ tag with `key`.
fn open_with(key: &LessSafeKey, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::empty(), &mut body).ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use data_encoding::HEXLOWER;

    use super::*;

    #[test]
    fn round_trips_and_detects_the_wrong_key() {
        let sealer = Sealer::new(&[7; 32], "totp");
        let sealed = sealer.seal(b"secret");
        assert_eq!(sealed[0], VERSION_HKDF);
        assert_ne!(&sealed[1 + NONCE_LEN..], b"secret");
        assert_eq!(sealer.open(&sealed).as_deref(), Some(&b"secret"[..]));
        assert_eq!(Sealer::new(&[8; 32], "totp").open(&sealed), None);
        assert_eq!(Sealer::new(&[7; 32], "other").open(&sealed), None);
        assert_eq!(sealer.open(b"short"), None);
        assert_eq!(sealer.open(&[]), None);
    }

    #[test]
    fn a_value_sealed_before_hkdf_still_opens() {
        // Sealed by the previous release (HMAC-derived key, no version byte), server key
        // [7; 32], purpose "totp secret", nonce [1; 12].
        let legacy = HEXLOWER
            .decode(
                b"010101010101010101010101ee4d6649a1bcc2afa62792e799b7846f87337818a067c46d\
                  345a56c70bdeb119e869948a",
            )
            .unwrap();
        let sealer = Sealer::new(&[7; 32], "totp secret");
        assert_eq!(
            sealer.open(&legacy).as_deref(),
            Some(&b"12345678901234567890"[..])
        );
        assert_eq!(Sealer::new(&[8; 32], "totp secret").open(&legacy), None);
        // New values no longer use the legacy key.
        let fresh = sealer.seal(b"12345678901234567890");
        assert_eq!(open_with(&sealer.legacy, &fresh[1..]), None);
    }

    #[test]
    fn a_legacy_value_whose_nonce_starts_like_the_version_still_opens() {
        let sealer = Sealer::new(&[7; 32], "totp secret");
        let mut nonce = [9u8; NONCE_LEN];
        nonce[0] = VERSION_HKDF;
        let mut body = b"secret".to_vec();
        sealer
            .legacy
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body)
            .unwrap();
        let legacy = [&nonce[..], &body].concat();
        assert_eq!(sealer.open(&legacy).as_deref(), Some(&b"secret"[..]));
    }
}
