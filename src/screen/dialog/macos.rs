//! macOS: the password dialog of AppleScript (`display dialog … with hidden answer`).
//!
//! The script and the account name go in argv (neither is secret); the typed password comes
//! back on osascript's stdout, which we read into a [`Secret`].

use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use zeroize::Zeroizing;

use super::{PromptError, Request};
use crate::system::credentials::Secret;

/// `argv`: title, description, prompt, ok label. Cancel makes osascript fail with -128.
const SCRIPT: &str = r#"on run argv
  set answer to display dialog (item 2 of argv) & return & return & (item 3 of argv) ¬
    with title (item 1 of argv) default answer "" with hidden answer ¬
    buttons {"Cancel", item 4 of argv} default button 2 cancel button 1 with icon caution
  return text returned of answer
end run"#;

/// Shows the dialog: `Ok(None)` when the person cancels.
pub async fn ask(request: &Request) -> Result<Option<Secret>, PromptError> {
    let mut child = Command::new("/usr/bin/osascript")
        .arg("-e")
        .arg(SCRIPT)
        .args([
            &request.title,
            &request.description,
            &request.prompt,
            &request.ok,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| PromptError::Spawn {
            program: "osascript".into(),
            source,
        })?;
    let mut out = Zeroizing::new(Vec::new());
    let mut err = Vec::new();
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (read_out, _) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
    read_out.map_err(|e| PromptError::Failed(format!("osascript: {e}")))?;
    let status = child
        .wait()
        .await
        .map_err(|e| PromptError::Failed(format!("osascript: {e}")))?;
    if !status.success() {
        let message = String::from_utf8_lossy(&err);
        return if message.contains("-128") {
            Ok(None)
        } else {
            Err(PromptError::Failed(format!(
                "osascript: {}",
                message.trim()
            )))
        };
    }
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    let bytes = std::mem::take(&mut *out);
    String::from_utf8(bytes)
        .map(|text| Some(Secret::new(text)))
        .map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            PromptError::Failed("the password is not valid UTF-8".into())
        })
}
