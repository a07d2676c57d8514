//! Well-formed but unsigned JSON Web Tokens, shaped like the ones Entra issues.
//!
//! Clients must not validate Graph access tokens (they are meant for Graph alone), but they may
//! decode the payload to read optional claims such as `pwd_exp`. So tokens here are
//! `base64url(header).base64url(payload).base64url("sig")`: decodable by any JWT library, and
//! obviously not signed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// Encodes `claims` as a compact JWT with an RS256-looking header and a placeholder signature.
pub fn encode(claims: &Map<String, Value>) -> String {
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": "emulator" });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string()),
        URL_SAFE_NO_PAD.encode("sig"),
    )
}

/// Decodes the payload of a compact JWT, or `None` if it is not well formed.
pub fn decode_payload(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A random identifier in GUID form (trace ids, token ids); not cryptographic.
pub fn random_guid() -> String {
    let a = fastrand::u32(..);
    let b = fastrand::u16(..);
    let c = fastrand::u16(..) & 0x0fff | 0x4000;
    let d = fastrand::u16(..) & 0x3fff | 0x8000;
    let e = fastrand::u64(..) & 0xffff_ffff_ffff;
    format!("{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}")
}

/// A random opaque token of `len` URL-safe characters (refresh tokens).
pub fn random_opaque(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut claims = Map::new();
        claims.insert("pwd_exp".into(), Value::String("3600".into()));
        let token = encode(&claims);
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(decode_payload(&token), Some(claims));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(decode_payload("abc"), None);
        assert_eq!(decode_payload("a.b.c.d"), None);
        assert_eq!(decode_payload("a.!!!.c"), None);
        let not_object = format!("a.{}.c", URL_SAFE_NO_PAD.encode("[1]"));
        assert_eq!(decode_payload(&not_object), None);
    }

    #[test]
    fn guid_shape() {
        let guid = random_guid();
        let lens: Vec<usize> = guid.split('-').map(str::len).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12]);
    }
}
