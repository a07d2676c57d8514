//! The pinentry client: runs a pinentry program and asks it for one password over Assuan.
//!
//! pinentry is what GnuPG uses on every Linux desktop (GNOME, KDE, a bare window manager), so
//! the person sees a dialog that matches their desktop and that other programs cannot read.
//! Portable code (pipes and a child process), used by default on Linux and the BSDs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use zeroize::Zeroizing;

use super::assuan::{is_cancel, percent_encode, Response};
use super::change::{quality, ChangeAnswers, ChangeRequest, MAX_MISMATCHES, MISMATCH};
use super::{PromptError, Request};
use crate::system::credentials::Secret;
use crate::system::programs;

/// Tried in order when `[prompt] pinentry` is not set: graphical ones first, since the agent
/// has no terminal; plain `pinentry` is the distribution's choice.
pub const DEFAULT_PROGRAMS: [&str; 4] = [
    "pinentry-gnome3",
    "pinentry-qt",
    "pinentry-gtk-2",
    "pinentry",
];

/// How long a pinentry may take to greet us before we call it broken.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest line accepted from the program (Assuan lines are at most 1000 bytes); also the size
/// of the one buffer lines are read into, so it never grows.
const MAX_LINE: usize = 16 * 1024;
/// Longest password accepted: its buffer is allocated once at this size, never grown.
const MAX_PIN: usize = 4096;

/// The program to run: the configured one (a name on PATH or an absolute path), else the first
/// default found on PATH (its absolute entries only: [`programs::find`]).
pub fn choose_program(configured: Option<&str>) -> Result<PathBuf, PromptError> {
    match configured {
        Some(name) => programs::find(name).ok_or_else(|| PromptError::Failed(format!(
            "the pinentry `{name}` set in `[prompt] pinentry` was not found; install it or fix the setting"
        ))),
        None => DEFAULT_PROGRAMS
            .iter()
            .find_map(programs::find)
            .ok_or(PromptError::NoProgram),
    }
}

/// Asks `program` for a password: `Ok(None)` when the person cancels.
pub async fn ask(program: &Path, request: &Request) -> Result<Option<Secret>, PromptError> {
    let (mut child, mut session) = start(program)?;
    let answer = session.converse(request).await;
    session.bye(&mut child).await;
    answer
}

/// Asks `program` for the current and the new password (see [`super::change`]).
pub async fn ask_change(
    program: &Path,
    request: &ChangeRequest,
) -> Result<Option<ChangeAnswers>, PromptError> {
    let (mut child, mut session) = start(program)?;
    let answer = session.converse_change(request).await;
    session.bye(&mut child).await;
    answer
}

/// Runs the program with pipes to talk to it.
fn start(program: &Path) -> Result<(Child, Session), PromptError> {
    let mut child = Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| PromptError::Spawn {
            program: program.display().to_string(),
            source,
        })?;
    let session = Session {
        input: child.stdin.take().expect("stdin is piped"),
        output: LineReader::new(child.stdout.take().expect("stdout is piped")),
    };
    Ok((child, session))
}

/// One connection to a pinentry.
struct Session {
    input: ChildStdin,
    output: LineReader<ChildStdout>,
}

