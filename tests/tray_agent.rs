//! The real binary's `run` with its tray in a headless desktop: the item registers with the
//! agent's own summary, "Sign in…" opens the configured pinentry and sends the typed password
//! to the identity endpoint, "Quit" stops the agent and removes the item.
//!
//! The endpoint here is a bare loopback listener that counts connections and answers 503:
//! enough to see that a request was made. (Checks against the Entra emulator belong with it.)

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::desktop::Desktop;

/// Counts connections; answers each request with 503.
fn counting_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (url, count)
}

#[test]
fn run_shows_the_tray_and_sign_in_uses_the_desktop_prompt() {
    let desktop = Desktop::builder().start();
    let (endpoint, requests) = counting_endpoint();

    // A scripted pinentry that answers with a password.
    let pin_dir = desktop.path("pinentry");
    std::fs::create_dir_all(&pin_dir).unwrap();
    std::fs::write(pin_dir.join("reply"), "typed%20secret").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-pinentry.sh");
    let wrapper = pin_dir.join("pinentry-fake");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec '{script}' '{}'\n", pin_dir.display()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();

    let config = desktop.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "[account]\nusername = \"adele@contoso.test\"\n\
             [entra]\ntenant = \"contoso.test\"\nclient_id = \"00000000-0000-0000-0000-000000000001\"\n\
             authority = \"{endpoint}\"\ngraph = \"{endpoint}\"\ntimeout_secs = 2\n\
             [prompt]\npinentry = \"{}\"\n",
            wrapper.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(desktop.path("agent.log")).unwrap();
    let mut agent = desktop
        .command(env!("CARGO_BIN_EXE_signin-assistant"))
        .args(["run", "--config"])
        .arg(&config)
        .env("SIGNIN_ASSISTANT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let agent_log = || std::fs::read_to_string(desktop.path("agent.log")).unwrap_or_default();

    let item = desktop.wait_for_tray_item();
    desktop.wait_until("the agent's summary in the tooltip", || {
        desktop.tray_tooltip(&item).contains("Sign in required")
    });
    let entries = desktop.menu_layout(&item);
    assert!(
        entries.iter().any(|(_, l, e)| l == "Sign in…" && *e),
        "{entries:?}"
    );
    assert!(
        !entries.iter().any(|(_, l, _)| l == "Sign out"),
        "{entries:?}"
    );

    let before = requests.load(Ordering::SeqCst);
    desktop.menu_click(&item, "Sign in…");
    desktop.wait_until("the pinentry asked for the PIN", || {
        std::fs::read_to_string(pin_dir.join("log"))
            .unwrap_or_default()
            .contains("GETPIN")
    });
    desktop.wait_until("the password sent to the endpoint", || {
        requests.load(Ordering::SeqCst) > before
    });
    let pin_log = std::fs::read_to_string(pin_dir.join("log")).unwrap();
    assert!(pin_log.contains("adele@contoso.test"), "{pin_log}");
    desktop.wait_until("the failed sign-in logged", || {
        agent_log().contains("sign-in failed")
    });
    // The password never reaches the log.
    assert!(!agent_log().contains("typed secret"), "{}", agent_log());

    desktop.menu_click(&item, "Quit");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = agent.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not quit:\n{}",
            agent_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}\n{}", agent_log());
    assert!(desktop.tray_items().is_empty());
}
