//! The framing guard: every LDAP message a server sends is cut out of the byte stream and
//! checked here before ldap3 (whose BER parser recurses without a depth or length limit) sees it.
//!
//! A message passes when it is one BER element with definite lengths only, no longer than
//! [`Limits::message`], whose constructed elements nest no deeper than [`Limits::depth`], and
//! whose every element fits inside its container. The check reads tag and length headers only; it
//! never builds a value, so it runs in constant stack and allocates nothing per element. A
//! connection may also receive at most [`Limits::connection`] bytes and [`Limits::messages`]
//! messages in all, so an endless stream of small valid messages cannot fill memory or the log.
//!
//! Pure: bytes in, messages or a [`Violation`] out. The relay that applies it to a socket lives in
//! [`super::relay`].

/// How much a server may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single LDAPMessage, header included.
    pub message: usize,
    /// Deepest nesting of constructed elements, the LDAPMessage SEQUENCE counting as 1.
    pub depth: usize,
    /// Most bytes one connection may receive.
    pub connection: u64,
    /// Most messages one connection may receive (ldap3 logs each one it cannot place).
    pub messages: u64,
}

/// The limits used for every LDAP connection. The agent reads a bind result, a root DSE and at
/// most 16 entries with a handful of attributes: a few KiB in a few dozen messages. Legitimate answers nest 5 deep
/// (LDAPMessage, SearchResultEntry, attribute list, attribute, value set); 32 leaves room for any
/// extension while staying far below what overflows a parser's stack.
pub const LIMITS: Limits = Limits {
    message: 1 << 20,
    depth: 32,
    connection: 16 << 20,
    messages: 4096,
};

/// Why a server's bytes were refused; the text is one plain clause for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error(
        "its answer is too large (a message of {announced} bytes; at most {limit} are accepted)"
    )]
    TooLarge { announced: u64, limit: usize },
    #[error("its answer nests deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("it sent more than {limit} bytes on one connection")]
    TooMuch { limit: u64 },
    #[error("it sent more than {limit} messages on one connection")]
    TooMany { limit: u64 },
    #[error("its answer is not valid LDAP: {0}")]
    Malformed(&'static str),
    #[error("its answer is not valid LDAP: the connection ended in the middle of a message")]
    Truncated,
}

/// One element header: whether it is constructed, the header's length and the content's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    constructed: bool,
    size: usize,
    content: u64,
}

/// Reads the header at the front of `bytes`; `Ok(None)` when more bytes are needed.
fn header(bytes: &[u8]) -> Result<Option<Header>, Violation> {
    let Some(&tag) = bytes.first() else {
        return Ok(None);
    };
    if tag & 0x1f == 0x1f {
        return Err(Violation::Malformed(
            "a multi-byte tag, which LDAP never uses",
        ));
    }
    let Some(&first) = bytes.get(1) else {
        return Ok(None);
    };
    let constructed = tag & 0x20 != 0;
    if first < 0x80 {
        let content = u64::from(first);
        return Ok(Some(Header {
            constructed,
            size: 2,
            content,
        }));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 {
        return Err(Violation::Malformed("an indefinite length"));
    }
    if count > 8 {
        return Err(Violation::Malformed("a length field longer than 8 bytes"));
    }
    let Some(digits) = bytes.get(2..2 + count) else {
        return Ok(None);
    };
    let content = digits
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok(Some(Header {
        constructed,
        size: 2 + count,
        content,
    }))
}

/// Checks one complete message: a single element, every inner element inside its container,
/// constructed nesting at most `depth`. Iterative, with a stack bounded by `depth`.
pub fn check_message(message: &[u8], depth: usize) -> Result<(), Violation> {
    let mut ends: Vec<usize> = Vec::with_capacity(depth + 1);
    if message.is_empty() {
        return Err(Violation::Malformed("an empty message"));
    }
    let mut pos = 0;
    loop {
        while ends.last() == Some(&pos) {
            ends.pop();
        }
        if pos == message.len() && ends.is_empty() {
            return Ok(());
        }
        if pos > 0 && ends.is_empty() {
            return Err(Violation::Malformed("bytes after the end of the message"));
        }
        let limit = ends.last().copied().unwrap_or(message.len());
        let head = header(&message[pos..limit])?
            .ok_or(Violation::Malformed("an element header cut short"))?;
        let end = usize::try_from(head.content)
            .ok()
            .and_then(|c| (pos + head.size).checked_add(c))
            .filter(|end| *end <= limit)
            .ok_or(Violation::Malformed(
                "an element runs past the end of its container",
            ))?;
        if head.constructed {
            if ends.len() == depth {
                return Err(Violation::TooDeep { limit: depth });
            }
            ends.push(end);
            pos += head.size;
        } else {
            pos = end;
        }
    }
}

/// Splits one element off the front of checked bytes: its tag, its content, and what follows.
/// For small readers of messages [`check_message`] has passed; `None` on anything else.
pub fn element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let head = header(bytes).ok()??;
    let end = head.size.checked_add(usize::try_from(head.content).ok()?)?;
    let content = bytes.get(head.size..end)?;
    Some((bytes[0], content, &bytes[end..]))
}

