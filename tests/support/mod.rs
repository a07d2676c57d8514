//! Test harness: runs the real `signin-assistant` binary in an isolated session.
//!
//! Every test that runs the binary needs the same thing: a temporary HOME with its own XDG
//! directories, its own D-Bus session bus (no service activation, so a component left out is
//! really absent), a `$BROWSER` that records what would have opened and, when asked, the
//! services of a person's desktop. [`Session`] is that, in one place: the core here (bus,
//! gnome-keyring, environment, processes), the desktop on top of it in [`desktop`] (Xvfb, dunst,
//! a StatusNotifierItem host, and helpers that drive them like a person). Nothing of the
//! developer's own session is touched, and every process it started is killed on drop.
//!
//! `Session::start(Keyring::Unlocked)` for the command line, `SessionBuilder::desktop()` for a
//! full desktop; [`entra`] adds the Entra emulator, [`interactive`] a scripted browser for its
//! sign-in pages, [`webdriver`] a real headless chromium, [`pinentry`] a scripted password
//! dialog, [`slapd`], [`ds389`] and [`samba`] real directory servers, [`fake_ldap`] a lying one;
//! [`measure`] times a run of the binary and reads its peak memory; [`notifications`] a
//! notification server of the test's own (one that hangs, for one).
#![allow(dead_code)]

pub mod agent;
pub mod desktop;
pub mod dnsmasq;
pub mod ds389;
pub mod entra;
pub mod fake_ldap;
pub mod interactive;
pub mod measure;
#[cfg(all(unix, not(target_os = "macos")))]
pub mod notifications;
pub mod pinentry;
pub mod samba;
pub mod slapd;
pub mod webdriver;

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
#[cfg(unix)]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_signin-assistant");
/// The password of the session's login keyring.
pub const KEYRING_PASSWORD: &str = "test-keyring-pass";
pub const SECRETS_NAME: &str = "org.freedesktop.secrets";
/// How long one service may take to come up (they all take well under a second here).
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether a [`Session`] has a Secret Service.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keyring {
    /// A real, unlocked gnome-keyring on the private bus.
    Unlocked,
    /// A private bus with no Secret Service on it.
    Absent,
}

/// Chooses the components of a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionBuilder {
    keyring: Option<String>,
    x: bool,
    dunst: bool,
    tray: bool,
    screen: (u32, u32),
}

impl SessionBuilder {
    /// Only the D-Bus session bus and the temporary HOME; add components with the setters.
    pub fn bare() -> Self {
        SessionBuilder {
            keyring: None,
            x: false,
            dunst: false,
            tray: false,
            screen: (800, 600),
        }
    }

    /// Everything on: X, unlocked keyring, dunst, tray host.
    pub fn desktop() -> Self {
        SessionBuilder {
            keyring: Some(KEYRING_PASSWORD.to_string()),
            x: true,
            dunst: true,
            tray: true,
            screen: (800, 600),
        }
    }

    /// gnome-keyring (secrets component), its login keyring unlocked with `password`; `None`
    /// leaves the session without a Secret Service.
    pub fn keyring(mut self, password: Option<&str>) -> Self {
        self.keyring = password.map(str::to_string);
        self
    }

    /// An X display (Xvfb). Forced on by `dunst` and `tray`, which need one.
    pub fn x(mut self, on: bool) -> Self {
        self.x = on;
        self
    }

    /// dunst, the notification server.
    pub fn dunst(mut self, on: bool) -> Self {
        self.dunst = on;
        self
    }

    /// status-notifier-watcher plus gtk-sni-tray-standalone (the tray host).
    pub fn tray(mut self, on: bool) -> Self {
        self.tray = on;
        self
    }

    /// The size of the virtual screen.
    pub fn screen(mut self, width: u32, height: u32) -> Self {
        self.screen = (width, height);
        self
    }

    fn needs_x(&self) -> bool {
        self.x || self.dunst || self.tray
    }

    /// Starts the session; panics with what to install or what failed.
    pub fn start(self) -> Session {
        Session::launch(self)
    }
}

/// One running process of the session: killed (with its process group) on drop.
struct Component {
    name: &'static str,
    child: Child,
}

