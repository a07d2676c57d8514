//! What the program says about itself: `--version` with the commit, `config show` with the
//! file and line of every value, and its messages: on stderr and in the log file under the
//! state directory, as much as `-v`/`-q`, `SIGNIN_ASSISTANT_LOG` and `RUST_LOG` ask for.

mod support;

use std::path::PathBuf;
use std::process::{Child, Stdio};

use support::{stderr, Keyring, Session, BIN};

/// An account on an endpoint that is not there: the agent's first check fails at once.
const UNREACHABLE: &str = "[account]\nusername = \"adele@contoso.com\"\n[entra]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"\nauthority = \"http://127.0.0.1:9\"\ngraph = \"http://127.0.0.1:9\"\ntimeout_secs = 2\n";

#[test]
fn version_names_the_commit() {
    let s = Session::start(Keyring::Absent);
    let out = s.run(&["--version"], "");
    assert_eq!(out.status.code(), Some(0));
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "signin-assistant {} (commit {commit})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn config_show_names_the_file_and_line_of_every_value() {
    let s = Session::start(Keyring::Absent);
    let system = s.write_config(
        "etc/config.toml",
        "# deployed by IT\n[policy]\nmax_age_days = 60\nwarning_days = 7\n",
    );
    let user = s.write_config("mine.toml", "[policy]\n\nwarning_days = 10\n");
    let out = s.run_with_config(&user, &["config", "show"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} in\n{text}"))
            .to_string()
    };
    assert!(line("max_age_days = 60").ends_with(&format!("# {}:3", system.display())));
    assert!(line("warning_days = 10").ends_with(&format!("# {}:3", user.display())));
    assert!(line("urgent_days = 3").ends_with("# built-in default"));
    assert_eq!(line("# tenant"), "# tenant is not set");
    assert!(text.starts_with(&format!(
        "# Files read, later ones win:\n#   {}\n#   {}\n",
        system.display(),
        user.display()
    )));

    let out = s.run_with_config(&user, &["config", "show", "--json"], "");
    let json = support::json_of(&out);
    let warning = json["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "policy.warning_days")
        .unwrap()
        .clone();
    assert_eq!(warning["value"], "10");
    assert_eq!(warning["origin"], format!("{}:3", user.display()));

    // A broken file is named, as for every command (exit 2).
    let broken = s.write_config("broken.toml", "[policy]\nwarning_days = \"soon\"\n");
    let out = s.run_with_config(&broken, &["config", "show"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("{}:2", broken.display())));
}

/// `run --no-tray` with `flags` and `env`, its stderr in a file of the session.
struct Agent {
    child: Child,
    stderr: PathBuf,
}

impl Agent {
    fn start(s: &Session, name: &str, flags: &[&str], env: &[(&str, &str)]) -> Agent {
        let config = s.write_config("config.toml", UNREACHABLE);
        let stderr = s.path(format!("logs/{name}.stderr"));
        let file = std::fs::File::create(&stderr).unwrap();
        let child = s
            .command(BIN)
            .arg("--config")
            .arg(&config)
            .args(flags)
            .args(["run", "--no-tray"])
            .env_remove("RUST_LOG")
            .env_remove("SIGNIN_ASSISTANT_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start the agent");
        Agent { child, stderr }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts an agent and waits until its first check has failed (saved in the state file),
/// which comes after "agent started"; returns (stderr, log file) and clears the log file.
fn agent_says(flags: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let s = Session::start(Keyring::Absent);
    let agent = Agent::start(&s, "agent", flags, env);
    s.wait_until("the first check failed", || {
        s.saved_state()["last_error"].is_string()
    });
    // The warning about the failed check follows the saved failure closely.
    std::thread::sleep(std::time::Duration::from_millis(300));
    (agent.stderr(), s.agent_log_text())
}

#[test]
fn the_agent_logs_to_stderr_and_to_its_file() {
    let (stderr, file) = agent_says(&[], &[]);
    for text in [&stderr, &file] {
        assert!(text.contains("agent started"), "{text}");
        assert!(text.contains("check failed"), "{text}");
    }
    // The file is for reading later: no colour codes.
    assert!(!file.contains('\u{1b}'), "{file}");
}

#[test]
fn flags_and_environment_choose_how_much_is_said() {
    // RUST_LOG alone: warnings, not the agent's info.
    let (stderr, file) = agent_says(&[], &[("RUST_LOG", "warn")]);
    assert!(stderr.contains("check failed"), "{stderr}");
    assert!(!stderr.contains("agent started"), "{stderr}");
    assert!(!file.contains("agent started"), "{file}");
    // SIGNIN_ASSISTANT_LOG comes before RUST_LOG.
    let (stderr, _) = agent_says(
        &[],
        &[("RUST_LOG", "warn"), ("SIGNIN_ASSISTANT_LOG", "info")],
    );
    assert!(stderr.contains("agent started"), "{stderr}");
    // -v comes before both.
    let (stderr, _) = agent_says(&["-v"], &[("SIGNIN_ASSISTANT_LOG", "error")]);
    assert!(stderr.contains("agent started"), "{stderr}");
    // -q: errors only.
    let (stderr, file) = agent_says(&["-q"], &[("SIGNIN_ASSISTANT_LOG", "trace")]);
    assert!(!stderr.contains("agent started"), "{stderr}");
    assert!(!stderr.contains("keyring"), "{stderr}");
    assert!(!file.contains("agent started"), "{file}");
}

#[test]
fn minus_v_shows_more_for_a_command() {
    let s = Session::start(Keyring::Absent);
    let config = s.write_config("config.toml", UNREACHABLE);
    let quiet = s.run_with_config(&config, &["check", "--no-notify"], "");
    assert!(!stderr(&quiet).contains("TRACE"), "{}", stderr(&quiet));
    let loud = s.run_with_config(&config, &["-vvv", "check", "--no-notify"], "");
    assert!(stderr(&loud).contains("TRACE"), "{}", stderr(&loud));
    assert_eq!(quiet.status.code(), loud.status.code());
}
