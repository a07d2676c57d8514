//! The command line admins script against: the commands, their flags, and what each prints and
//! returns. Exit codes: 0 a status was determined (whatever the state), 1 it was not (unreachable
//! endpoint, rejected credentials, keyring unavailable), 2 usage or configuration errors.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use chrono::{Local, Utc};
use clap::{Parser, Subcommand};
use tokio::sync::{mpsc, watch};

use signin_assistant::agent::Agent;
use signin_assistant::config::{Config, ConfigError};
use signin_assistant::credentials::{CredentialCache, Secret};
use signin_assistant::events::{Command, View};
use signin_assistant::notify::Notifier;
use signin_assistant::policy::{Finding, PasswordState};
use signin_assistant::provider::{Provider, ProviderError};
use signin_assistant::report::{self, Report};
use signin_assistant::state::{SavedState, StateFile};
use signin_assistant::tray::{self, TrayError, TrayExit};
use signin_assistant::{account, instance, shutdown};

use crate::demo;

#[derive(Parser)]
#[command(
    name = "signin-assistant",
    version,
    about = "Warns before your directory password expires and opens the change-password portal in one click"
)]
struct Cli {
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

/// An error in how the command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// A command that ran but could not determine a status (exit code 1), already reported.
#[derive(Debug, thiserror::Error)]
#[error("no status could be determined")]
struct NotDetermined;

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
    // Windows and macOS: the tray must own the main thread; the agent runs on another thread.
    if tray::NEEDS_MAIN_THREAD
        && matches!(cli.command, Cmd::Run { no_tray: false } | Cmd::Demo { .. })
    {
        let (views_tx, views_rx) = watch::channel(initial_view());
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let channels = AgentChannels {
            views: views_tx,
            commands: commands_rx,
        };
        let agent = std::thread::spawn(move || runtime.block_on(dispatch(cli, Some(channels))));
        log_tray_exit(tray::run_tray(views_rx, commands_tx));
        return match agent.join() {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => exit_code_for(&e),
            Err(_) => ExitCode::from(1),
        };
    }
    match runtime.block_on(dispatch(cli, None)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_code_for(&e),
    }
}

/// The agent's ends of the channels to a tray that runs elsewhere (the main thread).
pub struct AgentChannels {
    views: watch::Sender<View>,
    commands: mpsc::UnboundedReceiver<Command>,
}

/// The agent's ends of the channels to its tray: the main thread's (`channels`), a tray on its own
/// thread, or none (`no_tray`, whose channels nobody else holds).
pub fn start_front(no_tray: bool, channels: Option<AgentChannels>) -> anyhow::Result<Front> {
    if let Some(AgentChannels { views, commands }) = channels {
        return Ok(Front {
            views,
            commands,
            tray: None,
        });
    }
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (views_tx, views_rx) = watch::channel(initial_view());
    let tray_thread = (!no_tray).then(|| {
        std::thread::Builder::new()
            .name("tray".into())
            .spawn(move || log_tray_exit(tray::run_tray(views_rx, commands_tx)))
    });
    Ok(Front {
        views: views_tx,
        commands: commands_rx,
        tray: tray_thread.transpose()?,
    })
}

/// What the agent talks to: its ends of the channels, and the tray's thread when it has one.
pub struct Front {
    pub views: watch::Sender<View>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub tray: Option<std::thread::JoinHandle<()>>,
}

