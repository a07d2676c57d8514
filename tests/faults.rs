//! Faults: the real binary's `check` against endpoints that fail, stall, lie or attack.
//!
//! Every case signs in while the endpoint works, ages the saved status by three hours, breaks
//! the endpoint one way, runs `check --json`, and requires the same outcome: no panic, exit 1
//! within the deadline, a plain reason that names the problem, and the last known status kept
//! and marked stale with its age ("checked 3 hours ago"). Entra faults come from the emulator's
//! misbehaviours (or a config pointing somewhere broken); LDAP faults from a scripted server.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use emulator::{Misbehaviour, Scenario, Throttle};
use serde_json::Value;
use support::entra::EntraFixture;
use support::{fake_ldap, json_of, slapd, Keyring, Session};

/// Longest a failing `check` may take here: per-request timeouts are 3 s (Entra) and 2 s
/// (LDAP), Retry-After waits at most 3 s, and retries are bounded.
const DEADLINE: Duration = Duration::from_secs(20);

/// What a fault must leave behind; `words` are alternatives, one must be in the reason.
fn assert_kept_and_stale(what: &str, out: &Output, took: Duration, words: &[&str]) -> Value {
    // A panic of the program exits 101; a library panic contained in its task is reported in
    // one cleaned line (see main.rs), never as the default multi-line panic message.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(took < DEADLINE, "{what}: took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    let json = json_of(out);
    let reason = json["reason"].as_str().unwrap_or_default();
    assert!(
        words.iter().any(|w| reason.contains(w)),
        "{what}: reason {reason:?} names none of {words:?}"
    );
    assert!(
        reason.contains("showing the last known status, which is stale: checked 3 hours ago"),
        "{what}: {reason}"
    );
    assert!(!reason.chars().any(char::is_control), "{what}: {reason:?}");
    assert!(
        reason.chars().count() < 1000,
        "{what}: {} chars",
        reason.len()
    );
    json
}

/// Moves the saved check three hours back, so the stale note has an age to tell.
fn age_saved_status(session: &Session) {
    let path = session.state_file();
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let earlier = Utc::now() - chrono::TimeDelta::hours(3) - chrono::TimeDelta::minutes(1);
    state["checked_at"] = Value::String(earlier.to_rfc3339());
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
}

fn timed(run: impl FnOnce() -> Output) -> (Output, Duration) {
    let started = Instant::now();
    let out = run();
    (out, started.elapsed())
}

// ---- Entra ---------------------------------------------------------------------------------

/// Signed in with a password that expires in 30 days; the saved status is 3 hours old.
fn signed_in() -> EntraFixture {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    f.must_sign_in();
    age_saved_status(&f.session);
    f
}

fn check(f: &EntraFixture) -> (Output, Duration) {
    timed(|| f.run(&["check", "--json", "--no-notify"], ""))
}

/// `check` with a config like the fixture's but with `authority` and `graph` elsewhere.
fn check_against(f: &EntraFixture, base: &str, extra: &str) -> (Output, Duration) {
    let config = f.session.write_config(
        "elsewhere.toml",
        &format!(
            "[account]\nusername = \"{user}\"\n[entra]\ntenant = \"{tenant}\"\nclient_id = \"{client}\"\n\
             authority = \"{base}\"\ngraph = \"{base}\"\ntimeout_secs = 3\nmax_retry_after_secs = 3\n{extra}",
            user = f.scenario.username,
            tenant = f.scenario.tenant,
            client = f.scenario.client_id,
        ),
    );
    // The fault is the endpoint's, not a change of endpoint: keep the password for this one.
    f.session
        .keep_for_endpoint_of(&config, &f.scenario.username);
    let config = config.to_str().unwrap().to_string();
    timed(|| {
        f.session
            .run(&["--config", &config, "check", "--json", "--no-notify"], "")
    })
}

fn assert_days_kept(what: &str, json: &Value) {
    assert_eq!(json["state"], "ok", "{what}: {json}");
    assert_eq!(json["days_left"], 30, "{what}: {json}");
}

