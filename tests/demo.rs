//! `signin-assistant demo --once`: the product on its built-in endpoint, leaving nothing behind;
//! and a running demo is never what the user's own commands talk to.

mod support;

use support::{stderr, Keyring, Session};

fn demo(session: &Session) -> (String, String) {
    let out = session.run(&["demo", "--once"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn demo_uses_its_own_keyring_service_and_leaves_nothing() {
    let s = Session::start(Keyring::Unlocked);
    let (stdout, stderr) = demo(&s);
    assert!(stdout.contains("Password expires in 10 days"), "{stdout}");
    assert!(
        stdout.contains("service `signin-assistant-demo`"),
        "{stdout}"
    );
    // No notification server in this session: the balloon goes to stderr.
    assert!(
        stderr.contains("Your password expires in 10 days"),
        "{stderr}"
    );
    assert!(stderr.contains("Click here to change it."), "{stderr}");
    assert_eq!(
        s.keyring_lookup("signin-assistant-demo", "adele@contoso.com"),
        None
    );
    assert_eq!(
        s.keyring_lookup("signin-assistant", "adele@contoso.com"),
        None
    );
    assert!(!s.state_file().exists(), "the user's state is not touched");
}

#[test]
fn demo_without_a_keyring_keeps_the_password_in_memory() {
    let s = Session::start(Keyring::Absent);
    let (stdout, _) = demo(&s);
    assert!(stdout.contains("in memory"), "{stdout}");
    assert!(stdout.contains("Password expires in 10 days"), "{stdout}");
}

#[test]
fn demo_refuses_a_config_file() {
    let s = Session::start(Keyring::Absent);
    let out = s.run(&["--config", "/etc/passwd", "demo"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_signs_in_with_the_browser_on_its_own_page() {
    use emulator::{Scenario, DEFAULT_ONE_TIME_CODE};
    use support::interactive::{Person, ScriptedBrowser};
    let s = Session::start(Keyring::Unlocked);
    let child = s
        .command(support::BIN)
        .args(["demo", "--browser", "--once"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the demo");
    s.wait_until("the demo to open the browser", || {
        !s.opened_urls().is_empty()
    });
    let url = s.opened_urls()[0].clone();
    assert!(url.contains("/oauth2/v2.0/authorize?"), "{url}");
    let account = Scenario::default();
    let person = Person::SignsIn {
        username: &account.username,
        password: &account.password,
        one_time_code: Some(DEFAULT_ONE_TIME_CODE),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let page = runtime.block_on(ScriptedBrowser::default().sign_in(&url, person, |u| u));
    assert!(page.body.contains("Signed in"), "{}", page.body);
    let out = support::wait_with_timeout(child, std::time::Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("one-time code 246810"), "{stdout}");
    assert!(stdout.contains("Password expires in 10 days"), "{stdout}");
    assert_eq!(
        s.keyring_lookup("signin-assistant-demo.refresh-token", "adele@contoso.com"),
        None,
        "nothing of the demo stays"
    );
}

// Stopped with SIGINT, as Ctrl-C stops it; the socket is the Unix control channel.
#[cfg(unix)]
#[test]
fn a_running_demo_never_answers_the_users_commands() {
    let s = Session::start(Keyring::Absent);
    let out = s.path("demo.out");
    let err = s.path("demo.err");
    let mut demo = s
        .command(support::BIN)
        .arg("demo")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start the demo");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    // No notification server: today's balloon is printed once the demo's agent runs.
    s.wait_until("the demo's agent to show its balloon", || {
        read(&err).contains("Click here to change it.")
    });
    let status = s.run(&["status", "--json"], "");
    let json = support::json_of(&status);
    // The user has set nothing up: that is what `status` says, not the demo's account.
    assert_eq!(status.status.code(), Some(1), "{json}\n{}", stderr(&status));
    assert_eq!(json["state"], "unknown", "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("not set up"),
        "{json}"
    );
    assert_ne!(json["account"], "adele@contoso.com", "{json}");
    assert!(
        !s.path("run/signin-assistant/control.sock").exists(),
        "the demo made the user's control socket"
    );
    // SAFETY: kill sends a signal to the child started above.
    unsafe { libc::kill(demo.id() as i32, libc::SIGINT) };
    let ended = demo.wait().unwrap();
    assert!(ended.success(), "{ended:?}\n{}\n{}", read(&out), read(&err));
}
