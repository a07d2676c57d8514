//! The browser (authorization code + PKCE) and device code sign-ins through the real binary,
//! against the emulator's sign-in pages played by a scripted browser: what the authorize request
//! carries, what the loopback listener accepts, what is kept in the keyring (the refresh token
//! only), refusals, time limits, the account check, and what a later check does with the token.

mod support;

use std::time::Duration;

use emulator::{Misbehaviour, Scenario, SignInBehaviour};
use support::entra::EntraFixture;
use support::interactive::{device_code_message, query, Person, ScriptedBrowser};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn adele(scenario: &Scenario) -> Person<'_> {
    Person::SignsIn {
        username: &scenario.username,
        password: &scenario.password,
        one_time_code: scenario.required_one_time_code(),
    }
}

/// An MFA account with a quick device code interval.
fn mfa() -> Scenario {
    let mut scenario = Scenario::mfa();
    scenario.device_code.interval_secs = 1;
    scenario
}

/// `sign-in --browser`, the person doing `person` on the pages; returns the loopback page and
/// the binary's output.
fn browser_sign_in(f: &EntraFixture, person: Person<'_>) -> (String, std::process::Output) {
    let opened = f.session.opened_urls().len();
    let running = f.spawn(&["sign-in", "--browser"], &[]);
    let url = f.opened_url(opened);
    let page = f.block_on(ScriptedBrowser::default().sign_in(&url, person, |u| u));
    (page.body, running.finish())
}

#[test]
fn mfa_account_refused_by_the_password_grant_signs_in_with_the_browser() {
    let f = EntraFixture::start(mfa());
    let out = f.sign_in_correctly();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("multi-factor"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`signin-assistant sign-in --browser`"),
        "the reason names the command that fixes it: {}",
        stderr(&out)
    );

    let running = f.spawn(&["sign-in", "--browser"], &[]);
    let url = f.opened_url(0);
    let params = query(&url);
    assert!(
        url.contains(&format!("/{}/oauth2/v2.0/authorize?", f.scenario.tenant)),
        "{url}"
    );
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], f.scenario.client_id);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(params["state"].len() >= 16);
    assert_eq!(params["login_hint"], "adele@contoso.com");
    let scopes: Vec<&str> = params["scope"].split(' ').collect();
    for wanted in ["openid", "profile", "offline_access", "User.Read"] {
        assert!(scopes.contains(&wanted), "{wanted} in {scopes:?}");
    }
    let redirect = params["redirect_uri"].clone();
    let port: u16 = redirect
        .strip_prefix("http://localhost:")
        .expect("a loopback redirect URI")
        .parse()
        .unwrap();

    let browser = ScriptedBrowser::default();
    let page = f.block_on(async {
        // Not a redirect: ignored, the sign-in goes on.
        for other in ["favicon.ico", "", "?x=1"] {
            let (shown, _) = browser
                .get(&format!("http://127.0.0.1:{port}/{other}"))
                .await;
            assert_eq!(shown.status, 404, "/{other}");
        }
        browser.sign_in(&url, adele(&f.scenario), |u| u).await
    });
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Signed in \u{2014} you can close this tab"),
        "{}",
        page.body
    );
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Signed in as adele@contoso.com"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("Password expires in 30 days"),
        "{}",
        stdout(&out)
    );
    assert_eq!(f.cached_password(), None, "no password is kept");
    assert!(f.cached_refresh_token().is_some());

    let (code, json) = f.check_json();
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["state"], "ok");
    assert_eq!(json["days_left"], 30);
    assert_eq!(
        f.token_grants(),
        vec!["password", "authorization_code", "refresh_token"]
    );
}

#[test]
fn mfa_account_signs_in_with_a_device_code() {
    let f = EntraFixture::start(mfa());
    let mut running = f.spawn(&["sign-in", "--device-code"], &[]);
    let line = running.wait_for_line("enter the code");
    let (uri, user_code) = device_code_message(&line);
    assert!(uri.ends_with("/devicelogin"), "{line}");
    let done = f.block_on(ScriptedBrowser::default().approve_device_code(
        &uri,
        &user_code,
        adele(&f.scenario),
    ));
    assert!(
        done.body.contains("You may now close this window"),
        "{}",
        done.body
    );
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Signed in as adele@contoso.com"));
    assert_eq!(f.cached_password(), None);
    assert!(f.cached_refresh_token().is_some());
    assert_eq!(f.check_json().1["state"], "ok");
    let grants = f.token_grants();
    assert!(grants.iter().all(|g| g != "password"), "{grants:?}");
    assert!(
        grants.contains(&"urn:ietf:params:oauth:grant-type:device_code".to_string()),
        "{grants:?}"
    );
}

