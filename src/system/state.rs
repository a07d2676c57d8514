//! What the agent remembers between runs: the last determination, when it was made, and the last
//! balloon. Kept as JSON under the XDG state directory, written atomically (temp file + rename),
//! so a crash or power loss never leaves half a file. A corrupt file is set aside, not lost.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::expiry::{balloon_due, Balloon, Finding, Status};

const FORMAT_VERSION: u32 = 1;
/// Longest failure message kept (ours are a few hundred characters at most).
const MAX_ERROR_CHARS: usize = 1000;

/// "just now", "5 minutes ago", "3 hours ago", "2 days ago" (the largest whole unit); a time in
/// the future (the clock went back) is "in the future".
pub fn age_in_words(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match secs {
        s if s < -60 => "in the future (the clock was changed)".to_string(),
        s if s < 60 => "just now".to_string(),
        s if s < 3600 => plural(s / 60, "minute"),
        s if s < 86_400 => plural(s / 3600, "hour"),
        s => plural(s / 86_400, "day"),
    }
}

/// How a balloon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalloonOutcome {
    /// Clicked: the portal was opened.
    Clicked,
    /// Closed with X.
    Dismissed,
    /// Ignored: it went away by itself after its timeout.
    #[serde(alias = "expired")]
    TimedOut,
    /// Closed by the agent or the notification server for another reason.
    Closed,
    /// No notification server: the text went to stderr.
    Console,
}

/// The last balloon shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalloonRecord {
    /// The local calendar day it was shown on (at most one a day).
    pub date: NaiveDate,
    pub shown_at: DateTime<Utc>,
    pub title: String,
    #[serde(default)]
    pub outcome: Option<BalloonOutcome>,
}

/// Everything kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    #[serde(default)]
    pub version: u32,
    /// The account the determination is about.
    #[serde(default)]
    pub account: Option<String>,
    /// The last determination the endpoint gave.
    #[serde(default)]
    pub finding: Option<Finding>,
    /// When that determination was made.
    #[serde(default)]
    pub checked_at: Option<DateTime<Utc>>,
    /// The last failed attempt and why (the determination above is kept).
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_error_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_balloon: Option<BalloonRecord>,
}

impl SavedState {
    /// Keeps a new determination (and the portal the endpoint offered with it).
    pub fn record_finding(&mut self, account: &str, finding: Finding, now: DateTime<Utc>) {
        self.account = Some(account.to_string());
        self.finding = Some(finding);
        self.checked_at = Some(now);
        self.last_error = None;
        self.last_error_at = None;
    }

    /// Notes a failed check; the last determination stays. The message may quote an endpoint,
    /// so it is kept clean and bounded (it is printed by `status` and shown in the tray).
    pub fn record_failure(&mut self, error: &str, now: DateTime<Utc>) {
        self.last_error = Some(crate::rules::untrusted::clean(error, MAX_ERROR_CHARS));
        self.last_error_at = Some(now);
    }

    /// How old the kept determination is, for a report whose check just failed: "showing the
    /// last known status, which is stale: checked 3 hours ago". None when nothing is kept.
    pub fn staleness(&self, now: DateTime<Utc>) -> Option<String> {
        let checked_at = self.checked_at?;
        self.finding.as_ref()?;
        Some(format!(
            "showing the last known status, which is stale: checked {}",
            age_in_words(checked_at, now)
        ))
    }

    /// Why the saved finding may be out of date: the last check failed after it was made.
    pub fn failure_since_last_finding(&self) -> Option<&str> {
        match (&self.last_error, self.last_error_at, self.checked_at) {
            (Some(error), Some(failed), checked) if checked.is_none_or(|c| failed > c) => {
                Some(error)
            }
            _ => None,
        }
    }

    /// The change-password page the endpoint offered with the last finding, if any.
    pub fn offered_portal_url(&self) -> Option<&str> {
        match &self.finding {
            Some(Finding::Facts(facts)) => facts.portal_url.as_deref(),
            _ => None,
        }
    }

