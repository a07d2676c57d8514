//! One DNS question, asked directly: the SRV records (RFC 2782) that name a domain's Active
//! Directory domain controllers, `_ldap._tcp.dc._msdcs.<domain>`.
//!
//! The standard library resolves names to addresses only, and a full resolver crate costs more
//! than this one query is worth: hickory-resolver 0.25 (tokio, system-config) adds 20 crates and
//! about 0.8 MB to the stripped release binary (measured: 434,328 → 1,261,680 bytes for a probe
//! with the project's release profile), which would put the binary over its 8 MiB budget
//! (BENCHMARKS.md), and it would not spare the checks that matter here (targets inside the
//! domain, proof of the controller). So this is a minimal client (RFC 1035): one query over UDP
//! with an EDNS0 buffer of 1232 bytes, TCP when the answer is truncated, to the name servers of
//! `/etc/resolv.conf` (or the one given). Answers come from the network: every length and
//! offset is checked, and compressed names follow at most a few pointers.
//!
//! An answer is not believed because it arrived: its id (from the system's secure random
//! source) must be the query's, its question the name asked, each record's owner that name
//! (case-insensitive, compressed or not), and a target must be the domain or a host under it.
//! Anything else is dropped and logged. Even then a DNS answer is not a domain controller:
//! `setup` proves it or asks (see `super::ldap_url`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The record type SRV.
const TYPE_SRV: u16 = 33;
/// The record type OPT (EDNS0).
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// The UDP answer size announced with EDNS0 (the DNS flag day 2020 value).
const UDP_SIZE: u16 = 1232;
/// Compression pointers followed within one name, at most.
const MAX_JUMPS: usize = 16;
/// How long one name server gets to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// The host, without the final dot.
    pub target: String,
}

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("no DNS server is configured (no nameserver line in /etc/resolv.conf)")]
    NoServer,
    #[error("`{0}` is not a domain name")]
    BadName(String),
    #[error("the DNS server {server} did not answer: {detail}")]
    NoAnswer { server: SocketAddr, detail: String },
    #[error("the DNS server {server} sent an answer that is not DNS: {detail}")]
    Malformed { server: SocketAddr, detail: String },
    #[error("the DNS server {server} answered with error code {rcode}")]
    Refused { server: SocketAddr, rcode: u8 },
    #[error("the system's secure random number generator failed")]
    NoRandom,
}

/// The domain controllers of `domain`, best first (lowest priority, then highest weight);
/// empty when the domain has none. Only hosts at or under `domain` are kept. `server`: ask
/// this one instead of the system's.
pub async fn domain_controllers(
    domain: &str,
    server: Option<SocketAddr>,
) -> Result<Vec<Srv>, DnsError> {
    let records = srv(&format!("_ldap._tcp.dc._msdcs.{domain}"), server).await?;
    let mut records = within(records, domain);
    records.sort_by(|a, b| a.priority.cmp(&b.priority).then(b.weight.cmp(&a.weight)));
    Ok(records)
}

/// The SRV records of `name`; the first name server that answers decides.
pub async fn srv(name: &str, server: Option<SocketAddr>) -> Result<Vec<Srv>, DnsError> {
    let servers = match server {
        Some(server) => vec![server],
        None => system_servers(),
    };
    let mut last = DnsError::NoServer;
    for server in servers {
        match ask(name, server).await {
            Ok(records) => return Ok(records),
            Err(e) => {
                tracing::debug!(error = %e, "DNS server did not help");
                last = e;
            }
        }
    }
    Err(last)
}

/// The name servers of `/etc/resolv.conf`, port 53.
fn system_servers() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| name_servers(&text))
        .unwrap_or_default()
}