/// An isolated user session for one test. Dropping it ends every process it started.
pub struct Session {
    dir: tempfile::TempDir,
    env: Vec<(String, OsString)>,
    /// In start order; killed in reverse order.
    components: Vec<Component>,
    display: Option<u32>,
    keyring_password: Option<String>,
}

impl Session {
    /// A session for the command line: a private bus, with or without a keyring.
    pub fn start(keyring: Keyring) -> Session {
        let password = (keyring == Keyring::Unlocked).then_some(KEYRING_PASSWORD);
        SessionBuilder::bare().keyring(password).start()
    }

    fn launch(options: SessionBuilder) -> Session {
        require_programs(&options);
        let dir = tempfile::Builder::new()
            .prefix("session-")
            .tempdir()
            .expect("create the session's temporary directory");
        let mut session = Session {
            env: Vec::new(),
            dir,
            components: Vec::new(),
            display: None,
            keyring_password: None,
        };
        session.make_directories();
        session.env = session.base_env();
        session.start_bus();
        if options.needs_x() {
            session.start_x(options.screen);
        }
        if let Some(password) = &options.keyring {
            session.start_keyring(password);
        }
        if options.dunst {
            session.start_dunst();
        }
        if options.tray {
            session.start_tray_host();
        }
        session
    }