/// Cuts checked messages out of a byte stream fed in arbitrary pieces.
#[derive(Debug)]
pub struct Framer {
    limits: Limits,
    pending: Vec<u8>,
    received: u64,
    messages: u64,
}

impl Framer {
    pub fn new(limits: Limits) -> Framer {
        Framer {
            limits,
            pending: Vec::new(),
            received: 0,
            messages: 0,
        }
    }

    /// Adds bytes from the server. Refuses as soon as the next message's header announces more
    /// than the limit, before its body is buffered.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        self.received += bytes.len() as u64;
        if self.received > self.limits.connection {
            return Err(Violation::TooMuch {
                limit: self.limits.connection,
            });
        }
        self.pending.extend_from_slice(bytes);
        self.announced().map(|_| ())
    }

    /// The whole length of the message at the front, once its header is in.
    fn announced(&self) -> Result<Option<usize>, Violation> {
        let Some(head) = header(&self.pending)? else {
            return Ok(None);
        };
        let whole = head.content.saturating_add(head.size as u64);
        if whole > self.limits.message as u64 {
            return Err(Violation::TooLarge {
                announced: head.content,
                limit: self.limits.message,
            });
        }
        Ok(Some(whole as usize))
    }

    /// The next complete message, checked; `Ok(None)` until one is complete.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, Violation> {
        let Some(whole) = self.announced()? else {
            return Ok(None);
        };
        if self.pending.len() < whole {
            return Ok(None);
        }
        check_message(&self.pending[..whole], self.limits.depth)?;
        self.messages += 1;
        if self.messages > self.limits.messages {
            return Err(Violation::TooMany {
                limit: self.limits.messages,
            });
        }
        let rest = self.pending.split_off(whole);
        Ok(Some(std::mem::replace(&mut self.pending, rest)))
    }

    /// At the end of the stream: refuses a message left unfinished.
    pub fn finish(&self) -> Result<(), Violation> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(Violation::Truncated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            out.extend([0x84]);
            out.extend((len as u32).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    /// A bind response as slapd sends it: SEQUENCE { 1, [APPLICATION 1] { 0, "", "" } }.
    fn bind_ok() -> Vec<u8> {
        let mut op = tlv(0x0a, &[0]);
        op.extend(tlv(0x04, b""));
        op.extend(tlv(0x04, b""));
        let mut body = tlv(0x02, &[1]);
        body.extend(tlv(0x61, &op));
        tlv(0x30, &body)
    }

    fn nested(levels: usize) -> Vec<u8> {
        let mut inner = tlv(0x04, b"x");
        for _ in 0..levels - 1 {
            inner = tlv(0x30, &inner);
        }
        inner
    }

    fn small() -> Limits {
        Limits {
            message: 4096,
            depth: 8,
            connection: 1 << 20,
            messages: u64::MAX,
        }
    }

    #[test]
    fn real_answers_pass_in_any_pieces() {
        let mut stream = bind_ok();
        stream.extend(bind_ok());
        for piece in [1, 2, 3, 7, stream.len()] {
            let mut framer = Framer::new(LIMITS);
            let mut out = Vec::new();
            for chunk in stream.chunks(piece) {
                framer.push(chunk).unwrap();
                while let Some(m) = framer.next_message().unwrap() {
                    out.push(m);
                }
            }
            assert_eq!(out, vec![bind_ok(), bind_ok()]);
            framer.finish().unwrap();
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        check_message(&tlv(0x30, &nested(8)), 9).unwrap();
        assert_eq!(
            check_message(&nested(10), 8),
            Err(Violation::TooDeep { limit: 8 })
        );
        // Deep enough to overflow any recursive parser; the check's stack stays `depth` long.
        let hostile = nested(200_000);
        assert_eq!(
            check_message(&hostile, 32),
            Err(Violation::TooDeep { limit: 32 })
        );
    }

    #[test]
    fn huge_lengths_are_refused_from_the_header_alone() {
        let mut framer = Framer::new(small());
        let header = [0x30, 0x84, 0xff, 0xff, 0xff, 0xf0];
        let err = framer.push(&header).unwrap_err();
        assert!(
            matches!(
                err,
                Violation::TooLarge {
                    announced: 0xffff_fff0,
                    ..
                }
            ),
            "{err:?}"
        );
        let mut framer = Framer::new(small());
        let eight = [0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            framer.push(&eight),
            Err(Violation::TooLarge { .. })
        ));
        let nine = [0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            Framer::new(small()).push(&nine),
            Err(Violation::Malformed(_))
        ));
    }

    #[test]
    fn an_inner_length_past_its_container_is_refused() {
        // SEQUENCE of 5 holding an OCTET STRING that claims 4 GiB.
        let message = [0x30, 0x05, 0x04, 0x83, 0xff, 0xff, 0xff];
        assert!(matches!(
            check_message(&message, 32),
            Err(Violation::Malformed(_))
        ));
        // The ENUMERATED runs past the bind response that holds it.
        let mut body = tlv(0x02, &[1]);
        body.extend(tlv(0x61, &[0x0a, 0x05, 0x01]));
        assert!(check_message(&tlv(0x30, &body), 32).is_err());
    }

    #[test]
    fn indefinite_lengths_and_long_tags_are_refused() {
        let mut framer = Framer::new(LIMITS);
        assert_eq!(
            framer.push(&[0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00]),
            Err(Violation::Malformed("an indefinite length"))
        );
        let inner = [0x30, 0x04, 0x24, 0x80, 0x00, 0x00];
        assert!(check_message(&inner, 32).is_err());
        assert!(Framer::new(LIMITS).push(&[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn a_stream_that_ends_inside_a_message_is_truncated() {
        let mut framer = Framer::new(LIMITS);
        let whole = bind_ok();
        framer.push(&whole[..whole.len() - 1]).unwrap();
        assert_eq!(framer.next_message().unwrap(), None);
        assert_eq!(framer.finish(), Err(Violation::Truncated));
    }

    #[test]
    fn an_endless_stream_of_small_messages_passes_until_the_connection_budget() {
        let limits = small();
        let mut framer = Framer::new(limits);
        let one = bind_ok();
        let mut passed = 0u64;
        let err = loop {
            if let Err(e) = framer.push(&one) {
                break e;
            }
            while framer.next_message().unwrap().is_some() {
                passed += 1;
            }
        };
        assert_eq!(err, Violation::TooMuch { limit: 1 << 20 });
        assert_eq!(passed, limits.connection / one.len() as u64);
    }

    #[test]
    fn an_endless_stream_stops_at_the_message_budget() {
        let limits = Limits {
            messages: 3,
            ..LIMITS
        };
        let mut framer = Framer::new(limits);
        for _ in 0..4 {
            framer.push(&bind_ok()).unwrap();
        }
        for _ in 0..3 {
            assert!(framer.next_message().unwrap().is_some());
        }
        assert_eq!(framer.next_message(), Err(Violation::TooMany { limit: 3 }));
    }

    #[test]
    fn trailing_bytes_and_empty_input() {
        let mut message = bind_ok();
        message.push(0);
        assert!(check_message(&message, 32).is_err());
        assert!(check_message(&[], 32).is_err());
        let mut framer = Framer::new(LIMITS);
        assert_eq!(framer.next_message(), Ok(None));
        framer.finish().unwrap();
    }
}
