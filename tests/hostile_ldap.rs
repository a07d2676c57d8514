//! Hostile LDAP servers: the real binary's `check` against a directory that answers with a
//! deeply nested SEQUENCE, a multi-GiB announced length, a message cut short, or an endless
//! stream, in plain LDAP, in the StartTLS answer (before encryption) and after TLS. Each run must
//! end with exit 1 and a plain reason, in bounded time, with the process's peak memory (VmHWM,
//! read from /proc while it runs) below a bound; `doctor`, which reads the root DSE without a
//! bind, must likewise end with its report. A run that grows past [`KILL_AT`] is killed so
//! the machine survives the old behaviour.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use support::measure::{measure, vm_hwm, Run};
use support::{fake_ldap, slapd, Keyring, Session, BIN};

/// Longest a hostile `check` may take: operation timeouts are 2 s, three per attempt.
const DEADLINE: Duration = Duration::from_secs(15);
/// Peak resident memory a hostile `check` may reach.
const MEMORY_BOUND_KIB: u64 = 64 * 1024;
/// Where a run is killed rather than let it take the machine's memory.
const KILL_AT: u64 = 768 * 1024;

/// What the directory does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// An Active Directory that accepts the bind and says the password expires in 30 days.
    Working,
    /// A message nested 50,000 SEQUENCEs deep (300 KB).
    DeepNesting,
    /// A header announcing 2 GiB, then bytes for as long as the client reads.
    HugeLength,
    /// Half a message, then the connection closes.
    Truncated,
    /// Valid small search entries, without end.
    Endless,
    /// Valid small messages for a request nobody made, without end.
    Unsolicited,
}

/// Where the hostile answer comes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Plain,
    /// StartTLS, with the hostile bytes as its answer, before any encryption.
    BeforeStartTls,
    /// StartTLS, then the hostile bytes inside TLS.
    AfterStartTls,
    Ldaps,
}

const USER: &str = "alice@corp.example";

struct Fixture {
    session: Session,
    config: PathBuf,
    mode: Arc<Mutex<Mode>>,
    /// The directory's URL and the CA its certificate chains to.
    url: String,
    ca: PathBuf,
    _certs: tempfile::TempDir,
}

impl Fixture {
    /// Signed in against the working directory over `transport`.
    fn signed_in(transport: Transport) -> Fixture {
        let certs = tempfile::tempdir().unwrap();
        slapd::require("openssl", "install with: apt-get install -y openssl");
        slapd::make_certificates(certs.path());
        let mode = Arc::new(Mutex::new(Mode::Working));
        let port = serve(mode.clone(), transport, tls_config(certs.path()));
        let ca = certs.path().join("ca.pem");
        let url = match transport {
            Transport::Ldaps => format!("ldaps://127.0.0.1:{port}"),
            _ => format!("ldap://127.0.0.1:{port}"),
        };
        let url_keys = match transport {
            Transport::BeforeStartTls | Transport::AfterStartTls => {
                format!("url = \"{url}\"\nstarttls = true\n")
            }
            _ => format!("url = \"{url}\"\n"),
        };
        let session = Session::start(Keyring::Unlocked);
        let config = session.write_config(
            "ldap.toml",
            &format!(
                "[account]\nusername = \"{USER}\"\n[provider]\nkind = \"ldap\"\n[ldap]\n{url_keys}\
                 ca_file = \"{}\"\nbind = \"{{username}}\"\nbase = \"dc=corp,dc=example\"\n\
                 flavor = \"active-directory\"\ntimeout_secs = 2\n",
                ca.display()
            ),
        );
        let out = session.run(
            &[
                "--config",
                config.to_str().unwrap(),
                "sign-in",
                "--password-stdin",
            ],
            "pw\n",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "sign-in over {transport:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Fixture {
            session,
            config,
            mode,
            url,
            ca,
            _certs: certs,
        }
    }

    /// `check` against the directory in `mode`, measured.
    fn check(&self, mode: Mode) -> Run {
        self.run(mode, &["check", "--json", "--no-notify"])
    }

    /// The program with `args` against the directory in `mode`, measured.
    fn run(&self, mode: Mode, args: &[&str]) -> Run {
        let config = ["--config", self.config.to_str().unwrap()];
        self.run_bare(mode, &[&config[..], args].concat())
    }