    fn make_directories(&self) {
        let home = self.home();
        for d in [
            home.join(".config"),
            home.join(".local/share"),
            home.join(".local/state"),
            home.join(".cache"),
            self.path("run"),
            self.path("bin"),
            self.path("logs"),
        ] {
            fs::create_dir_all(&d).expect("create a session directory");
        }
        set_mode(&self.path("run"), 0o700).expect("chmod XDG_RUNTIME_DIR");
        write_executable(
            &self.browser_recorder(),
            &format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                self.path("opened-urls.txt").display()
            ),
        );
    }

    /// HOME, XDG_*, the system config layer inside the session (so a real /etc file never
    /// leaks in), the recording `$BROWSER`, PATH, LANG (and RUST_LOG/RUST_BACKTRACE if set).
    fn base_env(&self) -> Vec<(String, OsString)> {
        let home = self.home();
        let mut env: Vec<(String, OsString)> = vec![
            ("HOME".into(), home.clone().into()),
            ("XDG_RUNTIME_DIR".into(), self.path("run").into()),
            ("XDG_CONFIG_HOME".into(), home.join(".config").into()),
            // Where entries for all users live (/etc/xdg on a real system): inside the session,
            // so a package installed on the machine never leaks in.
            ("XDG_CONFIG_DIRS".into(), self.path("etc/xdg").into()),
            ("XDG_DATA_HOME".into(), home.join(".local/share").into()),
            ("XDG_STATE_HOME".into(), home.join(".local/state").into()),
            ("XDG_CACHE_HOME".into(), home.join(".cache").into()),
            (
                "SIGNIN_ASSISTANT_SYSTEM_CONFIG".into(),
                self.path("etc/config.toml").into(),
            ),
            ("NO_AT_BRIDGE".into(), "1".into()),
            ("BROWSER".into(), self.browser_recorder().into()),
            ("LANG".into(), "C.UTF-8".into()),
            (
                "PATH".into(),
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            ),
        ];
        for passthrough in ["RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(v) = std::env::var_os(passthrough) {
                env.push((passthrough.into(), v));
            }
        }
        env
    }

    /// A private session bus with its own config: no activatable services, so nothing outside
    /// this session is started behind the test's back.
    fn start_bus(&mut self) {
        let config = self.path("dbus-session.conf");
        fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                self.path("run/bus").display()
            ),
        )
        .expect("write the bus config");
        let mut cmd = self.command("dbus-daemon");
        cmd.arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"]);
        let line = self.start_announcing("dbus-daemon", cmd);
        let address = line.trim().to_string();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed no address: {address:?}"
        );
        self.env
            .push(("DBUS_SESSION_BUS_ADDRESS".into(), address.into()));
    }

    /// gnome-keyring with only the secrets component; the login keyring is created (first run)
    /// or unlocked with `password`, given on stdin.
    fn start_keyring(&mut self, password: &str) {
        let mut cmd = self.command("gnome-keyring-daemon");
        cmd.args(["--foreground", "--unlock", "--components=secrets"])
            .arg(format!(
                "--control-directory={}",
                self.path("run/keyring").display()
            ))
            .stdin(Stdio::piped());
        let mut child = self.spawn("gnome-keyring-daemon", cmd);
        {
            let mut stdin = child.stdin.take().expect("keyring stdin");
            stdin
                .write_all(password.as_bytes())
                .expect("give the keyring its password");
        } // closing stdin ends the password
        self.components.push(Component {
            name: "gnome-keyring-daemon",
            child,
        });
        self.wait_for_name(SECRETS_NAME);
        self.keyring_password = Some(password.to_string());
    }

    // ----- what tests use -------------------------------------------------------------------

    /// A command that sees only this session: `env_clear` plus the session's environment,
    /// started in HOME.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.home());
        cmd
    }

    /// The session's environment, e.g. for `tokio::process::Command`.
    pub fn env(&self) -> &[(String, OsString)] {
        &self.env
    }

    /// The session's value of one variable.
    pub fn var(&self, name: &str) -> Option<&OsString> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// A path inside the session's temporary directory.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The session's temporary directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The temporary HOME.
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// The agent's state file under the session's XDG_STATE_HOME.
    pub fn state_file(&self) -> PathBuf {
        self.home().join(".local/state/signin-assistant/state.json")
    }

    /// The agent's log files (`logs/` in the state directory), current one first.
    pub fn agent_log_files(&self) -> Vec<PathBuf> {
        let dir = self.home().join(".local/state/signin-assistant/logs");
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        files
    }

    /// What the program wrote into its log files so far.
    pub fn agent_log_text(&self) -> String {
        self.agent_log_files()
            .iter()
            .map(|f| fs::read_to_string(f).unwrap_or_default())
            .collect()
    }

    /// The X display number, when X runs.
    pub fn display(&self) -> Option<u32> {
        self.display
    }

    /// The login keyring's password, when the keyring runs.
    pub fn keyring_password(&self) -> Option<&str> {
        self.keyring_password.as_deref()
    }

    /// The binary with `args`, stdin given, run to completion (at most 60 s).
    /// Runs the binary with `--config config` before `args`.
    pub fn run_with_config(&self, config: &Path, args: &[&str], stdin: &str) -> Output {
        let config = config.to_str().expect("a UTF-8 path");
        let all: Vec<&str> = ["--config", config]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        self.run(&all, stdin)
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut command = self.command(BIN);
        command.args(args);
        run_to_end(command, stdin)
    }

    /// Runs a program in the session and returns its output; panics if it cannot start.
    pub fn output(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }

    /// Like [`output`](Self::output) but panics unless it succeeds; returns stdout.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.output(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes a config file into the session and returns its path.
    pub fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).expect("write config");
        path
    }

    /// Writes the session's system file, the admins' defaults (where
    /// `SIGNIN_ASSISTANT_SYSTEM_CONFIG` points), and returns its path. What only an admin may
    /// set (a pinentry or kpasswd by path, `allow_insecure`, `trusted`) goes here.
    pub fn write_system_config(&self, text: &str) -> PathBuf {
        self.write_config("etc/config.toml", text)
    }

    /// Writes the session's enforced file, beside the system file: what the admins impose.
    pub fn write_enforced_config(&self, text: &str) -> PathBuf {
        self.write_config("etc/enforced.toml", text)
    }

    /// The `$BROWSER` of the session: it records the URLs it is asked to open.
    pub fn browser_recorder(&self) -> PathBuf {
        self.path("bin/record-url.sh")
    }

    /// The URLs `$BROWSER` was asked to open, oldest first.
    pub fn opened_urls(&self) -> Vec<String> {
        fs::read_to_string(self.path("opened-urls.txt"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The secret kept under service S and username U in this session, without the line that
    /// binds it to an endpoint (see [`Session::keyring_raw`] for the whole value).
    pub fn keyring_lookup(&self, service: &str, account: &str) -> Option<String> {
        let raw = self.keyring_raw(service, account)?;
        Some(match raw.strip_prefix("signin-assistant/1\n") {
            Some(bound) => bound.split_once('\n').map_or(bound, |(_, s)| s).to_string(),
            None => raw,
        })
    }

    /// Keeps the secrets of `account` as if the endpoint `config` names had accepted them, for
    /// the tests that sign in at a working endpoint and then check against a broken one at
    /// another address (a kept secret is otherwise never sent there). Nothing happens when no
    /// provider can be built from `config`.
    pub fn keep_for_endpoint_of(&self, config: &Path, account: &str) {
        use signin_assistant::providers::{IdentityProvider, Provider};
        signin_assistant::providers::install_tls_crypto();
        let Ok(config) =
            signin_assistant::system::config::Config::from_files(&[config.to_path_buf()])
        else {
            return;
        };
        let Ok(provider) = Provider::from_config(&config) else {
            return;
        };
        let endpoint = provider.endpoint();
        for service in ["signin-assistant", "signin-assistant.refresh-token"] {
            let Some(secret) = self.keyring_lookup(service, account) else {
                continue;
            };
            let attributes = ["service", service, "username", account];
            let clear = self.output("secret-tool", &[&["clear"][..], &attributes].concat());
            assert!(clear.status.success(), "secret-tool clear");
            let mut store = self
                .command("secret-tool")
                .args(["store", "--label=rebound"])
                .args(attributes)
                .stdin(Stdio::piped())
                .spawn()
                .expect("secret-tool");
            let value = format!("signin-assistant/1\n{}\n{secret}", endpoint.as_str());
            store
                .stdin
                .take()
                .unwrap()
                .write_all(value.as_bytes())
                .unwrap();
            assert!(store.wait().unwrap().success(), "secret-tool store");
        }
    }

    /// `secret-tool lookup service S username U` in this session: the value as stored.
    pub fn keyring_raw(&self, service: &str, account: &str) -> Option<String> {
        let out = self.output(
            "secret-tool",
            &["lookup", "service", service, "username", account],
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// Every file under the session's directory (HOME, runtime, config, logs).
    pub fn all_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                match entry.file_type() {
                    Ok(t) if t.is_dir() => stack.push(path),
                    Ok(t) if t.is_file() => files.push(path),
                    _ => {}
                }
            }
        }
        files
    }

    /// Polls `done` every 50 ms for up to 15 s; panics with `what` (and the component logs).
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        self.wait_until_for(what, START_TIMEOUT, &mut done);
    }

    /// [`wait_until`](Self::wait_until) with an explicit bound.
    pub fn wait_until_for(&self, what: &str, timeout: Duration, done: &mut dyn FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Checks `holds` every 50 ms for `duration`; panics with `what` the first time it fails.
    /// For what must NOT happen (a second balloon, a balloon going away).
    pub fn assert_stays(&self, what: &str, duration: Duration, mut holds: impl FnMut() -> bool) {
        let end = Instant::now() + duration;
        while Instant::now() < end {
            assert!(holds(), "no longer true: {what}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The agent's state file as JSON (`Null` when there is none yet).
    pub fn saved_state(&self) -> serde_json::Value {
        std::fs::read(self.state_file())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Whether a bus name has an owner on the session bus.
    pub fn name_has_owner(&self, name: &str) -> bool {
        self.command("busctl")
            .args(["--user", "status", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits until `name` is owned on the session bus.
    pub fn wait_for_name(&self, name: &str) {
        self.wait_until(&format!("{name} on the session bus"), || {
            self.name_has_owner(name)
        });
    }

    /// The last lines of every component's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut files: Vec<_> = fs::read_dir(self.path("logs"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let mut text = String::new();
        for f in files {
            let body = fs::read_to_string(&f).unwrap_or_default();
            let tail: Vec<&str> = body.lines().rev().take(20).collect();
            if tail.is_empty() {
                continue;
            }
            text.push_str(&format!("--- {} ---\n", f.display()));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }

    // ----- process plumbing -----------------------------------------------------------------

    /// Spawns a component in its own process group, its output going to logs/<name>.log
    /// (stdin is the caller's choice; [`command`](Self::command) leaves it inherited).
    fn spawn(&self, name: &str, mut cmd: Command) -> Child {
        let log = fs::File::create(self.path(format!("logs/{name}.log"))).expect("create a log");
        cmd.stdout(log.try_clone().expect("dup log")).stderr(log);
        own_process_group(&mut cmd)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"))
    }

    /// Starts a component kept until drop, with stdin closed.
    fn start_component(&mut self, name: &'static str, mut cmd: Command) {
        cmd.stdin(Stdio::null());
        let child = self.spawn(name, cmd);
        self.components.push(Component { name, child });
    }

    /// Starts a component that announces readiness with one line on stdout; returns the line.
    fn start_announcing(&mut self, name: &'static str, mut cmd: Command) -> String {
        let log = fs::File::create(self.path(format!("logs/{name}.log"))).expect("create a log");
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
        let mut child = own_process_group(&mut cmd)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the component never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) if !line.trim().is_empty() => {
                self.components.push(Component { name, child });
                line
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not start:\n{}", self.logs());
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("session logs:\n{}", self.logs());
        }
        // SIGKILL the whole group: gtk-sni-tray-standalone ignores SIGTERM, and nothing here
        // has state worth a clean shutdown.
        for component in self.components.iter_mut().rev() {
            let pid = component.child.id();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
            let _ = component.child.kill();
            let _ = component.child.wait();
        }
    }
}

/// Runs `command` with `stdin` given, to completion (at most 60 s). A program that exits before
/// reading all of its input is fine (its input is then cut short, not an error of the test).
pub fn run_to_end(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the program");
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    wait_with_timeout(child, Duration::from_secs(60))
}

/// Waits for a child, killing it after `limit` so a hung binary fails the test instead of CI.
pub fn wait_with_timeout(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => return child.wait_with_output().expect("output"),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "signin-assistant did not finish within {limit:?}; stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The JSON object printed by `--json`.
/// What the command wrote to stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json_of(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON in output\nstdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).expect("valid JSON")
}

pub fn write_executable(path: &Path, body: &str) {
    fs::write(path, body).expect("write a script");
    set_mode(path, 0o755).expect("chmod a script");
}

/// Sets Unix permission bits; the harness runs its services on Unix only, and elsewhere (where
/// the tests are only compiled) this does nothing.
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Unix: the component gets a process group of its own, so a kill reaches its children too.
pub fn own_process_group(cmd: &mut Command) -> &mut Command {
    #[cfg(unix)]
    cmd.process_group(0);
    cmd
}

/// Whether a file on PATH may be run (Unix: an execute bit is set).
fn is_executable(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The first executable called `program` on PATH.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.metadata().is_ok_and(|m| is_executable(&m)))
}

/// Panics with the apt-get line for every missing program: a test never passes silently.
fn require_programs(options: &SessionBuilder) {
    let mut wanted: Vec<(&str, &str)> = vec![("dbus-daemon", "dbus"), ("busctl", "systemd")];
    if options.keyring.is_some() {
        wanted.extend([
            ("gnome-keyring-daemon", "gnome-keyring"),
            ("secret-tool", "libsecret-tools"),
        ]);
    }
    wanted.extend(desktop::programs(
        options.needs_x(),
        options.dunst,
        options.tray,
    ));
    require(&wanted);
}

/// Panics with `apt-get install -y PACKAGES` unless every (program, package) is installed.
/// libfaketime's thread-safe library, wherever the architecture puts it, for an agent whose
/// clock runs faster (`LD_PRELOAD` it with `FAKETIME`, e.g. `@2026-11-25 23:59:00 x30`).
pub fn libfaketime() -> PathBuf {
    require(&[("faketime", "faketime")]);
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|dir| dir.path().join("faketime/libfaketimeMT.so.1"))
        .find(|lib| lib.exists());
    found.expect("libfaketimeMT.so.1; install with: apt-get install -y faketime")
}

pub fn require(wanted: &[(&str, &str)]) {
    let mut packages: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| find_on_path(program).is_none())
        .map(|(_, package)| *package)
        .collect();
    packages.dedup();
    if !packages.is_empty() {
        panic!(
            "the test session needs programs that are not installed; install with: apt-get install -y {}",
            packages.join(" ")
        );
    }
}
