//! The running binary keeps the password out of core dumps and away from same-user debuggers
//! (Linux): its core size limit is 0 and it is not "dumpable", which the kernel shows by making
//! its /proc files owned by root instead of by the user it runs as.
//!
//! The binary is observed while it waits for the password on standard input (`sign-in
//! --password-stdin`), which is when it is about to hold one. Run as root, the test starts it as
//! the unprivileged user 65534 (root owns every /proc file it makes, so nothing would be seen).
#![cfg(target_os = "linux")]

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_signin-assistant");
const NOBODY: u32 = 65534;

#[test]
fn a_waiting_binary_has_no_core_limit_and_is_not_dumpable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[account]\nusername = \"adele@contoso.com\"\n[entra]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"x\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    let runs_as = if me == 0 { NOBODY } else { me };
    let mut command = Command::new(BIN);
    command
        .args([
            "--config",
            config.to_str().unwrap(),
            "sign-in",
            "--password-stdin",
        ])
        .env_clear()
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env(
            "SIGNIN_ASSISTANT_SYSTEM_CONFIG",
            dir.path().join("none.toml"),
        )
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if me == 0 {
        command.uid(NOBODY).gid(NOBODY);
    }
    let mut child = command.spawn().expect("start signin-assistant");
    let proc_dir = format!("/proc/{}", child.id());
    // Wait until it runs the binary (not the forked test) and is past main's first lines.
    let deadline = Instant::now() + Duration::from_secs(20);
    let limits = loop {
        let limits = std::fs::read_to_string(format!("{proc_dir}/limits")).unwrap_or_default();
        let exe = std::fs::read_link(format!("{proc_dir}/exe")).unwrap_or_default();
        if exe.ends_with("signin-assistant") && core_limit(&limits).as_deref() == Some("0 0") {
            break limits;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the core limit never became 0:\n{limits}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let environ_owner = std::fs::metadata(format!("{proc_dir}/environ"))
        .unwrap()
        .uid();
    let status_owner = std::fs::metadata(format!("{proc_dir}/status"))
        .unwrap()
        .uid();
    // Give it the password line so it ends by itself (it cannot reach any endpoint).
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"pw\n");
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(core_limit(&limits).as_deref(), Some("0 0"), "{limits}");
    assert_ne!(runs_as, 0);
    assert_eq!(
        environ_owner, 0,
        "a dumpable process's /proc files belong to its user ({runs_as})"
    );
    assert_eq!(status_owner, 0);
}

/// The soft and hard limits on the "Max core file size" line of /proc/<pid>/limits, as
/// "soft hard".
fn core_limit(limits: &str) -> Option<String> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))?;
    let fields: Vec<&str> = line["Max core file size".len()..]
        .split_whitespace()
        .collect();
    Some(format!("{} {}", fields.first()?, fields.get(1)?))
}