#[test]
fn entra_connection_refused() {
    let f = signed_in();
    let (out, took) = check_against(&f, &format!("http://127.0.0.1:{}/", closed_port()), "");
    let json = assert_kept_and_stale("refused", &out, took, &["could not reach"]);
    assert_days_kept("refused", &json);
}

#[test]
fn entra_unresolvable_host() {
    let f = signed_in();
    // .invalid never resolves (RFC 6761).
    let (out, took) = check_against(&f, "https://login.signin-assistant.invalid/", "");
    let json = assert_kept_and_stale(
        "unresolvable",
        &out,
        took,
        &["could not reach", "did not answer"],
    );
    assert_days_kept("unresolvable", &json);
}

#[test]
fn entra_tls_with_an_untrusted_certificate() {
    let f = signed_in();
    let dir = tempfile::tempdir().unwrap();
    let server = TlsServer::start(dir.path(), "127.0.0.1");
    let (out, took) = check_against(&f, &format!("https://127.0.0.1:{}/", server.port), "");
    let json = assert_kept_and_stale("untrusted TLS", &out, took, &["certificate"]);
    assert_days_kept("untrusted TLS", &json);
    assert!(
        json["reason"].as_str().unwrap().contains("could not reach"),
        "{json}"
    );
}

#[test]
fn entra_endpoint_faults_keep_the_last_status() {
    let f = signed_in();
    let faults: Vec<(Misbehaviour, &[&str])> = vec![
        (Misbehaviour::Silent, &["did not answer"]),
        (Misbehaviour::HtmlStatus(500), &["HTTP 500"]),
        (Misbehaviour::HtmlStatus(502), &["HTTP 502"]),
        (Misbehaviour::HtmlStatus(503), &["HTTP 503"]),
        (Misbehaviour::MalformedJson, &["malformed JSON"]),
        (Misbehaviour::TokenWrongTypes, &["malformed JSON"]),
        (Misbehaviour::TokenMissingFields, &["malformed JSON"]),
        (Misbehaviour::GraphWrongTypes, &["malformed JSON"]),
        (Misbehaviour::HugeBody(50 << 20), &["larger than 1 MiB"]),
        (Misbehaviour::CutOff, &["cut off"]),
    ];
    for (fault, words) in faults {
        f.emulator
            .set_scenario(f.scenario.clone().with_misbehaviour(fault.clone()));
        let (out, took) = check(&f);
        let json = assert_kept_and_stale(&format!("{fault:?}"), &out, took, words);
        assert_days_kept(&format!("{fault:?}"), &json);
    }
    // The endpoint is back: the next check gets through with the kept credentials.
    f.emulator.set_scenario(f.scenario.clone());
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["reason"], Value::Null, "{json}");
}

#[test]
fn entra_absurd_retry_after_is_capped() {
    let f = signed_in();
    f.emulator
        .set_scenario(f.scenario.clone().with_throttle(Throttle {
            token: 100,
            graph: 100,
            retry_after_secs: u64::MAX,
            status: 429,
        }));
    let (out, took) = check(&f);
    let json = assert_kept_and_stale("429 Retry-After u64::MAX", &out, took, &["throttling"]);
    assert_days_kept("429", &json);
    assert!(took < Duration::from_secs(10), "waited {took:?}");
}

#[test]
fn entra_redirect_to_another_host_is_not_followed() {
    let f = signed_in();
    let elsewhere = Listener::start();
    let url = format!("http://127.0.0.1:{}/steal", elsewhere.port);
    f.emulator.set_scenario(
        f.scenario
            .clone()
            .with_misbehaviour(Misbehaviour::Redirect(url)),
    );
    let (out, took) = check(&f);
    let json = assert_kept_and_stale("redirect", &out, took, &["redirected elsewhere"]);
    assert_days_kept("redirect", &json);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        elsewhere.connections(),
        0,
        "a request followed the redirect"
    );
}

