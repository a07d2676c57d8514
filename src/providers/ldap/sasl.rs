//! The SASL GSSAPI bind (RFC 4752) as bytes: the BindRequests the relay sends before ldap3 gets
//! the connection (built by hand, as the StartTLS request is), the BindResponses read back
//! through the framing guard, the 4-byte security-layer negotiation, the SASL buffers of a
//! sealed connection (a 4-byte big-endian length and a wrapped token, bounded in size), and the
//! TLS channel binding `tls-server-end-point` (RFC 5929) that ties the bind to the certificate.
//!
//! Pure: bytes in, bytes or a reason out. The exchange itself is driven by [`super::relay`].

use ring::digest;

use super::bounded::{self, Violation};

/// The SASL mechanism name.
const MECHANISM: &[u8] = b"GSSAPI";
/// The bind result that asks for the next token.
pub const SASL_BIND_IN_PROGRESS: u32 = 14;
/// Largest SASL buffer accepted from the server, the length prefix excluded: one LDAP message
/// at the guard's limit and the wrapping's overhead. Announced to the server in the negotiation.
pub const MAX_INCOMING: usize = bounded::LIMITS.message + 4096;
/// Largest piece of LDAP put into one outgoing buffer (requests are far smaller).
const MAX_OUTGOING: usize = 64 * 1024;

/// A SASL bind request `id` with the mechanism GSSAPI and `credentials` (present, maybe empty,
/// as RFC 4752 wants for the step after the context is established).
pub fn bind_request(id: u8, credentials: &[u8]) -> Vec<u8> {
    let sasl = [tlv(0x04, MECHANISM), tlv(0x04, credentials)].concat();
    let bind = [tlv(0x02, &[3]), tlv(0x04, b""), tlv(0xa3, &sasl)].concat();
    tlv(0x30, &[tlv(0x02, &[id]), tlv(0x60, &bind)].concat())
}

/// One BER element with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// What a BindResponse said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindResponse {
    pub code: u32,
    pub text: String,
    /// `serverSaslCreds`, when present.
    pub credentials: Option<Vec<u8>>,
}

/// Reads the BindResponse to request `id` out of a message the guard has checked.
pub fn bind_response(message: &[u8], id: u8) -> Result<BindResponse, Violation> {
    let malformed = Violation::Malformed("its answer to the Kerberos bind is no bind response");
    let (0x30, body, _) = bounded::element(message).ok_or(malformed.clone())? else {
        return Err(malformed);
    };
    let Some((0x02, [got], rest)) = bounded::element(body) else {
        return Err(malformed);
    };
    if *got != id {
        return Err(Violation::Malformed(
            "its answer to the Kerberos bind has another message id",
        ));
    }
    let Some((0x61, op, _)) = bounded::element(rest) else {
        return Err(malformed);
    };
    let Some((0x0a, code, rest)) = bounded::element(op) else {
        return Err(malformed);
    };
    let Some((0x04, _matched, rest)) = bounded::element(rest) else {
        return Err(malformed);
    };
    let Some((0x04, text, mut rest)) = bounded::element(rest) else {
        return Err(malformed);
    };
    if code.is_empty() || code.len() > 4 {
        return Err(malformed);
    }
    let code = code.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    let mut credentials = None;
    while let Some((tag, content, after)) = bounded::element(rest) {
        if tag == 0x87 {
            credentials = Some(content.to_vec());
        }
        rest = after;
    }
    Ok(BindResponse {
        code,
        text: String::from_utf8_lossy(text).into_owned(),
        credentials,
    })
}

/// A SASL security layer (RFC 4752 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    None = 1,
    Integrity = 2,
    Confidentiality = 4,
}

