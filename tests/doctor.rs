//! `signin-assistant doctor` through the real binary: on a full desktop against the Entra
//! emulator (everything ok once the agent runs and starts at login), without a keyring and
//! without a notification server (problems, exit 1), with a wrong tenant and an endpoint that
//! is not there, with the clock ten minutes ahead, against a token endpoint whose answer never
//! ends (bounded time and memory), and against a real slapd (a connection without a bind).

mod support;

use std::path::Path;
use std::time::Duration;

use emulator::{Misbehaviour, Scenario};
use serde_json::Value;
use support::entra::EntraFixture;
use support::measure::measure;
use support::slapd::Slapd;
use support::{json_of, Keyring, Session, SessionBuilder, KEYRING_PASSWORD};

/// `doctor` in words and as JSON: (exit code, text, JSON).
fn doctor(s: &Session, config: &Path, wrapper: &[&str]) -> (Option<i32>, String, Value) {
    let run = |json: bool| {
        let config = config.to_str().unwrap();
        let mut args: Vec<&str> = vec!["--config", config, "doctor"];
        if json {
            args.push("--json");
        }
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = s.command(program);
                cmd.args(rest).arg(support::BIN);
                cmd
            }
            None => s.command(support::BIN),
        };
        cmd.args(&args).output().expect("run doctor")
    };
    let text = run(false);
    let json = run(true);
    assert_eq!(text.status.code(), json.status.code());
    let words = String::from_utf8_lossy(&text.stdout).into_owned();
    (text.status.code(), words, json_of(&json))
}

/// The (level, summary) of the item `check`.
fn item(json: &Value, check: &str) -> (String, String) {
    let found = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check"] == check)
        .unwrap_or_else(|| panic!("no {check:?} in {json:#}"));
    (
        found["level"].as_str().unwrap().to_string(),
        found["summary"].as_str().unwrap().to_string(),
    )
}

fn level(json: &Value, check: &str) -> String {
    item(json, check).0
}

