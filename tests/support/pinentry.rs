//! A scripted password dialog: a wrapper program that runs tests/fake-pinentry.sh with its own
//! reply and log, so a test can be the person typing (or cancelling) in the pinentry.

use std::path::{Path, PathBuf};

use super::write_executable;

/// tests/fake-pinentry.sh behind a wrapper in a directory of its own.
pub struct FakePinentry {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl FakePinentry {
    /// In a temporary directory of its own; `reply` as [`set_reply`](Self::set_reply) takes it.
    pub fn new(reply: Option<&str>) -> FakePinentry {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut fake = FakePinentry::in_dir(temp.path(), reply);
        fake._temp = Some(temp);
        fake
    }

    /// In `dir` (created), e.g. a session's `path("pinentry")`.
    pub fn in_dir(dir: &Path, reply: Option<&str>) -> FakePinentry {
        std::fs::create_dir_all(dir).expect("create the pinentry's directory");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-pinentry.sh");
        let fake = FakePinentry {
            dir: dir.to_path_buf(),
            _temp: None,
        };
        write_executable(
            &fake.program(),
            &format!(
                "#!/bin/sh\nexec '{}' '{}'\n",
                script.display(),
                dir.display()
            ),
        );
        if let Some(reply) = reply {
            fake.set_reply(reply);
        }
        fake
    }

    /// What GETPIN answers: the percent-encoded PIN, or "cancel" for the Cancel button.
    pub fn set_reply(&self, reply: &str) {
        std::fs::write(self.dir.join("reply"), reply).expect("write the pinentry's reply");
    }

    /// One reply per GETPIN of a run, in order (see [`set_reply`](Self::set_reply) for the form).
    pub fn set_replies(&self, replies: &[&str]) {
        let mut text = replies.join("\n");
        text.push('\n');
        std::fs::write(self.dir.join("replies"), text).expect("write the pinentry's replies");
    }

    /// Makes it refuse SETREPEAT, as an old pinentry without a repeat field does.
    pub fn without_repeat_field(&self) {
        std::fs::write(self.dir.join("norepeat"), "").expect("write the pinentry's flag");
    }

    /// Keeps the dialog open at GETPIN until [`release`](Self::release).
    pub fn hold(&self) {
        std::fs::write(self.dir.join("hold"), "").expect("hold the pinentry");
    }

    pub fn release(&self) {
        std::fs::remove_file(self.dir.join("hold")).expect("release the pinentry");
    }

    /// The `[prompt]` table that makes the agent use this dialog. It names a path, which only
    /// an admin's file may: put it in the session's system file (`Session::write_system_config`).
    pub fn config(&self) -> String {
        format!("[prompt]\npinentry = \"{}\"\n", self.program().display())
    }

    /// The program to configure as `[prompt] pinentry`.
    pub fn program(&self) -> PathBuf {
        self.dir.join("pinentry-fake")
    }

    /// Every command line the program received (never the reply).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}
