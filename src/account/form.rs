//! Form bodies (`application/x-www-form-urlencoded`), read with a bound: the portal's
//! forms are a few fields, so anything past 16 KiB is refused unread.

use std::collections::HashMap;

use bytes::Bytes;
use http_body::Body as HttpBody;
use http_body_util::{BodyExt, Limited};

use super::error::PortalError;

/// Largest form body accepted.
const MAX_FORM: usize = 16 * 1024;

/// The fields of a submitted form; a repeated name keeps every value.
#[derive(Debug, Default)]
pub(crate) struct Form {
    fields: HashMap<String, Vec<String>>,
}

impl Form {
    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The first value of `name`, or "".
    pub(crate) fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Whether a checkbox `name` was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every value of `name`.
    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.fields.get(name).map_or(&[], Vec::as_slice)
    }
}

/// Reads and parses a form body.
pub(super) async fn read<B>(body: B) -> Result<Form, PortalError>
where
    B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let bytes = Limited::new(body, MAX_FORM)
        .collect()
        .await
        .map_err(|_| PortalError::BadForm("the form is too large or was cut off".into()))?
        .to_bytes();
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Result<Form, PortalError> {
    let mut form = Form::default();
    for pair in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        form.fields
            .entry(decode(name)?)
            .or_default()
            .push(decode(value)?);
    }
    Ok(form)
}

fn decode(raw: &[u8]) -> Result<String, PortalError> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| PortalError::BadForm("the form is not UTF-8 text".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_decode_plus_and_percent_and_keep_repeats() {
        let form =
            parse(b"name=rclone+on+the+VPS&scope=files&scope=contacts&x=%C3%A9%26&flag").unwrap();
        assert_eq!(form.text("name"), "rclone on the VPS");
        assert_eq!(form.all("scope"), ["files", "contacts"]);
        assert_eq!(form.text("x"), "é&");
        assert!(form.checked("flag") && !form.checked("other"));
        assert!(parse(b"a=%FF").is_err());
    }
}
