//! A real browser for tests: Debian's headless `chromium`, driven through `chromedriver` over
//! the W3C WebDriver protocol (plain JSON over HTTP on a loopback port).
//!
//! [`Chromium::start`] runs chromedriver in the session (its own process group, killed on drop)
//! and opens one browser session with a fresh profile and everything that would reach the
//! network turned off. Only the few commands the sign-in tests need are here: navigate, find an
//! element, type, click, read text and the current URL.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Session;

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless chromium under chromedriver.
pub struct Chromium {
    driver: Child,
    /// `http://127.0.0.1:PORT/session/ID`.
    session_url: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Chromium {
    /// Starts chromedriver and a headless chromium with a fresh profile under `session`.
    pub fn start(session: &Session) -> Chromium {
        super::require(&[
            ("chromium", "chromium"),
            ("chromedriver", "chromium-driver"),
        ]);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(session.path("logs/chromedriver.log")).expect("log");
        let mut driver = session.command("chromedriver");
        driver
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let driver = super::own_process_group(&mut driver)
            .spawn()
            .expect("start chromedriver");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        signin_assistant::providers::install_tls_crypto();
        let mut chromium = Chromium {
            driver,
            session_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            runtime,
        };
        let base = chromium.session_url.clone();
        session.wait_until("chromedriver to answer", || {
            chromium
                .request("GET", &format!("{base}/status"), None)
                .is_ok_and(|v| v["value"]["ready"] == true)
        });
        let profile = session.path("chromium-profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }}}});
        let answer = chromium
            .request("POST", &format!("{base}/session"), Some(capabilities))
            .unwrap_or_else(|e| panic!("chromium did not start: {e}\n{}", session.logs()));
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_string();
        chromium.session_url = format!("{base}/session/{id}");
        chromium
    }

    /// The endpoint that makes this browser open a URL (WebDriver "Navigate To").
    pub fn navigate_endpoint(&self) -> String {
        format!("{}/url", self.session_url)
    }

    /// The address shown in the browser.
    pub fn current_url(&self) -> String {
        let answer = self.command("GET", "/url", None).expect("current URL");
        answer["value"].as_str().unwrap_or_default().to_string()
    }

    /// Waits up to `timeout` for an element matching the CSS `selector`; returns its reference.
    pub fn wait_for(&self, selector: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.command(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": selector})),
            );
            let last = match found {
                Ok(answer) => match answer["value"][ELEMENT].as_str() {
                    Some(id) => return id.to_string(),
                    None => answer.to_string(),
                },
                Err(e) => e,
            };
            if Instant::now() > deadline {
                let source = self.command("GET", "/source", None).unwrap_or_default();
                panic!(
                    "no {selector} in the browser after {timeout:?} ({last}); it shows {}:\n{}",
                    self.current_url(),
                    source["value"].as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Replaces the text of the element matching `selector` with `text`.
    pub fn type_into(&self, selector: &str, text: &str) {
        let element = self.wait_for(selector, Duration::from_secs(10));
        self.command(
            "POST",
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .expect("clear");
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .expect("type");
    }

    pub fn click(&self, selector: &str) {
        let element = self.wait_for(selector, Duration::from_secs(10));
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .expect("click");
    }

    /// The visible text of the element matching `selector`.
    pub fn text(&self, selector: &str) -> String {
        let element = self.wait_for(selector, Duration::from_secs(10));
        let answer = self
            .command("GET", &format!("/element/{element}/text"), None)
            .expect("text");
        answer["value"].as_str().unwrap_or_default().to_string()
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.request(method, &format!("{}{path}", self.session_url), body)
    }

    fn request(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.runtime.block_on(async {
            let mut request = self
                .client
                .request(method, url)
                .timeout(Duration::from_secs(20));
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let value: Value = response.json().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(value)
            } else {
                Err(format!("HTTP {status}: {value}"))
            }
        })
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Ends the browser cleanly, then chromedriver and anything left in its process group.
        let _ = self.command("DELETE", "", None);
        let pid = self.driver.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
