//! The command line admins script against: the commands, their flags, and what each prints and
//! returns. Exit codes: 0 a status was determined (whatever the state), 1 it was not (unreachable
//! endpoint, rejected credentials, keyring unavailable), 2 usage or configuration errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

use signin_assistant::agent::front::{self, AgentChannels};
use signin_assistant::providers::ProviderError;
use signin_assistant::system::config::{Config, ConfigError};
use signin_assistant::work::entra_sign_in::InteractiveMethod;

use crate::commands::{self, Commands};
use crate::demo;
use crate::exit::{NotDetermined, UsageError};
use crate::tools;

// Named by path so that examples/gen-docs.rs, which includes this file, finds it too.
#[path = "cli/change_password.rs"]
mod change_password;
#[path = "cli/setup.rs"]
mod setup;

#[derive(Parser)]
#[command(
    name = "signin-assistant",
    version = signin_assistant::VERSION,
    about = "Warns before your directory password expires and opens the change-password portal in one click"
)]
pub(crate) struct Cli {
    /// Use this configuration file instead of the user's own (the system file still applies).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Say more (-v, -vv, -vvv); RUST_LOG and SIGNIN_ASSISTANT_LOG apply when neither -v nor -q.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Say less: errors only (-qq: nothing).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    quiet: u8,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Set up for your organisation: from your work e-mail address to a tested configuration.
    Setup(Box<setup::Args>),
    /// Sign in once and keep what lets later checks run in the OS keyring.
    SignIn {
        /// The account (e.g. adele@contoso.com); default: the last one signed in, then [account] username.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Entra ID: sign in with the system browser (keeps a refresh token, no password).
        #[arg(long, group = "method")]
        browser: bool,
        /// Entra ID: sign in with a code entered on any device (keeps a refresh token, no password).
        #[arg(long, group = "method")]
        device_code: bool,
        /// Sign in with the password, read from the first line of standard input.
        #[arg(long, group = "method")]
        password_stdin: bool,
    },
    /// Forget the cached password and token.
    SignOut,
    /// Change the password in the directory (LDAP/AD) and in the keyring; Entra: open the portal.
    ChangePassword(change_password::Args),
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
        /// Sign in with the browser on the demo's sign-in page (an account with a one-time code).
        #[arg(long)]
        browser: bool,
    },
    /// Start the agent at login, or not (the tray's "Start at login" does the same).
    Autostart {
        #[command(subcommand)]
        action: AutostartAction,
    },
    /// Check everything signin-assistant needs and say what to do about what is missing.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// The configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum AutostartAction {
    /// Start the agent at login from now on.
    Enable,
    /// Do not start it at login (also when your administrator set it up for all users).
    Disable,
    /// Say whether it starts at login, and because of which file.
    Status,
}

#[derive(Subcommand, Clone, Copy)]
enum ConfigAction {
    /// Every value in effect, with the file and line that set it.
    Show {
        #[arg(long)]
        json: bool,
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
    init_logging(&cli);
    // One thread: the agent waits nearly all the time, and its blocking work (keyring, files)
    // goes to tokio's blocking pool, whose idle threads end after a few seconds.
    let runtime = match tokio::runtime::Builder::new_current_thread()
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

fn init_logging(cli: &Cli) {
    signin_assistant::system::logging::init(&signin_assistant::system::logging::LogSettings {
        agent: matches!(cli.command, Cmd::Run { .. }),
        verbosity: cli.verbose.min(10) as i8 - cli.quiet.min(10) as i8,
        to_file: !matches!(cli.command, Cmd::Demo { .. }),
    });
}

async fn dispatch(cli: Cli, tray_channels: Option<AgentChannels>) -> anyhow::Result<()> {
    let explicit = cli.config.as_deref();
    match cli.command {
        Cmd::Demo { once, browser } => {
            if explicit.is_some() {
                return Err(UsageError(
                    "`demo` uses its own configuration; --config does not apply".into(),
                )
                .into());
            }
            demo::run(once, browser, tray_channels).await
        }
        Cmd::Setup(args) => setup::run(explicit, *args).await,
        Cmd::Autostart { action } => tools::autostart(action.change()).await,
        Cmd::Run { no_tray } => commands::run(explicit, no_tray, tray_channels).await,
        Cmd::Doctor { json } => tools::doctor(explicit, json).await,
        Cmd::Config {
            action: ConfigAction::Show { json },
        } => tools::config_show(&Config::load(explicit)?, json),
        Cmd::SignIn {
            user,
            browser,
            device_code,
            password_stdin,
        } => {
            let commands = commands_for(explicit)?;
            let method =
                InteractiveMethod::choose(commands.config(), browser, device_code, password_stdin)
                    .map_err(UsageError)?;
            match method {
                Some(method) => commands.sign_in_interactively(user, method).await,
                None => commands.sign_in(user, password_stdin).await,
            }
        }
        Cmd::SignOut => commands_for(explicit)?.sign_out().await,
        Cmd::ChangePassword(args) => {
            let commands = commands_for(explicit)?;
            change_password::run(commands.config(), args).await
        }
        Cmd::Check { json, no_notify } => commands_for(explicit)?.check(json, !no_notify).await,
        Cmd::Status { json } => commands_for(explicit)?.status(json).await,
    }
}

/// The commands that work with a complete configuration: it is loaded and checked first.
fn commands_for(explicit: Option<&std::path::Path>) -> anyhow::Result<Commands> {
    Commands::new(Config::load(explicit)?)
}

impl AutostartAction {
    /// What to switch it to; None: only look.
    fn change(self) -> Option<bool> {
        match self {
            AutostartAction::Enable => Some(true),
            AutostartAction::Disable => Some(false),
            AutostartAction::Status => None,
        }
    }
}