impl Session {
    async fn greet(&mut self) -> Result<(), PromptError> {
        match tokio::time::timeout(GREETING_TIMEOUT, self.read_response()).await {
            Ok(Ok(Response::Ok)) => Ok(()),
            Ok(Ok(_)) => Err(failed("it did not greet with OK")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(failed("it did not answer within 10 s")),
        }
    }

    async fn converse(&mut self, request: &Request) -> Result<Option<Secret>, PromptError> {
        self.greet().await?;
        // Titles and button labels are cosmetic: an old pinentry that lacks one still works.
        self.command("SETTITLE", &request.title, false).await?;
        self.command("SETDESC", &request.description, true).await?;
        self.command("SETPROMPT", &request.prompt, true).await?;
        self.command("SETOK", &request.ok, false).await?;
        self.get_pin().await
    }

    /// The change-password conversation: the current password, then the new one, typed twice
    /// (in pinentry's own repeat field when it has one, else in a second GETPIN checked here).
    async fn converse_change(
        &mut self,
        request: &ChangeRequest,
    ) -> Result<Option<ChangeAnswers>, PromptError> {
        self.greet().await?;
        self.command("SETTITLE", &request.title(), false).await?;
        self.show(&request.current()).await?;
        if let Some(problem) = &request.problem {
            self.command("SETERROR", problem, false).await?;
        }
        let Some(current) = self.get_pin().await? else {
            return Ok(None);
        };
        let mut problem = None;
        for _ in 0..MAX_MISMATCHES {
            self.show(&request.new_password()).await?;
            let repeat_field = self.command("SETREPEAT", "Repeat:", false).await?;
            if repeat_field {
                self.command("SETREPEATERROR", MISMATCH, false).await?;
            }
            self.command("SETQUALITYBAR", "Quality:", false).await?;
            self.command(
                "SETQUALITYBAR_TT",
                "A rough estimate; the directory's rules decide",
                false,
            )
            .await?;
            if let Some(problem) = problem.take() {
                self.command("SETERROR", problem, false).await?;
            }
            let Some((new, repeated)) = self.get_pin_repeated().await? else {
                return Ok(None);
            };
            if repeated {
                return Ok(Some(ChangeAnswers { current, new }));
            }
            self.show(&request.repeat()).await?;
            let Some(again) = self.get_pin().await? else {
                return Ok(None);
            };
            if again == new {
                return Ok(Some(ChangeAnswers { current, new }));
            }
            problem = Some(MISMATCH);
        }
        Err(failed(
            "the two entries of the new password differed too often",
        ))
    }

    /// The description, prompt and button of one step.
    async fn show(&mut self, request: &Request) -> Result<(), PromptError> {
        self.command("SETDESC", &request.description, true).await?;
        self.command("SETPROMPT", &request.prompt, true).await?;
        self.command("SETOK", &request.ok, false).await?;
        Ok(())
    }

    /// Sends `VERB param` and waits for its OK; an ERR fails only when `required`. Returns
    /// whether the pinentry took the command.
    async fn command(
        &mut self,
        verb: &str,
        param: &str,
        required: bool,
    ) -> Result<bool, PromptError> {
        self.send(&format!("{verb} {}\n", percent_encode(param)))
            .await?;
        loop {
            match self.read_response().await? {
                Response::Ok => return Ok(true),
                Response::Err { message, .. } if required => {
                    return Err(failed(&format!("{verb} was refused: {message}")))
                }
                Response::Err { .. } => return Ok(false),
                Response::Inquire { .. } => self.send("CAN\n").await?,
                Response::Data(_) | Response::Status { .. } | Response::Other => {}
            }
        }
    }

    async fn get_pin(&mut self) -> Result<Option<Secret>, PromptError> {
        Ok(self.get_pin_repeated().await?.map(|(pin, _)| pin))
    }

    /// GETPIN: the PIN (`None` when cancelled) and whether the pinentry had it typed twice.
    async fn get_pin_repeated(&mut self) -> Result<Option<(Secret, bool)>, PromptError> {
        self.send("GETPIN\n").await?;
        // Room for any PIN up front: growing would leave unwiped copies behind.
        let mut pin = Zeroizing::new(Vec::with_capacity(MAX_PIN));
        let mut repeated = false;
        loop {
            match self.read_response().await? {
                Response::Data(part) if pin.len() + part.len() > MAX_PIN => {
                    return Err(failed("the password is longer than 4096 bytes"))
                }
                Response::Data(part) => pin.extend_from_slice(&part),
                Response::Ok => break,
                Response::Status { keyword } => repeated |= keyword == "PIN_REPEATED",
                Response::Inquire { keyword, data } => {
                    let answer = match keyword.as_str() {
                        "QUALITY" => format!("D {}\nEND\n", quality(&data)),
                        _ => "END\n".to_string(),
                    };
                    self.send(&answer).await?;
                }
                Response::Err { code, .. } if is_cancel(code) => return Ok(None),
                Response::Err { message, .. } => {
                    return Err(failed(&format!("it reported: {message}")))
                }
                Response::Other => {}
            }
        }
        let bytes = std::mem::take(&mut *pin);
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Some((Secret::new(text), repeated))),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(failed("the password is not valid UTF-8"))
            }
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), PromptError> {
        self.input
            .write_all(line.as_bytes())
            .await
            .map_err(|e| failed(&format!("writing to it failed: {e}")))?;
        self.input
            .flush()
            .await
            .map_err(|e| failed(&format!("writing to it failed: {e}")))
    }

    async fn read_response(&mut self) -> Result<Response, PromptError> {
        self.output.next_response().await
    }

    /// Says goodbye and reaps the program; a pinentry that lingers is killed.
    async fn bye(&mut self, child: &mut Child) {
        let _ = self.send("BYE\n").await;
        if tokio::time::timeout(Duration::from_secs(2), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

/// Reads Assuan lines into one fixed buffer that is wiped when dropped: a `D` line carries the
/// password, so it must not pass through a growing buffer (each reallocation would leave a copy
/// behind) or a reader's own buffer that nobody wipes. Each line is parsed where it lies.
struct LineReader<R> {
    inner: R,
    buf: Zeroizing<Vec<u8>>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner,
            buf: Zeroizing::new(vec![0; MAX_LINE]),
            start: 0,
            end: 0,
        }
    }

    /// The next line, without its line ending, parsed.
    async fn next_response(&mut self) -> Result<Response, PromptError> {
        loop {
            if let Some(at) = self.buf[self.start..self.end]
                .iter()
                .position(|b| *b == b'\n')
            {
                let mut line = &self.buf[self.start..self.start + at];
                while let Some((b'\r', rest)) = line.split_last() {
                    line = rest;
                }
                let response = Response::parse(line);
                self.start += at + 1;
                return Ok(response);
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                return Err(failed("it sent a line longer than 16 KiB"));
            }
            let read = self
                .inner
                .read(&mut self.buf[self.end..])
                .await
                .map_err(|e| failed(&format!("reading from it failed: {e}")))?;
            if read == 0 {
                return Err(failed("it ended without an answer"));
            }
            self.end += read;
        }
    }
}

