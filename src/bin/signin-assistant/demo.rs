//! `signin-assistant demo`: the whole product on a built-in endpoint, without touching anything
//! of the user's. It starts the Entra emulator with a demo account whose password expires in 10
//! days, uses a temporary profile and a keyring service of its own (in memory when no keyring is
//! reachable), signs in, shows the status and the balloon, then runs the agent (with its tray icon
//! when a tray host is there) until Ctrl-C or "Quit". The demo's agent serves no control channel:
//! the user's commands reach the user's agent or none. With `--browser` the demo account has
//! multi-factor authentication and the person signs in on the emulator's page in the real
//! browser, as with a real tenant.

use chrono::Utc;

use emulator::{Emulator, Scenario, DEFAULT_ONE_TIME_CODE};
use signin_assistant::agent::front::{self, AgentChannels, ControlChannel};
use signin_assistant::agent::Agent;
use signin_assistant::providers::Provider;
use signin_assistant::screen::desktop::{Patience, RealDesktop};
use signin_assistant::system::clock::SystemClock;
use signin_assistant::system::config::Config;
use signin_assistant::system::credentials::{CredentialCache, Secret};
use signin_assistant::system::state::{BalloonOutcome, StateFile};
use signin_assistant::work::entra_sign_in::{self, AccountHint, InteractiveMethod};
use signin_assistant::work::routine::Routine;
use signin_assistant::{report, work::account};

use crate::real::RealRoutine;

/// The demo's own keyring service, apart from real entries.
const DEMO_SERVICE: &str = "signin-assistant-demo";
const DEMO_DAYS: i64 = 10;

pub async fn run(
    once: bool,
    browser: bool,
    tray_channels: Option<AgentChannels>,
) -> anyhow::Result<()> {
    let profile = tempfile::Builder::new()
        .prefix("signin-assistant-demo-")
        .tempdir()?;
    let mut scenario = Scenario::expires_in_days(DEMO_DAYS);
    if browser {
        scenario = scenario.with_mfa(DEFAULT_ONE_TIME_CODE);
    }
    let emulator = Emulator::start(scenario.clone()).await?;
    let config = demo_config(&emulator, &scenario);
    let cache = demo_keyring().await;
    let provider = Provider::from_config(&config)?;
    let state_file = StateFile::at(profile.path().join("state.json"));

    println!("signin-assistant demo");
    println!(
        "  identity endpoint: built-in Entra ID emulator at {}",
        emulator.base_url()
    );
    println!(
        "  account:           {} (its password expires in {DEMO_DAYS} days)",
        scenario.username
    );
    println!(
        "  profile:           {} (removed at exit)",
        profile.path().display()
    );
    println!(
        "  keyring:           {}",
        if cache.is_in_memory() {
            "in memory (no OS keyring reachable)".to_string()
        } else {
            format!("OS keyring, service `{DEMO_SERVICE}` (removed at exit)")
        }
    );
    if browser {
        println!(
            "  sign-in page:      user name {}, password {}, one-time code {}",
            scenario.username, scenario.password, DEFAULT_ONE_TIME_CODE
        );
    }
    let routine = Routine {
        desktop: RealDesktop::from_config(&config, Patience::Agent),
        config,
        provider,
        cache: cache.clone(),
        state_file,
        clock: SystemClock,
    };
    let outcome = sign_in_and_run(&scenario, routine, (once, browser), tray_channels).await;
    // Whatever happened, nothing of the demo stays in the keyring.
    account::sign_out(&cache, &scenario.username).await?;
    emulator.shutdown().await;
    outcome?;
    println!("Demo finished: its keyring entries and profile are removed.");
    Ok(())
}

/// Signs the demo account in, prints its status and runs the agent until it stops.
async fn sign_in_and_run(
    scenario: &Scenario,
    routine: RealRoutine,
    (once, browser): (bool, bool),
    tray_channels: Option<AgentChannels>,
) -> anyhow::Result<()> {
    println!("\nSigning in…");
    let account = scenario.username.as_str();
    let finding = if browser {
        let hint = AccountHint {
            required: Some(account),
            hint: None,
        };
        let ui = entra_sign_in::Console::new(&routine.config);
        let (config, provider, cache) = (&routine.config, &routine.provider, &routine.cache);
        let method = InteractiveMethod::Browser;
        entra_sign_in::sign_in_interactively(config, provider, cache, method, hint, &ui)
            .await?
            .1
    } else {
        let password = Secret::new(scenario.password.clone());
        account::sign_in(&routine.provider, &routine.cache, account, &password).await?
    };
    let saved = routine.update(|s| s.record_finding(account, finding, Utc::now()));
    let status = routine.status(&saved, Some(account));
    let status_report = report::build(&routine.config, &saved, Some(account), Utc::now(), None);
    print!("{}", report::human(&status_report, &status));
    println!(
        "\nThe agent now runs as it would at login: it shows today's balloon (click it to open the\n\
         change-password portal, close it with X, or let it go after {} s){}.",
        routine.config.policy.balloon_timeout_secs,
        if once { " and exits" } else { "; Ctrl-C stops it" }
    );
    let state_file = routine.state_file.clone();
    let mut agent = Agent::new(routine, Some(account.to_string()));
    agent.stop_after_first_balloon = once;
    // Not the user's control channel: `status` or `sign-out` in another terminal is about the
    // user's own account and agent, never the demo's.
    front::run_agent(agent, false, tray_channels, ControlChannel::Off).await?;
    if let Some(balloon) = state_file.load().last_balloon {
        println!("{}", balloon_ending(&balloon.title, balloon.outcome));
    }
    Ok(())
}

/// The demo's last line, in plain words.
fn balloon_ending(title: &str, outcome: Option<BalloonOutcome>) -> String {
    let how = match outcome {
        Some(BalloonOutcome::Clicked) => "you clicked it and the portal opened",
        Some(BalloonOutcome::Dismissed) => "you closed it",
        Some(BalloonOutcome::TimedOut) => "it went away by itself",
        Some(BalloonOutcome::Closed) => "it was closed",
        Some(BalloonOutcome::Console) => "it was printed here (no notification server)",
        None => "it was still on screen when the demo stopped",
    };
    format!("The balloon \"{title}\": {how}.")
}

/// The configuration of the demo: the emulator as authority and Graph, the rest built-in defaults.
fn demo_config(emulator: &Emulator, scenario: &Scenario) -> Config {
    let mut config = Config::default();
    config.account.username = Some(scenario.username.clone());
    config.entra.tenant = Some(scenario.tenant.clone());
    config.entra.client_id = Some(scenario.client_id.clone());
    config.entra.authority = emulator.base_url();
    config.entra.graph = emulator.base_url();
    config
}

/// The OS keyring under the demo's own service, or memory when it cannot be reached.
async fn demo_keyring() -> CredentialCache {
    let os = CredentialCache::os_with_service(DEMO_SERVICE);
    match account::probe(&os).await {
        Ok(()) => os,
        Err(e) => {
            tracing::info!(error = %e, "no OS keyring for the demo; keeping the password in memory");
            CredentialCache::in_memory(DEMO_SERVICE)
        }
    }
}
