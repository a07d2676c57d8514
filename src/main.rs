//! The `signin-assistant` binary: parses the command line and turns the outcome into an exit code.

mod cli;
mod commands;
mod demo;
mod tools;

fn main() -> std::process::ExitCode {
    cli::main()
}
