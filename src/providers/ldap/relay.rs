//! Where the framing guard meets the network. ldap3 parses whatever its socket delivers and
//! accepts only a standard TCP or Unix socket, so the connection is made here instead: TCP to the
//! server, StartTLS (its answer read through the guard) and TLS with rustls, all done by us. ldap3
//! then gets one end of a private loopback socket pair, and a relay task copies its requests to
//! the server and only checked messages ([`super::bounded`]) back, on the decrypted side of TLS.
//!
//! When the server breaks a limit the relay records the [`Violation`] and closes ldap3's socket:
//! the pending operation fails, and [`Driver::violation`] says why in plain words.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, StdStream};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use url::{Host, Url};

use super::bounded::{self, Framer, Violation, LIMITS};

/// How the connection failed before ldap3 got it.
#[derive(Debug)]
pub enum OpenError {
    /// The network or TLS: the text says what (cleaned by the caller).
    Unreachable(String),
    /// The server refused StartTLS with this result code and text.
    StartTlsRefused(u8, String),
    /// The server's bytes broke a limit or were not LDAP.
    Hostile(Violation),
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Unreachable(e.to_string())
    }
}

/// The tasks behind one connection: ldap3's driver and the relay. Aborted when dropped.
pub struct Driver {
    conn: JoinHandle<()>,
    relay: JoinHandle<()>,
    verdict: Arc<OnceLock<Violation>>,
}

impl Driver {
    /// Stops both tasks.
    pub fn abort(&self) {
        self.conn.abort();
        self.relay.abort();
    }

    /// Why the relay cut the connection, when the server broke a limit.
    pub fn violation(&self) -> Option<Violation> {
        self.verdict.get().cloned()
    }

    /// Whether ldap3's driver died of a panic, waiting up to `wait` for it to finish unwinding.
    pub async fn panicked(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, &mut self.conn).await {
            Ok(Err(e)) => e.is_panic(),
            _ => false,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Where to connect and how to secure it.
pub struct Target<'a> {
    pub url: &'a Url,
    pub starttls: bool,
    pub tls: Option<&'a Arc<ClientConfig>>,
}

/// Connects, secures and hands ldap3 a guarded stream. The caller bounds the time.
pub async fn open(target: Target<'_>) -> Result<(Ldap, Driver), OpenError> {
    let host = target
        .url
        .host()
        .ok_or_else(|| OpenError::Unreachable("the URL names no host".into()))?;
    let tls_port = target.url.scheme() == "ldaps";
    let port = target
        .url
        .port()
        .unwrap_or(if tls_port { 636 } else { 389 });
    let mut server = match &host {
        Host::Domain(name) => TcpStream::connect((*name, port)).await?,
        Host::Ipv4(ip) => TcpStream::connect((IpAddr::V4(*ip), port)).await?,
        Host::Ipv6(ip) => TcpStream::connect((IpAddr::V6(*ip), port)).await?,
    };
    let mut framer = Framer::new(LIMITS);
    if target.starttls {
        start_tls(&mut server, &mut framer).await?;
    }
    let wire = match target.tls {
        Some(config) => Wire::Tls(Box::new(tls_handshake(&mut server, config, &host).await?)),
        None => Wire::Plain,
    };
    let (ours, theirs) = local_pair().await?;
    let local_url = Url::parse(&format!("ldap://127.0.0.1:{}", theirs.local_addr()?.port()))
        .map_err(|e| OpenError::Unreachable(e.to_string()))?;
    let settings = LdapConnSettings::new().set_std_stream(StdStream::Tcp(theirs));
    let (conn, ldap) = LdapConnAsync::from_url_with_settings(settings, &local_url)
        .await
        .map_err(|e| OpenError::Unreachable(e.to_string()))?;
    let verdict = Arc::new(OnceLock::new());
    let relay = tokio::spawn(relay(server, wire, framer, ours, verdict.clone()));
    // A panic inside the driver ends only this task; the pending operation then fails.
    let conn = tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(error = %e, "LDAP connection ended");
        }
    });
    Ok((
        ldap,
        Driver {
            conn,
            relay,
            verdict,
        },
    ))
}

