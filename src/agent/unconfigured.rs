//! Before the product is set up: the agent does not stop for lack of a configuration (started
//! at login, that would be an agent that silently is not there). It shows a "not set up" tray
//! icon whose menu says what is missing and offers "Set up…", answers `status` with `unknown`
//! and the reason, and starts for real as soon as a complete configuration is there.
//!
//! A configuration written later is noticed without a thread of its own: it is read again on
//! every menu action and on the control channel's `reload` (which `signin-assistant setup` sends
//! after writing it), and the files' modification times are compared every five minutes for a
//! file put there by other means (an administrator's), a dozen wake-ups an hour.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};

use crate::agent::control::{Answer, Call, Calls, Request};
use crate::providers::Provider;
use crate::report::view::{Command, View};
use crate::report::{self, Report};
use crate::rules::expiry::{Balloon, Urgency};
use crate::screen::balloon::Notifier;
use crate::system::config::{self, Config, SETUP_COMMAND};
use crate::system::state::StateFile;

/// How often the configuration files' modification times are compared.
const LOOK_EVERY: Duration = Duration::from_secs(300);
/// How long the "not set up" balloon stays: it has a command to read.
const BALLOON_STAYS: Duration = Duration::from_secs(15);

/// A complete configuration and the provider built from it.
pub struct SetUp {
    pub config: Config,
    pub provider: Provider,
}

/// Whether the configuration lets the agent start.
pub enum Readiness {
    /// Complete: the provider is built.
    Ready(Box<SetUp>),
    /// Not yet: what it needs, in plain words ("the Entra application (client) id", or "a
    /// correct configuration (FILE:LINE: key …)"), with the configuration when it loaded.
    NotReady {
        needs: String,
        config: Option<Box<Config>>,
    },
}

/// Loads the configuration (`explicit`: `--config FILE`) and says whether the agent can start.
pub fn readiness(explicit: Option<&Path>) -> Readiness {
    let config = match Config::load(explicit) {
        Ok(config) => config,
        Err(e) => {
            return Readiness::NotReady {
                needs: format!("a correct configuration ({e})"),
                config: None,
            }
        }
    };
    let missing = crate::providers::missing(&config);
    if !missing.is_empty() {
        return Readiness::NotReady {
            needs: config::describe_missing(&missing),
            config: Some(Box::new(config)),
        };
    }
    match Provider::from_config(&config) {
        Ok(provider) => Readiness::Ready(Box::new(SetUp { config, provider })),
        Err(e) => Readiness::NotReady {
            needs: format!("a correct configuration ({e})"),
            config: Some(Box::new(config)),
        },
    }
}

/// The waiting agent.
pub struct SetupWait {
    explicit: Option<PathBuf>,
    state_file: Option<StateFile>,
    /// Where a click on the "not set up" balloon's action goes.
    terminal: Option<PathBuf>,
}

/// Why the wait ended.
pub enum Waited {
    /// The configuration is complete: start the agent with it, and hand it the control request
    /// that found it so (the agent answers it).
    Ready(Box<SetUp>, Option<Call>),
    /// "Quit", the control channel's `quit`, or the OS asked the process to stop.
    Stopped,
}

impl SetupWait {
    /// Waits on the configuration the agent would load (`explicit`: `--config FILE`).
    pub fn new(explicit: Option<&Path>) -> SetupWait {
        SetupWait {
            explicit: explicit.map(Path::to_path_buf),
            state_file: StateFile::default_location(),
            terminal: terminal_program(),
        }
    }

    /// Whether the configuration this agent would load is complete now.
    pub fn readiness(&self) -> Readiness {
        readiness(self.explicit.as_deref())
    }