/// The `nameserver` lines of a resolv.conf text.
fn name_servers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        // An IPv6 address may carry a zone (%eth0), which a SocketAddr cannot hold.
        .filter_map(|addr| addr.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

async fn ask(name: &str, server: SocketAddr) -> Result<Vec<Srv>, DnsError> {
    let id = query_id()?;
    let query = query(id, name)?;
    let no_answer = |detail: String| DnsError::NoAnswer { server, detail };
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| no_answer(e.to_string()))?;
    socket
        .connect(server)
        .await
        .map_err(|e| no_answer(e.to_string()))?;
    socket
        .send(&query)
        .await
        .map_err(|e| no_answer(e.to_string()))?;
    let mut buffer = vec![0u8; UDP_SIZE as usize];
    let answer = loop {
        let len = tokio::time::timeout(TIMEOUT, socket.recv(&mut buffer))
            .await
            .map_err(|_| no_answer(format!("nothing within {} s", TIMEOUT.as_secs())))?
            .map_err(|e| no_answer(e.to_string()))?;
        // Anything that is not the answer to this query (a late one, a stray) is ignored.
        if len >= 2 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
            break buffer[..len].to_vec();
        }
    };
    match parse(&answer, id, name) {
        Err(Parsed::Truncated) => ask_over_tcp(&query, id, name, server).await,
        other => other.map_err(|e| e.into_error(server)),
    }
}

/// The same query over TCP (RFC 7766), for an answer too big for UDP.
async fn ask_over_tcp(
    query: &[u8],
    id: u16,
    name: &str,
    server: SocketAddr,
) -> Result<Vec<Srv>, DnsError> {
    let no_answer = |detail: String| DnsError::NoAnswer { server, detail };
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        stream.write_all(&framed).await?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut answer = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| no_answer(format!("nothing within {} s over TCP", TIMEOUT.as_secs())))?
        .map_err(|e| no_answer(e.to_string()))?;
    parse(&answer, id, name).map_err(|e| e.into_error(server))
}

/// A query id nobody off the path can guess (a guessed id lets a forged answer in).
fn query_id() -> Result<u16, DnsError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 2];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| DnsError::NoRandom)?;
    Ok(u16::from_be_bytes(bytes))
}

/// A standard query for the SRV records of `name`, recursion desired, with an EDNS0 OPT record.
fn query(id: u16, name: &str) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    out.extend_from_slice(&0u16.to_be_bytes()); // ANCOUNT
    out.extend_from_slice(&0u16.to_be_bytes()); // NSCOUNT
    out.extend_from_slice(&1u16.to_be_bytes()); // ARCOUNT: the OPT record
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::BadName(name.to_string()));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 || !label.is_ascii() {
            return Err(DnsError::BadName(name.to_string()));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&TYPE_SRV.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    // OPT: root name, type 41, class = UDP payload size, TTL 0, no options.
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&UDP_SIZE.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    Ok(out)
}

/// What reading an answer found, before the server is known.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Truncated,
    Malformed(&'static str),
    Rcode(u8),
}

impl Parsed {
    fn into_error(self, server: SocketAddr) -> DnsError {
        match self {
            Parsed::Truncated => DnsError::Malformed {
                server,
                detail: "truncated".into(),
            },
            Parsed::Malformed(detail) => DnsError::Malformed {
                server,
                detail: detail.into(),
            },
            Parsed::Rcode(rcode) => DnsError::Refused { server, rcode },
        }
    }
}

