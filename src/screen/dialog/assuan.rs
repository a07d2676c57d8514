//! The few pieces of the Assuan protocol (GnuPG's line protocol) a pinentry client needs:
//! percent-escaping of parameters and data, and the classification of response lines.
//!
//! Kept apart from the process handling so the rules are unit-tested without a program.

use zeroize::Zeroizing;

/// libgpg-error code of "Operation cancelled" (pinentry reports `ERR 83886179`, i.e. source 5,
/// code 99); 198 is "fully cancelled", 62 is a dialog timeout: all mean "no password given".
const CANCEL_CODES: [u32; 3] = [99, 198, 62];

/// One line from the server, the data already decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Response {
    Ok,
    /// Decoded `D` payload (a part of the answer; several may come).
    Data(Zeroizing<Vec<u8>>),
    /// `ERR code description`.
    Err {
        code: u32,
        message: String,
    },
    /// `INQUIRE KEYWORD data`: the server asks the client; `QUALITY` carries the PIN typed so far.
    Inquire {
        keyword: String,
        data: Zeroizing<Vec<u8>>,
    },
    /// A status line `S KEYWORD ...` (e.g. `PIN_REPEATED` before a PIN typed twice).
    Status {
        keyword: String,
    },
    /// Comments (`#`) and anything we do not act on.
    Other,
}

impl Response {
    /// Parses one line without its line ending.
    pub fn parse(line: &[u8]) -> Response {
        if line == b"OK" || line.starts_with(b"OK ") {
            Response::Ok
        } else if let Some(data) = line.strip_prefix(b"D ") {
            Response::Data(percent_decode(data))
        } else if let Some(rest) = line.strip_prefix(b"S ") {
            let keyword = rest.split(|b| *b == b' ').next().unwrap_or_default();
            Response::Status {
                keyword: String::from_utf8_lossy(keyword).into_owned(),
            }
        } else if let Some(rest) = line.strip_prefix(b"INQUIRE ") {
            let (keyword, data) = match rest.iter().position(|b| *b == b' ') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b""[..]),
            };
            Response::Inquire {
                keyword: String::from_utf8_lossy(keyword).into_owned(),
                data: percent_decode(data),
            }
        } else if let Some(rest) = line.strip_prefix(b"ERR ") {
            let rest = String::from_utf8_lossy(rest);
            let (code, message) = rest.split_once(' ').unwrap_or((&rest, ""));
            Response::Err {
                code: code.parse().unwrap_or(0),
                message: message.trim().to_string(),
            }
        } else {
            Response::Other
        }
    }
}

/// Whether an `ERR` code means the person cancelled (the low 16 bits are the error code).
pub fn is_cancel(code: u32) -> bool {
    CANCEL_CODES.contains(&(code & 0xFFFF))
}

/// Escapes a command parameter: `%`, CR and LF must not appear raw on an Assuan line.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            _ => out.push(c),
        }
    }
    out
}

/// Decodes `%XX` escapes; a malformed escape is kept as written. The result never needs more
/// room than the input, so it is written once into a wiped buffer of that size.
pub fn percent_decode(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    out.extend(percent_encoding::percent_decode(data));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_malformed_ones() {
        assert_eq!(&*percent_decode(b"a%25b%0Ac%2B"), b"a%b\nc+");
        assert_eq!(&*percent_decode(b"%zz%4"), b"%zz%4");
        assert_eq!(&*percent_decode(b"%c3%a9"), "é".as_bytes());
        assert_eq!(&*percent_decode(b"end%"), b"end%");
    }

    #[test]
    fn encodes_what_cannot_appear_on_a_line() {
        assert_eq!(percent_encode("50%\r\nok"), "50%25%0D%0Aok");
    }

    #[test]
    fn classifies_lines() {
        assert_eq!(Response::parse(b"OK Pleased to meet you"), Response::Ok);
        assert_eq!(Response::parse(b"OK"), Response::Ok);
        assert_eq!(
            Response::parse(b"D s%25cret"),
            Response::Data(Zeroizing::new(b"s%cret".to_vec()))
        );
        assert_eq!(
            Response::parse(b"ERR 83886179 Operation cancelled <Pinentry>"),
            Response::Err {
                code: 83886179,
                message: "Operation cancelled <Pinentry>".into()
            }
        );
        assert_eq!(
            Response::parse(b"S PASSWORD_FROM_CACHE"),
            Response::Status {
                keyword: "PASSWORD_FROM_CACHE".into()
            }
        );
        assert_eq!(
            Response::parse(b"S PIN_REPEATED"),
            Response::Status {
                keyword: "PIN_REPEATED".into()
            }
        );
        assert_eq!(
            Response::parse(b"INQUIRE QUALITY ab%25c"),
            Response::Inquire {
                keyword: "QUALITY".into(),
                data: Zeroizing::new(b"ab%c".to_vec())
            }
        );
        assert_eq!(Response::parse(b"# comment"), Response::Other);
    }

    #[test]
    fn cancel_codes() {
        assert!(is_cancel(83886179));
        assert!(is_cancel(99));
        assert!(!is_cancel(83886335));
    }
}
