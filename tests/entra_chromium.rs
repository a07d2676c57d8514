//! A real browser end to end: `sign-in --browser` opens Debian's headless chromium (through a
//! `$BROWSER` script that hands the URL to chromedriver), the person's part is played on the
//! emulator's sign-in page (user name, password, one-time code of an MFA account), and chromium
//! lands on the binary's loopback page, which says the sign-in worked.

mod support;

use std::time::{Duration, Instant};

use emulator::Scenario;
use support::entra::EntraFixture;
use support::webdriver::Chromium;

#[test]
fn chromium_signs_an_mfa_account_in_through_the_emulator_page() {
    support::require(&[("curl", "curl")]);
    let started = Instant::now();
    let f = EntraFixture::start(Scenario::mfa());
    let chromium = Chromium::start(&f.session);
    // $BROWSER: record the URL, then have chromium open it.
    let browser = f.session.path("bin/open-in-chromium.sh");
    support::write_executable(
        &browser,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{urls}'\nexec curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary \"{{\\\"url\\\": \\\"$1\\\"}}\" '{navigate}'\n",
            urls = f.session.path("opened-urls.txt").display(),
            navigate = chromium.navigate_endpoint(),
        ),
    );
    let running = f.spawn(
        &["sign-in", "--browser"],
        &[("BROWSER", browser.to_str().unwrap())],
    );
    let url = f.opened_url(0);
    let redirect = support::interactive::query(&url)["redirect_uri"].clone();

    chromium.wait_for("#username", Duration::from_secs(15));
    assert!(chromium.current_url().contains("/oauth2/v2.0/authorize?"));
    chromium.type_into("#username", &f.scenario.username);
    chromium.type_into("#password", &f.scenario.password);
    chromium.click("#submit");
    chromium.type_into("#otc", f.scenario.required_one_time_code().unwrap());
    chromium.click("#submit");
    chromium.wait_for("#message", Duration::from_secs(15));
    assert!(
        chromium.current_url().starts_with(&redirect),
        "{} is the loopback page of {redirect}",
        chromium.current_url()
    );
    assert_eq!(chromium.text("#title"), "Signed in");
    assert_eq!(
        chromium.text("#message"),
        "Signed in \u{2014} you can close this tab."
    );

    let out = running.finish();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signed in as adele@contoso.com"));
    assert_eq!(f.cached_password(), None);
    assert!(f.cached_refresh_token().is_some());
    drop(chromium);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