/// The SRV records in an answer to query `id` for `name`; NXDOMAIN is no records. The answer
/// must repeat the question; records owned by another name are ignored.
fn parse(message: &[u8], id: u16, name: &str) -> Result<Vec<Srv>, Parsed> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let mut reader = Reader { message, at: 0 };
    if reader.u16()? != id {
        return Err(Parsed::Malformed("an answer to another question"));
    }
    let flags = reader.u16()?;
    if flags & 0x8000 == 0 {
        return Err(Parsed::Malformed("a query, not an answer"));
    }
    if flags & 0x0200 != 0 {
        return Err(Parsed::Truncated);
    }
    match (flags & 0x000f) as u8 {
        0 => {}
        3 => return Ok(Vec::new()), // NXDOMAIN: the domain has no such records
        rcode => return Err(Parsed::Rcode(rcode)),
    }
    let questions = reader.u16()?;
    let answers = reader.u16()?;
    reader.u16()?; // authority
    reader.u16()?; // additional
    if questions != 1 {
        return Err(Parsed::Malformed(
            "an answer that does not repeat the question",
        ));
    }
    let (asked, kind, class) = (reader.name()?, reader.u16()?, reader.u16()?);
    if asked != name || kind != TYPE_SRV || class != CLASS_IN {
        return Err(Parsed::Malformed("an answer to another question"));
    }
    let mut records = Vec::new();
    for _ in 0..answers {
        let owner = reader.name()?;
        let kind = reader.u16()?;
        let class = reader.u16()?;
        reader.skip(4)?; // TTL
        let len = reader.u16()? as usize;
        let end = reader
            .at
            .checked_add(len)
            .ok_or(Parsed::Malformed("length"))?;
        if end > message.len() {
            return Err(Parsed::Malformed("a record runs past the end"));
        }
        if owner != name {
            tracing::warn!(%owner, asked = %name, "ignored a DNS record about another name");
        } else if kind == TYPE_SRV && class == CLASS_IN {
            let priority = reader.u16()?;
            let weight = reader.u16()?;
            let port = reader.u16()?;
            let target = reader.name()?;
            if reader.at > end {
                return Err(Parsed::Malformed("an SRV record runs past its length"));
            }
            // "." means "no such service here" (RFC 2782).
            if !target.is_empty() {
                records.push(Srv {
                    priority,
                    weight,
                    port,
                    target,
                });
            }
        }
        reader.at = end;
    }
    Ok(records)
}

/// The records whose target is `domain` or a host under it. Any other target is dropped and
/// logged: whoever answers DNS could otherwise name their own server, with a certificate
/// valid for its own name, and receive the password.
fn within(records: Vec<Srv>, domain: &str) -> Vec<Srv> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let under = format!(".{domain}");
    records
        .into_iter()
        .filter(|record| {
            let host = record.target.to_ascii_lowercase();
            let inside = host == domain || host.ends_with(&under);
            if !inside {
                tracing::warn!(
                    host = %record.target,
                    %domain,
                    "ignored a domain controller outside the domain"
                );
            }
            inside
        })
        .collect()
}