    /// The program with `args` alone (no `--config`) against the directory in `mode`, measured.
    fn run_bare(&self, mode: Mode, args: &[&str]) -> Run {
        *self.mode.lock().unwrap() = mode;
        let mut command = self.session.command(BIN);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        measure(
            command.spawn().expect("start signin-assistant"),
            DEADLINE * 2,
            KILL_AT,
        )
    }
}

/// Exit 1 with one of `words` in the reason, in time, within the memory bound.
fn assert_refused(what: &str, run: &Run, words: &[&str]) {
    assert_ended_plainly(what, run, words, &[1]);
}

/// An exit with one of `codes` and one of `words` in the output, in time, within the memory bound.
fn assert_ended_plainly(what: &str, run: &Run, words: &[&str], codes: &[i32]) {
    eprintln!(
        "{what}: exit {:?}, {} KiB peak, {:?}{}: {}",
        run.code,
        run.peak_kib,
        run.took,
        if run.killed { ", killed" } else { "" },
        reason(&run.output)
    );
    if std::env::var_os("HOSTILE_LDAP_SURVEY").is_some() {
        return; // only measure, e.g. to see what a build without the guard does
    }
    assert!(!run.killed, "{what}: killed at {} KiB", run.peak_kib);
    assert!(
        run.code.is_some_and(|code| codes.contains(&code)),
        "{what}: exit {:?}, not one of {codes:?}: {}",
        run.code,
        run.output
    );
    assert!(!run.output.contains("panicked"), "{what}: {}", run.output);
    assert!(run.took < DEADLINE, "{what}: took {:?}", run.took);
    assert!(
        run.peak_kib < MEMORY_BOUND_KIB,
        "{what}: peak {} KiB",
        run.peak_kib
    );
    assert!(
        words.iter().any(|w| run.output.contains(w)),
        "{what}: none of {words:?} in {}",
        run.output
    );
}

/// The reason `check --json` gave, or the last line of the output.
fn reason(output: &str) -> String {
    let json = output
        .lines()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    match json.as_ref().and_then(|j| j["reason"].as_str()) {
        Some(reason) => reason.to_string(),
        None => output.lines().last().unwrap_or_default().to_string(),
    }
}

/// Every hostile mode, with the words one of which the plain reason must contain.
const HOSTILE: [(Mode, &[&str]); 5] = [
    (Mode::DeepNesting, &["nests deeper than 32 levels"]),
    (Mode::HugeLength, &["too large"]),
    (Mode::Truncated, &["not valid LDAP", "ended in the middle"]),
    (
        Mode::Unsolicited,
        &["more than 4096 messages", "not valid LDAP"],
    ),
    (
        Mode::Endless,
        &[
            "more than 16777216 bytes",
            "more than 16 entries",
            "not valid LDAP",
        ],
    ),
];

/// The family against one transport: every hostile mode, then the working directory again.
fn family(transport: Transport) {
    let f = Fixture::signed_in(transport);
    for (mode, words) in HOSTILE {
        let run = f.check(mode);
        assert_refused(&format!("{transport:?} {mode:?}"), &run, words);
    }
    assert_works_again(&f);
}

/// `check` against the working directory succeeds again, within the memory bound.
fn assert_works_again(f: &Fixture) {
    let run = f.check(Mode::Working);
    assert_eq!(run.code, Some(0), "working again: {}", run.output);
    assert!(
        run.peak_kib < MEMORY_BOUND_KIB,
        "working: {} KiB",
        run.peak_kib
    );
}

#[test]
fn hostile_answers_in_plain_ldap() {
    family(Transport::Plain);
}

#[test]
fn hostile_answers_to_starttls_before_encryption() {
    family(Transport::BeforeStartTls);
}

#[test]
fn hostile_answers_after_starttls() {
    family(Transport::AfterStartTls);
}

#[test]
fn hostile_answers_over_ldaps() {
    family(Transport::Ldaps);
}

