//! A test fixture: the Entra emulator on loopback, an isolated session with a real keyring (a
//! whole desktop when the test needs one), and a config file pointing the binary at the
//! emulator.

use std::path::PathBuf;
use std::process::Output;

use emulator::{Emulator, Scenario};

use super::{Keyring, Session};

pub struct EntraFixture {
    pub session: Session,
    pub emulator: Emulator,
    pub config: PathBuf,
    pub scenario: Scenario,
    // Dropped last: the emulator's tasks run on it.
    _runtime: tokio::runtime::Runtime,
}

impl EntraFixture {
    pub fn start(scenario: Scenario) -> EntraFixture {
        EntraFixture::with_config(scenario, "")
    }

    /// `extra` is appended to the generated config (e.g. a `[policy]` table).
    pub fn with_config(scenario: Scenario, extra: &str) -> EntraFixture {
        EntraFixture::on(Session::start(Keyring::Unlocked), scenario, extra)
    }

    /// The emulator serving `scenario`, and a config in `session` pointing at it; `extra` is
    /// appended to the config.
    pub fn on(session: Session, scenario: Scenario, extra: &str) -> EntraFixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let emulator = runtime
            .block_on(Emulator::start(scenario.clone()))
            .expect("start emulator");
        let base = emulator.base_url();
        let config = session.write_config(
            "config.toml",
            &format!(
                "[account]\nusername = \"{user}\"\n\n[entra]\ntenant = \"{tenant}\"\nclient_id = \"{client}\"\nauthority = \"{base}\"\ngraph = \"{base}\"\ntimeout_secs = 3\nmax_retry_after_secs = 3\n{extra}",
                user = scenario.username,
                tenant = scenario.tenant,
                client = scenario.client_id,
            ),
        );
        EntraFixture {
            session,
            emulator,
            config,
            scenario,
            _runtime: runtime,
        }
    }

    /// The runtime the emulator runs on.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self._runtime
    }

    /// Runs the binary with `--config` and `args`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut all = vec!["--config", self.config.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.session.run(&all, stdin)
    }

    pub fn sign_in(&self, password: &str) -> Output {
        self.run(&["sign-in", "--password-stdin"], &format!("{password}\n"))
    }

    pub fn sign_in_correctly(&self) -> Output {
        self.sign_in(&self.scenario.password.clone())
    }

    /// Signs in with the right password and panics (with the binary's stderr) unless it works.
    pub fn must_sign_in(&self) {
        let out = self.sign_in_correctly();
        assert_eq!(
            out.status.code(),
            Some(0),
            "sign-in failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn check_json(&self) -> (Option<i32>, serde_json::Value) {
        let out = self.run(&["check", "--json", "--no-notify"], "");
        (out.status.code(), super::json_of(&out))
    }

    pub fn cached_password(&self) -> Option<String> {
        self.session
            .keyring_lookup("signin-assistant", &self.scenario.username)
    }

    pub fn cached_refresh_token(&self) -> Option<String> {
        self.session
            .keyring_lookup("signin-assistant.refresh-token", &self.scenario.username)
    }

    /// How many requests the token endpoint has answered so far.
    pub fn token_requests(&self) -> usize {
        self.token_grants().len()
    }

    pub fn token_grants(&self) -> Vec<String> {
        self.emulator
            .requests()
            .into_iter()
            .filter_map(|r| r.grant_type)
            .collect()
    }
}