    /// Today's balloon for `status`, unless one was already shown on the local day `today`.
    pub fn due_balloon(&self, today: NaiveDate, status: &Status) -> Option<Balloon> {
        balloon_due(today, status, self.last_balloon.as_ref().map(|b| b.date))
    }

    /// Notes today's balloon as shown, as soon as the screen took it, so a crash or a restart
    /// cannot show it twice.
    pub fn record_daily_balloon(
        &mut self,
        today: NaiveDate,
        now: DateTime<Utc>,
        balloon: &Balloon,
    ) {
        self.last_balloon = Some(BalloonRecord {
            date: today,
            shown_at: now,
            title: balloon.title.clone(),
            outcome: None,
        });
    }

    /// Notes how the daily balloon shown at `shown_at` ended (a later balloon's record is left
    /// alone: yesterday's balloon closing late must not speak for today's).
    pub fn record_balloon_outcome(&mut self, shown_at: DateTime<Utc>, outcome: BalloonOutcome) {
        if let Some(record) = self
            .last_balloon
            .as_mut()
            .filter(|r| r.shown_at == shown_at)
        {
            record.outcome = Some(outcome);
        }
    }

    /// When the determination for `account` was made (none for another account's).
    pub fn checked_for(&self, account: &str) -> Option<DateTime<Utc>> {
        self.finding_for(account).and(self.checked_at)
    }

    /// The determination for `account`, ignoring one left by another account.
    pub fn finding_for(&self, account: &str) -> Option<&Finding> {
        (self.account.as_deref() == Some(account))
            .then_some(self.finding.as_ref())
            .flatten()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the state file {path}: {source}")]
pub struct StateError {
    path: PathBuf,
    source: std::io::Error,
}

/// The state file.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// `state.json` in the user's state directory.
    pub fn default_location() -> Option<StateFile> {
        crate::system::paths::state_dir().map(|dir| StateFile::at(dir.join("state.json")))
    }

    pub fn at(path: PathBuf) -> StateFile {
        StateFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; a missing file is a fresh start, a corrupt one is moved aside with a warning.
    pub fn load(&self) -> SavedState {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return SavedState::default(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "the state file is unreadable; starting afresh");
                return SavedState::default();
            }
        };
        match serde_json::from_slice::<SavedState>(&bytes) {
            Ok(state) => state,
            Err(e) => {
                let aside = self.path.with_extension(format!(
                    "corrupt-{}.json",
                    Utc::now().format("%Y%m%dT%H%M%SZ")
                ));
                let moved = std::fs::rename(&self.path, &aside);
                tracing::warn!(
                    path = %self.path.display(),
                    kept_as = %aside.display(),
                    moved = moved.is_ok(),
                    error = %e,
                    "the state file is corrupt; it was kept aside and the agent starts afresh"
                );
                SavedState::default()
            }
        }
    }

