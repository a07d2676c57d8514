//! The real binary's `run` with its tray in a headless desktop: the item registers with the
//! agent's own summary, "Sign in…" opens the configured pinentry and sends the typed password
//! to the identity endpoint, "Quit" stops the agent and removes the item.
//!
//! The endpoint here is a bare loopback listener that counts connections and answers 503:
//! enough to see that a request was made. (Checks against the Entra emulator belong with it.)

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::pinentry::FakePinentry;
use support::SessionBuilder;

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
    let desktop = SessionBuilder::desktop().start();
    let (endpoint, requests) = counting_endpoint();

    // A scripted pinentry that answers with a password.
    let pinentry = FakePinentry::in_dir(&desktop.path("pinentry"), Some("typed%20secret"));
    let config = desktop.write_config(
        "config.toml",
        &format!(
            "[account]\nusername = \"adele@contoso.test\"\n\
             [entra]\ntenant = \"contoso.test\"\nclient_id = \"00000000-0000-0000-0000-000000000001\"\n\
             authority = \"{endpoint}\"\ngraph = \"{endpoint}\"\ntimeout_secs = 2\n\
             [prompt]\npinentry = \"{}\"\n",
            pinentry.program().display()
        ),
    );
    let mut agent = desktop.start_agent("agent", &config, &[]);

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
        pinentry.log().contains("GETPIN")
    });
    desktop.wait_until("the password sent to the endpoint", || {
        requests.load(Ordering::SeqCst) > before
    });
    let pin_log = pinentry.log();
    assert!(pin_log.contains("adele@contoso.test"), "{pin_log}");
    agent.wait_for_log("sign-in failed");
    // The password never reaches the log.
    assert!(!agent.log().contains("typed secret"), "{}", agent.log());

    desktop.menu_click(&item, "Quit");
    let status = agent.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}\n{}", agent.log());
    assert!(desktop.tray_items().is_empty());
}
