//! A program planted in the current directory is never run in place of the one asked for by
//! name: `kpasswd` (which receives the old and the new password) and the pinentry password
//! dialog, with `PATH` holding an empty entry and `.`, both of which a shell reads as the
//! current directory.
//!
//! One test in a file of its own: it changes the process's current directory and `PATH`, which
//! no other test may see.

// Shell scripts with an execute bit stand in for the programs.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use signin_assistant::providers::ldap::kpasswd::{self, KpasswdError, Settings};
use signin_assistant::screen::dialog::pinentry;
use signin_assistant::system::credentials::Secret;

/// An executable `name` in `dir` that leaves `dir/ran-<name>` behind when it runs.
fn plant(dir: &Path, name: &str) {
    let program = dir.join(name);
    let marker = dir.join(format!("ran-{name}"));
    std::fs::write(
        &program,
        format!("#!/bin/sh\ntouch '{}'\ncat >/dev/null\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn programs_planted_in_the_current_directory_are_not_run() {
    let planted = tempfile::tempdir().unwrap();
    plant(planted.path(), "kpasswd");
    plant(planted.path(), "pinentry");
    std::env::set_current_dir(planted.path()).unwrap();
    let settings = Settings {
        realm: Some("CORP.EXAMPLE".into()),
        kdc: None,
        program: "kpasswd".into(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // "." and empty entries, in either order, and a relative one: no absolute directory at all.
    for path in [".::", "::.", "bin:.:"] {
        std::env::set_var("PATH", path);
        let changed = runtime.block_on(kpasswd::change(
            &settings,
            "alice@corp.example",
            &Secret::new("Old-pw-1"),
            &Secret::new("New-pw-2"),
            Duration::from_secs(10),
        ));
        assert!(
            !planted.path().join("ran-kpasswd").exists(),
            "PATH={path:?}: the planted kpasswd was run ({changed:?})"
        );
        assert!(
            matches!(&changed, Err(KpasswdError::NotInstalled(name)) if name == "kpasswd"),
            "PATH={path:?}: {changed:?}"
        );
        let chosen = pinentry::choose_program(Some("pinentry"));
        assert!(chosen.is_err(), "PATH={path:?}: {chosen:?}");
    }
    // A path relative to the current directory is refused as well.
    assert!(pinentry::choose_program(Some("./pinentry")).is_err());
    assert!(!planted.path().join("ran-pinentry").exists());
}