    /// Writes the state atomically: a new temp file in the same directory (0600, created with
    /// O_EXCL and O_NOFOLLOW, so nothing planted there is followed or reused), fsync, rename.
    /// The directory is made 0700; both hold regardless of the umask.
    pub fn save(&self, state: &SavedState) -> Result<(), StateError> {
        let err = |source| StateError {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::system::hardening::create_private_dir(dir).map_err(err)?;
        let mut state = state.clone();
        state.version = FORMAT_VERSION;
        let json = serde_json::to_vec_pretty(&state).map_err(|e| err(e.into()))?;
        let (tmp, mut file) = create_temp(dir).map_err(err)?;
        let mut write = || -> std::io::Result<()> {
            file.write_all(&json)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }
}

/// A new temp file next to the state file: `.state.json.<pid>.tmp`, or, when something is
/// already there (a crash left it, or someone planted it), a name with a random suffix.
fn create_temp(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut name = format!(".state.json.{}.tmp", std::process::id());
    let mut tries = 0;
    loop {
        let tmp = dir.join(&name);
        match crate::system::hardening::create_private_file(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            // Something is already there (O_EXCL said so, or O_NOFOLLOW met a symbolic link).
            Err(_) if tries < 8 && std::fs::symlink_metadata(&tmp).is_ok() => {
                tries += 1;
                name = format!(
                    ".state.json.{}.{:016x}.tmp",
                    std::process::id(),
                    fastrand::u64(..)
                );
            }
            Err(e) => return Err(e),
        }
    }
}

impl StateFile {
    #[cfg(all(test, unix))]
    fn first_temp_path(&self) -> PathBuf {
        self.path
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!(".state.json.{}.tmp", std::process::id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expiry::{Deadline, Facts, Source};

    fn sample() -> SavedState {
        SavedState {
            account: Some("adele@contoso.com".into()),
            finding: Some(Finding::Facts(Facts::new(
                Deadline::Never,
                Source::GraphPasswordPolicies,
            ))),
            checked_at: Some(Utc::now()),
            ..SavedState::default()
        }
    }

    #[test]
    fn round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::at(dir.path().join("sub/state.json"));
        assert_eq!(file.load(), SavedState::default());
        let state = sample();
        file.save(&state).unwrap();
        let loaded = file.load();
        assert_eq!(loaded.finding, state.finding);
        assert_eq!(loaded.version, FORMAT_VERSION);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn corrupt_file_is_kept_aside_and_replaced_by_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{\"finding\": [1, 2").unwrap();
        let file = StateFile::at(path.clone());
        assert_eq!(file.load(), SavedState::default());
        assert!(!path.exists());
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].starts_with("state.corrupt-"), "{kept:?}");
        assert_eq!(
            std::fs::read(dir.path().join(&kept[0])).unwrap(),
            b"{\"finding\": [1, 2"
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_is_0600_and_directory_0700_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = StateFile::at(dir.join("state.json"));
        file.save(&sample()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(file.path()), 0o600);
        // A fresh directory, too.
        let fresh = StateFile::at(root.path().join("new/deeper/state.json"));
        fresh.save(&sample()).unwrap();
        assert_eq!(mode(&root.path().join("new/deeper")), 0o700);
        assert_eq!(mode(fresh.path()), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_at_the_temp_path_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim.txt");
        std::fs::write(&victim, b"precious").unwrap();
        let dir = root.path().join("state");
        std::fs::create_dir(&dir).unwrap();
        let file = StateFile::at(dir.join("state.json"));
        let planted = file.first_temp_path();
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        file.save(&sample()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(std::fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(file.load().finding, sample().finding);
        assert!(!std::fs::symlink_metadata(file.path())
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_failure_message_is_cleaned_and_bounded() {
        let mut state = sample();
        let hostile = format!("\u{1b}]0;title\u{7}bad\r\nthing{}", "y".repeat(100_000));
        state.record_failure(&hostile, Utc::now());
        let kept = state.last_error.unwrap();
        assert!(kept.starts_with("bad thing"), "{kept}");
        assert!(!kept.chars().any(char::is_control));
        assert!(kept.chars().count() <= MAX_ERROR_CHARS + 1);
    }

    #[test]
    fn staleness_says_how_old_the_kept_status_is() {
        let now = Utc::now();
        let mut state = sample();
        state.checked_at = Some(now - chrono::TimeDelta::hours(3));
        assert_eq!(
            state.staleness(now).as_deref(),
            Some("showing the last known status, which is stale: checked 3 hours ago")
        );
        state.finding = None;
        assert_eq!(state.staleness(now), None);
        let at = |secs: i64| age_in_words(now - chrono::TimeDelta::seconds(secs), now);
        assert_eq!(at(5), "just now");
        assert_eq!(at(60), "1 minute ago");
        assert_eq!(at(3599), "59 minutes ago");
        assert_eq!(at(7200), "2 hours ago");
        assert_eq!(at(86_400), "1 day ago");
        assert_eq!(at(10 * 86_400 + 5), "10 days ago");
        assert!(at(-3600).contains("future"));
    }

    #[test]
    fn finding_of_another_account_is_ignored() {
        let state = sample();
        assert!(state.finding_for("adele@contoso.com").is_some());
        assert!(state.finding_for("bob@contoso.com").is_none());
    }
}