/// The StartTLS extended request, message id 1 (RFC 4511 4.14.1).
const START_TLS: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x161.3.6.1.4.1.1466.20037";

/// Asks for StartTLS and reads the answer through the guard. Nothing may follow the answer
/// before the handshake: such bytes would be injected into the encrypted session.
async fn start_tls(server: &mut TcpStream, framer: &mut Framer) -> Result<(), OpenError> {
    server.write_all(START_TLS).await?;
    let mut buf = [0u8; 4096];
    let answer = loop {
        if let Some(message) = framer.next_message().map_err(OpenError::Hostile)? {
            break message;
        }
        let n = server.read(&mut buf).await?;
        if n == 0 {
            framer.finish().map_err(OpenError::Hostile)?;
            return Err(OpenError::Unreachable(
                "the server closed the connection instead of answering StartTLS".into(),
            ));
        }
        framer.push(&buf[..n]).map_err(OpenError::Hostile)?;
    };
    if framer.finish().is_err() {
        return Err(OpenError::Hostile(Violation::Malformed(
            "bytes after its StartTLS answer, before encryption",
        )));
    }
    let (code, text) = extended_result(&answer).ok_or(OpenError::Hostile(Violation::Malformed(
        "its StartTLS answer is no extended response",
    )))?;
    if code != 0 {
        return Err(OpenError::StartTlsRefused(code, text));
    }
    Ok(())
}

/// The result code and text of an ExtendedResponse (a message the guard has checked).
fn extended_result(message: &[u8]) -> Option<(u8, String)> {
    let (0x30, body, _) = bounded::element(message)? else {
        return None;
    };
    let (0x02, _id, rest) = bounded::element(body)? else {
        return None;
    };
    let (0x78, op, _) = bounded::element(rest)? else {
        return None;
    };
    let (0x0a, code, rest) = bounded::element(op)? else {
        return None;
    };
    let (0x04, _matched, rest) = bounded::element(rest)? else {
        return None;
    };
    let (0x04, text, _) = bounded::element(rest)? else {
        return None;
    };
    let code = match code {
        [c] => *c,
        _ => u8::MAX,
    };
    Some((code, String::from_utf8_lossy(text).into_owned()))
}

/// The TLS handshake over `server`, with our trust and the URL's host as the name to check.
async fn tls_handshake(
    server: &mut TcpStream,
    config: &Arc<ClientConfig>,
    host: &Host<&str>,
) -> Result<ClientConnection, OpenError> {
    let name = match host {
        Host::Domain(d) => ServerName::try_from(d.to_string())
            .map_err(|e| OpenError::Unreachable(e.to_string()))?,
        Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::V4(*ip).into()),
        Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::V6(*ip).into()),
    };
    let mut tls = ClientConnection::new(config.clone(), name)
        .map_err(|e| OpenError::Unreachable(e.to_string()))?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        flush_tls(server, &mut tls).await?;
        if !tls.is_handshaking() {
            return Ok(tls);
        }
        let n = server.read(&mut buf).await?;
        if n == 0 {
            return Err(OpenError::Unreachable(
                "the server closed the connection during the TLS handshake".into(),
            ));
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            tls.read_tls(&mut rest)?;
            if let Err(e) = tls.process_new_packets() {
                let _ = flush_tls(server, &mut tls).await;
                return Err(OpenError::Unreachable(e.to_string()));
            }
        }
    }
}

/// Sends whatever TLS records rustls has queued.
async fn flush_tls(server: &mut TcpStream, tls: &mut ClientConnection) -> io::Result<()> {
    while tls.wants_write() {
        let mut out = Vec::new();
        tls.write_tls(&mut out)?;
        server.write_all(&out).await?;
    }
    Ok(())
}

