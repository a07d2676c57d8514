//! The `signin-assistant` binary: parses the command line and turns the outcome into an exit code.

mod cli;
mod commands;
mod demo;
mod exit;
mod real;
mod tools;

fn main() -> std::process::ExitCode {
    // Before anything reads a password: no core dumps, no same-user debugger (where the OS allows).
    if let Err(e) = signin_assistant::system::hardening::protect_process() {
        eprintln!("signin-assistant: warning: could not keep passwords out of core dumps: {e}");
    }
    std::panic::set_hook(Box::new(report_panic));
    cli::main()
}

/// One plain line for a panic, its text cleaned: a library that panics while decoding a hostile
/// answer (contained in its task, the check then fails normally) may quote the answer's bytes.
/// `RUST_BACKTRACE=1` adds the backtrace, as the default hook does.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let thread = std::thread::current();
    eprintln!(
        "signin-assistant: internal error in thread {} at {location}: {}",
        thread.name().unwrap_or("?"),
        signin_assistant::rules::untrusted::clean(&payload, 300)
    );
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        eprintln!("{backtrace}");
    }
}
