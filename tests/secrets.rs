//! Secrets stay secret: against a real Secret Service, the password is cached only when the
//! endpoint accepted it, nothing is left after sign-out, and a canary password (and the refresh
//! token) appear in no file under HOME (the log files included) and in no output, even with the
//! most verbose logging. A kept secret goes only to the endpoint that accepted it.

mod support;

use emulator::{Emulator, Scenario};
use support::entra::EntraFixture;

const CANARY: &str = "Canary-Pa55word-7f3e9b";

#[test]
fn keyring_holds_the_password_only_while_signed_in() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in("wrong-password").status.code(), Some(1));
    assert_eq!(
        f.cached_password(),
        None,
        "a rejected password is never cached"
    );

    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    assert_eq!(
        f.cached_password().as_deref(),
        Some(f.scenario.password.as_str())
    );
    assert!(f.cached_refresh_token().is_some());

    let out = f.run(&["sign-out"], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(f.cached_password(), None);
    assert_eq!(f.cached_refresh_token(), None);
    let (code, json) = f.check_json();
    assert_eq!(code, Some(1));
    assert_eq!(json["state"], "sign_in_required");
}

#[test]
fn canary_password_and_token_are_in_no_file_and_no_output() {
    let scenario = Scenario::expires_in_days(10).with_credentials("adele@contoso.com", CANARY);
    let f = EntraFixture::start(scenario);
    let mut outputs = Vec::new();
    let verbose = |args: &[&str], stdin: &str| {
        let mut cmd = f.session.command(support::BIN);
        cmd.arg("--config")
            .arg(&f.config)
            .args(args)
            .env("SIGNIN_ASSISTANT_LOG", "trace");
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        support::wait_with_timeout(child, std::time::Duration::from_secs(60))
    };
    outputs.push(verbose(
        &["sign-in", "--password-stdin"],
        &format!("{CANARY}\n"),
    ));
    outputs.push(verbose(&["check", "--json", "--no-notify"], ""));
    outputs.push(verbose(&["check"], ""));
    outputs.push(verbose(&["status", "--json"], ""));
    // A wrong guess must not leak either.
    outputs.push(verbose(
        &["sign-in", "--password-stdin"],
        &format!("{CANARY}-wrong\n"),
    ));
    assert_eq!(
        outputs[0].status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&outputs[0].stderr)
    );
    assert_eq!(outputs[1].status.code(), Some(0));
    // The agent too, with its log file, at the most verbose level; nothing saved, so it checks
    // at once (a first start).
    std::fs::remove_file(f.session.state_file()).expect("remove the state file");
    let agent = f.session.start_agent_with_env(
        "agent",
        &f.config,
        &["--no-tray"],
        &[("SIGNIN_ASSISTANT_LOG", "trace")],
    );
    agent.wait_for_log(" checked");
    assert_eq!(
        agent.terminate(std::time::Duration::from_secs(5)).code(),
        Some(0)
    );

    let token = f.cached_refresh_token().expect("refresh token cached");
    assert!(token.len() > 20);
    assert_eq!(f.cached_password().as_deref(), Some(CANARY));

    for out in &outputs {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(CANARY), "password in output:\n{text}");
            assert!(!text.contains(&token), "refresh token in output:\n{text}");
        }
    }
    assert!(
        !String::from_utf8_lossy(&outputs[1].stderr).is_empty(),
        "trace logging was on"
    );
    let files = f.session.all_files();
    assert!(files.iter().any(|p| p.ends_with("state.json")), "{files:?}");
    // The log files under the state directory were written at trace level (and are searched
    // with every other file below).
    let logs = f.session.agent_log_text();
    assert!(
        logs.contains("TRACE") && logs.contains("agent started"),
        "{logs}"
    );
    assert!(!logs.contains(CANARY), "password in the log files");
    assert!(!logs.contains(&token), "refresh token in the log files");
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(CANARY), "password in {}", path.display());
        assert!(
            !text.contains(&token),
            "refresh token in {}",
            path.display()
        );
    }
}

#[test]
fn locked_keyring_is_explained_not_a_panic() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    let lock = f
        .session
        .command("busctl")
        .args([
            "--user",
            "call",
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service",
            "Lock",
            "ao",
            "1",
            "/org/freedesktop/secrets/collection/login",
        ])
        .output()
        .expect("busctl");
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    let started = std::time::Instant::now();
    let (code, json) = f.check_json();
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(code, Some(1), "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("keyring is locked"),
        "{json}"
    );
    assert_eq!(json["state"], "ok", "the last known status is kept: {json}");
}

/// Signed in at endpoint A, the configuration then names endpoint B (a second emulator, same
/// tenant and account): the check sends B nothing, forgets both secrets and asks for a sign-in.
#[test]
fn a_secret_kept_for_one_endpoint_is_never_sent_to_another() {
    let f = EntraFixture::start(
        Scenario::expires_in_days(30).with_credentials("adele@contoso.com", CANARY),
    );
    f.must_sign_in();
    let raw = f
        .session
        .keyring_raw("signin-assistant", &f.scenario.username)
        .expect("the password is kept");
    assert!(
        raw.contains(
            f.emulator
                .base_url()
                .origin()
                .ascii_serialization()
                .as_str()
        ),
        "bound to A"
    );
    assert!(f.cached_refresh_token().is_some());

    let b = f
        .runtime()
        .block_on(Emulator::start(f.scenario.clone()))
        .expect("start the second emulator");
    let text = std::fs::read_to_string(&f.config).unwrap();
    let a_base = f.emulator.base_url().to_string();
    let moved = text.replace(&a_base, b.base_url().as_str());
    assert_ne!(moved, text);
    let config_b = f.session.write_config("config-b.toml", &moved);
    let out = f.session.run(
        &[
            "--config",
            config_b.to_str().unwrap(),
            "check",
            "--json",
            "--no-notify",
        ],
        "",
    );
    let json = support::json_of(&out);
    assert_eq!(b.requests().len(), 0, "B was sent: {:?}", b.requests());
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["state"], "sign_in_required", "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("the configured sign-in server changed"),
        "{json}"
    );
    assert_eq!(f.cached_password(), None, "the password is forgotten");
    assert_eq!(f.cached_refresh_token(), None, "the token is forgotten");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(CANARY) && !String::from_utf8_lossy(&out.stdout).contains(CANARY));
}
