//! What each command does: sign-in, sign-out, check, status and run, over the shared routine.
//! `cli.rs` parses and dispatches; this module performs and prints.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use chrono::Utc;

use signin_assistant::agent::control::{self, Answer, Request};
use signin_assistant::agent::front::{self, AgentChannels};
use signin_assistant::agent::instance::{self, LockError};
use signin_assistant::agent::unconfigured::{SetUp, SetupWait};
use signin_assistant::agent::Agent;
use signin_assistant::providers::{IdentityProvider, Provider};
use signin_assistant::report::{self, Report};
use signin_assistant::rules::expiry::{Finding, PasswordState};
use signin_assistant::screen::desktop::{Patience, RealDesktop};
use signin_assistant::system::clock::SystemClock;
use signin_assistant::system::config::Config;
use signin_assistant::system::credentials::{CredentialCache, Secret};
use signin_assistant::system::state::{SavedState, StateFile};
use signin_assistant::work::account;
use signin_assistant::work::entra_sign_in::{self, AccountHint, InteractiveMethod, SignInError};
use signin_assistant::work::password_change::Interaction;
use signin_assistant::work::routine::Routine;

use crate::exit::{NotDetermined, UsageError};
use crate::real::{with_login_item, RealAgent, RealRoutine};

/// What every command but `demo` works with.
pub struct Commands {
    config: Config,
    state_file: StateFile,
    cache: CredentialCache,
}

impl Commands {
    pub fn new(config: Config) -> anyhow::Result<Commands> {
        Commands::with_cache(config, CredentialCache::os())
    }

    /// With a keyring already opened (the agent's, opened when it starts).
    fn with_cache(config: Config, cache: CredentialCache) -> anyhow::Result<Commands> {
        let state_file = StateFile::default_location()
            .ok_or_else(|| anyhow!("cannot find the home directory to keep the state in"))?;
        Ok(Commands {
            config,
            state_file,
            cache,
        })
    }

    /// The account: the one given, else the last signed in, else `[account] username`.
    fn account(&self, given: Option<String>, saved: &SavedState) -> Option<String> {
        given
            .or_else(|| saved.account.clone())
            .or_else(|| self.config.account.username.clone())
            .filter(|a| !a.trim().is_empty())
    }

