//! The machine resumes from sleep: logind's `PrepareForSleep(false)` on the system bus makes the
//! running agent retry a check that failed before the suspend at once, instead of after its
//! backoff. The "system bus" is a private dbus-daemon whose address the agent is given, and the
//! signal is sent with dbus-send, as logind would send it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emulator::{Misbehaviour, Scenario};
use support::entra::EntraFixture;
use support::SessionBuilder;

/// A private bus standing in for the system bus; killed on drop.
struct SystemBus {
    daemon: Child,
    address: String,
}

impl SystemBus {
    fn start() -> SystemBus {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .expect("the bus's address");
        SystemBus {
            daemon,
            address: address.trim().to_string(),
        }
    }

    /// What logind sends when the machine has resumed.
    fn announce_resume(&self) {
        let status = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--type=signal",
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager.PrepareForSleep",
                "boolean:false",
            ])
            .status()
            .expect("run dbus-send");
        assert!(status.success());
    }
}

impl Drop for SystemBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[test]
fn a_resume_retries_the_check_that_failed_before_the_suspend() {
    let healthy = Scenario::expires_in_days(10);
    let f = EntraFixture::on(
        SessionBuilder::bare()
            .keyring(Some(support::KEYRING_PASSWORD))
            .start(),
        healthy.clone(),
        "",
    );
    f.must_sign_in();
    // Nothing saved (a first start): the agent checks at once.
    std::fs::remove_file(f.session.state_file()).expect("remove the state file");
    // The network goes away as the lid closes: the agent's first check fails.
    f.emulator.set_scenario(
        healthy
            .clone()
            .with_misbehaviour(Misbehaviour::HtmlStatus(502)),
    );
    let bus = SystemBus::start();
    let agent = f.session.start_agent_with_env(
        "agent",
        &f.config,
        &["--no-tray"],
        &[("DBUS_SYSTEM_BUS_ADDRESS", bus.address.as_str())],
    );
    f.session.wait_until("the first check failed", || {
        f.session.saved_state()["last_error"].is_string()
    });
    // Resumed, the network back: the retry comes at once, not after the minute's backoff.
    f.emulator.set_scenario(healthy);
    let resumed = Instant::now();
    bus.announce_resume();
    f.session.wait_until("the check after the resume", || {
        f.session.saved_state()["last_error"].is_null()
    });
    assert!(
        resumed.elapsed() < Duration::from_secs(30),
        "{:?}",
        resumed.elapsed()
    );
    assert!(
        agent.log().contains("the machine resumed from sleep"),
        "{}",
        agent.log()
    );
    let status = agent.terminate(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
}
