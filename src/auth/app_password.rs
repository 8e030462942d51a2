//! The app password format: a public id and a secret in characters every client accepts.
//!
//! `k7q2m9xa-3vd7hzp-qe4lw2n-b6yr5tc-jx2fm7k`: eight base32 characters of public id (so a
//! check needs one hash, not one per stored password, as Stalwart does it) and 28 of
//! secret, 140 bits. Lowercase letters and digits 2-7 only, in groups joined by
//! hyphens, no spaces: NAS and Apple password dialogs accept it, and it survives being
//! typed. Hyphens and case are ignored when it is checked.

/// RFC 4648 base32 alphabet, lowercase.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Length of the public id, in characters.
pub const ID_LEN: usize = 8;
/// Length of the secret, in characters (5 bits each: 140 bits).
pub const SECRET_LEN: usize = 28;

/// A newly generated app password.
pub struct Generated {
    /// The public id, stored in the clear.
    pub public_id: String,
    /// The secret, stored only as a hash.
    pub secret: String,
    /// What the user types: id and secret in hyphenated groups.
    pub display: String,
}

/// Generates a fresh app password.
pub fn generate() -> Generated {
    let public_id = random_chars(ID_LEN);
    let secret = random_chars(SECRET_LEN);
    let mut display = public_id.clone();
    for group in secret.as_bytes().chunks(7) {
        display.push('-');
        display.push_str(std::str::from_utf8(group).expect("base32 is ASCII"));
    }
    Generated {
        public_id,
        secret,
        display,
    }
}

/// Splits a password into public id and secret if it has the app password shape.
pub fn parse(password: &str) -> Option<(String, String)> {
    let compact: String = password
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if compact.len() != ID_LEN + SECRET_LEN || !compact.bytes().all(|b| ALPHABET.contains(&b)) {
        return None;
    }
    let (id, secret) = compact.split_at(ID_LEN);
    Some((id.to_owned(), secret.to_owned()))
}

fn random_chars(n: usize) -> String {
    (0..n)
        .map(|_| ALPHABET[(rand::random::<u8>() & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_parse_back_and_carry_no_spaces() {
        let g = generate();
        assert_eq!(g.display.len(), ID_LEN + SECRET_LEN + 4);
        assert!(
            g.display
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_eq!(
            parse(&g.display),
            Some((g.public_id.clone(), g.secret.clone()))
        );
        assert_eq!(
            parse(&g.display.to_uppercase()),
            Some((g.public_id.clone(), g.secret.clone()))
        );
        assert_eq!(
            parse(&g.display.replace('-', "")),
            Some((g.public_id, g.secret))
        );
        assert_ne!(generate().display, generate().display);
    }

    #[test]
    fn account_passwords_are_not_app_passwords() {
        for p in [
            "correct horse battery staple",
            "short",
            &"a".repeat(36).replace('a', "1"),
        ] {
            assert_eq!(parse(p), None, "{p}");
        }
    }
}