#[test]
fn entra_hostile_error_text_is_cleaned_everywhere() {
    let f = signed_in();
    f.emulator.set_scenario(
        f.scenario
            .clone()
            .with_misbehaviour(Misbehaviour::HostileErrorText),
    );
    let (out, took) = check(&f);
    let json = assert_kept_and_stale("hostile text", &out, took, &["invalid_request"]);
    assert_days_kept("hostile text", &json);
    let human = f.run(&["status"], "");
    let saved = std::fs::read_to_string(f.session.state_file()).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    let kept = saved["last_error"].as_str().unwrap().to_string();
    for (place, text) in [
        (
            "check stdout",
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        (
            "check stderr",
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        (
            "status stdout",
            String::from_utf8_lossy(&human.stdout).into_owned(),
        ),
        ("state file", kept.clone()),
    ] {
        // The log's own colours may be there; nothing the endpoint sent is.
        for forbidden in [
            "\u{1b}]",
            "\u{7}",
            "\r",
            "\u{202e}",
            "\u{1b}[2J",
            "\u{1b}[8m",
        ] {
            assert!(
                !text.contains(forbidden),
                "{place}: {forbidden:?} in {text:?}"
            );
        }
    }
    assert!(kept.chars().count() <= 1001, "{}", kept.len());
}

// ---- Hostile configuration -----------------------------------------------------------------

#[test]
fn a_tenant_that_would_move_the_request_is_refused_at_its_line() {
    let session = Session::start(Keyring::Absent);
    for tenant in [
        "http:evil.example",
        "\\\\evil.example",
        "a@evil.example",
        "..",
    ] {
        let config = session.write_config(
            "tenant.toml",
            &format!(
                "[account]\nusername = \"adele@contoso.com\"\n\n[entra]\ntenant = {}\nclient_id = \"x\"\n",
                toml_string(tenant)
            ),
        );
        let (out, took) = timed(|| {
            session.run(
                &["--config", config.to_str().unwrap(), "check", "--no-notify"],
                "",
            )
        });
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tenant}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:5: key `entra.tenant`", config.display())),
            "{tenant}: {stderr}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{tenant}: nothing is contacted"
        );
    }
}

fn toml_string(text: &str) -> String {
    format!("'{text}'")
}

// ---- LDAP ----------------------------------------------------------------------------------

/// How the scripted directory behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Directory {
    /// An Active Directory that accepts the bind and says the password expires in 30 days.
    Working,
    /// Accepts the bind, then never answers a search.
    HangAfterBind,
    /// Answers every request with a message whose BER runs past its own end.
    Garbage,
    /// Answers every request with a complete BER message that is no LDAP operation.
    NotAnOperation,
    /// Answers the entry search with a thousand entries.
    Flood,
}

struct LdapFixture {
    session: Session,
    config: PathBuf,
    mode: Arc<Mutex<Directory>>,
    _runtime: tokio::runtime::Runtime,
}

const LDAP_USER: &str = "alice@corp.example";

impl LdapFixture {
    /// Signed in against the working directory; the saved status is 3 hours old.
    fn signed_in() -> LdapFixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mode = Arc::new(Mutex::new(Directory::Working));
        let script_mode = mode.clone();
        let port = runtime.block_on(fake_ldap::serve(move |req| {
            directory(*script_mode.lock().unwrap(), req)
        }));
        let session = Session::start(Keyring::Unlocked);
        let fixture = LdapFixture {
            config: PathBuf::new(),
            session,
            mode,
            _runtime: runtime,
        };
        let config = fixture.write_config(&format!("url = \"ldap://127.0.0.1:{port}\"\n"));
        let fixture = LdapFixture { config, ..fixture };
        let out = fixture.session.run(
            &[
                "--config",
                fixture.config.to_str().unwrap(),
                "sign-in",
                "--password-stdin",
            ],
            "pw\n",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        age_saved_status(&fixture.session);
        fixture
    }

