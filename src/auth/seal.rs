//! Sealing small secrets at rest (the TOTP secret) with a key derived from the server key.
//!
//! ChaCha20-Poly1305 from ring (already in the build through rustls); a random nonce is
//! stored in front of each sealed value. Whoever holds the database but not the data
//! directory's `server.key` cannot read the secrets.

use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Sha256;

/// A sealing key for one purpose.
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// Derives the key for `purpose` from the server key.
    pub fn new(server_key: &[u8; 32], purpose: &str) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(server_key).expect("HMAC takes any key length");
        mac.update(b"davgate seal v1: ");
        mac.update(purpose.as_bytes());
        let derived = mac.finalize().into_bytes();
        let key = UnboundKey::new(&CHACHA20_POLY1305, &derived).expect("32-byte key");
        Sealer {
            key: LessSafeKey::new(key),
        }
    }

    /// Seals `plain`: nonce followed by ciphertext and tag.
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
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a sealed value; `None` when it was sealed with another key or altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_the_wrong_key() {
        let sealer = Sealer::new(&[7; 32], "totp");
        let sealed = sealer.seal(b"secret");
        assert_ne!(&sealed[NONCE_LEN..], b"secret");
        assert_eq!(sealer.open(&sealed).as_deref(), Some(&b"secret"[..]));
        assert_eq!(Sealer::new(&[8; 32], "totp").open(&sealed), None);
        assert_eq!(Sealer::new(&[7; 32], "other").open(&sealed), None);
        assert_eq!(sealer.open(b"short"), None);
    }
}