#[test]
fn browser_refusals_exit_1_and_keep_nothing() {
    let mut admin_only = Scenario::rejected(SignInBehaviour::ConsentMissing);
    admin_only.user_consent_allowed = false;
    let cases = [
        (Scenario::default(), false, "cancelled or declined"),
        (admin_only, true, "approval (consent)"),
    ];
    for (scenario, signs_in, words) in cases {
        let f = EntraFixture::start(scenario.clone());
        let running = f.spawn(&["sign-in", "--browser"], &[]);
        let url = f.opened_url(0);
        let person = if signs_in {
            adele(&scenario)
        } else {
            Person::Cancels
        };
        let page = f.block_on(ScriptedBrowser::default().sign_in(&url, person, |u| u));
        assert!(
            page.body.contains("Sign-in not completed"),
            "{words}: {}",
            page.body
        );
        let out = running.finish();
        assert_eq!(out.status.code(), Some(1), "{words}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{words}: {}", stderr(&out));
        assert!(stderr(&out).contains("Sign-in failed"), "{}", stderr(&out));
        assert_eq!(f.cached_password(), None, "{words}");
        assert_eq!(f.cached_refresh_token(), None, "{words}");
    }
}

#[test]
fn a_redirect_with_a_forged_state_is_refused_and_the_real_one_still_signs_in() {
    let f = EntraFixture::start(mfa());
    let running = f.spawn(&["sign-in", "--browser"], &[]);
    let url = f.opened_url(0);
    let mut real = None;
    // Another page or process sends the listener a redirect first: the right code even, with
    // a state of its own.
    let forged = f.block_on(
        ScriptedBrowser::default().sign_in(&url, adele(&f.scenario), |u| {
            real = Some(u.clone());
            let code = query(u.as_str())["code"].clone();
            let mut forged = u;
            forged
                .query_pairs_mut()
                .clear()
                .append_pair("code", &code)
                .append_pair("state", "forged");
            forged
        }),
    );
    assert!(
        forged.body.contains("does not belong to the sign-in"),
        "{}",
        forged.body
    );
    let real = real.expect("the redirect");
    let (page, _) = f.block_on(ScriptedBrowser::default().get(real.as_str()));
    assert!(page.body.contains("Signed in"), "{}", page.body);
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Signed in as adele@contoso.com"));
    assert!(f.cached_refresh_token().is_some());
}

#[test]
fn browser_gives_up_after_the_configured_time_with_a_fresh_attempt_each_time() {
    let f = EntraFixture::with_config(Scenario::default(), "browser_timeout_secs = 1\n");
    let mut seen = Vec::new();
    for n in 0..2 {
        let started = std::time::Instant::now();
        let running = f.spawn(&["sign-in", "--browser"], &[]);
        seen.push(query(&f.opened_url(n)));
        let out = running.finish();
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("no answer came back from the browser within 1 s"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(f.cached_refresh_token(), None);
    for key in ["state", "code_challenge", "redirect_uri"] {
        assert_ne!(seen[0][key], seen[1][key], "{key} is new for each attempt");
    }
}

#[test]
fn device_code_declined_or_expired_exits_1() {
    let f = EntraFixture::start(mfa());
    let mut running = f.spawn(&["sign-in", "--device-code"], &[]);
    let (uri, code) = device_code_message(&running.wait_for_line("enter the code"));
    f.block_on(ScriptedBrowser::default().approve_device_code(&uri, &code, Person::Cancels));
    let out = running.finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("declined"), "{}", stderr(&out));
    assert_eq!(f.cached_refresh_token(), None);

    let mut scenario = mfa();
    scenario.device_code.lifetime_secs = 2;
    let f = EntraFixture::start(scenario);
    let out = f.spawn(&["sign-in", "--device-code"], &[]).finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the code expired"),
        "{}",
        stderr(&out)
    );
    assert_eq!(f.cached_refresh_token(), None);
}

