//! The command line and the running agent, through the real binary: one agent per user, its
//! control socket (who may talk to it, whom the command believes, a socket left by a crash), the
//! CLI's changes visible in the agent at once, sign-out during a slow check, and which account
//! the status is about.

// The Unix socket's modes, peers of another user (setpriv) and crashed agents' sockets; the
// Windows named pipe is run under Wine by scripts/windows-e2e.
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use emulator::{Misbehaviour, Scenario};
use support::entra::EntraFixture;
use support::{json_of, stderr, Keyring, Session};

fn socket(f: &EntraFixture) -> PathBuf {
    f.session.path("run/signin-assistant/control.sock")
}

fn mode(path: &PathBuf) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn status(f: &EntraFixture) -> serde_json::Value {
    json_of(&f.run(&["status", "--json"], ""))
}

#[test]
fn a_second_run_says_which_agent_runs_and_exits_0() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    f.must_sign_in();
    let agent = f.session.start_agent("first", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    let out = f.run(&["run", "--no-tray"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("already running (pid "), "{text}");
    let pid = agent.pid().to_string();
    assert!(text.contains(&pid), "{text} should name {pid}");
}

#[test]
fn the_socket_is_private_and_a_crashed_agents_socket_is_replaced() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    f.must_sign_in();
    let agent = f.session.start_agent("first", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    let path = socket(&f);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&path.parent().unwrap().to_path_buf()), 0o700);
    agent.kill();
    assert!(path.exists(), "a killed agent leaves its socket");
    // Without an agent the commands work alone, even with the dead socket there.
    let out = f.run(&["status", "--json"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = f.session.start_agent("second", &f.config, &["--no-tray"]);
    again.wait_for_log("agent started");
    assert!(
        again.log().contains("replacing a control socket"),
        "{}",
        again.log()
    );
    f.session.wait_until("the new agent answers", || {
        status(&f)["state"] == "ok" && f.run(&["status"], "").status.code() == Some(0)
    });
}

#[test]
fn another_user_cannot_talk_to_the_agent() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    f.must_sign_in();
    let agent = f.session.start_agent("a", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    let path = socket(&f);
    // Let "nobody" reach the runtime directory, so only the agent's own protections count.
    for dir in [f.session.root().to_path_buf(), f.session.path("run")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let as_nobody = |what: &str| {
        let script = format!(
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect({:?})\n s.sendall(b'{{\"version\":1,\"request\":\"status\"}}\\n')\n sys.stdout.write(s.recv(65536).decode() or 'closed')\nexcept OSError as e:\n sys.stdout.write('refused: %s' % e)\n",
            path.to_str().unwrap()
        );
        let out = std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/python3",
                "-c",
                &script,
            ])
            .output()
            .expect("run setpriv (util-linux)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            !text.is_empty(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains("\"ok\""),
            "{what}: nobody got an answer: {text}"
        );
        text
    };
    let text = as_nobody("directory 0700");
    assert!(text.contains("refused"), "{text}");
    // Even with the directory and the socket opened up, the agent refuses another user.
    std::fs::set_permissions(
        path.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The agent closes the connection unanswered (the peer sees the end or a broken pipe).
    as_nobody("socket opened up");
    agent.wait_for_log("refused a control connection from another user");
}

