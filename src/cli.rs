//! The command line admins script against: the commands, their flags, and what each prints and
//! returns. Exit codes: 0 a status was determined (whatever the state), 1 it was not (unreachable
//! endpoint, rejected credentials, keyring unavailable), 2 usage or configuration errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use signin_assistant::config::{Config, ConfigError};
use signin_assistant::front::{self, AgentChannels};
use signin_assistant::provider::ProviderError;

use crate::commands::{Commands, NotDetermined, UsageError};
use crate::demo;

#[derive(Parser)]
#[command(
    name = "signin-assistant",
    version,
    about = "Warns before your directory password expires and opens the change-password portal in one click"
)]
pub(crate) struct Cli {
    /// Use this configuration file instead of the user's own (the system file still applies).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Sign in once with your password and keep it in the OS keyring.
    SignIn {
        /// The account (e.g. adele@contoso.com); default: the last one signed in, then [account] username.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Forget the cached password and token.
    SignOut,
    /// Ask the identity endpoint now, show the balloon if due and print the status.
    Check {
        #[arg(long)]
        json: bool,
        /// Do not show a balloon.
        #[arg(long)]
        no_notify: bool,
    },
    /// Print the last known status, without network.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Run the agent: check periodically and warn with balloons.
    Run {
        /// Without a tray icon (balloons only).
        #[arg(long)]
        no_tray: bool,
    },
    /// Run the product on a built-in demo endpoint (nothing of your own is touched).
    Demo {
        /// Exit after the first balloon.
        #[arg(long)]
        once: bool,
    },
}

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(matches!(cli.command, Cmd::Run { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("signin-assistant: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let with_tray = matches!(cli.command, Cmd::Run { no_tray: false } | Cmd::Demo { .. });
    let outcome = front::run_on_threads(with_tray, move |channels| {
        runtime.block_on(dispatch(cli, channels))
    });
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => exit_code_for(&e),
        Err(_) => ExitCode::from(1),
    }
}

fn exit_code_for(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<NotDetermined>().is_some() {
        return ExitCode::from(1);
    }
    eprintln!("signin-assistant: {e:#}");
    let usage = e.downcast_ref::<UsageError>().is_some()
        || e.downcast_ref::<ConfigError>().is_some()
        || matches!(
            e.downcast_ref::<ProviderError>(),
            Some(ProviderError::Config(_))
        );
    ExitCode::from(if usage { 2 } else { 1 })
}

fn init_logging(agent: bool) {
    let default = if agent { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIGNIN_ASSISTANT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

async fn dispatch(cli: Cli, tray_channels: Option<AgentChannels>) -> anyhow::Result<()> {
    if let Cmd::Demo { once } = cli.command {
        if cli.config.is_some() {
            return Err(UsageError(
                "`demo` uses its own configuration; --config does not apply".into(),
            )
            .into());
        }
        return demo::run(once, tray_channels).await;
    }
    let config = Config::load(cli.config.as_deref())?;
    let commands = Commands::new(config)?;
    match cli.command {
        Cmd::SignIn {
            user,
            password_stdin,
        } => commands.sign_in(user, password_stdin).await,
        Cmd::SignOut => commands.sign_out().await,
        Cmd::Check { json, no_notify } => commands.check(json, !no_notify).await,
        Cmd::Status { json } => commands.status(json),
        Cmd::Run { no_tray } => commands.run(no_tray, tray_channels).await,
        Cmd::Demo { .. } => unreachable!("handled above"),
    }
}
