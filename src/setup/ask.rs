//! The setup's questions: on a terminal a person answers them (Enter takes the value in
//! brackets); without one, or with `--yes`, each takes its default, and a question without a
//! default is an error that names the flag that answers it and who usually knows the answer.

use std::io::{BufRead, IsTerminal, Write};

use super::SetupError;

/// How questions are answered.
pub trait Ask {
    /// A line of text; `flag` answers it on the command line, `who` knows the answer.
    fn line(
        &self,
        question: &str,
        default: Option<&str>,
        flag: &'static str,
        who: &str,
    ) -> Result<String, SetupError>;

    /// Yes or no.
    fn yes_no(&self, question: &str, default: bool) -> Result<bool, SetupError>;

    /// A choice among `options` (1-based on the terminal); returns its index.
    fn choose(
        &self,
        question: &str,
        options: &[&str],
        default: usize,
        flag: &'static str,
    ) -> Result<usize, SetupError>;

    /// Whether a person answers (false: every question takes its default).
    fn interactive(&self) -> bool;
}

/// Questions on the terminal (stdin and stderr), or none (`--yes`, no terminal).
pub struct Console {
    interactive: bool,
}

impl Console {
    /// Asks on the terminal unless `assume_defaults` or stdin is not a terminal.
    pub fn new(assume_defaults: bool) -> Console {
        Console {
            interactive: !assume_defaults && std::io::stdin().is_terminal(),
        }
    }

    fn read(&self, prompt: &str) -> Result<String, SetupError> {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| SetupError::Io(format!("cannot read the answer: {e}")))?;
        if read == 0 {
            return Err(SetupError::Cancelled);
        }
        Ok(line.trim().to_string())
    }
}

impl Ask for Console {
    fn line(
        &self,
        question: &str,
        default: Option<&str>,
        flag: &'static str,
        who: &str,
    ) -> Result<String, SetupError> {
        if !self.interactive {
            return default.map(str::to_string).ok_or(SetupError::Needs {
                what: question.to_string(),
                flag,
                who: who.to_string(),
            });
        }
        loop {
            let prompt = match default {
                Some(d) => format!("{question} [{d}]: "),
                None => format!("{question} — {who}: "),
            };
            let answer = self.read(&prompt)?;
            match (answer.is_empty(), default) {
                (false, _) => return Ok(answer),
                (true, Some(d)) => return Ok(d.to_string()),
                (true, None) => continue,
            }
        }
    }

    fn yes_no(&self, question: &str, default: bool) -> Result<bool, SetupError> {
        if !self.interactive {
            return Ok(default);
        }
        let hint = if default { "Y/n" } else { "y/N" };
        loop {
            let answer = self.read(&format!("{question} [{hint}] "))?;
            match answer.to_ascii_lowercase().as_str() {
                "" => return Ok(default),
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => continue,
            }
        }
    }

    fn choose(
        &self,
        question: &str,
        options: &[&str],
        default: usize,
        _flag: &'static str,
    ) -> Result<usize, SetupError> {
        if !self.interactive {
            return Ok(default);
        }
        eprintln!("{question}");
        for (i, option) in options.iter().enumerate() {
            eprintln!("  {}. {option}", i + 1);
        }
        loop {
            let answer = self.read(&format!("Choose 1-{} [{}]: ", options.len(), default + 1))?;
            if answer.is_empty() {
                return Ok(default);
            }
            if let Ok(n) = answer.parse::<usize>() {
                if (1..=options.len()).contains(&n) {
                    return Ok(n - 1);
                }
            }
        }
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}
