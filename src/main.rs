//! The `signin-assistant` binary: parses the command line and turns the outcome into an exit code.

mod cli;
mod demo;

fn main() -> std::process::ExitCode {
    // Before anything reads a password: no core dumps, no same-user debugger (where the OS allows).
    if let Err(e) = signin_assistant::hardening::protect_process() {
        eprintln!("signin-assistant: warning: could not keep passwords out of core dumps: {e}");
    }
    cli::main()
}
