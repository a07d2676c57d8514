//! A log file that never grows past a bound: when the next line would take it over
//! `max_bytes`, `name` becomes `name.1` (`name.1` becomes `name.2`, …, the oldest is removed)
//! and a fresh `name` is started. Small on purpose (a rotation crate would bring a scheduler
//! and compression this needs neither of).
//!
//! Several processes may write the same file (the agent, and a command run meanwhile): the file
//! is opened for appending, so their lines never mix, and a process that finds the file already
//! rotated by another one reopens it instead of rotating again. The file is opened on the first
//! line, so a command that has nothing to say leaves no file behind. When the file cannot be
//! written (a read-only home), that is said once on stderr and the program goes on. The directory
//! is 0700 and the files 0600 from their creation (`hardening`): the log says which account is
//! checked, when and against which server.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::system::hardening;

/// The writer; give it to `tracing_subscriber::fmt` inside a `Mutex`.
#[derive(Debug)]
pub struct RotatingFile {
    dir: PathBuf,
    name: String,
    max_bytes: u64,
    kept: usize,
    file: Option<File>,
    /// Writing failed once: later lines are dropped.
    broken: bool,
}

impl RotatingFile {
    /// `dir/name`, rotated at `max_bytes`, keeping `kept` files in all (at least one).
    pub fn new(dir: PathBuf, name: &str, max_bytes: u64, kept: usize) -> RotatingFile {
        RotatingFile {
            dir,
            name: name.to_string(),
            max_bytes,
            kept: kept.max(1),
            file: None,
            broken: false,
        }
    }

    /// The current file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// The `n`th rotated file (`name.n`); 0 is the current one.
    pub fn rotated(&self, n: usize) -> PathBuf {
        if n == 0 {
            self.path()
        } else {
            self.dir.join(format!("{}.{n}", self.name))
        }
    }

    fn open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            hardening::create_private_dir(&self.dir)?;
            let file = hardening::open_private_file(
                &self.path(),
                OpenOptions::new().create(true).append(true),
            )?;
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    /// Makes room for `incoming` bytes: rotates, or reopens when another process rotated.
    fn make_room(&mut self, incoming: u64) -> io::Result<()> {
        let ours = self.open()?.metadata()?.len();
        if ours == 0 || ours + incoming <= self.max_bytes {
            return Ok(());
        }
        let on_disk = fs::metadata(self.path()).map(|m| m.len()).unwrap_or(0);
        self.file = None;
        if on_disk < ours {
            // Someone else rotated: our handle is on what is now `name.1`.
            return Ok(());
        }
        self.rotate()
    }

    fn rotate(&self) -> io::Result<()> {
        let oldest = self.rotated(self.kept - 1);
        match fs::remove_file(&oldest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        for n in (0..self.kept - 1).rev() {
            rename_if_there(&self.rotated(n), &self.rotated(n + 1))?;
        }
        Ok(())
    }

    fn append(&mut self, line: &[u8]) -> io::Result<()> {
        self.make_room(line.len() as u64)?;
        self.open()?.write_all(line)
    }
}

fn rename_if_there(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.broken {
            return Ok(buf.len());
        }
        if let Err(e) = self.append(buf) {
            self.broken = true;
            self.file = None;
            eprintln!(
                "signin-assistant: cannot write the log file {}: {e}; messages go to stderr only",
                self.path().display()
            );
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> Vec<u8> {
        format!("line {n:04} {}\n", "x".repeat(40)).into_bytes()
    }

    #[test]
    fn rotates_at_the_bound_and_keeps_a_fixed_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RotatingFile::new(dir.path().join("logs"), "a.log", 500, 3);
        for n in 0..100 {
            log.write_all(&line(n)).unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(dir.path().join("logs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.log", "a.log.1", "a.log.2"]);
        for n in 0..3 {
            let size = fs::metadata(log.rotated(n)).unwrap().len();
            assert!(size <= 500, "{} is {size} bytes", log.rotated(n).display());
        }
        // The newest line is in the current file, the lines before it in order in `.1`.
        let current = fs::read_to_string(log.path()).unwrap();
        assert!(current.ends_with(&String::from_utf8(line(99)).unwrap()));
        let previous = fs::read_to_string(log.rotated(1)).unwrap();
        let first_current: usize = current[5..9].parse().unwrap();
        let last_previous: usize = previous.lines().last().unwrap()[5..9].parse().unwrap();
        assert_eq!(last_previous + 1, first_current);
    }

    #[test]
    fn a_line_longer_than_the_bound_still_lands() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RotatingFile::new(dir.path().to_path_buf(), "a.log", 10, 2);
        log.write_all(b"a long first line\n").unwrap();
        log.write_all(b"another long line\n").unwrap();
        assert_eq!(
            fs::read_to_string(log.path()).unwrap(),
            "another long line\n"
        );
        assert_eq!(
            fs::read_to_string(log.rotated(1)).unwrap(),
            "a long first line\n"
        );
    }

    #[test]
    fn two_writers_share_the_file_and_rotate_once() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().to_path_buf();
        let mut a = RotatingFile::new(logs.clone(), "a.log", 300, 3);
        let mut b = RotatingFile::new(logs, "a.log", 300, 3);
        for n in 0..5 {
            a.write_all(&line(n)).unwrap();
            b.write_all(&line(100 + n)).unwrap();
        }
        // Every line is somewhere, whole, and no file is over the bound.
        let mut all = String::new();
        for n in 0..3 {
            let text = fs::read_to_string(a.rotated(n)).unwrap_or_default();
            assert!(text.len() <= 300, "{n}: {}", text.len());
            all.push_str(&text);
        }
        assert_eq!(all.lines().count(), 10, "{all}");
        assert!(all.lines().all(|l| l.len() == line(0).len() - 1));
    }

    #[test]
    fn nothing_is_created_before_the_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = RotatingFile::new(dir.path().join("logs"), "a.log", 300, 3);
        drop(log);
        assert!(!dir.path().join("logs").exists());
    }

    #[test]
    fn an_unwritable_place_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "").unwrap();
        let mut log = RotatingFile::new(blocker.join("logs"), "a.log", 300, 3);
        assert_eq!(log.write(b"x\n").unwrap(), 2);
        assert_eq!(log.write(b"y\n").unwrap(), 2);
    }
}
