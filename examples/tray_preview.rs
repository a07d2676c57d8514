//! Shows the tray icon without the agent, for looking at it and for tests/tray_widget.rs.
//!
//! Each line on stdin is a state to show: `ok`, `never`, `warning`, `urgent`, `expired`,
//! `signin`, `unknown`, optionally followed by `autostart=on` or `autostart=off`. Every command
//! the tray sends is printed as `command: <Command>`; when stdin closes the tray ends and
//! `exit: <TrayExit>` is printed.
//!
//!     cargo run --example tray_preview  # then type: warning

use std::io::BufRead;

use chrono::{Duration, Utc};
use signin_assistant::report::view::View;
use signin_assistant::rules::expiry::PasswordState;
use signin_assistant::screen::tray::run_tray;
use tokio::sync::{mpsc, watch};

fn view_for(line: &str) -> Option<View> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let (state, urgent, days, summary, signed_in) = match first {
        "ok" => (
            PasswordState::Ok,
            false,
            Some(40),
            "Password expires in 40 days (Mon 12 Jan)",
            true,
        ),
        "never" => (
            PasswordState::NeverExpires,
            false,
            None,
            "Password never expires",
            true,
        ),
        "warning" => (
            PasswordState::Warning,
            false,
            Some(10),
            "Password expires in 10 days (Thu 4 Dec)",
            true,
        ),
        "urgent" => (
            PasswordState::Warning,
            true,
            Some(2),
            "Password expires in 2 days (Wed 26 Nov)",
            true,
        ),
        "expired" => (
            PasswordState::Expired,
            true,
            Some(0),
            "Password expired",
            true,
        ),
        "signin" => (
            PasswordState::SignInRequired,
            false,
            None,
            "Sign in required",
            false,
        ),
        // Multi-factor required: only the browser sign-in helps.
        "mfa" => (
            PasswordState::SignInRequired,
            false,
            None,
            "Sign in required",
            true,
        ),
        "unknown" => (
            PasswordState::Unknown,
            false,
            None,
            "Checking your password…",
            false,
        ),
        _ => return None,
    };
    let autostart = match words.next() {
        Some("autostart=on") => Some(true),
        Some("autostart=off") => Some(false),
        _ => None,
    };
    Some(View {
        state,
        urgent,
        expires_at: days.map(|d| Utc::now() + Duration::days(d)),
        days_left: days,
        summary: summary.to_string(),
        signed_in,
        autostart,
        stale: false,
        needs_browser: first == "mfa",
        not_set_up: None,
    })
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let first = view_for(&line).unwrap_or_else(|| view_for("unknown").expect("a known state"));
    let (views_tx, views_rx) = watch::channel(first);
    let (commands_tx, mut commands_rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Some(command) = commands_rx.blocking_recv() {
            println!("command: {command:?}");
        }
    });
    let feeder = std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            match view_for(&line) {
                Some(view) => {
                    let _ = views_tx.send(view);
                    println!("shown: {}", line.trim());
                }
                None => eprintln!("unknown state {line:?}"),
            }
        }
    });
    println!("started");
    let exit = run_tray(views_rx, commands_tx);
    let _ = feeder.join();
    match exit {
        Ok(exit) => println!("exit: {exit:?}"),
        Err(e) => {
            println!("error: {e}");
            std::process::exit(1);
        }
    }
}
