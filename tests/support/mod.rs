//! Test harness: runs the real `signin-assistant` binary in an isolated session.
//!
//! Each `Session` has its own temporary HOME and XDG directories, its own D-Bus session bus and,
//! when asked, its own gnome-keyring (a real Secret Service, unlocked with a known password).
//! Nothing of the developer's desktop is touched, and everything is stopped on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_signin-assistant");
const INSTALL_HINT: &str = "apt-get install -y dbus gnome-keyring libsecret-tools";

/// An isolated user session for one test.
pub struct Session {
    pub dir: tempfile::TempDir,
    pub bus_address: Option<String>,
    bus_pid: Option<u32>,
    keyring: Option<Child>,
}

/// What `Session` should start.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keyring {
    /// A real, unlocked gnome-keyring on a private bus.
    Unlocked,
    /// A private bus with no Secret Service on it.
    Absent,
}

impl Session {
    pub fn start(keyring: Keyring) -> Session {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in [
            "home",
            "home/.config",
            "home/.local/share",
            "home/.local/state",
            "run",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        set_mode_700(&dir.path().join("run"));
        let mut session = Session {
            dir,
            bus_address: None,
            bus_pid: None,
            keyring: None,
        };
        session.start_bus();
        if keyring == Keyring::Unlocked {
            session.start_keyring();
        }
        session
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn state_file(&self) -> PathBuf {
        self.home().join(".local/state/signin-assistant/state.json")
    }

    /// The environment of a process in this session (nothing inherited but PATH).
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.home();
        let mut env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".to_string(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".to_string(),
                home.join(".config").display().to_string(),
            ),
            (
                "XDG_DATA_HOME".to_string(),
                home.join(".local/share").display().to_string(),
            ),
            (
                "XDG_STATE_HOME".to_string(),
                home.join(".local/state").display().to_string(),
            ),
            (
                "XDG_RUNTIME_DIR".to_string(),
                self.dir.path().join("run").display().to_string(),
            ),
            // The system layer points into the session, so a real /etc file never leaks in.
            (
                "SIGNIN_ASSISTANT_SYSTEM_CONFIG".to_string(),
                self.dir
                    .path()
                    .join("etc/config.toml")
                    .display()
                    .to_string(),
            ),
            (
                "BROWSER".to_string(),
                self.browser_recorder().display().to_string(),
            ),
        ];
        if let Some(address) = &self.bus_address {
            env.push(("DBUS_SESSION_BUS_ADDRESS".to_string(), address.clone()));
        }
        env
    }

    /// A command for a program inside this session.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(self.env()).current_dir(self.home());
        cmd
    }

    /// The binary with `args`, stdin given, run to completion.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start signin-assistant");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        wait_with_timeout(child, Duration::from_secs(60))
    }

    /// Writes a config file into the session and returns its path.
    pub fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// A `$BROWSER` that records the URLs it is asked to open.
    pub fn browser_recorder(&self) -> PathBuf {
        let script = self.dir.path().join("record-url.sh");
        if !script.exists() {
            let log = self.dir.path().join("opened-urls.txt");
            std::fs::write(
                &script,
                format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display()),
            )
            .expect("write recorder");
            set_mode(&script, 0o755);
        }
        script
    }

    pub fn opened_urls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("opened-urls.txt"))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// `secret-tool lookup service S username U` in this session.
    pub fn keyring_lookup(&self, service: &str, account: &str) -> Option<String> {
        let out = self
            .command("secret-tool")
            .args(["lookup", "service", service, "username", account])
            .output()
            .unwrap_or_else(|e| panic!("secret-tool: {e}; install with: {INSTALL_HINT}"));
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// Every file under HOME and the session's runtime and config directories.
    pub fn all_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
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

    fn start_bus(&mut self) {
        let config = self.dir.path().join("bus.conf");
        let socket = self.dir.path().join("run/bus");
        std::fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>session</type><listen>unix:path={}</listen>\
                 <auth>EXTERNAL</auth>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
                socket.display()
            ),
        )
        .expect("write bus config");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--fork", "--print-address=1", "--print-pid=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("dbus-daemon: {e}; install with: {INSTALL_HINT}"));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let address = lines.next().and_then(Result::ok).expect("bus address");
        let pid = lines
            .next()
            .and_then(Result::ok)
            .and_then(|p| p.trim().parse().ok())
            .expect("bus pid");
        let _ = child.wait();
        self.bus_address = Some(address.trim().to_string());
        self.bus_pid = Some(pid);
    }

    fn start_keyring(&mut self) {
        let mut child = self
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("gnome-keyring-daemon: {e}; install with: {INSTALL_HINT}"));
        {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(b"test-keyring-pass")
                .expect("unlock password");
        }
        self.keyring = Some(child);
        self.wait_for_name("org.freedesktop.secrets");
    }

    /// Waits until `name` is owned on the session bus.
    pub fn wait_for_name(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let out = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    &format!("string:{name}"),
                ])
                .output()
                .unwrap_or_else(|e| panic!("dbus-send: {e}; install with: {INSTALL_HINT}"));
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{name} did not appear on the session bus within 10 s");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
        if let Some(pid) = self.bus_pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
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

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn set_mode_700(path: &Path) {
    set_mode(path, 0o700);
}

/// The JSON object printed by `--json`.
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
pub mod desktop;
pub mod entra;
