//! Writes what the Debian package installs besides the binary and the static assets: a man page
//! per command, the shell completions, and the example system configuration. The pages and the
//! completions come from the binary's own clap definitions, so they cannot drift from its flags.
//!
//!     cargo run --example gen-docs -- OUTDIR
//!
//! writes
//! - `OUTDIR/man/signin-assistant.1` and `OUTDIR/man/signin-assistant-<command>.1`;
//! - `OUTDIR/completions/signin-assistant.bash`, `_signin-assistant` (zsh), `signin-assistant.fish`;
//! - `OUTDIR/config.toml`: `config/signin-assistant.toml` with every line commented out, so the
//!   installed file documents every key and changes nothing.
//!
//! The binary's modules are compiled into this program by path, the way `src/bin/signin-assistant/main.rs` declares
//! them (a module added there and used by `cli.rs` must be added here too; the build says so).
//! The tests below compare each command's help from here with the built binary's.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

#[allow(dead_code)]
#[path = "../src/bin/signin-assistant/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "../src/bin/signin-assistant/commands.rs"]
mod commands;
#[allow(dead_code)]
#[path = "../src/bin/signin-assistant/demo.rs"]
mod demo;
#[allow(dead_code)]
#[path = "../src/bin/signin-assistant/exit.rs"]
mod exit;
#[allow(dead_code)]
#[path = "../src/bin/signin-assistant/real.rs"]
mod real;
#[allow(dead_code)]
#[path = "../src/bin/signin-assistant/tools.rs"]
mod tools;

const BIN: &str = "signin-assistant";

/// The command line exactly as the binary parses it (built: subcommands know their full names).
fn command() -> clap::Command {
    let mut cmd = cli::Cli::command();
    cmd.build();
    cmd
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: cargo run --example gen-docs -- OUTDIR");
        return ExitCode::from(2);
    };
    match generate(Path::new(&out)) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes every generated file under `out` and returns their paths.
fn generate(out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    fs::create_dir_all(&man_dir)?;
    fs::create_dir_all(&completions_dir)?;
    let mut written = man_pages(&man_dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell,
            &mut command(),
            BIN,
            &completions_dir,
        )?);
    }
    let config = out.join("config.toml");
    fs::write(&config, commented_config())?;
    written.push(config);
    Ok(written)
}

/// `signin-assistant.1` (with FILES, ENVIRONMENT, EXIT STATUS and SEE ALSO sections) and one page
/// per visible subcommand at any depth, named the way `man signin-assistant-sign-in` finds it.
fn man_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    // No page for the implicit `help` subcommand: `man` is the help here.
    let mut cmd = cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_page(dir, &cmd, None, &mut written)?;
    Ok(written)
}

/// Writes the page of `cmd`, then those of its subcommands; SEE ALSO names the parent's page and
/// the subcommands' pages.
fn write_page(
    dir: &Path,
    cmd: &clap::Command,
    parent: Option<&str>,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let name = page_name(cmd).to_owned();
    let children = visible_subcommands(cmd);
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
        .render(&mut page)?;
    if parent.is_none() {
        page.extend_from_slice(top_page_sections().as_bytes());
    }
    let related: Vec<String> = parent
        .map(str::to_owned)
        .into_iter()
        .chain(children.iter().map(|c| page_name(c).to_owned()))
        .collect();
    if !related.is_empty() {
        page.extend_from_slice(see_also(&related).as_bytes());
    }
    let path = dir.join(format!("{name}.1"));
    fs::write(&path, page)?;
    written.push(path);
    for child in children {
        write_page(dir, child, Some(&name), written)?;
    }
    Ok(())
}

fn visible_subcommands(cmd: &clap::Command) -> Vec<&clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect()
}

/// `signin-assistant-sign-in` for `sign-in` (clap names built subcommands this way).
fn page_name(sub: &clap::Command) -> &str {
    sub.get_display_name().unwrap_or_else(|| sub.get_name())
}

/// Text for roff: backslashes doubled, hyphens as `\-` (so they copy and search as ASCII).
fn roff(text: &str) -> String {
    text.replace('\\', "\\\\").replace('-', "\\-")
}

fn top_page_sections() -> String {
    let mut s = String::new();
    let tp = |s: &mut String, term: &str, text: &str| {
        let _ = write!(s, ".TP\n\\fB{}\\fR\n{}\n", roff(term), roff(text));
    };
    s.push_str(".SH FILES\n");
    tp(
        &mut s,
        "/etc/signin-assistant/config.toml",
        "The system configuration, set by admins. The packaged file has every key, its default and \
         its meaning, all commented out.",
    );
    tp(
        &mut s,
        "$XDG_CONFIG_HOME/signin-assistant/config.toml",
        "The user's configuration (~/.config/signin-assistant/config.toml); its keys override the \
         system file's. --config FILE replaces it.",
    );
    tp(
        &mut s,
        "$XDG_STATE_HOME/signin-assistant/state.json",
        "The last known status, the last check and the last balloon \
         (~/.local/state/signin-assistant/state.json).",
    );
    tp(
        &mut s,
        "/etc/xdg/autostart/signin-assistant.desktop",
        "Starts the agent (signin-assistant run) when a desktop session starts.",
    );
    s.push_str(".SH ENVIRONMENT\n");
    tp(
        &mut s,
        "SIGNIN_ASSISTANT_SYSTEM_CONFIG",
        "Reads the system configuration from this file instead (to stage a deployment).",
    );
    tp(
        &mut s,
        "SIGNIN_ASSISTANT_LOG",
        "A tracing filter for the log on standard error, e.g. debug.",
    );
    tp(
        &mut s,
        "BROWSER",
        "The browser that opens the change-password portal.",
    );
    s.push_str(".SH \"EXIT STATUS\"\n");
    tp(
        &mut s,
        "0",
        "A status was determined, whatever it is (expired included).",
    );
    tp(
        &mut s,
        "1",
        "No status could be determined: the endpoint is unreachable, the credentials are \
         rejected or missing, or the keyring is locked or unavailable.",
    );
    tp(
        &mut s,
        "2",
        "Usage or configuration error; the message names the file, the line and the key.",
    );
    s
}