/// Two connected loopback sockets: ours for the relay, theirs (a std socket) for ldap3. Only the
/// connection made from our own socket is accepted; any other local caller is turned away.
async fn local_pair() -> io::Result<(TcpStream, std::net::TcpStream)> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let ours = TcpStream::connect(listener.local_addr()?).await?;
    let expected = ours.local_addr()?;
    loop {
        let (theirs, peer) = listener.accept().await?;
        if peer == expected {
            return Ok((ours, theirs.into_std()?));
        }
    }
}

/// The server side of the relay: plain, or TLS driven by hand.
enum Wire {
    Plain,
    Tls(Box<ClientConnection>),
}

impl Wire {
    /// Bytes from the server, decrypted into `plain`.
    fn incoming(&mut self, bytes: &[u8], plain: &mut Vec<u8>) -> io::Result<()> {
        let Wire::Tls(tls) = self else {
            plain.extend_from_slice(bytes);
            return Ok(());
        };
        let mut rest = bytes;
        loop {
            if !rest.is_empty() {
                tls.read_tls(&mut rest)?;
            }
            let state = tls.process_new_packets().map_err(io::Error::other)?;
            let ready = state.plaintext_bytes_to_read();
            let start = plain.len();
            plain.resize(start + ready, 0);
            tls.reader().read_exact(&mut plain[start..])?;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Bytes from ldap3, encrypted for the server, plus any records rustls queued meanwhile.
    fn outgoing(&mut self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let Wire::Tls(tls) = self else {
            return Ok(plain.to_vec());
        };
        tls.writer().write_all(plain)?;
        let mut out = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut out)?;
        }
        Ok(out)
    }
}

/// Copies until either side ends; records a violation before closing ldap3's socket.
async fn relay(
    mut server: TcpStream,
    mut wire: Wire,
    mut framer: Framer,
    mut local: TcpStream,
    verdict: Arc<OnceLock<Violation>>,
) {
    if let Err(violation) = pump(&mut server, &mut wire, &mut framer, &mut local).await {
        tracing::warn!(%violation, "closing the LDAP connection");
        let _ = verdict.set(violation);
    }
}

async fn pump(
    server: &mut TcpStream,
    wire: &mut Wire,
    framer: &mut Framer,
    local: &mut TcpStream,
) -> Result<(), Violation> {
    let mut from_server = vec![0u8; 16 * 1024];
    let mut from_local = vec![0u8; 16 * 1024];
    let mut plain = Vec::new();
    loop {
        tokio::select! {
            read = server.read(&mut from_server) => {
                let n = match read {
                    Ok(0) | Err(_) => return framer.finish(),
                    Ok(n) => n,
                };
                plain.clear();
                if wire.incoming(&from_server[..n], &mut plain).is_err() {
                    return Ok(());
                }
                framer.push(&plain)?;
                while let Some(message) = framer.next_message()? {
                    if local.write_all(&message).await.is_err() {
                        return Ok(());
                    }
                }
                // Answers rustls owes the server (key updates, alerts).
                let owed = wire.outgoing(&[]).unwrap_or_default();
                if !owed.is_empty() && server.write_all(&owed).await.is_err() {
                    return Ok(());
                }
            }
            read = local.read(&mut from_local) => {
                let n = match read {
                    Ok(0) | Err(_) => return Ok(()),
                    Ok(n) => n,
                };
                let Ok(out) = wire.outgoing(&from_local[..n]) else {
                    return Ok(());
                };
                if server.write_all(&out).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starttls_request_is_well_formed() {
        bounded::check_message(START_TLS, 2).unwrap();
    }

    #[test]
    fn extended_results_are_read() {
        // SEQUENCE { 1, [APPLICATION 24] { 52, "", "busy" } }
        let ok = b"\x30\x10\x02\x01\x01\x78\x0b\x0a\x01\x34\x04\x00\x04\x04busy";
        assert_eq!(extended_result(ok), Some((52, "busy".into())));
        assert_eq!(extended_result(b"\x30\x03\x02\x01\x01"), None);
    }
}