#[test]
fn command_line_changes_show_in_the_agent_at_once() {
    let f = EntraFixture::start(Scenario::expires_in_days(10));
    let agent = f.session.start_agent("a", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    f.must_sign_in();
    agent.wait_for_log("signed in");
    // The agent answers status now: the sign-in is there without waiting for a check.
    let json = status(&f);
    assert_eq!(json["state"], "warning", "{json}");
    assert_eq!(json["account"], "adele@contoso.com");
    let out = f.run(&["check", "--json"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_of(&out)["state"], "warning");
    let out = f.run(&["sign-out"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    agent.wait_for_log("signed out");
    assert_eq!(f.cached_password(), None);
    let json = status(&f);
    assert_ne!(json["state"], "warning", "{json}");
}

#[test]
fn sign_out_during_a_slow_check_leaves_nothing_in_the_keyring() {
    let f = EntraFixture::start(Scenario::expires_in_days(10));
    f.must_sign_in();
    assert!(f.cached_refresh_token().is_some());
    let agent = f.session.start_agent("a", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    let slow = Scenario {
        misbehaviour: Some(Misbehaviour::Delay(Duration::from_secs(2))),
        ..f.emulator.scenario()
    };
    f.emulator.set_scenario(slow);
    let before = f.token_requests();
    let checking = {
        let mut command = f.session.command(support::BIN);
        command
            .arg("--config")
            .arg(&f.config)
            .args(["check", "--json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command.spawn().unwrap()
    };
    f.session.wait_until("the check reached the endpoint", || {
        f.token_requests() > before
    });
    let out = f.run(&["sign-out"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Past the delay: whatever the endpoint answers now, nothing comes back into the keyring.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(f.cached_password(), None);
    assert_eq!(f.cached_refresh_token(), None);
    let mut checking = checking;
    let _ = checking.wait();
    drop(agent);
}

#[test]
fn the_status_is_about_the_last_sign_in_and_sign_out_forgets_it() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    f.must_sign_in();
    assert_eq!(status(&f)["account"], "adele@contoso.com");
    let out = f.run(
        &["sign-in", "--user", "bob@contoso.com", "--password-stdin"],
        "wrong\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json = status(&f);
    assert_eq!(json["account"], "bob@contoso.com", "{json}");
    assert_eq!(json["state"], "sign_in_required");
    assert!(
        json["reason"].as_str().unwrap().contains("not accepted"),
        "{json}"
    );
    let out = f.run(&["sign-out"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Forgotten: back to [account] username, not checked since.
    let json = status(&f);
    assert_eq!(json["account"], "adele@contoso.com", "{json}");
    assert_eq!(json["state"], "unknown", "{json}");
}

/// What a lying agent answers: a warning, and a link of its choosing.
const LYING_ANSWER: &str = concat!(
    r#"{"version":1,"ok":true,"pid":4242,"report":{"account":"adele@contoso.com","#,
    r#""state":"warning","expires_at":null,"days_left":1,"checked_at":null,"source":null,"#,
    r#""reason":"sign in at the link below now","portal_url":"https://evil.example/phish"}}"#,
    "\n"
);

/// The session's control socket path, its directory made with `mode`.
fn socket_in(session: &Session, mode: u32) -> PathBuf {
    let dir = session.path("run/signin-assistant");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    dir.join("control.sock")
}

#[test]
fn a_link_from_the_agent_goes_through_the_allow_list_again() {
    use std::io::{BufRead, Write};
    let s = Session::start(Keyring::Absent);
    let listener = std::os::unix::net::UnixListener::bind(socket_in(&s, 0o700)).unwrap();
    let agent = std::thread::spawn(move || {
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            let mut request = String::new();
            std::io::BufReader::new(&stream)
                .read_line(&mut request)
                .unwrap();
            (&stream).write_all(LYING_ANSWER.as_bytes()).unwrap();
        }
    });
    let out = s.run(&["status", "--json"], "");
    let json = json_of(&out);
    assert_eq!(json["reason"], "sign in at the link below now", "{json}");
    assert_eq!(
        json["portal_url"], "https://passwordreset.microsoftonline.com/",
        "{json}"
    );
    let out = s.run(&["status"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sign in at the link below now"), "{text}");
    assert!(!text.contains("evil.example"), "{text}");
    agent.join().unwrap();
}

#[test]
fn a_socket_served_by_another_user_is_not_asked() {
    let s = Session::start(Keyring::Absent);
    // Another user ("nobody") got to the socket's place first: it can enter the runtime directory,
    // and the socket's directory lets it in.
    std::fs::set_permissions(s.root(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(s.path("run"), std::fs::Permissions::from_mode(0o711)).unwrap();
    let path = socket_in(&s, 0o777);
    let script = format!(
        "import socket,os\nos.umask(0)\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen(4)\n\
         while True:\n c,_=s.accept()\n c.recv(65536)\n c.sendall({:?}.encode())\n c.close()\n",
        path.to_str().unwrap(),
        LYING_ANSWER
    );
    let mut squatter = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["/usr/bin/python3", "-c", &script])
        .spawn()
        .expect("run setpriv (util-linux)");
    s.wait_until("the other user's socket", || path.exists());
    let out = s.run(&["status", "--json"], "");
    let (stdout, err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    let _ = squatter.kill();
    let _ = squatter.wait();
    assert!(!stdout.contains("evil.example"), "{stdout}");
    assert!(!stdout.contains("adele@contoso.com"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{err}");
    assert!(
        err.contains("served by a process of another user (65534)"),
        "{err}"
    );
}
