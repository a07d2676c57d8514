//! The agent (`signin-assistant run`) as a running process of a [`Session`]: started with a
//! config, its log kept in a file of the session, stopped the way the OS stops it (SIGTERM) and
//! never left behind (killed on drop).

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{Session, BIN};

/// A running `signin-assistant run`.
pub struct AgentProcess<'a> {
    session: &'a Session,
    child: Child,
    log: PathBuf,
}

impl Session {
    /// Starts `signin-assistant --config CONFIG run ARGS` with info logging into
    /// `logs/NAME.log` (one name per start, so a restart keeps the first log).
    pub fn start_agent(&self, name: &str, config: &Path, args: &[&str]) -> AgentProcess<'_> {
        self.start_agent_with_env(name, config, args, &[])
    }

    /// `start_agent` with extra environment variables (e.g. a faked clock).
    pub fn start_agent_with_env(
        &self,
        name: &str,
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> AgentProcess<'_> {
        let log = self.path(format!("logs/{name}.log"));
        let file = std::fs::File::create(&log).expect("create the agent's log");
        let child = self
            .command(BIN)
            .arg("--config")
            .arg(config)
            .arg("run")
            .args(args)
            .env("SIGNIN_ASSISTANT_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup log"))
            .stderr(file)
            .spawn()
            .expect("start signin-assistant run");
        AgentProcess {
            session: self,
            child,
            log,
        }
    }
}

impl AgentProcess<'_> {
    /// What the agent logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the agent is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("ask about the agent")
            .is_none()
    }

    /// Kills the agent with SIGKILL, as a crash would end it: nothing of it runs to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the log contains `text`.
    pub fn wait_for_log(&self, text: &str) {
        self.session
            .wait_until(&format!("{text:?} in the agent's log"), || {
                self.log().contains(text)
            });
    }

    /// Sends SIGTERM, as a logout does, and waits for the exit.
    pub fn terminate(mut self, limit: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        self.wait_exit(limit)
    }

    /// Waits for the agent to exit by itself (e.g. after "Quit"); panics with its log after
    /// `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the agent") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not exit within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AgentProcess<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("agent log {}:\n{}", self.log.display(), self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
