//! Build script: records which commit the binary was built from, for `--version`, the log and
//! `doctor`. `git rev-parse --short HEAD` when the source is a git checkout; else
//! `$SIGNIN_ASSISTANT_COMMIT` (for builds from a source archive); else "unknown".
//!
//! It also names the one platform family the code needs a word for: `cfg(freedesktop)`, the Unix
//! desktops that speak the freedesktop.org standards over D-Bus (Linux and the BSDs; not macOS,
//! iOS or Android). The code spells its platforms `freedesktop`, `windows` and
//! `target_os = "macos"`, and `target_os = "linux"` only for Linux's own kernel calls.

use std::process::Command;

fn main() {
    declare_platforms();
    println!("cargo:rerun-if-env-changed=SIGNIN_ASSISTANT_COMMIT");
    let commit = git(&["rev-parse", "--short", "HEAD"])
        .or_else(|| std::env::var("SIGNIN_ASSISTANT_COMMIT").ok())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SIGNIN_ASSISTANT_COMMIT={commit}");
    // Build again when HEAD moves: HEAD itself (a checkout) and the branch it points at (a commit).
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"])
            .and_then(|branch| git(&["rev-parse", "--git-path", &branch])),
    ]
    .into_iter()
    .flatten()
    .filter(|path| std::path::Path::new(path).exists())
    {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// `cfg(freedesktop)` for the target being built (Cargo.toml's target tables cannot use it and
/// spell the same set out).
fn declare_platforms() {
    println!("cargo::rustc-check-cfg=cfg(freedesktop)");
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let unix = family.split(',').any(|f| f == "unix");
    if unix && !matches!(os.as_str(), "macos" | "ios" | "android") {
        println!("cargo::rustc-cfg=freedesktop");
    }
}

/// The trimmed output of a successful `git` command, run in the crate's directory.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