#[test]
fn device_code_slow_down_adds_five_seconds_to_the_interval() {
    let mut scenario = mfa();
    scenario.device_code.slow_down_polls = 1;
    let f = EntraFixture::start(scenario);
    let mut running = f.spawn(&["sign-in", "--device-code"], &[]);
    let (uri, code) = device_code_message(&running.wait_for_line("enter the code"));
    f.session.wait_until("the first poll", || {
        !f.emulator.device_code_polls().is_empty()
    });
    f.block_on(ScriptedBrowser::default().approve_device_code(&uri, &code, adele(&f.scenario)));
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let polls = f.emulator.device_code_polls();
    assert_eq!(polls.len(), 2, "slow_down, then the tokens");
    let gap = polls[1] - polls[0];
    assert!(gap >= Duration::from_millis(5900), "{gap:?}");
}

#[test]
fn device_code_without_public_client_flows_says_which_setting() {
    let mut scenario = mfa();
    scenario.public_client_flows = false;
    let f = EntraFixture::start(scenario);
    let out = f.run(&["sign-in", "--device-code"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Allow public client flows"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn another_account_than_the_configured_one_is_refused() {
    let f = EntraFixture::start(mfa());
    let running = f.spawn(
        &["sign-in", "--browser", "--user", "megan@contoso.com"],
        &[],
    );
    let url = f.opened_url(0);
    assert_eq!(query(&url)["login_hint"], "megan@contoso.com");
    f.block_on(ScriptedBrowser::default().sign_in(&url, adele(&f.scenario), |u| u));
    let out = running.finish();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("you signed in as adele@contoso.com, but signin-assistant is set up for megan@contoso.com"),
        "{}",
        stderr(&out)
    );
    assert_eq!(f.cached_refresh_token(), None);
    assert_eq!(
        f.session
            .keyring_lookup("signin-assistant.refresh-token", "megan@contoso.com"),
        None
    );
}

#[test]
fn first_run_needs_only_the_client_id() {
    let f = EntraFixture::start(mfa());
    let base = f.emulator.base_url();
    std::fs::write(
        &f.config,
        format!(
            "[entra]\nclient_id = \"{}\"\nauthority = \"{base}\"\ngraph = \"{base}\"\n",
            f.scenario.client_id
        ),
    )
    .unwrap();
    let running = f.spawn(&["sign-in"], &[]);
    let url = f.opened_url(0);
    assert!(
        url.contains("/organizations/oauth2/v2.0/authorize?"),
        "{url}"
    );
    assert!(!query(&url).contains_key("login_hint"));
    f.block_on(ScriptedBrowser::default().sign_in(&url, adele(&f.scenario), |u| u));
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Signed in as adele@contoso.com"));
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["account"], "adele@contoso.com");
    assert_eq!(json["state"], "ok");
}