/// Waits for the tray thread to unregister its icon (the agent has dropped its `View` sender).
pub async fn join_tray(thread: Option<std::thread::JoinHandle<()>>) {
    if let Some(thread) = thread {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

fn log_tray_exit(exit: Result<TrayExit, TrayError>) {
    match exit {
        Ok(TrayExit::Closed) => {}
        // run_tray has already said why.
        Ok(TrayExit::NoHost) => {}
        Err(e) => tracing::warn!(error = %e, "no tray icon; notifications only"),
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

/// What every command but `demo` works with.
struct Commands {
    config: Config,
    state_file: StateFile,
    cache: CredentialCache,
}

impl Commands {
    fn new(config: Config) -> anyhow::Result<Commands> {
        let state_file = StateFile::default_location()
            .ok_or_else(|| anyhow!("cannot find the home directory to keep the state in"))?;
        Ok(Commands {
            config,
            state_file,
            cache: CredentialCache::os(),
        })
    }

    /// The account: the one given, else the last signed in, else `[account] username`.
    fn account(&self, given: Option<String>, saved: &SavedState) -> Option<String> {
        given
            .or_else(|| saved.account.clone())
            .or_else(|| self.config.account.username.clone())
            .filter(|a| !a.trim().is_empty())
    }

    async fn sign_in(&self, user: Option<String>, password_stdin: bool) -> anyhow::Result<()> {
        let mut saved = self.state_file.load();
        let account = self.account(user, &saved).ok_or_else(|| {
            UsageError("which account? use `sign-in --user NAME` or set [account] username".into())
        })?;
        let provider = Provider::from_config(&self.config)?;
        let password = read_password(&account, password_stdin)?;
        let finding = account::sign_in(&provider, &self.cache, &account, &password).await?;
        if let Finding::SignInRequired { reason } = &finding {
            eprintln!("Sign-in failed: {}.", reason.explain());
            return Err(NotDetermined.into());
        }
        saved.record_finding(&account, finding, Utc::now());
        self.save(&saved);
        println!("Signed in as {account}; the password is kept in the OS keyring.");
        let report = report::build(&self.config, &saved, Some(&account), Utc::now(), None);
        self.print(&report, &saved, false);
        determined(&report)
    }

    async fn sign_out(&self) -> anyhow::Result<()> {
        let mut saved = self.state_file.load();
        let Some(account) = self.account(None, &saved) else {
            println!("Nobody is signed in.");
            return Ok(());
        };
        account::sign_out(&self.cache, &account).await?;
        saved.finding = None;
        saved.checked_at = None;
        self.save(&saved);
        println!("Signed out {account}: nothing of it is left in the keyring.");
        Ok(())
    }

    async fn check(&self, json: bool, notify: bool) -> anyhow::Result<()> {
        let mut saved = self.state_file.load();
        let now = Utc::now();
        let Some(account) = self.account(None, &saved) else {
            let report = report::build(&self.config, &saved, None, now, None);
            self.print(&report, &saved, json);
            return Err(NotDetermined.into());
        };
        let provider = Provider::from_config(&self.config)?;
        let previous = saved.finding_for(&account).cloned();
        let checked = account::check(&provider, &self.cache, &account, previous.as_ref()).await;
        let failure = match checked {
            Ok(finding) => {
                saved.record_finding(&account, finding, now);
                None
            }
            Err(e) => {
                let message = e.to_string();
                saved.record_failure(&message, now);
                Some(message)
            }
        };
        self.save(&saved);
        if notify && failure.is_none() {
            if instance::agent_running(&self.state_dir()) {
                tracing::info!("the running agent shows the balloons; none from this command");
            } else {
                self.balloon_if_due(&mut saved, &account).await;
            }
        }
        let report = report::build(
            &self.config,
            &saved,
            Some(&account),
            Utc::now(),
            failure.as_deref(),
        );
        self.print(&report, &saved, json);
        if failure.is_some() {
            return Err(NotDetermined.into());
        }
        determined(&report)
    }

    /// Today's balloon, if due; a one-shot command waits only for the configured timeout.
    async fn balloon_if_due(&self, saved: &mut SavedState, account: &str) {
        let status = report::current_status(&self.config, saved, Some(account), Utc::now());
        let now_local = Local::now();
        let Some(balloon) = saved.due_balloon(&now_local, &status) else {
            return;
        };
        saved.record_daily_balloon(&now_local, &balloon);
        self.save(saved);
        let notifier = Notifier {
            timeout: std::time::Duration::from_secs(self.config.policy.balloon_timeout_secs),
            critical_stays: false,
        };
        let portal =
            signin_assistant::portal::choose(&self.config, saved.offered_portal_url.as_deref());
        saved.record_balloon_outcome(notifier.show(&balloon, &portal).await);
        self.save(saved);
    }

    fn status(&self, json: bool) -> anyhow::Result<()> {
        let saved = self.state_file.load();
        let account = self.account(None, &saved);
        let failure = match (&saved.last_error, saved.last_error_at, saved.checked_at) {
            (Some(error), Some(failed), checked) if checked.is_none_or(|c| failed > c) => {
                Some(format!("the last check failed ({error})"))
            }
            _ => None,
        };
        let report = report::build(
            &self.config,
            &saved,
            account.as_deref(),
            Utc::now(),
            failure.as_deref(),
        );
        self.print(&report, &saved, json);
        determined(&report)
    }

    /// The agent; with the tray on its own thread unless `no_tray` or the main thread has it
    /// (`channels`).
    async fn run(self, no_tray: bool, channels: Option<AgentChannels>) -> anyhow::Result<()> {
        let _one_agent = instance::acquire(&self.state_dir())?;
        let saved = self.state_file.load();
        let account = self.account(None, &saved);
        let provider = Provider::from_config(&self.config)?;
        if let Err(e) = account::probe(&self.cache).await {
            tracing::warn!(error = %e, "the keyring is not reachable yet; will retry at each check");
        }
        let notifier = Notifier {
            timeout: std::time::Duration::from_secs(self.config.policy.balloon_timeout_secs),
            critical_stays: true,
        };
        let agent = Agent {
            config: self.config,
            provider,
            cache: self.cache,
            state_file: self.state_file,
            notifier,
            account,
            stop_after_first_balloon: false,
        };
        let front = start_front(no_tray, channels)?;
        agent
            .run(front.commands, front.views, shutdown::requested())
            .await;
        join_tray(front.tray).await;
        Ok(())
    }

    /// The directory of the state file (and of the agent's lock).
    fn state_dir(&self) -> std::path::PathBuf {
        self.state_file
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default()
    }

    fn save(&self, saved: &SavedState) {
        if let Err(e) = self.state_file.save(saved) {
            tracing::warn!(error = %e, "could not save the state");
        }
    }

    /// Prints `report` (as JSON, or in words with the status evaluated from `saved`).
    fn print(&self, report: &Report, saved: &SavedState, json: bool) {
        if json {
            match serde_json::to_string(report) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("signin-assistant: cannot print the status: {e}"),
            }
        } else {
            let status =
                report::current_status(&self.config, saved, report.account.as_deref(), Utc::now());
            print!("{}", report::human(report, &status));
        }
    }
}

/// Exit 0 when the report holds a determined status, else 1 (already printed).
fn determined(report: &Report) -> anyhow::Result<()> {
    match report.state {
        PasswordState::SignInRequired | PasswordState::Unknown => Err(NotDetermined.into()),
        _ => Ok(()),
    }
}

/// The view before the first check.
pub fn initial_view() -> View {
    View {
        state: PasswordState::Unknown,
        urgent: false,
        expires_at: None,
        days_left: None,
        summary: "Checking your password…".into(),
        signed_in: false,
        autostart: None,
    }
}

/// The password: one line of stdin with `--password-stdin`, else a no-echo prompt on a terminal.
fn read_password(account: &str, from_stdin: bool) -> anyhow::Result<Secret> {
    let password = if from_stdin {
        Secret::read_line(std::io::stdin().lock())
            .context("cannot read the password from standard input")?
    } else if std::io::stdin().is_terminal() {
        Secret::new(
            rpassword::prompt_password(format!("Password for {account}: "))
                .context("cannot read the password from the terminal")?,
        )
    } else {
        return Err(
            UsageError("no terminal to ask for the password: use --password-stdin".into()).into(),
        );
    };
    if password.is_empty() {
        return Err(UsageError("the password is empty".into()).into());
    }
    Ok(password)
}