    /// Waits until the configuration is complete (at once when it is), showing "not set up"
    /// meanwhile. The front end's channels stay with the caller for the agent that follows.
    pub async fn wait<S: Future<Output = ()>>(
        &self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        calls: &mut Calls,
        views: &watch::Sender<View>,
        mut shutdown: Pin<&mut S>,
    ) -> Waited {
        let mut said: Option<String> = None;
        loop {
            let (needs, config) = match readiness(self.explicit.as_deref()) {
                Readiness::Ready(config) => {
                    if said.is_some() {
                        tracing::info!("the configuration is complete now: starting");
                    }
                    return Waited::Ready(config, None);
                }
                Readiness::NotReady { needs, config } => {
                    (needs, config.map(|c| *c).unwrap_or_default())
                }
            };
            if said.as_deref() != Some(needs.as_str()) {
                tracing::warn!(needs = %needs, "not set up yet; waiting for `{SETUP_COMMAND}`");
                eprintln!(
                    "signin-assistant: not set up yet: needs {needs}. Run `{SETUP_COMMAND}`; \
                     this agent waits and starts as soon as the configuration is complete."
                );
                said = Some(needs.clone());
            }
            views.send_if_modified(|shown| {
                let view = View::not_set_up(&needs);
                let changed = *shown != view;
                *shown = view;
                changed
            });
            let stamp = self.stamp();
            // Until something may have changed the configuration.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(LOOK_EVERY) => {
                        if self.stamp() != stamp {
                            break;
                        }
                    }
                    // No tray (none on this desktop, or `--no-tray`): the channel is closed.
                    Some(command) = commands.recv() => match command {
                        Command::Quit => return Waited::Stopped,
                        Command::SignOut | Command::SetAutostart(_) | Command::Resumed => {}
                        _ => match readiness(self.explicit.as_deref()) {
                            Readiness::Ready(config) => return Waited::Ready(config, None),
                            Readiness::NotReady { needs, .. } => {
                                self.explain(&needs);
                                break;
                            }
                        },
                    },
                    Some(call) = calls.recv() => {
                        if call.request == Request::Quit {
                            let _ = call.reply.send(Answer::with_report(self.report(&config, &needs)));
                            return Waited::Stopped;
                        }
                        // Read again first: a configuration written meanwhile answers at once.
                        match readiness(self.explicit.as_deref()) {
                            Readiness::Ready(config) => return Waited::Ready(config, Some(call)),
                            Readiness::NotReady { needs, config } => {
                                self.answer(call, &config.map(|c| *c).unwrap_or_default(), &needs);
                                break;
                            }
                        }
                    }
                    _ = shutdown.as_mut() => return Waited::Stopped,
                }
            }
        }
    }

    /// Answers a control request while not set up.
    fn answer(&self, call: Call, config: &Config, needs: &str) {
        let Call { request, reply } = call;
        let answer = match request {
            Request::Status | Request::Reload | Request::Quit => {
                Answer::with_report(self.report(config, needs))
            }
            Request::Check | Request::SignedIn { .. } | Request::SignOut => Answer::failed(
                format!("not set up yet: needs {needs}; run `{SETUP_COMMAND}`"),
                Some(self.report(config, needs)),
            ),
        };
        let _ = reply.send(answer);
    }

    /// The account the status is about: the last one signed in, else `[account] username`.
    fn account(&self, config: &Config) -> Option<String> {
        // Read each time: no agent runs yet, so only another process (`sign-in`) writes it.
        self.state_file
            .as_ref()
            .and_then(|f| f.load().account)
            .or_else(|| config.account.username.clone())
    }

    fn report(&self, config: &Config, needs: &str) -> Report {
        report::not_set_up(config, self.account(config).as_deref(), needs)
    }

    /// The modification times of the files that make the configuration (the ones read, and
    /// those that may not exist yet: the person's own file, the admins' enforced files).
    fn stamp(&self) -> Vec<Option<SystemTime>> {
        let user = self.explicit.clone().or_else(config::user_config_path);
        config::watched_files(user.as_deref())
            .iter()
            .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
            .collect()
    }

    /// The balloon that says how to set the product up; its click opens a terminal running
    /// the setup where the desktop has one.
    fn explain(&self, needs: &str) {
        let command = self.setup_command_line();
        let balloon = Balloon {
            title: "Sign-in Assistant is not set up yet".into(),
            body: format!(
                "It needs {needs}. Run `{command}` in a terminal: it works out what it can from \
                 your work e-mail address and asks for the rest."
            ),
            urgency: Urgency::Normal,
        };
        let terminal = self.terminal.clone();
        let args = self.setup_args();
        tokio::spawn(async move {
            let notifier = Notifier {
                timeout: BALLOON_STAYS,
                critical_stays: false,
            };
            let action = if terminal.is_some() {
                "Set up in a terminal"
            } else {
                "OK"
            };
            let outcome = notifier
                .show_with_action(&balloon, action, &command, || {})
                .await;
            if let (Ok(crate::system::state::BalloonOutcome::Clicked), Some(terminal)) =
                (outcome, terminal)
            {
                open_terminal(&terminal, &args);
            }
        });
    }

    /// `signin-assistant setup`, with `--config FILE` when the agent runs with one.
    fn setup_command_line(&self) -> String {
        match &self.explicit {
            Some(file) => format!("{SETUP_COMMAND} --config {}", file.display()),
            None => SETUP_COMMAND.to_string(),
        }
    }

    fn setup_args(&self) -> Vec<String> {
        let mut args = vec!["setup".to_string()];
        if let Some(file) = &self.explicit {
            args.push("--config".into());
            args.push(file.display().to_string());
        }
        args
    }
}

/// A terminal emulator that runs a command given after `-e`: `$TERMINAL`, else Debian's
/// `x-terminal-emulator`; None where neither is found (the balloon then only tells the command).
fn terminal_program() -> Option<PathBuf> {
    let named = std::env::var_os("TERMINAL").filter(|t| !t.is_empty());
    let candidates = named
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from("x-terminal-emulator")));
    for candidate in candidates {
        if candidate.is_absolute() && candidate.is_file() {
            return Some(candidate);
        }
        let on_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|dir| dir.join(&candidate))
            .find(|p| p.is_file());
        if on_path.is_some() {
            return on_path;
        }
    }
    None
}

/// Starts `terminal -e <this program> setup …` and leaves it running on its own.
fn open_terminal(terminal: &Path, args: &[String]) {
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => {
            tracing::warn!(error = %e, "cannot find this program to run its setup");
            return;
        }
    };
    let started = tokio::process::Command::new(terminal)
        .arg("-e")
        .arg(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .spawn();
    match started {
        // The terminal lives on its own; tokio reaps it when it ends.
        Ok(child) => drop(child),
        Err(e) => {
            tracing::warn!(error = %e, terminal = %terminal.display(), "cannot open a terminal")
        }
    }
}
