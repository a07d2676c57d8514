//! A run of the binary measured from outside: how long it took and its peak resident memory
//! (VmHWM, read from /proc while it runs), for the tests that feed it hostile answers. A run
//! that grows past its bound is killed, so the machine survives a build without the guard.

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

/// What one run did.
pub struct Run {
    pub code: Option<i32>,
    pub peak_kib: u64,
    pub took: Duration,
    pub killed: bool,
    /// Its stdout, then its stderr.
    pub output: String,
}

/// Waits for the child, reading its VmHWM every 2 ms; kills it after `kill_after` or once its
/// peak passes `kill_at_kib`. Its output is read meanwhile, so a chatty program never blocks on
/// a full pipe.
pub fn measure(mut child: Child, kill_after: Duration, kill_at_kib: u64) -> Run {
    let started = Instant::now();
    let status = format!("/proc/{}/status", child.id());
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let mut peak_kib = 0;
    let mut killed = false;
    let exit = loop {
        if let Some(hwm) = vm_hwm(&status) {
            peak_kib = peak_kib.max(hwm);
        }
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if !killed && (peak_kib > kill_at_kib || started.elapsed() > kill_after) {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let took = started.elapsed();
    Run {
        code: exit.code(),
        peak_kib,
        took,
        killed,
        output: stdout.join().unwrap() + &stderr.join().unwrap(),
    }
}

/// The peak resident memory (VmHWM, KiB) in the `/proc/PID/status` file at `status`; none once
/// the process is gone.
pub fn vm_hwm(status: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
