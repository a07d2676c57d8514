//! A scripted LDAP server for answers no real directory sends on demand: hostile or malformed
//! BER, Active Directory's bind diagnostics and attributes, silence. It reads each request's
//! message id and operation, and writes back whatever bytes the script returns.
#![allow(dead_code)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// BER tag-length-value with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

pub fn octets(s: &[u8]) -> Vec<u8> {
    tlv(0x04, s)
}

/// An LDAPMessage with the request's id, an operation and optional raw controls.
pub fn message(id: &[u8], op: Vec<u8>, controls: Option<Vec<u8>>) -> Vec<u8> {
    let mut body = tlv(0x02, id);
    body.extend(op);
    if let Some(c) = controls {
        body.extend(tlv(0xa0, &c));
    }
    tlv(0x30, &body)
}

/// A result (BindResponse 0x61, SearchResultDone 0x65, ...).
pub fn result(tag: u8, rc: u8, text: &str) -> Vec<u8> {
    let mut body = tlv(0x0a, &[rc]);
    body.extend(octets(b""));
    body.extend(octets(text.as_bytes()));
    tlv(tag, &body)
}

/// One control with a value.
pub fn control(oid: &[u8], value: &[u8]) -> Vec<u8> {
    let mut body = octets(oid);
    body.extend(octets(value));
    tlv(0x30, &body)
}

/// A SearchResultEntry with single-valued attributes.
pub fn entry(dn: &str, attrs: &[(&str, &str)]) -> Vec<u8> {
    let mut list = Vec::new();
    for (name, value) in attrs {
        let mut a = octets(name.as_bytes());
        a.extend(tlv(0x31, &octets(value.as_bytes())));
        list.extend(tlv(0x30, &a));
    }
    let mut body = octets(dn.as_bytes());
    body.extend(tlv(0x30, &list));
    tlv(0x64, &body)
}

/// A request as the script sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: Vec<u8>,
    /// 0x60 bind, 0x63 search, 0x42 unbind, ...
    pub op: u8,
    pub raw: Vec<u8>,
}

/// Serves one connection at a time on a loopback port; returns the port.
pub async fn serve<F>(script: F) -> u16
where
    F: Fn(&Request) -> Vec<u8> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = std::sync::Arc::new(script);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some((req, used)) = parse_request(&buf) {
                        buf.drain(..used);
                        let answer = script(&req);
                        if !answer.is_empty() && sock.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    port
}

/// One complete request from the front of `buf`, and its length.
pub fn parse_request(buf: &[u8]) -> Option<(Request, usize)> {
    let (body_start, len) = header(buf)?;
    let end = body_start + len;
    if buf.len() < end {
        return None;
    }
    let body = &buf[body_start..end];
    // message id: 02 LL id
    let id_len = usize::from(*body.get(1)?);
    let id = body.get(2..2 + id_len)?.to_vec();
    let op = *body.get(2 + id_len)?;
    Some((
        Request {
            id,
            op,
            raw: buf[..end].to_vec(),
        },
        end,
    ))
}

fn header(buf: &[u8]) -> Option<(usize, usize)> {
    let first = *buf.get(1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*buf.get(2 + i)?);
    }
    Some((2 + n, len))
}