    /// The config naming `transport`; a kept password is kept for its endpoint (the faults
    /// are the endpoint's, not a change of endpoint).
    fn write_config(&self, transport: &str) -> PathBuf {
        let config = self.session.write_config(
            "ldap.toml",
            &format!(
                "[account]\nusername = \"{LDAP_USER}\"\n[provider]\nkind = \"ldap\"\n[ldap]\n{transport}\
                 bind = \"{{username}}\"\nbase = \"dc=corp,dc=example\"\nflavor = \"active-directory\"\ntimeout_secs = 2\n"
            ),
        );
        self.session.keep_for_endpoint_of(&config, LDAP_USER);
        config
    }

    fn check_with(&self, config: &Path) -> (Output, Duration) {
        timed(|| {
            self.session.run(
                &[
                    "--config",
                    config.to_str().unwrap(),
                    "check",
                    "--json",
                    "--no-notify",
                ],
                "",
            )
        })
    }
}

fn assert_ldap_days_kept(what: &str, json: &Value) {
    assert_eq!(json["state"], "ok", "{what}: {json}");
    assert_eq!(json["days_left"], 30, "{what}: {json}");
}

/// The scripted directory's answer to one request.
fn directory(mode: Directory, req: &fake_ldap::Request) -> Vec<u8> {
    let done = || fake_ldap::message(&req.id, fake_ldap::result(0x65, 0, ""), None);
    let expiry = {
        let at = Utc::now() + chrono::TimeDelta::days(30) + chrono::TimeDelta::hours(1);
        ((at.timestamp() + 11_644_473_600) * 10_000_000).to_string()
    };
    let user = || {
        fake_ldap::entry(
            "CN=Alice,CN=Users,DC=corp,DC=example",
            &[
                ("msDS-UserPasswordExpiryTimeComputed", expiry.as_str()),
                ("userAccountControl", "512"),
            ],
        )
    };
    match (mode, req.op) {
        (Directory::Garbage, _) => {
            // A message whose bind response is an ENUMERATED that runs past its end.
            fake_ldap::message(&req.id, fake_ldap::tlv(0x61, &[0x0a, 0x05, 0x01]), None)
        }
        (Directory::NotAnOperation, _) => {
            // SEQUENCE { id, OCTET STRING "garbage" }, then bytes that are not BER at all.
            let mut out = fake_ldap::message(&req.id, fake_ldap::octets(b"garbage"), None);
            out.extend_from_slice(b"\xff\xff\xff\xff");
            out
        }
        (_, 0x60) => fake_ldap::message(&req.id, fake_ldap::result(0x61, 0, ""), None),
        (Directory::HangAfterBind, _) => Vec::new(),
        (Directory::Flood, 0x63) => {
            let mut out = Vec::new();
            for _ in 0..1000 {
                out.extend(fake_ldap::message(&req.id, user(), None));
            }
            out.extend(done());
            out
        }
        (Directory::Working, 0x63) => {
            let mut out = fake_ldap::message(&req.id, user(), None);
            out.extend(done());
            out
        }
        _ => Vec::new(),
    }
}

