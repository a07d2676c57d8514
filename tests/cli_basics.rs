//! The command line without an identity endpoint: usage and config errors (exit 2), a missing
//! keyring explained (exit 1), and `status` before any check.

mod support;

use support::{json_of, stderr, Keyring, Session};

const ENTRA: &str = "[account]\nusername = \"adele@contoso.com\"\n[entra]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"\nauthority = \"http://127.0.0.1:9\"\ngraph = \"http://127.0.0.1:9\"\n";

#[test]
fn config_error_names_file_line_and_key_and_exits_2() {
    let s = Session::start(Keyring::Absent);
    let path = s.write_config(
        "bad.toml",
        "[account]\nusername = \"a@b.c\"\n\n[policy]\nwarning_days = \"two weeks\"\n",
    );
    let out = s.run_with_config(&path, &["status"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:5", path.display())), "{err}");
    assert!(err.contains("policy.warning_days"), "{err}");
}

#[test]
fn system_file_errors_are_located_too() {
    let s = Session::start(Keyring::Absent);
    s.write_config(
        "etc/config.toml",
        "[portal]\nurl = \"http://intranet.example/change\"\n",
    );
    let out = s.run(&["status"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("etc/config.toml:2: key `portal.url`"), "{err}");
    assert!(err.contains("loopback"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let s = Session::start(Keyring::Absent);
    assert_eq!(s.run(&["frobnicate"], "").status.code(), Some(2));
    assert_eq!(s.run(&["check", "--colour"], "").status.code(), Some(2));
    let path = s.write_config("c.toml", &format!("{ENTRA}sign_in = \"password\"\n"));
    let out = s.run_with_config(&path, &["sign-in"], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "no terminal and no --password-stdin"
    );
    assert!(stderr(&out).contains("--password-stdin"));
}

#[test]
fn missing_keyring_is_explained_with_exit_1_and_json() {
    let s = Session::start(Keyring::Absent);
    let path = s.write_config("c.toml", ENTRA);
    let out = s.run_with_config(&path, &["check", "--json", "--no-notify"], "");
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    assert_eq!(json["state"], "unknown");
    assert!(
        json["reason"].as_str().unwrap().contains("keyring"),
        "{json}"
    );
    let out = s.run_with_config(&path, &["sign-in", "--password-stdin"], "pw\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("keyring"), "{}", stderr(&out));
}

#[test]
fn status_before_any_check_is_unknown() {
    let s = Session::start(Keyring::Absent);
    let path = s.write_config("c.toml", ENTRA);
    let out = s.run_with_config(&path, &["status", "--json"], "");
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    assert_eq!(json["state"], "unknown");
    assert_eq!(json["account"], "adele@contoso.com");
    for key in [
        "account",
        "state",
        "expires_at",
        "days_left",
        "checked_at",
        "source",
        "reason",
        "portal_url",
    ] {
        assert!(json.get(key).is_some(), "missing {key}: {json}");
    }
}

#[test]
fn real_keyring_session_starts() {
    let s = Session::start(Keyring::Unlocked);
    assert_eq!(
        s.keyring_lookup("signin-assistant", "nobody@contoso.com"),
        None
    );
}

#[test]
fn change_password_uses_the_portal_for_entra_and_when_an_admin_chose_it() {
    let s = Session::start(Keyring::Absent);
    let entra = s.write_config("entra.toml", ENTRA);
    let ldap_portal = s.write_config(
        "ldap.toml",
        "[account]\nusername = \"alice\"\n[provider]\nkind = \"ldap\"\n[ldap]\nurl = \"ldap://127.0.0.1:9\"\n\
         bind = \"uid={username},dc=example,dc=com\"\nbase = \"dc=example,dc=com\"\n\
         [portal]\nurl = \"https://id.example.com/password\"\n",
    );
    for (config, url) in [
        (&entra, "https://passwordreset.microsoftonline.com/"),
        (&ldap_portal, "https://id.example.com/password"),
    ] {
        let out = s.run(
            &["--config", config.to_str().unwrap(), "change-password"],
            "",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("is changed on the web"), "{stdout}");
        assert!(stdout.contains(url), "{stdout}");
        // The browser is started, not waited for.
        s.wait_until("the portal opened", || {
            s.opened_urls().last().map(String::as_str) == Some(url)
        });
    }
}

#[test]
fn messages_to_a_pipe_are_plain_text_and_an_unreadable_log_filter_is_said() {
    let s = Session::start(Keyring::Absent);
    let path = s.write_config("c.toml", ENTRA);
    let out = s.run_with_config(&path, &["-vvv", "check", "--no-notify"], "");
    let err = stderr(&out);
    assert!(err.contains("DEBUG"), "{err}");
    assert!(!err.contains('\u{1b}'), "colour codes on a pipe: {err:?}");

    let mut command = s.command(support::BIN);
    command
        .env("SIGNIN_ASSISTANT_LOG", "signin_assistant=loud")
        .arg("--config")
        .arg(&path)
        .arg("status");
    let out = support::run_to_end(command, "");
    let err = stderr(&out);
    assert!(err.contains("SIGNIN_ASSISTANT_LOG"), "{err}");
    assert!(err.contains("ignoring a log filter"), "{err}");
}
