//! A first run, as a person on a fresh machine meets it, through the real binary: `run` without
//! any configuration stays up and says "not set up" (tray, `status --json`) and starts once a
//! configuration is written; `setup` turns a work e-mail address into a configuration with
//! which `check` works, against the Entra emulator's discovery document, a throwaway slapd's
//! root DSE, and SRV records served by dnsmasq on loopback (a domain controller that DNS alone
//! names is never written without proof); configuration errors are printed
//! once, with the file, the line and the key.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use emulator::Scenario;
use support::dnsmasq::Dnsmasq;
use support::entra::EntraFixture;
use support::slapd::Slapd;
use support::{json_of, run_to_end, stderr, Keyring, Session, SessionBuilder, BIN};

const NOT_SET_UP: &str = "Not set up yet: needs the Entra application (client) id";

/// The user's own configuration file in `session`.
fn user_config(session: &Session) -> PathBuf {
    session.home().join(".config/signin-assistant/config.toml")
}

/// The binary with `args` in `session`, with no realm files of this machine in the way.
fn run(session: &Session, args: &[&str]) -> Output {
    let mut command = session.command(BIN);
    command
        .args(args)
        .env("SIGNIN_ASSISTANT_KRB5_CONF", session.path("no-krb5.conf"))
        .env("SIGNIN_ASSISTANT_SSSD_CONF", session.path("no-sssd.conf"));
    run_to_end(command, "")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `signin-assistant run` without `--config`, its output in `logs/NAME.log`.
fn start_run(session: &Session, name: &str) -> (Child, PathBuf) {
    let log = session.path(format!("logs/{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = session
        .command(BIN)
        .arg("run")
        .env("SIGNIN_ASSISTANT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start signin-assistant run");
    (child, log)
}

/// Whether the item's icon is mostly blue (the "not set up" shield): IconPixmap is ARGB32.
fn icon_is_blue(d: &Session, item: &str) -> bool {
    let pixmaps = d.tray_property(item, "IconPixmap");
    let bytes: Vec<u8> = pixmaps[0][2]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect()
        })
        .unwrap_or_default();
    let (mut red, mut blue) = (0u64, 0u64);
    for argb in bytes.chunks_exact(4).filter(|p| p[0] > 200) {
        red += u64::from(argb[1]);
        blue += u64::from(argb[3]);
    }
    blue > 2 * red
}

fn status_json(session: &Session) -> serde_json::Value {
    json_of(&session.run(&["status", "--json"], ""))
}

#[test]
fn run_without_configuration_waits_not_set_up_and_starts_once_written() {
    let f = EntraFixture::on(
        SessionBuilder::desktop().start(),
        Scenario::expires_in_days(10),
        "",
    );
    let d = &f.session;
    // The admins' file points at the emulator; the application id is for the setup to find.
    let base = f.emulator.base_url();
    d.write_system_config(&format!(
        "[entra]\nauthority = \"{base}\"\ngraph = \"{base}\"\ntimeout_secs = 3\n"
    ));
    let (mut agent, log) = start_run(d, "agent");
    let item = d.wait_for_tray_item();
    d.wait_until("\"not set up\" in the tooltip", || {
        d.tray_tooltip(&item).contains(NOT_SET_UP)
    });
    assert!(
        icon_is_blue(d, &item),
        "the \"not set up\" icon is the blue shield"
    );
    let labels = d.menu_labels(&item);
    assert!(labels.iter().any(|l| l == NOT_SET_UP), "{labels:?}");
    assert!(labels.iter().any(|l| l == "Set up…"), "{labels:?}");

    let status = status_json(d);
    assert_eq!(status["state"], "unknown", "{status}");
    let reason = status["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not set up yet: needs the Entra application (client) id")
            && reason.contains("signin-assistant setup"),
        "{reason}"
    );

    d.menu_click(&item, "Set up…");
    d.wait_displayed(1);
    // Closed with X, it goes to dunst's history, where its text is read.
    d.dunst_close();
    d.wait_until("the balloon that says how to set up", || {
        d.dunst_summaries()
            .iter()
            .any(|s| s == "Sign-in Assistant is not set up yet")
    });
    let balloon = &d.dunst_balloons()[0];
    assert!(
        balloon
            .body
            .contains("It needs the Entra application (client) id")
            && balloon.body.contains("`signin-assistant setup`"),
        "{}",
        balloon.body
    );

    // The person runs the setup: the waiting agent starts with what it writes.
    let out = run(
        d,
        &[
            "setup",
            "--email",
            &f.scenario.username,
            "--client-id",
            &f.scenario.client_id,
            "--yes",
            "--no-autostart",
            "--dns-server",
            &closed_udp_port(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("The waiting agent has started with it."),
        "{}",
        stdout(&out)
    );
    let status = status_json(d);
    assert!(
        !status["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not set up"),
        "{status}"
    );
    d.wait_until("the tooltip leaves \"not set up\"", || {
        !d.tray_tooltip(&item).contains("Not set up")
    });
    assert!(!icon_is_blue(d, &item));
    let out = d.run(
        &["sign-in", "--password-stdin"],
        &format!("{}\n", f.scenario.password),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    d.wait_until("the warning in the tooltip", || {
        d.tray_tooltip(&item)
            .contains("Password expires in 10 days")
    });

    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("signin-assistant: not set up yet").count(),
        1,
        "{text}"
    );
    let _ = Command::new("kill").arg(agent.id().to_string()).status();
    let _ = agent.wait();
}

#[test]
fn a_broken_configuration_keeps_the_agent_up_and_says_where() {
    let session = Session::start(Keyring::Unlocked);
    let path = user_config(&session);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "[entra]\nclient_id = \"x\"\nfoo = 1\n").unwrap();
    let (mut agent, log) = start_run(&session, "agent");
    session.wait_until("the agent says what is wrong", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("not set up yet")
    });
    // The command line says it too, once: it reads the same file.
    let out = session.run(&["status", "--json"], "");
    assert_eq!(out.status.code(), Some(2));
    let at = format!("{}:3: key `entra.foo`", path.display());
    assert_eq!(stderr(&out).matches(&at).count(), 1, "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("needs a correct configuration ({at}")),
        "{text}"
    );
    assert_eq!(agent.try_wait().unwrap(), None, "the agent must stay up");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("signin-assistant: not set up yet").count(),
        1,
        "{text}"
    );
    // Mended: the next request reads it again and the agent starts.
    std::fs::write(&path, "[entra]\nclient_id = \"x\"\n").unwrap();
    let status = status_json(&session);
    assert!(
        !status["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not set up"),
        "{status}"
    );
    let _ = Command::new("kill").arg(agent.id().to_string()).status();
    let _ = agent.wait();
}

