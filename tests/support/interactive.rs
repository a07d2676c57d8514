//! Drives the interactive sign-ins from a test: starts `sign-in --browser | --device-code` in the
//! background, and plays the person at the emulator's pages with a scripted browser (plain HTTP,
//! no redirects followed by itself) up to the loopback page of the binary.
//!
//! The binary opens the browser through the session's `$BROWSER`, which records the URL: the
//! scripted browser picks it up from there.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use url::Url;

use super::entra::EntraFixture;
use super::BIN;

/// A `sign-in` running in the background; its stderr lines arrive as they are written.
pub struct Running {
    child: Option<Child>,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Waits for a stderr line containing `text`; returns it.
    pub fn wait_for_line(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        loop {
            match self.stderr.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?} on stderr; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the binary to end (at most 60 s); stderr holds every line it wrote.
    pub fn finish(mut self) -> Output {
        let child = self.child.take().expect("running");
        let mut out = super::wait_with_timeout(child, Duration::from_secs(60));
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        let mut stderr = self.seen.join("\n").into_bytes();
        stderr.extend_from_slice(&out.stderr);
        out.stderr = stderr;
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl EntraFixture {
    /// Starts the binary with `--config` and `args`, in the background.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = self
            .session
            .command(BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start signin-assistant");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child: Some(child),
            stderr: rx,
            seen: Vec::new(),
        }
    }

    /// The `n`-th URL (from 0) `$BROWSER` was asked to open, once it was.
    pub fn opened_url(&self, n: usize) -> String {
        self.session
            .wait_until(&format!("$BROWSER to open URL #{n}"), || {
                self.session.opened_urls().len() > n
            });
        self.session.opened_urls()[n].clone()
    }

    /// Runs `future` on the fixture's runtime.
    pub fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime().block_on(future)
    }
}

/// What the person does on the sign-in page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Person<'a> {
    /// Signs in with these credentials (and the one-time code when asked).
    SignsIn {
        username: &'a str,
        password: &'a str,
        one_time_code: Option<&'a str>,
    },
    /// Presses Cancel (or "Return to the application" on the admin approval page).
    Cancels,
}

/// A browser played by a script: plain HTTP, redirects followed by hand.
pub struct ScriptedBrowser {
    client: Client,
}

/// The last page the browser showed, and where it came from.
#[derive(Debug)]
pub struct Shown {
    pub status: StatusCode,
    pub url: String,
    pub body: String,
}

impl Default for ScriptedBrowser {
    fn default() -> Self {
        signin_assistant::providers::install_tls_crypto();
        ScriptedBrowser {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }
}

impl ScriptedBrowser {
    /// Opens `url`, does what `person` does on the emulator's pages, and follows the final
    /// redirect (changed by `tamper` first, e.g. to forge the state) to the loopback page.
    pub async fn sign_in(
        &self,
        url: &str,
        person: Person<'_>,
        tamper: impl FnOnce(Url) -> Url,
    ) -> Shown {
        let (mut shown, mut location) = self.get(url).await;
        while location.is_none() {
            let Some(form) = next_form(&shown.body, person) else {
                panic!("the browser is stuck on {}:\n{}", shown.url, shown.body);
            };
            let action = Url::parse(&shown.url).unwrap().join(&form.0).unwrap();
            (shown, location) = self.post(action.as_str(), &form.1).await;
        }
        let target = tamper(Url::parse(&location.unwrap()).expect("a redirect URL"));
        self.get(target.as_str()).await.0
    }

    /// GET, without following a redirect; returns the page and the redirect's target.
    pub async fn get(&self, url: &str) -> (Shown, Option<String>) {
        let response = self.client.get(url).send().await.expect("GET");
        read(url, response).await
    }

    /// POST a form, without following a redirect.
    pub async fn post(&self, url: &str, form: &[(String, String)]) -> (Shown, Option<String>) {
        let response = self.client.post(url).form(form).send().await.expect("POST");
        read(url, response).await
    }

    /// Enters `user_code` at the device login page `verification_uri` and does what `person`
    /// does; returns the last page.
    pub async fn approve_device_code(
        &self,
        verification_uri: &str,
        user_code: &str,
        person: Person<'_>,
    ) -> Shown {
        let (entry, _) = self.get(verification_uri).await;
        assert!(entry.body.contains("id=\"user_code\""), "{}", entry.body);
        let form = vec![("user_code".to_string(), user_code.to_string())];
        let (mut shown, _) = self.post(verification_uri, &form).await;
        while let Some((action, form)) = next_form(&shown.body, person) {
            let action = Url::parse(&shown.url).unwrap().join(&action).unwrap();
            (shown, _) = self.post(action.as_str(), &form).await;
        }
        shown
    }
}

async fn read(url: &str, response: reqwest::Response) -> (Shown, Option<String>) {
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().expect("ASCII location").to_string());
    let body = response.text().await.unwrap_or_default();
    let shown = Shown {
        status,
        url: url.to_string(),
        body,
    };
    (shown, location)
}

/// The form `person` submits on `page`: its action and fields; `None` when the page has no form.
fn next_form(page: &str, person: Person<'_>) -> Option<(String, Vec<(String, String)>)> {
    let action = attribute(page, "<form", "action")?;
    let flow = hidden(page, "flow");
    let mut form: Vec<(String, String)> = flow.into_iter().map(|f| ("flow".into(), f)).collect();
    let field = |name: &str, value: &str| (name.to_string(), value.to_string());
    match person {
        Person::Cancels => form.push(field("action", "cancel")),
        Person::SignsIn {
            username,
            password,
            one_time_code,
        } => {
            if page.contains("id=\"password\"") {
                form.extend([
                    field("action", "sign_in"),
                    field("username", username),
                    field("password", password),
                ]);
            } else if page.contains("id=\"otc\"") {
                form.push(field(
                    "otc",
                    one_time_code.expect("the page asks for a code"),
                ));
            } else if page.contains("id=\"accept\"") {
                form.push(field("action", "accept"));
            } else {
                form.push(field("action", "cancel"));
            }
        }
    }
    Some((action, form))
}

fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    Some(page[start..].split('"').next()?.to_string())
}

fn attribute(page: &str, tag: &str, name: &str) -> Option<String> {
    let start = page.find(tag)?;
    let marker = format!("{name}=\"");
    let from = start + page[start..].find(&marker)? + marker.len();
    Some(page[from..].split('"').next()?.to_string())
}

/// The query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .expect("URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The verification URI and the user code in the device code message Entra words.
pub fn device_code_message(line: &str) -> (String, String) {
    let uri = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("a URL in the message")
        .to_string();
    let code = line
        .split("enter the code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a code in the message")
        .to_string();
    (uri, code)
}
