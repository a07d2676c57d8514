//! The OpenLDAP password-policy response control (draft-behera-ldap-password-policy), decoded by
//! hand.
//!
//! The control's value is BER that comes straight from the server. ldap3's own control parsers
//! panic on malformed input, so this module never hands the value to ldap3: it is a small,
//! bounds-checked decoder that turns anything unexpected (truncated, oversized, unknown tags,
//! trailing bytes) into a [`PpolicyDecodeError`] and never panics or allocates per byte.
//!
//! ```text
//! PasswordPolicyResponseValue ::= SEQUENCE {
//!     warning [0] CHOICE {
//!         timeBeforeExpiration [0] INTEGER (0 .. maxInt),
//!         graceAuthNsRemaining [1] INTEGER (0 .. maxInt) } OPTIONAL,
//!     error   [1] ENUMERATED { passwordExpired (0), accountLocked (1), changeAfterReset (2), ... } OPTIONAL }
//! ```

/// OID of the request and response control.
pub const PPOLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// The largest INTEGER the draft allows (maxInt).
const MAX_INT: i64 = 2_147_483_647;

/// What the server said about the password in its bind response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PpolicyResponse {
    pub warning: Option<PpolicyWarning>,
    pub error: Option<PpolicyError>,
}

/// The `warning` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PpolicyWarning {
    /// Seconds until the password expires.
    TimeBeforeExpiration(u32),
    /// The password has expired; this many grace binds remain.
    GraceAuthnsRemaining(u32),
}

/// The `error` enumeration (only the values a bind can meaningfully report are named).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PpolicyError {
    PasswordExpired,
    AccountLocked,
    ChangeAfterReset,
    /// passwordModNotAllowed (3) .. passwordTooLong (9), or a value from a later draft.
    Other(u32),
}