#[test]
fn a_revoked_session_asks_to_sign_in_again_and_removes_the_token() {
    let f = EntraFixture::start(mfa());
    let (page, out) = browser_sign_in(&f, adele(&f.scenario));
    assert!(page.contains("Signed in"), "{page}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    f.emulator.change_password("A-New-Password-9");
    for _ in 0..2 {
        let (code, json) = f.check_json();
        assert_eq!(code, Some(1));
        assert_eq!(json["state"], "sign_in_required");
        assert_eq!(
            json["reason"],
            "your password was changed or your session ended; sign in again"
        );
        assert_eq!(
            f.cached_refresh_token(),
            None,
            "the refused token is removed"
        );
    }
    let grants = f.token_grants();
    assert_eq!(
        grants,
        vec!["authorization_code", "refresh_token"],
        "one try, no password"
    );
}

#[test]
fn interaction_required_answers_of_the_password_grant_name_the_browser_sign_in() {
    let cases = [
        (SignInBehaviour::MfaRequired(50076), "multi-factor"),
        (SignInBehaviour::MfaRequired(50079), "multi-factor"),
        (SignInBehaviour::OtherError(50072), "multi-factor"),
        (SignInBehaviour::OtherError(50158), "extra step"),
        (SignInBehaviour::ConsentMissing, "consent"),
    ];
    for (behaviour, words) in cases {
        let f = EntraFixture::start(Scenario::rejected(behaviour.clone()));
        let out = f.sign_in_correctly();
        assert_eq!(out.status.code(), Some(1), "{behaviour:?}");
        let err = stderr(&out);
        assert!(err.contains(words), "{behaviour:?}: {err}");
        assert!(
            err.contains("signin-assistant sign-in --browser"),
            "{behaviour:?}: {err}"
        );
        assert_eq!(f.cached_password(), None);
    }
}

#[test]
fn consent_given_in_the_browser_is_kept() {
    let f = EntraFixture::start(Scenario::rejected(SignInBehaviour::ConsentMissing));
    let (page, out) = browser_sign_in(&f, adele(&f.scenario));
    assert!(page.contains("Signed in"), "{page}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(f.cached_refresh_token().is_some());
}

#[test]
fn the_configured_method_is_used_and_flags_are_checked() {
    let f = EntraFixture::with_config(mfa(), "sign_in = \"device_code\"\n");
    let mut running = f.spawn(&["sign-in"], &[]);
    running.wait_for_line("enter the code");
    drop(running);

    let f = EntraFixture::start(Scenario::default());
    let out = f.run(&["sign-in", "--browser", "--device-code"], "");
    assert_eq!(out.status.code(), Some(2));
    let out = f.run(&["sign-in", "--browser", "--password-stdin"], "x\n");
    assert_eq!(out.status.code(), Some(2));
    // --password-stdin is the password grant, whatever [entra] sign_in says.
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    assert_eq!(f.token_grants(), vec!["password"]);

    let ldap = f.session.write_config(
        "ldap.toml",
        "[provider]\nkind = \"ldap\"\n[ldap]\nurl = \"ldap://127.0.0.1:1\"\nbind = \"{username}\"\nbase = \"dc=x\"\n",
    );
    let out = f.session.run(
        &[
            "--config",
            ldap.to_str().unwrap(),
            "sign-in",
            "--user",
            "a",
            "--browser",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("Entra ID"), "{}", stderr(&out));
}

#[test]
fn interactive_sign_ins_leak_no_code_or_token() {
    const CANARY: &str = "Canary-Browser-Pa55-91c2";
    let scenario = mfa().with_credentials("adele@contoso.com", CANARY);
    let f = EntraFixture::start(scenario);
    let trace = [("SIGNIN_ASSISTANT_LOG", "trace")];
    let running = f.spawn(&["sign-in", "--browser"], &trace);
    let url = f.opened_url(0);
    let mut code = String::new();
    f.block_on(
        ScriptedBrowser::default().sign_in(&url, adele(&f.scenario), |u| {
            code = query(u.as_str())["code"].clone();
            u
        }),
    );
    let mut outputs = vec![running.finish()];
    assert_eq!(outputs[0].status.code(), Some(0), "{}", stderr(&outputs[0]));
    outputs.push(f.run(&["check", "--json", "--no-notify"], ""));
    let token = f.cached_refresh_token().expect("a refresh token");
    assert!(code.len() > 20 && token.len() > 20);
    assert!(!stderr(&outputs[0]).is_empty(), "trace logging was on");
    for out in &outputs {
        for text in [stdout(out), stderr(out)] {
            for secret in [CANARY, &code, &token] {
                assert!(!text.contains(secret), "a secret in the output:\n{text}");
            }
        }
    }
    for path in f.session.all_files() {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).to_string();
        for secret in [CANARY, &code, &token] {
            assert!(!text.contains(secret), "a secret in {}", path.display());
        }
    }
}

#[test]
fn no_keyring_fails_before_the_browser_opens() {
    let session = support::Session::start(support::Keyring::Absent);
    let f = EntraFixture::on(session, mfa(), "");
    let out = f.run(&["sign-in", "--browser"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("keyring"), "{}", stderr(&out));
    assert!(f.session.opened_urls().is_empty());
}

#[test]
fn device_code_is_also_a_balloon_on_a_desktop_and_its_click_opens_the_page() {
    let desktop = support::SessionBuilder::desktop().tray(false).start();
    let f = EntraFixture::on(desktop, mfa(), "");
    let mut running = f.spawn(&["sign-in", "--device-code"], &[]);
    let (uri, code) = device_code_message(&running.wait_for_line("enter the code"));
    f.session.wait_displayed(1);
    f.session.dunst_action();
    f.session
        .wait_until("the click to open the sign-in page", || {
            f.session.opened_urls().contains(&uri)
        });
    f.block_on(ScriptedBrowser::default().approve_device_code(&uri, &code, adele(&f.scenario)));
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = f.session.dunst_balloons();
    let balloon = shown
        .iter()
        .find(|b| b.summary == format!("Sign in with the code {code}"))
        .unwrap_or_else(|| panic!("no device code balloon in {shown:?}"));
    assert!(balloon.body.contains(&uri), "{}", balloon.body);
}

#[test]
fn a_hostile_device_code_answer_is_shown_cleaned_and_its_page_is_not_opened() {
    let desktop = support::SessionBuilder::desktop().tray(false).start();
    let scenario = mfa().with_misbehaviour(Misbehaviour::HostileDeviceCode);
    let f = EntraFixture::on(desktop, scenario, "");
    let mut running = f.spawn(&["sign-in", "--device-code"], &[]);
    let line = running.wait_for_line("enter the code");
    assert!(
        !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{line:?}"
    );
    // No window title set, no hidden link behind the address shown; markup is only text here.
    assert!(!line.contains("pwned"), "{line}");
    assert!(
        line.starts_with("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code "),
        "{line}"
    );
    assert!(
        line.contains("signin-assistant does not open https://evil.example/devicelogin for you"),
        "{line}"
    );
    let (_, code) = device_code_message(&line);
    f.session.wait_displayed(1);
    f.session.dunst_action();
    f.session
        .assert_stays("nothing opened", Duration::from_secs(1), || {
            f.session.opened_urls().is_empty()
        });
    // The code, cleaned, is still the one the endpoint knows: entered at the emulator's own page.
    let page = format!("{}devicelogin", f.emulator.base_url());
    f.block_on(ScriptedBrowser::default().approve_device_code(&page, &code, adele(&f.scenario)));
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        f.session.opened_urls().is_empty(),
        "{:?}",
        f.session.opened_urls()
    );
    let shown = f.session.dunst_balloons();
    let balloon = shown
        .iter()
        .find(|b| b.summary == format!("Sign in with the code {code}"))
        .unwrap_or_else(|| panic!("no device code balloon in {shown:?}"));
    // dunst keeps the body as it was sent: markup from the endpoint arrives escaped.
    assert!(
        balloon
            .body
            .contains("&lt;a href=\"https://evil.example/phish\"&gt;Click here&lt;/a&gt; &amp;amp; &lt;b&gt;now&lt;/b&gt;"),
        "{}",
        balloon.body
    );
    assert!(
        !balloon.body.chars().any(char::is_control),
        "{:?}",
        balloon.body
    );
}

#[test]
fn the_agent_says_in_a_balloon_that_the_session_ended() {
    let desktop = support::SessionBuilder::desktop().tray(false).start();
    let f = EntraFixture::on(desktop, mfa(), "");
    let (_, out) = browser_sign_in(&f, adele(&f.scenario));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    f.emulator.revoke_refresh_tokens();
    let agent = f.session.start_agent("agent", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    // The agent's next check (here one asked for through it) finds the session ended.
    f.run(&["check"], "");
    f.session.wait_displayed(1);
    f.session.dunst_close();
    f.session.wait_until("the balloon in the history", || {
        !f.session.dunst_balloons().is_empty()
    });
    let balloons = f.session.dunst_balloons();
    assert_eq!(balloons.len(), 1, "{balloons:?}");
    assert_eq!(balloons[0].summary, "Sign in again");
    assert_eq!(
        balloons[0].body,
        "Your password was changed or your session ended."
    );
    assert_eq!(f.cached_refresh_token(), None);
    assert_eq!(
        f.session.saved_state()["finding"]["reason"],
        "session_ended"
    );
    assert_eq!(agent.terminate(Duration::from_secs(10)).code(), Some(0));
}
