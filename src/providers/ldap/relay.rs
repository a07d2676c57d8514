//! Where the framing guard meets the network. ldap3 parses whatever its socket delivers and
//! accepts only a standard TCP or Unix socket, so the connection is made here instead: TCP to the
//! server, StartTLS (its answer read through the guard) and TLS with rustls, all done by us. ldap3
//! then gets one end of a private loopback socket pair, and a relay task copies its requests to
//! the server and only checked messages ([`super::bounded`]) back, on the decrypted side of TLS.
//!
//! With a Kerberos ticket the SASL GSSAPI bind ([`super::sasl`]) is done here too, before ldap3
//! gets the socket, because only here is it known whether TLS protects the connection: over TLS
//! the bind adds no security layer and binds itself to the server's certificate (channel
//! binding); over plain LDAP it negotiates one and the relay then wraps and unwraps every SASL
//! buffer, so that ldap3 and the guard see plain LDAP messages either way.
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
use super::kerberos::{Context, Kerberos, KerberosError, Protection, Request};
use super::sasl::{self, Layer};

/// How the connection failed before ldap3 got it.
#[derive(Debug)]
pub enum OpenError {
    /// The network or TLS: the text says what (cleaned by the caller).
    Unreachable(String),
    /// The server refused StartTLS with this result code and text.
    StartTlsRefused(u8, String),
    /// The server's bytes broke a limit or were not LDAP.
    Hostile(Violation),
    /// The Kerberos side of the bind failed (no ticket, unknown server, the library's words).
    Kerberos(KerberosError),
    /// The server refused the Kerberos bind with this result code and text.
    BindRefused(u32, String),
    /// Connecting and binding took longer than this many seconds.
    TimedOut(u64),
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
    /// Bind with the person's Kerberos ticket before ldap3 gets the connection.
    pub kerberos: Option<TicketBind>,
}

/// Whose ticket binds, and to which service principal.
pub struct TicketBind {
    pub kerberos: &'static dyn Kerberos,
    /// `None`: the ticket cache's default principal.
    pub principal: Option<String>,
    /// `ldap/host@REALM`.
    pub service: String,
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
    let mut wire = match target.tls {
        Some(config) => Wire::Tls(Box::new(tls_handshake(&mut server, config, &host).await?)),
        None => Wire::Plain,
    };
    if let Some(bind) = target.kerberos {
        wire = sasl_bind(&mut server, wire, &mut framer, bind).await?;
    }
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
    let answer = exchange(server, &mut Wire::Plain, framer, START_TLS, "StartTLS").await?;
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

/// Sends one request of ours over `wire` and reads the next message through the guard.
async fn exchange(
    server: &mut TcpStream,
    wire: &mut Wire,
    framer: &mut Framer,
    request: &[u8],
    what: &str,
) -> Result<Vec<u8>, OpenError> {
    let out = wire.outgoing(request)?;
    server.write_all(&out).await?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut plain = Vec::new();
    loop {
        if let Some(message) = framer.next_message().map_err(OpenError::Hostile)? {
            return Ok(message);
        }
        let n = server.read(&mut buf).await?;
        if n == 0 {
            framer.finish().map_err(OpenError::Hostile)?;
            return Err(OpenError::Unreachable(format!(
                "the server closed the connection instead of answering {what}"
            )));
        }
        plain.clear();
        wire.incoming(&buf[..n], &mut plain)
            .map_err(OpenError::from)?;
        framer.push(&plain).map_err(OpenError::Hostile)?;
    }
}

/// The SASL GSSAPI bind (RFC 4752) with the person's ticket, over `wire`. Returns the wire the
/// rest of the connection uses: the same one over TLS, a sealed one over plain LDAP.
async fn sasl_bind(
    server: &mut TcpStream,
    mut wire: Wire,
    framer: &mut Framer,
    bind: TicketBind,
) -> Result<Wire, OpenError> {
    let over_tls = matches!(wire, Wire::Tls(_));
    let request = Request {
        principal: bind.principal.as_deref(),
        service: &bind.service,
        protection: if over_tls {
            Protection::None
        } else {
            Protection::Seal
        },
        channel_binding: wire.server_certificate().map(sasl::tls_server_end_point),
    };
    let mut context = bind
        .kerberos
        .context(&request)
        .map_err(OpenError::Kerberos)?;
    let mut id = 1u8;
    let mut input: Option<Vec<u8>> = None;
    let offer = loop {
        // The first step asks the KDC for the server's ticket: a blocking network call.
        let (back, step) = tokio::task::spawn_blocking(move || {
            let step = context.step(input.as_deref());
            (context, step)
        })
        .await
        .map_err(|e| OpenError::Unreachable(e.to_string()))?;
        context = back;
        let step = step.map_err(OpenError::Kerberos)?;
        id += 1;
        let answer = bind_step(server, &mut wire, framer, id, &step.token).await?;
        match (answer.code, answer.credentials) {
            (sasl::SASL_BIND_IN_PROGRESS, Some(token)) if step.done => break token,
            (sasl::SASL_BIND_IN_PROGRESS, token) if !step.done => input = token,
            (code, _) => return Err(OpenError::BindRefused(code, answer.text)),
        }
    };
    let (offer, _) = context.unwrap(&offer).map_err(OpenError::Kerberos)?;
    let (layer, server_max) = sasl::choose_layer(&offer, over_tls).map_err(layer_error)?;
    let reply = context
        .wrap(&sasl::layer_answer(layer), false)
        .map_err(OpenError::Kerberos)?;
    let answer = bind_step(server, &mut wire, framer, id + 1, &reply).await?;
    if answer.code != 0 {
        return Err(OpenError::BindRefused(answer.code, answer.text));
    }
    tracing::debug!(?layer, "bound with the Kerberos ticket");
    Ok(match layer {
        Layer::None => wire,
        Layer::Integrity | Layer::Confidentiality => Wire::Sasl(Box::new(Sealed {
            context,
            seal: layer == Layer::Confidentiality,
            buffers: sasl::Buffers::default(),
            piece: sasl::outgoing_piece(server_max),
        })),
    })
}

fn layer_error(why: &'static str) -> OpenError {
    OpenError::Kerberos(KerberosError::Failed(why.into()))
}

/// One BindRequest with `token` and its answer.
async fn bind_step(
    server: &mut TcpStream,
    wire: &mut Wire,
    framer: &mut Framer,
    id: u8,
    token: &[u8],
) -> Result<sasl::BindResponse, OpenError> {
    let request = sasl::bind_request(id, token);
    let answer = exchange(server, wire, framer, &request, "the Kerberos bind").await?;
    sasl::bind_response(&answer, id).map_err(OpenError::Hostile)
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

/// The server side of the relay: plain, TLS driven by hand, or SASL buffers of a Kerberos
/// security layer.
enum Wire {
    Plain,
    Tls(Box<ClientConnection>),
    Sasl(Box<Sealed>),
}

/// The Kerberos security layer of a plain connection.
struct Sealed {
    context: Box<dyn Context>,
    /// Confidentiality (else integrity only).
    seal: bool,
    buffers: sasl::Buffers,
    /// Most LDAP bytes in one outgoing buffer.
    piece: usize,
}

/// Why the wire failed: the transport, or a server breaking the SASL buffer limits.
#[derive(Debug)]
enum WireError {
    Io(io::Error),
    Hostile(Violation),
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

impl From<WireError> for OpenError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Io(e) => e.into(),
            WireError::Hostile(v) => OpenError::Hostile(v),
        }
    }
}