#[test]
fn ldap_faults_keep_the_last_status() {
    let f = LdapFixture::signed_in();
    let garbage: &[&str] = &["not valid LDAP", "could not reach", "did not answer"];
    let faults: [(Directory, &[&str]); 4] = [
        (Directory::HangAfterBind, &["did not answer within 2 s"]),
        (Directory::Garbage, garbage),
        (Directory::NotAnOperation, garbage),
        (Directory::Flood, &["more than 16 entries"]),
    ];
    for (mode, words) in faults {
        *f.mode.lock().unwrap() = mode;
        let (out, took) = f.check_with(&f.config);
        let json = assert_kept_and_stale(&format!("{mode:?}"), &out, took, words);
        assert_ldap_days_kept(&format!("{mode:?}"), &json);
    }
    *f.mode.lock().unwrap() = Directory::Working;
    let (out, _) = f.check_with(&f.config);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ldap_connection_refused() {
    let f = LdapFixture::signed_in();
    let config = f.write_config(&format!("url = \"ldap://127.0.0.1:{}\"\n", closed_port()));
    let (out, took) = f.check_with(&config);
    let json = assert_kept_and_stale("ldap refused", &out, took, &["could not reach"]);
    assert_ldap_days_kept("ldap refused", &json);
}

#[test]
fn ldap_tls_name_mismatch() {
    let f = LdapFixture::signed_in();
    let dir = tempfile::tempdir().unwrap();
    // The certificate names 127.0.0.1 and localhost; the server is reached as 127.0.0.2.
    let server = TlsServer::start(dir.path(), "127.0.0.2");
    let config = f.write_config(&format!(
        "url = \"ldaps://127.0.0.2:{}\"\nca_file = \"{}\"\n",
        server.port,
        dir.path().join("ca.pem").display()
    ));
    let (out, took) = f.check_with(&config);
    let json = assert_kept_and_stale(
        "ldap TLS name",
        &out,
        took,
        &["certificate", "NotValidForName"],
    );
    assert_ldap_days_kept("ldap TLS name", &json);
}

#[test]
fn ldap_answers_trickled_forever_hit_the_attempt_deadline() {
    let f = LdapFixture::signed_in();
    let port = trickling_directory();
    let config = f.write_config(&format!("url = \"ldap://127.0.0.1:{port}\"\n"));
    let (out, took) = f.check_with(&config);
    // 3 operation timeouts of 2 s: the whole attempt ends after 6 s whatever the server does.
    let json = assert_kept_and_stale("trickle", &out, took, &["did not answer within 6 s"]);
    assert_ldap_days_kept("trickle", &json);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// A directory that accepts the bind, then sends one search entry every 1.5 s (each within the
/// 2 s operation timeout), forever.
fn trickling_directory() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || trickle(&mut stream));
        }
    });
    port
}

fn trickle(stream: &mut std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 4096];
    // The bind, then the first search.
    let read = stream.read(&mut buf).unwrap_or(0);
    let Some(bind_id) = message_id(&buf[..read]) else {
        return;
    };
    let bind = fake_ldap::message(&bind_id, fake_ldap::result(0x61, 0, ""), None);
    if stream.write_all(&bind).is_err() {
        return;
    }
    let read = stream.read(&mut buf).unwrap_or(0);
    let Some(search_id) = message_id(&buf[..read]) else {
        return;
    };
    let entry = fake_ldap::message(
        &search_id,
        fake_ldap::entry(
            "CN=Alice,CN=Users,DC=corp,DC=example",
            &[("userAccountControl", "512")],
        ),
        None,
    );
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(1500));
        if stream.write_all(&entry).is_err() {
            return;
        }
    }
}

/// The message id of the LDAPMessage at the start of `buf`: SEQUENCE { INTEGER id, ... }.
fn message_id(buf: &[u8]) -> Option<Vec<u8>> {
    let first = *buf.get(1)?;
    let start = if first < 0x80 {
        2
    } else {
        2 + usize::from(first & 0x7f)
    };
    (buf.get(start) == Some(&0x02)).then_some(())?;
    let len = usize::from(*buf.get(start + 1)?);
    buf.get(start + 2..start + 2 + len).map(<[u8]>::to_vec)
}

// ---- Helpers -------------------------------------------------------------------------------

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Counts the connections made to it.
struct Listener {
    port: u16,
    count: Arc<AtomicUsize>,
}

impl Listener {
    fn start() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stream.is_ok() {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Listener { port, count }
    }

    fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// `openssl s_server` with a certificate for 127.0.0.1/localhost from a CA nobody trusts
/// (`ca.pem` in `dir`), listening on `host`.
struct TlsServer {
    port: u16,
    child: Child,
}

impl TlsServer {
    fn start(dir: &Path, host: &str) -> TlsServer {
        slapd::require("openssl", "install with: apt-get install -y openssl");
        slapd::make_certificates(dir);
        let port = closed_port();
        let child = Command::new("openssl")
            .current_dir(dir)
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-cert",
                "server.pem",
                "-key",
                "server.key",
            ])
            .arg("-accept")
            .arg(format!("{host}:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let server = TlsServer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect((host, port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