/// `doctor` reads the root DSE without a bind: whatever the server sends, it reports and ends
/// (exit 1 here, as no notification server runs), in bounded time and memory.
#[test]
fn doctor_survives_hostile_answers() {
    for transport in [Transport::Plain, Transport::BeforeStartTls] {
        let f = Fixture::signed_in(transport);
        for mode in [
            Mode::DeepNesting,
            Mode::HugeLength,
            Mode::Truncated,
            Mode::Endless,
            Mode::Unsolicited,
        ] {
            let run = f.run(mode, &["doctor", "--json"]);
            let what = format!("doctor {transport:?} {mode:?}");
            eprintln!(
                "{what}: exit {:?}, {} KiB peak, {:?}{}",
                run.code,
                run.peak_kib,
                run.took,
                if run.killed { ", killed" } else { "" }
            );
            if std::env::var_os("HOSTILE_LDAP_SURVEY").is_some() {
                continue;
            }
            assert!(!run.killed, "{what}: killed at {} KiB", run.peak_kib);
            assert!(matches!(run.code, Some(0 | 1)), "{what}: {}", run.output);
            assert!(!run.output.contains("panicked"), "{what}: {}", run.output);
            assert!(run.took < DEADLINE, "{what}: took {:?}", run.took);
            assert!(
                run.peak_kib < MEMORY_BOUND_KIB,
                "{what}: {} KiB",
                run.peak_kib
            );
        }
    }
}

/// `setup` reads the root DSE of the directory it is given before it writes anything: whatever
/// that server sends, it says why in plain words and writes no configuration, in bounded time
/// and memory (exit 2 when, without the server's answer, it needs the base DN from the person).
#[test]
fn setup_survives_hostile_answers() {
    for transport in [Transport::Plain, Transport::Ldaps] {
        let f = Fixture::signed_in(transport);
        let dns = format!("127.0.0.1:{}", support::dnsmasq::free_udp_port());
        let mut args = vec!["setup", "--email", USER, "--ldap-url", &f.url];
        // With a CA file the setup asks for StartTLS on ldap://, which this server does not offer.
        if transport == Transport::Ldaps {
            args.extend(["--ca-file", f.ca.to_str().unwrap()]);
        }
        args.extend(["--yes", "--no-autostart", "--dns-server", &dns]);
        for (mode, words) in HOSTILE {
            let run = f.run_bare(mode, &args);
            let what = format!("setup {transport:?} {mode:?}");
            // The root DSE is one entry: a second one is refused at once.
            let words = [words, &["it sent more than one root DSE entry"]].concat();
            assert_ended_plainly(&what, &run, &words, &[1, 2]);
            let written = f
                .session
                .home()
                .join(".config/signin-assistant/config.toml");
            assert!(
                !written.exists(),
                "setup {mode:?} wrote {}",
                written.display()
            );
        }
    }
}

/// The running agent does the checks `check` asks of it: every hostile answer ends that check
/// with a plain reason, and the agent lives on, within the memory bound, and checks the working
/// directory again.
#[test]
fn running_agent_survives_hostile_answers() {
    let f = Fixture::signed_in(Transport::AfterStartTls);
    let mut agent = f.session.start_agent("hostile", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    for (mode, words) in HOSTILE {
        let what = format!("running agent, {mode:?}");
        let run = f.check(mode);
        assert_refused(&what, &run, words);
        assert!(agent.running(), "{what}: the agent ended:\n{}", agent.log());
        let peak = vm_hwm(&format!("/proc/{}/status", agent.pid())).unwrap();
        eprintln!("{what}: the agent's peak so far {peak} KiB");
        assert!(
            peak < MEMORY_BOUND_KIB,
            "{what}: the agent reached {peak} KiB"
        );
    }
    assert_works_again(&f);
    assert!(agent.running(), "the agent ended:\n{}", agent.log());
}

// ---- The directory ---------------------------------------------------------------------------

fn tls_config(dir: &Path) -> Arc<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// Serves each connection in its own thread; returns the port.
fn serve(mode: Arc<Mutex<Mode>>, transport: Transport, tls: Arc<ServerConfig>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let (mode, tls) = (*mode.lock().unwrap(), tls.clone());
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
                connection(tcp, mode, transport, tls);
            });
        }
    });
    port
}