fn failed(what: &str) -> PromptError {
    PromptError::Failed(format!("pinentry: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_read_into_one_buffer_that_never_moves() {
        let long_data = format!("D {}\n", "x".repeat(MAX_LINE - 10));
        let input = format!("OK hello\r\nS PROGRESS\nD s%25cret\n{long_data}OK\n");
        let mut reader = LineReader::new(input.as_bytes());
        let buffer = reader.buf.as_ptr();
        assert_eq!(reader.next_response().await.unwrap(), Response::Ok);
        assert_eq!(
            reader.next_response().await.unwrap(),
            Response::Status {
                keyword: "PROGRESS".into()
            }
        );
        assert_eq!(
            reader.next_response().await.unwrap(),
            Response::Data(Zeroizing::new(b"s%cret".to_vec()))
        );
        assert!(matches!(
            reader.next_response().await.unwrap(),
            Response::Data(d) if d.len() == MAX_LINE - 10
        ));
        assert_eq!(reader.next_response().await.unwrap(), Response::Ok);
        assert_eq!(reader.buf.as_ptr(), buffer);
        assert_eq!(reader.buf.len(), MAX_LINE);
        assert!(reader.next_response().await.is_err(), "end of input");
    }

    #[tokio::test]
    async fn an_endless_line_is_refused() {
        let input = vec![b'a'; MAX_LINE * 2];
        let mut reader = LineReader::new(&input[..]);
        let err = reader.next_response().await.unwrap_err();
        assert!(err.to_string().contains("longer than 16 KiB"), "{err}");
    }
}