#[test]
fn configuration_errors_are_printed_once_with_file_line_and_key() {
    let session = Session::start(Keyring::Unlocked);
    // A value nobody set: the user's file, who knows it, and the command that fixes it.
    let out = run(&session, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let path = user_config(&session);
    assert_eq!(err.matches("entra.client_id").count(), 1, "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("ask your IT desk"), "{err}");
    assert!(err.contains("`signin-assistant setup`"), "{err}");

    // A wrong key in a file.
    let config = session.write_config("bad.toml", "[policy]\nwarning_days = \"x\"\n");
    for command in [
        &["check"][..],
        &["status"],
        &["sign-in"],
        &["config", "show"],
    ] {
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(command);
        let out = run(&session, &args);
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        let err = stderr(&out);
        let at = format!("{}:2: key `policy.warning_days`", config.display());
        assert_eq!(err.matches(&at).count(), 1, "{command:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{command:?}: {err}");
    }
    // A missing LDAP value, in a file that has the table: its line.
    let config = session.write_config(
        "ldap.toml",
        "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"ldap://127.0.0.1:1\"\nbind = \"{username}\"\n",
    );
    let out = run(&session, &["--config", config.to_str().unwrap(), "check"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:4: key `ldap.base`: is not set",
            config.display()
        )),
        "{err}"
    );
    assert_eq!(err.matches("ldap.base").count(), 1, "{err}");
}

#[test]
fn setup_finds_the_entra_tenant_and_check_then_works() {
    let f = EntraFixture::start(Scenario::expires_in_days(10));
    let s = &f.session;
    let base = f.emulator.base_url();
    s.write_system_config(&format!(
        "[entra]\nauthority = \"{base}\"\ngraph = \"{base}\"\ntimeout_secs = 3\n"
    ));
    let out = run(
        s,
        &[
            "setup",
            "--email",
            &f.scenario.username,
            "--client-id",
            &f.scenario.client_id,
            "--yes",
            "--no-autostart",
            // No DNS server answers here: AD is not found.
            "--dns-server",
            &closed_udp_port(),
        ],
    );
    let said = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{said}\n{}", stderr(&out));
    assert!(
        said.contains(&format!(
            "Microsoft Entra ID: tenant {}",
            f.scenario.tenant_id
        )),
        "{said}"
    );
    assert!(said.contains("sign-in --user"), "{said}");
    let written = std::fs::read_to_string(user_config(s)).unwrap();
    assert!(
        written.contains(&format!("tenant = \"{}\"", f.scenario.tenant_id)),
        "{written}"
    );
    assert!(written.contains("discovery document"), "{written}");
    assert!(!written.contains(&f.scenario.password), "{written}");
    let requests: Vec<String> = f.emulator.requests().into_iter().map(|r| r.path).collect();
    assert!(
        requests
            .iter()
            .any(|p| p.ends_with("/v2.0/.well-known/openid-configuration")),
        "{requests:?}"
    );

    let out = s.run(
        &["sign-in", "--password-stdin"],
        &format!("{}\n", f.scenario.password),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = s.run(&["check", "--json", "--no-notify"], "");
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["state"], "warning", "{report}");
    assert_eq!(report["days_left"], 10, "{report}");

    // Never over an existing file without being asked.
    let again = run(
        s,
        &[
            "setup",
            "--email",
            &f.scenario.username,
            "--client-id",
            "other",
            "--yes",
        ],
    );
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(user_config(s)).unwrap(), written);

    // A domain no tenant has verified, and no directory in DNS: the flag that answers it.
    let unknown = run(
        s,
        &[
            "--config",
            s.path("other.toml").to_str().unwrap(),
            "setup",
            "--email",
            "someone@unknown.example",
            "--yes",
            "--dns-server",
            &closed_udp_port(),
        ],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("--kind"), "{}", stderr(&unknown));
    assert!(!s.path("other.toml").exists());
}