fn connection(tcp: std::net::TcpStream, mode: Mode, transport: Transport, tls: Arc<ServerConfig>) {
    let mut tcp = tcp;
    let wrap = |tcp| -> Box<dyn Io> {
        Box::new(StreamOwned::new(ServerConnection::new(tls).unwrap(), tcp))
    };
    let mut stream: Box<dyn Io> = match transport {
        Transport::Plain => Box::new(tcp),
        Transport::Ldaps => wrap(tcp),
        Transport::BeforeStartTls | Transport::AfterStartTls => {
            let Some(req) = next_request(&mut tcp, &mut Vec::new()) else {
                return;
            };
            if transport == Transport::BeforeStartTls && mode != Mode::Working {
                hostile(&mut tcp, mode, &req.id);
                return;
            }
            let mut op = fake_ldap::tlv(0x0a, &[0]);
            op.extend(fake_ldap::octets(b""));
            op.extend(fake_ldap::octets(b""));
            let answer = fake_ldap::message(&req.id, fake_ldap::tlv(0x78, &op), None);
            if tcp.write_all(&answer).is_err() {
                return;
            }
            wrap(tcp)
        }
    };
    let mut buf = Vec::new();
    while let Some(req) = next_request(&mut stream, &mut buf) {
        let endless_search_only = mode == Mode::Endless && req.op != 0x63;
        if mode != Mode::Working && transport != Transport::BeforeStartTls && !endless_search_only {
            hostile(&mut stream, mode, &req.id);
            return;
        }
        if stream.write_all(&working(&req)).is_err() {
            return;
        }
    }
}

fn next_request(stream: &mut dyn Io, buf: &mut Vec<u8>) -> Option<fake_ldap::Request> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((req, used)) = fake_ldap::parse_request(buf) {
            buf.drain(..used);
            return Some(req);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The working directory's answer (as in tests/faults.rs).
fn working(req: &fake_ldap::Request) -> Vec<u8> {
    match req.op {
        0x60 => fake_ldap::message(&req.id, fake_ldap::result(0x61, 0, ""), None),
        0x63 => {
            let mut out = fake_ldap::message(&req.id, user_entry(), None);
            out.extend(fake_ldap::message(
                &req.id,
                fake_ldap::result(0x65, 0, ""),
                None,
            ));
            out
        }
        _ => Vec::new(),
    }
}

fn user_entry() -> Vec<u8> {
    let at = chrono::Utc::now() + chrono::TimeDelta::days(30) + chrono::TimeDelta::hours(1);
    let expiry = ((at.timestamp() + 11_644_473_600) * 10_000_000).to_string();
    fake_ldap::entry(
        "CN=Alice,CN=Users,DC=corp,DC=example",
        &[
            ("msDS-UserPasswordExpiryTimeComputed", expiry.as_str()),
            ("userAccountControl", "512"),
        ],
    )
}

/// Writes the hostile answer to the request with `id`.
fn hostile(stream: &mut dyn Io, mode: Mode, id: &[u8]) {
    match mode {
        Mode::Working => {}
        Mode::DeepNesting => {
            let mut body = fake_ldap::tlv(0x02, id);
            body.extend(nested(50_000));
            let _ = stream.write_all(&fake_ldap::tlv(0x30, &body));
        }
        Mode::HugeLength => {
            let mut head = vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01];
            head.extend_from_slice(&id[..1]);
            head.extend([0x04, 0x84, 0x7f, 0xff, 0xff, 0xf0]);
            endless(stream, &head, &[0u8; 64 * 1024]);
        }
        Mode::Truncated => {
            let whole = fake_ldap::message(id, fake_ldap::result(0x61, 0, "cut short"), None);
            let _ = stream.write_all(&whole[..whole.len() / 2]);
            let _ = stream.flush();
        }
        Mode::Endless => {
            let entry = fake_ldap::message(id, user_entry(), None);
            endless(stream, &[], &entry.repeat(64));
        }
        Mode::Unsolicited => {
            let entry = fake_ldap::message(&[0x7f], user_entry(), None);
            endless(stream, &[], &entry.repeat(64));
        }
    }
}

/// `head`, then `chunk` again and again until the client stops reading (at most 4 GiB).
fn endless(stream: &mut dyn Io, head: &[u8], chunk: &[u8]) {
    if stream.write_all(head).is_err() {
        return;
    }
    let mut sent = 0usize;
    while sent < 4 << 30 && stream.write_all(chunk).is_ok() {
        sent += chunk.len();
    }
}

/// `levels` SEQUENCEs, one inside the other, each with a 4-byte length: built from the inside
/// out in linear time.
fn nested(levels: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(levels * 6);
    for level in 0..levels {
        let content = ((levels - 1 - level) * 6) as u32;
        out.extend([0x30, 0x84]);
        out.extend(content.to_be_bytes());
    }
    out
}