/// The layer to take from the server's offer (its unwrapped 4 bytes), and the server's largest
/// buffer. Over TLS none (Active Directory refuses one there); over plain LDAP confidentiality,
/// else integrity, never none: the answers must be the server's.
pub fn choose_layer(offer: &[u8], over_tls: bool) -> Result<(Layer, usize), &'static str> {
    let [layers, size @ ..] = offer else {
        return Err("its security-layer offer is not 4 bytes");
    };
    if size.len() != 3 {
        return Err("its security-layer offer is not 4 bytes");
    }
    let max = size
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    let has = |layer: Layer| layers & layer as u8 != 0;
    let layer = if over_tls {
        has(Layer::None).then_some(Layer::None).ok_or(
            "it insists on a Kerberos security layer over TLS, which Active Directory refuses",
        )?
    } else if has(Layer::Confidentiality) {
        Layer::Confidentiality
    } else if has(Layer::Integrity) {
        Layer::Integrity
    } else {
        return Err("it offers no Kerberos protection for plain LDAP; use ldaps:// or StartTLS");
    };
    if layer != Layer::None && max < 1024 {
        return Err("its largest SASL buffer is too small");
    }
    Ok((layer, max))
}

/// The client's answer to the offer: the chosen layer and the largest buffer it takes (none
/// without a layer), no authorization identity.
pub fn layer_answer(layer: Layer) -> [u8; 4] {
    let max = if layer == Layer::None {
        0
    } else {
        MAX_INCOMING
    };
    let [_, a, b, c] = (max as u32).to_be_bytes();
    [layer as u8, a, b, c]
}

/// How much LDAP goes into one outgoing buffer to a server whose largest buffer is `server_max`
/// (room is left for the wrapping).
pub fn outgoing_piece(server_max: usize) -> usize {
    server_max.min(MAX_OUTGOING).saturating_sub(512).max(256)
}

/// One SASL buffer: the length and the wrapped token.
pub fn frame(token: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + token.len());
    out.extend_from_slice(&(token.len() as u32).to_be_bytes());
    out.extend_from_slice(token);
    out
}

/// Cuts SASL buffers out of the server's byte stream.
#[derive(Debug, Default)]
pub struct Buffers {
    pending: Vec<u8>,
}

impl Buffers {
    /// Adds bytes; refuses a buffer announced larger than [`MAX_INCOMING`] before reading it.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        self.pending.extend_from_slice(bytes);
        self.announced().map(drop)
    }

    fn announced(&self) -> Result<Option<usize>, Violation> {
        let Some(head) = self.pending.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_INCOMING {
            return Err(Violation::TooLarge {
                announced: len as u64,
                limit: MAX_INCOMING,
            });
        }
        Ok(Some(len))
    }

    /// The next whole wrapped token.
    pub fn next_token(&mut self) -> Result<Option<Vec<u8>>, Violation> {
        let Some(len) = self.announced()? else {
            return Ok(None);
        };
        if self.pending.len() < 4 + len {
            return Ok(None);
        }
        let rest = self.pending.split_off(4 + len);
        let mut token = std::mem::replace(&mut self.pending, rest);
        token.drain(..4);
        Ok(Some(token))
    }
}

/// RFC 5929 `tls-server-end-point`: the server certificate's hash, with the hash of its
/// signature algorithm (SHA-256 for MD5, SHA-1 and anything not named).
pub fn tls_server_end_point(certificate: &[u8]) -> Vec<u8> {
    const SHA384: [&[u8]; 2] = [
        b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c",
        b"\x2a\x86\x48\xce\x3d\x04\x03\x03",
    ];
    const SHA512: [&[u8]; 2] = [
        b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d",
        b"\x2a\x86\x48\xce\x3d\x04\x03\x04",
    ];
    let oid = signature_algorithm(certificate).unwrap_or_default();
    let algorithm = if SHA384.contains(&oid) {
        &digest::SHA384
    } else if SHA512.contains(&oid) {
        &digest::SHA512
    } else {
        &digest::SHA256
    };
    let hash = digest::digest(algorithm, certificate);
    [b"tls-server-end-point:".as_slice(), hash.as_ref()].concat()
}