    /// The account checked and watched: as [`account`](Self::account), and with a Kerberos
    /// ticket the ticket's principal when no account is named.
    fn watched(&self, provider: &Provider, saved: &SavedState) -> Option<String> {
        let from_ticket = || provider.checks_with_ticket()?.ticket_account();
        self.account(None, saved).or_else(from_ticket)
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The routine over the configured endpoint.
    fn routine(self, patience: Patience) -> anyhow::Result<RealRoutine> {
        let provider = Provider::from_config(&self.config)?;
        Ok(self.routine_with(provider, patience))
    }

    /// The routine over `provider`, already built from this configuration.
    fn routine_with(self, provider: Provider, patience: Patience) -> RealRoutine {
        Routine {
            provider,
            desktop: RealDesktop::from_config(&self.config, patience),
            config: self.config,
            cache: self.cache,
            state_file: self.state_file,
            clock: SystemClock,
        }
    }

    pub async fn sign_in(self, user: Option<String>, password_stdin: bool) -> anyhow::Result<()> {
        let account = self.account(user, &self.state_file.load()).ok_or_else(|| {
            UsageError("which account? use `sign-in --user NAME` or set [account] username".into())
        })?;
        let routine = self.routine(Patience::OneShot)?;
        if routine.provider.checks_with_ticket().is_some() {
            return Err(UsageError(
                "with [ldap] auth = \"kerberos\" there is no password to sign in with: checks use \
                 your Kerberos ticket (log in again, or get one with `kinit`), then run \
                 `signin-assistant check`"
                    .into(),
            )
            .into());
        }
        let password = read_password(&account, password_stdin)?;
        let finding =
            account::sign_in(&routine.provider, &routine.cache, &account, &password).await?;
        // A rejected attempt is remembered too: the status then speaks of this account.
        let rejected = match &finding {
            Finding::SignInRequired { reason } => Some(reason.explain()),
            Finding::Facts(_) => None,
        };
        let saved = record_sign_in(&routine, &account, finding).await?;
        if let Some(reason) = rejected {
            eprintln!("Sign-in failed: {reason}.");
            return Err(NotDetermined.into());
        }
        println!("Signed in as {account}; the password is kept in the OS keyring.");
        let report = report::build(&routine.config, &saved, Some(&account), Utc::now(), None);
        print(&routine.config, &report, &saved, false);
        determined(&report)
    }

    /// `sign-in` with the browser or a device code: the account comes from the sign-in itself;
    /// `--user` or `[account] username`, when given, must be that account.
    pub async fn sign_in_interactively(
        self,
        user: Option<String>,
        method: InteractiveMethod,
    ) -> anyhow::Result<()> {
        let last = self.state_file.load().account;
        let required = user
            .or_else(|| self.config.account.username.clone())
            .filter(|a| !a.trim().is_empty());
        let routine = self.routine(Patience::OneShot)?;
        let hint = AccountHint {
            required: required.as_deref(),
            hint: last.as_deref(),
        };
        let ui = entra_sign_in::Console::new(&routine.config);
        let (config, provider, cache) = (&routine.config, &routine.provider, &routine.cache);
        let signed_in =
            entra_sign_in::sign_in_interactively(config, provider, cache, method, hint, &ui).await;
        let (account, finding) = match signed_in {
            Ok(signed_in) => signed_in,
            Err(SignInError::AcceptedWithoutFacts { account, source }) => {
                routine.update(|s| {
                    if s.account.as_deref() != Some(account.as_str()) {
                        s.account = Some(account.clone());
                        s.finding = None;
                        s.checked_at = None;
                    }
                    s.record_failure(&source.to_string(), Utc::now());
                });
                return Err(SignInError::AcceptedWithoutFacts { account, source }.into());
            }
            Err(e) => {
                eprintln!("Sign-in failed: {e}.");
                return Err(NotDetermined.into());
            }
        };
        let saved = record_sign_in(&routine, &account, finding).await?;
        println!(
            "Signed in as {account}; the refresh token is kept in the OS keyring (no password)."
        );
        let report = report::build(&routine.config, &saved, Some(&account), Utc::now(), None);
        print(&routine.config, &report, &saved, false);
        determined(&report)
    }

    /// Removes the account's credentials and forgets the account (through the running agent
    /// when there is one, so a check in flight cannot store anything afterwards).
    pub async fn sign_out(self) -> anyhow::Result<()> {
        let Some(account) = self.account(None, &self.state_file.load()) else {
            println!("Nobody is signed in.");
            return Ok(());
        };
        if let Some(answer) = control::ask(&Request::SignOut).await? {
            if let Some(error) = answer.error {
                anyhow::bail!("the running agent could not sign out: {error}");
            }
        } else {
            account::sign_out(&self.cache, &account).await?;
            let mut saved = self.state_file.load();
            saved.account = None;
            saved.finding = None;
            saved.checked_at = None;
            save(&self.state_file, &saved);
        }
        println!("Signed out {account}: nothing of it is left in the keyring.");
        Ok(())
    }

    pub async fn check(self, json: bool, notify: bool) -> anyhow::Result<()> {
        // A configuration that is not complete is said first, once, with what is missing.
        let provider = Provider::from_config(&self.config)?;
        let saved = self.state_file.load();
        let Some(account) = self.watched(&provider, &saved) else {
            let report = report::build(&self.config, &saved, None, Utc::now(), None);
            print(&self.config, &report, &saved, json);
            return Err(NotDetermined.into());
        };
        if let Some(answer) = control::ask(&Request::Check).await? {
            return self.print_answer(answer, json);
        }
        let state_dir = self.state_dir();
        let routine = self.routine_with(provider, Patience::OneShot);
        let checked = routine.check(&account).await;
        if notify && checked.failure.is_none() {
            if instance::agent_running(&state_dir) {
                tracing::info!("the running agent shows the balloons; none from this command");
            } else {
                let daily = routine.daily_balloon_if_due(&account).await;
                if let Some(change) = daily.and_then(|d| d.change) {
                    say_how_the_change_ended(&change);
                }
            }
        }
        let saved = routine.state_file.load();
        let report = report::build(
            &routine.config,
            &saved,
            Some(&account),
            Utc::now(),
            checked.failure.as_deref(),
        );
        print(&routine.config, &report, &saved, json);
        if checked.failure.is_some() {
            return Err(NotDetermined.into());
        }
        determined(&report)
    }

    /// The running agent's status when there is one, else the state file's.
    pub async fn status(&self, json: bool) -> anyhow::Result<()> {
        if let Some(answer) = control::ask(&Request::Status).await? {
            return self.print_answer(answer, json);
        }
        let saved = self.state_file.load();
        let account = self.account(None, &saved);
        let missing = signin_assistant::providers::missing(&self.config);
        if !missing.is_empty() {
            let needs = signin_assistant::system::config::describe_missing(&missing);
            let report = report::not_set_up(&self.config, account.as_deref(), &needs);
            print(&self.config, &report, &saved, json);
            return Err(NotDetermined.into());
        }
        let failure = saved
            .failure_since_last_finding()
            .map(|error| format!("the last check failed ({error})"));
        let report = report::build(
            &self.config,
            &saved,
            account.as_deref(),
            Utc::now(),
            failure.as_deref(),
        );
        print(&self.config, &report, &saved, json);
        determined(&report)
    }

    /// Prints what the running agent answered, its change-password link checked against this
    /// configuration's allow-list again; exit 1 when it could not determine a status.
    fn print_answer(&self, answer: Answer, json: bool) -> anyhow::Result<()> {
        let answer = answer.with_portal_checked(&self.config);
        let Some(report) = answer.report else {
            anyhow::bail!(
                "the running agent answered: {}",
                answer.error.unwrap_or_default()
            );
        };
        print(&self.config, &report, &self.state_file.load(), json);
        if !answer.ok {
            return Err(NotDetermined.into());
        }
        determined(&report)
    }

    /// The agent for this configuration, with its account and the "Start at login" switch.
    fn agent(self, provider: Provider) -> RealAgent {
        let account = self.watched(&provider, &self.state_file.load());
        with_login_item(Agent::new(
            self.routine_with(provider, Patience::Agent),
            account,
        ))
    }

    /// The directory of the state file (and of the agent's lock).
    fn state_dir(&self) -> PathBuf {
        self.state_file
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// `run`: the agent, with the tray on its own thread unless `no_tray` or the main thread has it
/// (`channels`). One per user. Without a complete configuration it waits, "not set up", and
/// starts once there is one (`explicit`: `--config FILE`).
pub async fn run(
    explicit: Option<&Path>,
    no_tray: bool,
    channels: Option<AgentChannels>,
) -> anyhow::Result<()> {
    let state_file = StateFile::default_location()
        .ok_or_else(|| anyhow!("cannot find the home directory to keep the state in"))?;
    let state_dir = state_file
        .path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let _one_agent = match instance::acquire(&state_dir) {
        Err(LockError::AlreadyRunning) => {
            // Windows keeps a locked file unreadable to others: then the agent says.
            let pid = match instance::running_pid(&state_dir) {
                Some(pid) => Some(pid),
                None => control::ask(&Request::Status)
                    .await
                    .ok()
                    .flatten()
                    .map(|answer| answer.pid),
            };
            let pid = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
            println!("signin-assistant is already running{pid}.");
            return Ok(());
        }
        other => other?,
    };
    let cache = CredentialCache::os();
    if let Err(e) = account::probe(&cache).await {
        tracing::warn!(error = %e, "the keyring is not reachable yet; will retry at each check");
    }
    let start = |set_up: SetUp| {
        Commands::with_cache(set_up.config, cache.clone())
            .map(|commands| commands.agent(set_up.provider))
            .map_err(|e| format!("{e:#}"))
    };
    front::run_agent_once_set_up(SetupWait::new(explicit), start, no_tray, channels).await?;
    Ok(())
}

/// Records a sign-in: the running agent does it when there is one (the tray changes at once),
/// else the state file is updated here. Returns the saved state afterwards.
async fn record_sign_in(
    routine: &RealRoutine,
    account: &str,
    finding: Finding,
) -> anyhow::Result<SavedState> {
    let request = Request::SignedIn {
        account: account.to_string(),
        finding: finding.clone(),
    };
    if control::ask(&request).await?.is_none() {
        routine.update(|s| s.record_finding(account, finding, Utc::now()));
    }
    Ok(routine.state_file.load())
}

fn save(state_file: &StateFile, saved: &SavedState) {
    if let Err(e) = state_file.save(saved) {
        tracing::warn!(error = %e, "could not save the state");
    }
}

/// Prints `report` (as JSON, or in words with the status evaluated from `saved`).
pub fn print(config: &Config, report: &Report, saved: &SavedState, json: bool) {
    if json {
        match serde_json::to_string(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("signin-assistant: cannot print the status: {e}"),
        }
    } else {
        let status = report::current_status(config, saved, report.account.as_deref(), Utc::now());
        print!("{}", report::human(report, &status));
    }
}

/// Exit 0 when the report holds a determined status, else 1 (already printed).
fn determined(report: &Report) -> anyhow::Result<()> {
    match report.state {
        PasswordState::SignInRequired | PasswordState::Unknown => Err(NotDetermined.into()),
        _ => Ok(()),
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

/// One line on stderr for a change started by a click on the balloon (the status printed next
/// shows its effect).
fn say_how_the_change_ended(change: &Interaction) {
    match change {
        Interaction::Changed(changed) => eprintln!("{}", changed.summary()),
        Interaction::Cancelled => eprintln!("Cancelled: the password was not changed."),
        Interaction::Failed(e) => eprintln!("{}", e.in_words()),
    }
}