impl Sealed {
    fn incoming(&mut self, bytes: &[u8], plain: &mut Vec<u8>) -> Result<(), WireError> {
        self.buffers.push(bytes).map_err(WireError::Hostile)?;
        while let Some(token) = self.buffers.next_token().map_err(WireError::Hostile)? {
            let Ok((data, sealed)) = self.context.unwrap(&token) else {
                return Err(WireError::Hostile(Violation::Malformed(
                    "a SASL buffer that fails the Kerberos integrity check",
                )));
            };
            if self.seal && !sealed {
                return Err(WireError::Hostile(Violation::Malformed(
                    "an unencrypted SASL buffer on a sealed connection",
                )));
            }
            plain.extend_from_slice(&data);
        }
        Ok(())
    }

    fn outgoing(&mut self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for piece in plain.chunks(self.piece) {
            let token = self
                .context
                .wrap(piece, self.seal)
                .map_err(|e| io::Error::other(e.to_string()))?;
            out.extend_from_slice(&sasl::frame(&token));
        }
        Ok(out)
    }
}

impl Wire {
    /// The server's certificate (DER), over TLS.
    fn server_certificate(&self) -> Option<&[u8]> {
        match self {
            Wire::Tls(tls) => tls.peer_certificates()?.first().map(|c| c.as_ref()),
            _ => None,
        }
    }

    /// Bytes from the server, decrypted into `plain`.
    fn incoming(&mut self, bytes: &[u8], plain: &mut Vec<u8>) -> Result<(), WireError> {
        let tls = match self {
            Wire::Plain => {
                plain.extend_from_slice(bytes);
                return Ok(());
            }
            Wire::Sasl(sealed) => return sealed.incoming(bytes, plain),
            Wire::Tls(tls) => tls,
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
        let tls = match self {
            Wire::Plain => return Ok(plain.to_vec()),
            Wire::Sasl(sealed) => return sealed.outgoing(plain),
            Wire::Tls(tls) => tls,
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
                match wire.incoming(&from_server[..n], &mut plain) {
                    Ok(()) => {}
                    Err(WireError::Hostile(violation)) => return Err(violation),
                    Err(WireError::Io(_)) => return Ok(()),
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
mod kerberos_tests;

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