#[test]
fn on_a_full_desktop_everything_is_in_order_once_the_agent_runs() {
    let f = EntraFixture::on(
        SessionBuilder::desktop().start(),
        Scenario::expires_in_days(10),
        "",
    );
    let s = &f.session;
    let (code, text, json) = doctor(s, &f.config, &[]);
    assert_eq!(code, Some(0), "{text}");
    for check in [
        "configuration",
        "keyring",
        "notifications",
        "tray",
        "endpoint name",
        "endpoint connection",
        "token endpoint",
        "clock",
    ] {
        assert_eq!(level(&json, check), "ok", "{check}:\n{text}");
    }
    assert!(item(&json, "notifications")
        .1
        .contains("a click on one opens the portal"));
    assert!(item(&json, "token endpoint")
        .1
        .contains("OAuth2 token endpoint"));
    assert!(
        item(&json, "clock").1.contains("within a few seconds"),
        "{text}"
    );
    assert_eq!(level(&json, "start at login"), "warning");
    assert_eq!(level(&json, "agent"), "warning");
    // The configuration with the file and line of each value.
    let config = f.config.display().to_string();
    let tenant = text
        .lines()
        .find(|l| l.trim_start().starts_with("tenant = "))
        .unwrap_or_else(|| panic!("no tenant line in\n{text}"));
    assert!(tenant.ends_with(&format!("# {config}:5")), "{tenant}");
    let setting = json["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "entra.tenant")
        .unwrap();
    assert_eq!(setting["origin"], format!("{config}:5"));
    // The throwaway keyring entry is gone.
    let left = s.output(
        "secret-tool",
        &["search", "--all", "service", "signin-assistant.doctor"],
    );
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty());
    assert!(text.ends_with("warning(s) above.\n"), "{text}");

    assert!(s.run(&["autostart", "enable"], "").status.success());
    let agent = s.start_agent("agent", &f.config, &[]);
    agent.wait_for_log("agent started");
    let (code, text, json) = doctor(s, &f.config, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(level(&json, "start at login"), "ok", "{text}");
    assert_eq!(level(&json, "agent"), "ok", "{text}");
    assert!(
        text.ends_with("Everything signin-assistant needs is in place.\n"),
        "{text}"
    );
    assert_eq!(json["ok"], true);
    assert_eq!(agent.terminate(Duration::from_secs(3)).code(), Some(0));
}

#[test]
fn without_a_keyring_or_a_notification_server_it_says_what_blocks() {
    let f = EntraFixture::on(
        Session::start(Keyring::Absent),
        Scenario::expires_in_days(10),
        "",
    );
    let (code, text, json) = doctor(&f.session, &f.config, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(json["ok"], false);
    let (keyring, why) = item(&json, "keyring");
    assert_eq!(keyring, "problem");
    assert!(why.contains("no keyring is available"), "{why}");
    assert_eq!(level(&json, "notifications"), "problem");
    assert_eq!(level(&json, "tray"), "warning");
    assert_eq!(level(&json, "token endpoint"), "ok", "{text}");
    let keyring_line = text
        .lines()
        .find(|l| l.starts_with("problem  keyring"))
        .unwrap();
    assert!(keyring_line.contains(" — "), "what to do: {keyring_line}");
    assert!(
        text.ends_with("keep signin-assistant from warning you in time.\n"),
        "{text}"
    );

    // A keyring alone: that problem goes, the missing balloons stay one.
    let s = SessionBuilder::bare()
        .keyring(Some(KEYRING_PASSWORD))
        .start();
    let config = s.write_config("config.toml", &std::fs::read_to_string(&f.config).unwrap());
    let (code, text, json) = doctor(&s, &config, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(level(&json, "keyring"), "ok", "{text}");
    let (notifications, why) = item(&json, "notifications");
    assert_eq!(notifications, "problem");
    assert!(why.contains("no notification server"), "{why}");
}

#[test]
fn a_wrong_tenant_and_a_missing_endpoint_are_named() {
    let f = EntraFixture::on(
        SessionBuilder::bare()
            .keyring(Some(KEYRING_PASSWORD))
            .start(),
        Scenario::expires_in_days(10),
        "",
    );
    let s = &f.session;
    let text = std::fs::read_to_string(&f.config).unwrap();
    let wrong = s.write_config(
        "wrong-tenant.toml",
        &text.replace(&f.scenario.tenant, "fabrikam.example"),
    );
    let (_, words, json) = doctor(s, &wrong, &[]);
    let (token, why) = item(&json, "token endpoint");
    assert_eq!(token, "problem", "{words}");
    assert!(
        why.contains("does not know the tenant `fabrikam.example`"),
        "{why}"
    );
    let line = words
        .lines()
        .find(|l| l.contains("token endpoint"))
        .unwrap();
    assert!(line.contains(&format!("{}:5", wrong.display())), "{line}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gone = s.write_config(
        "gone.toml",
        &text.replace(
            f.emulator.base_url().as_str(),
            &format!("http://127.0.0.1:{port}/"),
        ),
    );
    let (code, words, json) = doctor(s, &gone, &[]);
    assert_eq!(code, Some(1));
    let (connection, why) = item(&json, "endpoint connection");
    assert_eq!(connection, "problem", "{words}");
    assert!(why.contains("nothing accepts connections"), "{why}");

    let broken = s.write_config("broken.toml", "[policy]\nwarning_days = \"soon\"\n");
    let (code, words, json) = doctor(s, &broken, &[]);
    assert_eq!(code, Some(1), "the doctor runs on a broken configuration");
    let (config, why) = item(&json, "configuration");
    assert_eq!(config, "problem");
    assert!(why.contains(&format!("{}:2", broken.display())), "{why}");
    assert_eq!(level(&json, "keyring"), "ok", "{words}");
}

#[test]
fn a_token_endpoint_whose_answer_never_ends_is_reported_in_bounded_time_and_memory() {
    let endless = Scenario::default().with_misbehaviour(Misbehaviour::HugeBody(usize::MAX));
    let f = EntraFixture::on(SessionBuilder::bare().start(), endless, "");
    let config = f.config.to_str().unwrap();
    let child = f
        .session
        .command(support::BIN)
        .args(["--config", config, "doctor", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start doctor");
    // The endpoint's timeout is 3 s here; a doctor that reads on is killed at 512 MiB.
    let run = measure(child, Duration::from_secs(30), 512 * 1024);
    eprintln!(
        "doctor: exit {:?}, {} KiB peak, {:?}",
        run.code, run.peak_kib, run.took
    );
    assert!(
        !run.killed,
        "killed at {} KiB: {}",
        run.peak_kib, run.output
    );
    assert!(run.took < Duration::from_secs(3), "took {:?}", run.took);
    assert!(run.peak_kib < 64 * 1024, "peak {} KiB", run.peak_kib);
    let json: Value = run
        .output
        .lines()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON in {}", run.output));
    let (level, why) = item(&json, "token endpoint");
    assert_eq!(level, "problem", "{json}");
    assert!(why.contains("the answer is larger than 64 KiB"), "{why}");
    assert_eq!(run.code, Some(1));
}

#[test]
fn a_clock_ten_minutes_ahead_is_a_warning() {
    support::require(&[("faketime", "faketime")]);
    let f = EntraFixture::on(
        SessionBuilder::bare()
            .keyring(Some(KEYRING_PASSWORD))
            .start(),
        Scenario::expires_in_days(10),
        "",
    );
    let (_, text, json) = doctor(&f.session, &f.config, &["faketime", "-f", "+10m"]);
    let (clock, why) = item(&json, "clock");
    assert_eq!(clock, "warning", "{text}");
    assert!(why.starts_with("10 minutes ahead of 127.0.0.1's"), "{why}");
}

#[test]
fn against_slapd_it_connects_without_signing_in() {
    let slapd = Slapd::start();
    let s = SessionBuilder::bare()
        .keyring(Some(KEYRING_PASSWORD))
        .start();
    let config = s.write_config(
        "config.toml",
        &format!(
            "[provider]\nkind = \"ldap\"\n[ldap]\nurl = \"{}\"\nstarttls = true\nca_file = \"{}\"\nbind = \"{}\"\nbase = \"{}\"\n",
            slapd.ldap_url(),
            slapd.ca_file.display(),
            support::slapd::BIND_TEMPLATE,
            support::slapd::SUFFIX,
        ),
    );
    let before = slapd.log().len();
    let (_, text, json) = doctor(&s, &config, &[]);
    let (connection, why) = item(&json, "endpoint connection");
    assert_eq!(connection, "ok", "{text}");
    assert!(
        why.contains("with StartTLS, its certificate trusted, without signing in"),
        "{why}"
    );
    assert_eq!(level(&json, "clock"), "ok", "{text}");
    let log = slapd.log();
    let ours = &log[before..];
    assert!(ours.contains("STARTTLS"), "{ours}");
    assert!(!ours.contains(" BIND "), "the doctor never binds:\n{ours}");

    // A server that is not there.
    let gone = s.write_config(
        "gone.toml",
        &std::fs::read_to_string(&config)
            .unwrap()
            .replace(&slapd.ldap_url(), "ldap://127.0.0.1:9"),
    );
    let (code, _, json) = doctor(&s, &gone, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(level(&json, "endpoint connection"), "problem");
}