/// Reads a DNS message with bounds checks.
struct Reader<'a> {
    message: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u16(&mut self) -> Result<u16, Parsed> {
        let bytes = self
            .message
            .get(self.at..self.at + 2)
            .ok_or(Parsed::Malformed("cut short"))?;
        self.at += 2;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn skip(&mut self, n: usize) -> Result<(), Parsed> {
        if self.at + n > self.message.len() {
            return Err(Parsed::Malformed("cut short"));
        }
        self.at += n;
        Ok(())
    }

    /// A possibly compressed name, as text without the final dot; the reader moves past it.
    fn name(&mut self) -> Result<String, Parsed> {
        let mut labels: Vec<String> = Vec::new();
        let mut at = self.at;
        let mut jumps = 0;
        let mut resume = None;
        let mut length = 0;
        loop {
            let len = *self.message.get(at).ok_or(Parsed::Malformed("cut short"))? as usize;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    at += 1;
                    break;
                }
                0x00 => {
                    let label = self
                        .message
                        .get(at + 1..at + 1 + len)
                        .ok_or(Parsed::Malformed("cut short"))?;
                    length += len + 1;
                    if length > 255 {
                        return Err(Parsed::Malformed("a name longer than 255 bytes"));
                    }
                    let label = std::str::from_utf8(label)
                        .ok()
                        .filter(|l| {
                            l.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                        })
                        .ok_or(Parsed::Malformed(
                            "a name with characters hosts do not have",
                        ))?;
                    labels.push(label.to_ascii_lowercase());
                    at += 1 + len;
                }
                0xc0 => {
                    let low = *self
                        .message
                        .get(at + 1)
                        .ok_or(Parsed::Malformed("cut short"))?
                        as usize;
                    jumps += 1;
                    if jumps > MAX_JUMPS {
                        return Err(Parsed::Malformed("a name that points in circles"));
                    }
                    resume.get_or_insert(at + 2);
                    at = ((len & 0x3f) << 8) | low;
                }
                _ => return Err(Parsed::Malformed("an unknown label type")),
            }
        }
        self.at = resume.unwrap_or(at);
        Ok(labels.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name asked for the domain controllers of example.com.
    const NAME: &str = "_ldap._tcp.dc._msdcs.example.com";

    /// An answer to `query(7, NAME)` with two SRV records, the second target compressed against
    /// the first.
    fn answer(flags: u16) -> Vec<u8> {
        answer_to(flags, NAME)
    }

    /// The same answer with `question` as its question (the records' owners point at it).
    fn answer_to(flags: u16, question: &str) -> Vec<u8> {
        let mut m = query(7, question).unwrap();
        // Drop the OPT record (11 bytes) and fix the counts: 1 question, 2 answers, 0 additional.
        m.truncate(m.len() - 11);
        m[2..4].copy_from_slice(&flags.to_be_bytes());
        m[6..8].copy_from_slice(&2u16.to_be_bytes());
        m[10..12].copy_from_slice(&0u16.to_be_bytes());
        // Answer 1: name = pointer to the question (offset 12), SRV 0 100 389 dc1.example.com
        m.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&TYPE_SRV.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&600u32.to_be_bytes());
        let rdata_first = [0u16, 100, 389];
        let target = b"\x03dc1\x07example\x03com\x00";
        m.extend_from_slice(&((6 + target.len()) as u16).to_be_bytes());
        for v in rdata_first {
            m.extend_from_slice(&v.to_be_bytes());
        }
        let first_target_at = m.len();
        m.extend_from_slice(target);
        // Answer 2: SRV 10 0 389 dc2.<pointer to "example.com" in the first target>
        m.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&TYPE_SRV.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&600u32.to_be_bytes());
        let pointer = (0xc000 | (first_target_at + 4)) as u16;
        m.extend_from_slice(&(6 + 4 + 2u16).to_be_bytes());
        for v in [10u16, 0, 389] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.extend_from_slice(b"\x03dc2");
        m.extend_from_slice(&pointer.to_be_bytes());
        m
    }

    #[test]
    fn reads_srv_records_with_compressed_names() {
        let records = parse(&answer(0x8180), 7, NAME).unwrap();
        assert_eq!(
            records,
            vec![
                Srv {
                    priority: 0,
                    weight: 100,
                    port: 389,
                    target: "dc1.example.com".into()
                },
                Srv {
                    priority: 10,
                    weight: 0,
                    port: 389,
                    target: "dc2.example.com".into()
                },
            ]
        );
    }

    #[test]
    fn nxdomain_is_no_records_and_errors_are_named() {
        assert_eq!(parse(&answer(0x8183), 7, NAME).unwrap(), vec![]);
        assert_eq!(parse(&answer(0x8182), 7, NAME), Err(Parsed::Rcode(2)));
        assert_eq!(parse(&answer(0x8380), 7, NAME), Err(Parsed::Truncated));
        assert!(parse(&answer(0x8180), 8, NAME).is_err());
        assert!(parse(&answer(0x0100), 7, NAME).is_err());
    }

    #[test]
    fn every_cut_and_every_byte_flip_is_an_error_or_an_answer_never_a_panic() {
        let good = answer(0x8180);
        for len in 0..good.len() {
            let _ = parse(&good[..len], 7, NAME);
        }
        for i in 0..good.len() {
            for value in [0x00, 0x3f, 0xc0, 0xff] {
                let mut bad = good.clone();
                bad[i] = value;
                let _ = parse(&bad, 7, NAME);
            }
        }
    }

    #[test]
    fn pointer_loops_end() {
        let mut m = answer(0x8180);
        // Point the first answer's name at itself.
        let at = m.iter().position(|&b| b == 0xc0).unwrap();
        m[at + 1] = at as u8;
        assert!(parse(&m, 7, NAME).is_err());
    }

    #[test]
    fn resolv_conf_name_servers() {
        let text = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver not-an-ip\n";
        assert_eq!(
            name_servers(text),
            vec![
                "10.0.0.2:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn names_that_cannot_be_asked_are_refused() {
        assert!(query(1, "").is_err());
        assert!(query(1, "a..b").is_err());
        assert!(query(1, &"a".repeat(64)).is_err());
        assert!(query(1, "exämple.com").is_err());
    }

    /// A name in wire format, uncompressed.
    fn wire(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    #[test]
    fn an_answer_to_another_question_is_refused() {
        let other = answer_to(0x8180, "_ldap._tcp.dc._msdcs.attacker.example");
        assert!(
            parse(&other, 7, NAME).is_err(),
            "{:?}",
            parse(&other, 7, NAME)
        );
        // No question at all is no proof of what was answered either.
        let mut none = answer(0x8180)[..12].to_vec();
        none[4..6].copy_from_slice(&0u16.to_be_bytes());
        none[6..8].copy_from_slice(&1u16.to_be_bytes());
        none.extend_from_slice(&wire(NAME));
        none.extend_from_slice(&TYPE_SRV.to_be_bytes());
        none.extend_from_slice(&CLASS_IN.to_be_bytes());
        none.extend_from_slice(&600u32.to_be_bytes());
        let target = wire("dc1.example.com");
        none.extend_from_slice(&((6 + target.len()) as u16).to_be_bytes());
        for v in [0u16, 100, 389] {
            none.extend_from_slice(&v.to_be_bytes());
        }
        none.extend_from_slice(&target);
        assert!(
            parse(&none, 7, NAME).is_err(),
            "{:?}",
            parse(&none, 7, NAME)
        );
    }

    #[test]
    fn records_owned_by_another_name_are_ignored() {
        // The first record's owner is written out as another name instead of pointing at the
        // question; the second still points at the question.
        let mut m = answer(0x8180);
        let first_owner = m.iter().position(|&b| b == 0xc0).unwrap();
        m.splice(
            first_owner..first_owner + 2,
            wire("_ldap._tcp.dc._msdcs.attacker.example"),
        );
        // The second target's pointer moved with the splice: point it at "example.com" again.
        let shift = wire("_ldap._tcp.dc._msdcs.attacker.example").len() - 2;
        let len = m.len();
        let old = u16::from_be_bytes([m[len - 2], m[len - 1]]) as usize & 0x3fff;
        m[len - 2..].copy_from_slice(&((0xc000 | (old + shift)) as u16).to_be_bytes());
        let records = parse(&m, 7, NAME).unwrap();
        let targets: Vec<&str> = records.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, vec!["dc2.example.com"]);
    }

    #[test]
    fn names_match_whatever_their_case() {
        let upper = answer_to(0x8180, &NAME.to_ascii_uppercase());
        assert_eq!(parse(&upper, 7, NAME).unwrap().len(), 2);
        assert_eq!(
            parse(&answer(0x8180), 7, "_LDAP._tcp.DC._msdcs.Example.COM.")
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn targets_outside_the_domain_are_dropped() {
        let srv = |target: &str| Srv {
            priority: 0,
            weight: 0,
            port: 389,
            target: target.into(),
        };
        let records = vec![
            srv("dc1.corp.example.com"),
            srv("dc.attacker.example"),
            srv("example.com"),
            srv("evilexample.com"),
            srv("example.com.attacker.example"),
            srv("DC2.Example.Com"),
        ];
        let kept: Vec<String> = within(records, "Example.com")
            .into_iter()
            .map(|r| r.target)
            .collect();
        assert_eq!(
            kept,
            vec!["dc1.corp.example.com", "example.com", "DC2.Example.Com"]
        );
    }
}