/// Why a control value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed password policy control: {0}")]
pub struct PpolicyDecodeError(&'static str);

/// Decodes the control's value; an absent value means the server said nothing.
pub fn decode(value: Option<&[u8]>) -> Result<PpolicyResponse, PpolicyDecodeError> {
    let Some(value) = value else {
        return Ok(PpolicyResponse::default());
    };
    let mut outer = Reader::new(value);
    let (tag, body) = outer.element()?;
    if tag != 0x30 {
        return Err(PpolicyDecodeError("the value is not a SEQUENCE"));
    }
    if !outer.is_empty() {
        return Err(PpolicyDecodeError("bytes after the SEQUENCE"));
    }
    let mut seq = Reader::new(body);
    let mut response = PpolicyResponse::default();
    while !seq.is_empty() {
        let (tag, body) = seq.element()?;
        match tag {
            // warning [0], constructed because it wraps a CHOICE
            0xa0 if response.warning.is_none() && response.error.is_none() => {
                response.warning = Some(decode_warning(body)?);
            }
            // error [1] ENUMERATED, implicitly tagged
            0x81 if response.error.is_none() => {
                response.error = Some(match non_negative(body)? {
                    0 => PpolicyError::PasswordExpired,
                    1 => PpolicyError::AccountLocked,
                    2 => PpolicyError::ChangeAfterReset,
                    n => PpolicyError::Other(n),
                });
            }
            _ => return Err(PpolicyDecodeError("unexpected or repeated element")),
        }
    }
    Ok(response)
}

fn decode_warning(body: &[u8]) -> Result<PpolicyWarning, PpolicyDecodeError> {
    let mut reader = Reader::new(body);
    let (tag, value) = reader.element()?;
    if !reader.is_empty() {
        return Err(PpolicyDecodeError("more than one warning"));
    }
    match tag {
        0x80 => Ok(PpolicyWarning::TimeBeforeExpiration(non_negative(value)?)),
        0x81 => Ok(PpolicyWarning::GraceAuthnsRemaining(non_negative(value)?)),
        _ => Err(PpolicyDecodeError("unknown warning")),
    }
}

/// A BER INTEGER/ENUMERATED body in 0..=maxInt.
fn non_negative(body: &[u8]) -> Result<u32, PpolicyDecodeError> {
    if body.is_empty() {
        return Err(PpolicyDecodeError("empty integer"));
    }
    // maxInt needs 4 bytes; a fifth is allowed only as a leading zero.
    if body.len() > 5 || (body.len() == 5 && body[0] != 0) {
        return Err(PpolicyDecodeError("integer too large"));
    }
    if body[0] & 0x80 != 0 {
        return Err(PpolicyDecodeError("negative integer"));
    }
    let value = body.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    if value > MAX_INT {
        return Err(PpolicyDecodeError("integer too large"));
    }
    u32::try_from(value).map_err(|_| PpolicyDecodeError("integer too large"))
}

/// Reads definite-length BER elements (single-byte tags) from a slice, checking every bound.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn byte(&mut self) -> Result<u8, PpolicyDecodeError> {
        let (first, rest) = self
            .rest
            .split_first()
            .ok_or(PpolicyDecodeError("truncated"))?;
        self.rest = rest;
        Ok(*first)
    }

    /// One element: its tag and its contents.
    fn element(&mut self) -> Result<(u8, &'a [u8]), PpolicyDecodeError> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(PpolicyDecodeError("multi-byte tags are not used here"));
        }
        let first = self.byte()?;
        let len = match first {
            0x00..=0x7f => usize::from(first),
            0x80 => return Err(PpolicyDecodeError("indefinite length")),
            0x81..=0x84 => {
                let mut len = 0usize;
                for _ in 0..(first & 0x7f) {
                    len = (len << 8) | usize::from(self.byte()?);
                }
                len
            }
            _ => return Err(PpolicyDecodeError("length too large")),
        };
        if len > self.rest.len() {
            return Err(PpolicyDecodeError("length runs past the end"));
        }
        let (body, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok((tag, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    fn parse(s: &str) -> Result<PpolicyResponse, PpolicyDecodeError> {
        decode(Some(&hex(s)))
    }

    #[test]
    fn seconds_before_expiration_as_seen_from_slapd() {
        assert_eq!(
            parse("30 07 a0 05 80 03 0d 2e e4").unwrap(),
            PpolicyResponse {
                warning: Some(PpolicyWarning::TimeBeforeExpiration(863_972)),
                error: None
            }
        );
    }

    #[test]
    fn expired_as_seen_from_slapd() {
        assert_eq!(
            parse("30 03 81 01 00").unwrap(),
            PpolicyResponse {
                warning: None,
                error: Some(PpolicyError::PasswordExpired)
            }
        );
    }

    #[test]
    fn grace_login_as_seen_from_slapd() {
        assert_eq!(
            parse("30 05 a0 03 81 01 01").unwrap().warning,
            Some(PpolicyWarning::GraceAuthnsRemaining(1))
        );
    }

    #[test]
    fn empty_sequence_and_absent_value_say_nothing() {
        assert_eq!(parse("30 00").unwrap(), PpolicyResponse::default());
        assert_eq!(decode(None).unwrap(), PpolicyResponse::default());
    }

    #[test]
    fn other_errors_and_both_parts() {
        assert_eq!(
            parse("30 03 81 01 01").unwrap().error,
            Some(PpolicyError::AccountLocked)
        );
        assert_eq!(
            parse("30 03 81 01 02").unwrap().error,
            Some(PpolicyError::ChangeAfterReset)
        );
        assert_eq!(
            parse("30 03 81 01 09").unwrap().error,
            Some(PpolicyError::Other(9))
        );
        let both = parse("30 08 a0 03 81 01 02 81 01 00").unwrap();
        assert_eq!(both.warning, Some(PpolicyWarning::GraceAuthnsRemaining(2)));
        assert_eq!(both.error, Some(PpolicyError::PasswordExpired));
    }

    #[test]
    fn long_form_lengths_and_the_largest_integer() {
        assert_eq!(
            parse("30 81 08 a0 81 05 80 03 0d 2e e4").unwrap().warning,
            Some(PpolicyWarning::TimeBeforeExpiration(863_972))
        );
        assert_eq!(
            parse("30 09 a0 07 80 05 00 7f ff ff ff").unwrap().warning,
            Some(PpolicyWarning::TimeBeforeExpiration(2_147_483_647))
        );
    }

    #[test]
    fn truncated_inputs_are_errors() {
        let full = hex("30 07 a0 05 80 03 0d 2e e4");
        for len in 0..full.len() {
            assert!(decode(Some(&full[..len])).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn oversized_and_hostile_inputs_are_errors() {
        for bad in [
            "30 84 ff ff ff ff",                   // length far past the end
            "30 85 01 00 00 00 00",                // length of length too big
            "30 80 81 01 00 00 00",                // indefinite length
            "30 0a a0 08 80 06 01 00 00 00 00 00", // integer too long
            "30 09 a0 07 80 05 01 00 00 00 00",    // 5 bytes without a leading zero
            "30 07 a0 05 80 03 80 00 00",          // negative
            "30 08 a0 06 80 04 80 00 00 00",       // negative (maxInt + 1 as 4 bytes)
            "30 04 a0 02 80 00",                   // empty integer
            "30 03 82 01 00",                      // unknown element
            "30 06 81 01 00 81 01 01",             // repeated error
            "30 0a a0 03 81 01 01 a0 03 81 01 02", // repeated warning
            "30 07 a0 05 82 03 00 00 01",          // unknown warning
            "30 08 a0 06 80 01 01 81 01 01",       // two warnings in one choice
            "30 03 81 01 00 00",                   // trailing byte
            "31 00",                               // SET, not SEQUENCE
            "04 03 01 02 03",                      // octet string
            "1f 81 00",                            // multi-byte tag
            "ff",
            "",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(42);
        for _ in 0..20_000 {
            let len = rng.usize(0..24);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            if rng.bool() && !bytes.is_empty() {
                bytes[0] = 0x30;
            }
            let _ = decode(Some(&bytes));
        }
    }
}