fn see_also(pages: &[String]) -> String {
    let refs: Vec<String> = pages
        .iter()
        .map(|p| format!("\\fB{}\\fR(1)", roff(p)))
        .collect();
    format!(".SH \"SEE ALSO\"\n.nh\n{}\n", refs.join(",\n"))
}

/// `config/signin-assistant.toml` with every line commented out: installed as
/// `/etc/signin-assistant/config.toml`, it documents every key and sets none.
fn commented_config() -> String {
    let source = include_str!("../config/signin-assistant.toml");
    let mut out = String::from(
        "# Example system configuration of signin-assistant, installed by its package.\n\
         # Everything below is commented out, so this file changes nothing: uncomment and edit\n\
         # the keys that should apply to every user of this machine; a user's own file may\n\
         # override them. What no user's file may change goes in enforced.toml (or a file in\n\
         # enforced.d/) beside this one, with the same keys. dpkg keeps your changes when the\n\
         # package is upgraded.\n#\n",
    );
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("# This file is itself a valid configuration") {
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str("# ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// The binary `cargo test` built next to this example (target/<profile>/signin-assistant).
    fn binary() -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let bin = profile_dir.join(format!("{BIN}{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.exists(),
            "{} is missing: build it first (cargo build, or cargo test without --example)",
            bin.display()
        );
        bin
    }

    fn binary_help(args: &[&str]) -> String {
        let out = Command::new(binary())
            .args(args)
            .arg("-h")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?} -h failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every command path below `cmd` (`["sign-in"]`, `["autostart", "enable"]`, …).
    fn command_paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in visible_subcommands(cmd) {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            command_paths(sub, &path, out);
            out.push(path);
        }
    }

    #[test]
    fn every_help_text_matches_the_binary() {
        let mut cmd = command();
        assert_eq!(cmd.render_help().to_string(), binary_help(&[]));
        let mut paths = Vec::new();
        command_paths(&cmd, &[], &mut paths);
        assert!(paths.len() >= 5, "too few subcommands: {paths:?}");
        for path in paths {
            let mut sub = &mut cmd;
            for name in &path {
                sub = sub.find_subcommand_mut(name).unwrap();
            }
            let args: Vec<&str> = path.iter().map(String::as_str).collect();
            assert_eq!(
                sub.render_help().to_string(),
                binary_help(&args),
                "`{} -h` of the generator differs from the binary's",
                path.join(" ")
            );
        }
    }

    /// Every visible subcommand at any depth, with its parent.
    fn with_parents<'a>(
        cmd: &'a clap::Command,
        out: &mut Vec<(&'a clap::Command, &'a clap::Command)>,
    ) {
        for sub in visible_subcommands(cmd) {
            out.push((cmd, sub));
            with_parents(sub, out);
        }
    }

    #[test]
    fn a_page_per_command_and_completions_that_know_every_flag() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path()).unwrap();
        let read = |rel: &str| {
            let path = dir.path().join(rel);
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let top = read("man/signin-assistant.1");
        assert!(top.contains(".SH FILES") && top.contains(".SH \"EXIT STATUS\""));
        let bash = read("completions/signin-assistant.bash");
        let zsh = read("completions/_signin-assistant");
        let fish = read("completions/signin-assistant.fish");
        let cmd = command();
        let mut pairs = Vec::new();
        with_parents(&cmd, &mut pairs);
        for (parent, sub) in pairs {
            let parent_page = read(&format!("man/{}.1", page_name(parent)));
            let page = read(&format!("man/{}.1", page_name(sub)));
            assert!(
                parent_page.contains(&roff(page_name(sub))),
                "{} not in {}(1)",
                page_name(sub),
                page_name(parent)
            );
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let Some(long) = arg.get_long() else { continue };
                let name = page_name(sub);
                assert!(
                    page.contains(&format!("\\-\\-{}", roff(long))),
                    "--{long} not in {name}(1)"
                );
                assert!(
                    bash.contains(&format!("--{long}")),
                    "--{long} not in bash's"
                );
                assert!(zsh.contains(&format!("--{long}")), "--{long} not in zsh's");
                assert!(
                    fish.contains(&format!("-l {long}")),
                    "--{long} not in fish's"
                );
            }
        }
    }

    #[test]
    fn the_example_configuration_sets_nothing() {
        let text = commented_config();
        for line in text.lines() {
            let line = line.trim();
            assert!(
                line.is_empty() || line.starts_with('#'),
                "not commented: {line}"
            );
        }
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert!(table.is_empty());
        assert!(text.contains("# check_interval_minutes = 240"));
    }
}