/// A loopback UDP port nobody listens on (DNS questions to it are refused at once).
fn closed_udp_port() -> String {
    format!("127.0.0.1:{}", support::dnsmasq::free_udp_port())
}

#[test]
fn setup_reads_the_base_from_the_root_dse_of_openldap() {
    let slapd = Slapd::start();
    slapd.add_user("alice", "alice-pass-1", None);
    let s = Session::start(Keyring::Unlocked);
    let out = run(
        &s,
        &[
            "setup",
            "--email",
            "alice@example.com",
            "--ldap-url",
            &slapd.ldap_url(),
            "--yes",
            "--no-autostart",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let written = std::fs::read_to_string(user_config(&s)).unwrap();
    for line in [
        "base = \"dc=example,dc=com\"",
        "bind = \"uid={username},ou=people,dc=example,dc=com\"",
        "flavor = \"openldap\"",
        "username = \"alice\"",
        "# Found: the server's root DSE.",
    ] {
        assert!(written.contains(line), "{line}: {written}");
    }
    let out = s.run(&["sign-in", "--password-stdin"], "alice-pass-1\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = s.run(&["check", "--json", "--no-notify"], "");
    assert_eq!(json_of(&out)["state"], "ok", "{}", stdout(&out));
}

/// `setup --yes` for alice@example.com with dnsmasq answering `srv` (dnsmasq's `--srv-host`);
/// `extra` flags are added.
fn setup_with_dns(s: &Session, srv: &str, extra: &[&str]) -> Output {
    let dns = Dnsmasq::start(srv);
    // No Entra tenant answers for example.com here.
    s.write_system_config("[entra]\nauthority = \"http://127.0.0.1:1\"\ntimeout_secs = 2\n");
    let server = format!("127.0.0.1:{}", dns.port);
    let mut args = vec![
        "setup",
        "--email",
        "alice@example.com",
        "--dns-server",
        &server,
        "--yes",
        "--no-autostart",
    ];
    args.extend_from_slice(extra);
    run(s, &args)
}

#[test]
fn setup_yes_never_writes_a_domain_controller_that_only_dns_names() {
    let slapd = Slapd::start();
    slapd.add_user("alice", "alice-pass-1", None);
    let port = slapd.ldap_url().rsplit(':').next().unwrap().to_string();
    let s = Session::start(Keyring::Unlocked);

    // An answer for example.com that names a host of another domain (here the test slapd,
    // which answers): dropped, so no domain controller is found and nothing is written.
    let out = setup_with_dns(
        &s,
        &format!("_ldap._tcp.dc._msdcs.example.com,localhost,{port},0,100"),
        &[],
    );
    let (said, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{said}\n{err}");
    assert!(!user_config(&s).exists(), "{said}\n{err}");
    assert!(!said.contains("domain controller localhost"), "{said}");

    // A host under example.com, found only in DNS and proven by nothing: `--yes` does not
    // adopt it, and says what to give instead.
    let out = setup_with_dns(
        &s,
        &format!("_ldap._tcp.dc._msdcs.example.com,dc1.example.com,{port},0,100"),
        &["--base-dn", "dc=example,dc=com", "--no-test"],
    );
    let (said, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{said}\n{err}");
    assert!(!user_config(&s).exists(), "{said}\n{err}");
    assert!(
        err.contains("dc1.example.com") && err.contains("--ldap-url") && err.contains("--ca-file"),
        "{err}"
    );
}

#[test]
fn a_domain_controller_is_proven_only_by_a_certificate_from_the_ca_file() {
    use signin_assistant::setup::directory::prove;
    let slapd = Slapd::start();
    let url = url::Url::parse(&slapd.ldap_url()).unwrap();
    let other = tempfile::tempdir().unwrap();
    support::slapd::make_certificates(other.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let timeout = std::time::Duration::from_secs(5);
    // StartTLS with a certificate from the administrator's CA: proven.
    runtime
        .block_on(prove(&url, &slapd.ca_file, timeout))
        .unwrap();
    // Another authority, or one only the system trusts: not proven.
    let err = runtime
        .block_on(prove(&url, &other.path().join("ca.pem"), timeout))
        .unwrap_err();
    assert!(!err.is_empty());
    let err = runtime
        .block_on(prove(&url, &other.path().join("missing.pem"), timeout))
        .unwrap_err();
    assert!(err.contains("missing.pem"), "{err}");
}
