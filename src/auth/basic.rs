//! HTTP Basic credentials (RFC 7617) from the `Authorization` header.

use base64::Engine;
use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::error::AuthError;
use crate::secret::Secret;

/// Longest `Authorization` value looked at; real credentials are far shorter, and
/// decoding stays bounded whatever a client sends.
const MAX_HEADER: usize = 4096;

/// A user name and the password sent with it.
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    /// The user name, lowercased: names are compared without case (an account cannot be
    /// created that differs from another only by case), so `Alice` signs in as `alice`
    /// and every throttle score of the name is kept under one key.
    pub user: String,
    /// The password, account or app password alike.
    pub password: Secret<String>,
}

/// Reads Basic credentials; `Missing` when the header is absent or another scheme.
pub fn parse(headers: &HeaderMap) -> Result<BasicCredentials, AuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(AuthError::Missing);
    };
    let value = value.as_bytes();
    if value.len() > MAX_HEADER {
        return Err(AuthError::Malformed("the Authorization header is too long"));
    }
    let Some((scheme, encoded)) = split_scheme(value) else {
        return Err(AuthError::Malformed(
            "the Authorization header has no credentials",
        ));
    };
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err(AuthError::Missing);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(trim(encoded))
        .map_err(|_| AuthError::Malformed("the Basic credentials are not valid base64"))?;
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or(AuthError::Malformed(
            "the Basic credentials have no ':' between user and password",
        ))?;
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    let user = String::from_utf8(user.to_vec())
        .map_err(|_| AuthError::Malformed("the user name is not UTF-8"))?;
    let password = String::from_utf8(password.to_vec())
        .map_err(|_| AuthError::Malformed("the password is not UTF-8"))?;
    let user = user.to_lowercase();
    if user.is_empty() {
        return Err(AuthError::Malformed("the user name is empty"));
    }
    if password.is_empty() {
        return Err(AuthError::Malformed("the password is empty"));
    }
    Ok(BasicCredentials {
        user,
        password: Secret::new(password),
    })
}

fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let value = trim(value);
    let space = value.iter().position(|b| *b == b' ')?;
    Some((&value[..space], &value[space + 1..]))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(value: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        h
    }

    fn basic(raw: &[u8]) -> HeaderMap {
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        headers(format!("Basic {encoded}").as_bytes())
    }

    #[test]
    fn parses_user_and_password_with_colons() {
        let c = parse(&basic(b"alice:pa:ss word")).unwrap();
        assert_eq!(c.user, "alice");
        assert_eq!(c.password.expose(), "pa:ss word");
        assert!(
            !format!("{c:?}").contains("pa:ss"),
            "Debug must not show the password"
        );
    }

    #[test]
    fn refuses_malformed_headers_clearly() {
        assert!(matches!(parse(&HeaderMap::new()), Err(AuthError::Missing)));
        assert!(matches!(
            parse(&headers(b"Bearer abc")),
            Err(AuthError::Missing)
        ));
        for bad in [&b"Basic"[..], b"Basic !!!", b"Basic aGVsbG8="] {
            assert!(
                matches!(parse(&headers(bad)), Err(AuthError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse(&basic(b"\xff\xfe:pw")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            parse(&basic(b"alice:")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            parse(&basic(b":pw")),
            Err(AuthError::Malformed(_))
        ));
        let long = vec![b'A'; 10_000];
        let mut value = b"Basic ".to_vec();
        value.extend_from_slice(&long);
        assert!(matches!(
            parse(&headers(&value)),
            Err(AuthError::Malformed(_))
        ));
    }
}