/// The OID of a DER certificate's `signatureAlgorithm`.
fn signature_algorithm(certificate: &[u8]) -> Option<&[u8]> {
    let (0x30, cert, _) = bounded::element(certificate)? else {
        return None;
    };
    let (0x30, _tbs, rest) = bounded::element(cert)? else {
        return None;
    };
    let (0x30, algorithm, _) = bounded::element(rest)? else {
        return None;
    };
    let (0x06, oid, _) = bounded::element(algorithm)? else {
        return None;
    };
    Some(oid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_requests_are_well_formed_ldap() {
        for size in [0, 5, 200, 70_000] {
            let request = bind_request(2, &vec![7; size]);
            bounded::check_message(&request, 8).unwrap();
        }
        assert_eq!(
            bind_request(3, b""),
            b"\x30\x16\x02\x01\x03\x60\x11\x02\x01\x03\x04\x00\xa3\x0a\x04\x06GSSAPI\x04\x00"
        );
    }

    #[test]
    fn bind_responses_are_read() {
        // { 2, BindResponse { 14, "", "", serverSaslCreds "tok" } }
        let answer = b"\x30\x11\x02\x01\x02\x61\x0c\x0a\x01\x0e\x04\x00\x04\x00\x87\x03tok";
        let read = bind_response(answer, 2).unwrap();
        assert_eq!(read.code, SASL_BIND_IN_PROGRESS);
        assert_eq!(read.credentials.as_deref(), Some(&b"tok"[..]));
        assert!(bind_response(answer, 3).is_err());
        let refused = b"\x30\x0f\x02\x01\x04\x61\x0a\x0a\x01\x08\x04\x00\x04\x03no!";
        let read = bind_response(refused, 4).unwrap();
        assert_eq!((read.code, read.text.as_str()), (8, "no!"));
        assert_eq!(read.credentials, None);
    }

    #[test]
    fn the_layer_follows_the_transport() {
        let all = [7, 0x01, 0x00, 0x00];
        assert_eq!(choose_layer(&all, true), Ok((Layer::None, 65536)));
        assert_eq!(
            choose_layer(&all, false),
            Ok((Layer::Confidentiality, 65536))
        );
        assert_eq!(
            choose_layer(&[2, 0, 0x10, 0], false),
            Ok((Layer::Integrity, 4096))
        );
        assert!(choose_layer(&[1, 0, 0, 0], false).is_err());
        assert!(choose_layer(&[6, 0xff, 0xff, 0xff], true).is_err());
        assert!(choose_layer(&[4, 0, 0, 1], false).is_err());
        assert!(choose_layer(&[7, 0, 0], false).is_err());
        assert_eq!(layer_answer(Layer::None), [1, 0, 0, 0]);
        assert_eq!(layer_answer(Layer::Confidentiality)[0], 4);
    }

    #[test]
    fn buffers_are_cut_and_bounded() {
        let mut buffers = Buffers::default();
        let stream = [frame(b"one"), frame(b"two!")].concat();
        buffers.push(&stream[..5]).unwrap();
        assert_eq!(buffers.next_token().unwrap(), None);
        buffers.push(&stream[5..]).unwrap();
        assert_eq!(buffers.next_token().unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(buffers.next_token().unwrap().as_deref(), Some(&b"two!"[..]));
        assert_eq!(buffers.next_token().unwrap(), None);
        let huge = ((MAX_INCOMING + 1) as u32).to_be_bytes();
        assert!(matches!(
            Buffers::default().push(&huge),
            Err(Violation::TooLarge { .. })
        ));
    }

    #[test]
    fn the_channel_binding_hashes_the_certificate() {
        // A skeleton certificate signed with sha384WithRSAEncryption.
        let sha384 =
            b"\x30\x11\x30\x00\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c\x03\x00";
        let binding = tls_server_end_point(sha384);
        assert!(binding.starts_with(b"tls-server-end-point:"));
        assert_eq!(binding.len(), 21 + 48);
        assert_eq!(tls_server_end_point(b"junk").len(), 21 + 32);
    }
}
