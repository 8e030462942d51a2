//! Portal sessions as the browser holds them: a 256-bit random id in the cookie
//! `__Host-davgate`, of which the database keeps only a SHA-256 hash.
//!
//! The cookie is `HttpOnly`, `SameSite=Strict`, `Path=/` and `Secure` whenever the
//! browser reached us over TLS. Browsers refuse a `__Host-` cookie without `Secure`, so
//! over plain HTTP (loopback only, or a proxy that says it was plain) the same cookie is
//! called `davgate`. Every sign-in gets a new id, the second-factor step included.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_encoding::HEXLOWER;
use davgate_storage::{Account, NewSession, SessionStage, now_ms};
use http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

use super::error::PortalError;
use super::state::{Ctx, Portal, Session, SignedIn};
use crate::secret::Secret;

/// The cookie's name over TLS.
const SECURE_NAME: &str = "__Host-davgate";
/// The cookie's name over plain HTTP.
const PLAIN_NAME: &str = "davgate";

/// A freshly issued session: the cookie that carries its id.
pub(crate) struct Issued {
    pub cookie: HeaderValue,
}

impl Portal {
    /// The live session named by the request's cookie, with its account; `None` when
    /// there is none, it ended, or the account is gone or disabled.
    pub(crate) async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<SignedIn>, PortalError> {
        let Some(id) = cookie_id(headers) else {
            return Ok(None);
        };
        let now = now_ms();
        let limits = self.settings.limits();
        let Some(row) = self.store.session(&hash(&id), limits, now).await? else {
            return Ok(None);
        };
        let Some(account) = self.store.account(row.account).await? else {
            return Ok(None);
        };
        if account.disabled {
            return Ok(None);
        }
        // Writing on every page view would make every node's kept account rows stale
        // (each commit does); a minute's precision is plenty for the idle timeout.
        let every = (limits.idle_ms / 4).clamp(1, 60_000);
        if now - row.last_seen_ms >= every {
            self.store.touch_session(row.id, now).await?;
        }
        Ok(Some(SignedIn {
            session: Session { row },
            account,
        }))
    }

    /// Starts a session for `account` at `stage` and returns the cookie to set.
    pub(crate) async fn issue(
        &self,
        account: &Account,
        stage: SessionStage,
        ctx: &Ctx,
    ) -> Result<Issued, PortalError> {
        let id = Secret::new(random_token());
        let new = NewSession {
            id_hash: hash(id.expose()),
            account: account.id,
            stage,
            addr: ctx.client.addr.to_string(),
            agent: ctx.client.agent.clone(),
            csrf_token: random_token(),
        };
        self.store
            .create_session(new, self.settings.limits())
            .await?;
        let cookie = set_cookie(
            id.expose(),
            ctx.secure,
            self.settings.session_lifetime.as_secs(),
        );
        Ok(Issued { cookie })
    }
}

/// 256 random bits, URL-safe base64.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a session id.
fn hash(id: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(id.as_bytes()))
}

/// The session id in the request's cookies, if one of the right shape is there.
fn cookie_id(headers: &HeaderMap) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            if (name == SECURE_NAME || name == PLAIN_NAME)
                && value.len() == 43
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                // The secure cookie wins: a plain one could have been planted.
                if name == SECURE_NAME || found.is_none() {
                    found = Some(value.to_owned());
                }
            }
        }
    }
    found
}

/// `Set-Cookie` for a session id.
fn set_cookie(id: &str, secure: bool, max_age: u64) -> HeaderValue {
    let text = if secure {
        format!("{SECURE_NAME}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict; Secure")
    } else {
        format!("{PLAIN_NAME}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict")
    };
    // Invariant: the id is URL-safe base64, so the header is visible ASCII.
    HeaderValue::from_str(&text).expect("cookie is ASCII")
}

/// `Set-Cookie` that makes the browser forget its session.
pub(crate) fn clear_cookie(secure: bool) -> HeaderValue {
    HeaderValue::from_static(if secure {
        "__Host-davgate=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
    } else {
        "davgate=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_carries_a_256_bit_id_and_the_secure_one_wins() {
        let id = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&id).unwrap().len(), 32);
        let planted = random_token();
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; davgate={planted}; {SECURE_NAME}={id}")).unwrap(),
        );
        assert_eq!(cookie_id(&headers), Some(id.clone()));
        let mut odd = HeaderMap::new();
        odd.insert(header::COOKIE, HeaderValue::from_static("davgate=short"));
        assert_eq!(cookie_id(&odd), None);
        assert_ne!(hash(&id), id);
        let set = set_cookie(&id, true, 60);
        assert!(set.to_str().unwrap().starts_with("__Host-davgate="));
    }
}
