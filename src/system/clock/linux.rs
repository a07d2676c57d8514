//! Sleeping until a wall-clock instant on Linux: a `timerfd` on `CLOCK_REALTIME`, armed with an
//! absolute time and `TFD_TIMER_CANCEL_ON_SET`. It fires when the wall clock reaches the
//! instant — at once on resume when a suspend went past it — and is cancelled (the read fails
//! with `ECANCELED`) when the clock is set. Until then the process is not woken at all.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use chrono::{DateTime, Utc};
use tokio::io::unix::AsyncFd;

/// Returns at `at` on the wall clock, or when the clock is set; falls back to a coarse sleep
/// when no timer can be made. A sleep of the same length on the monotonic clock ends it too:
/// normally both end together (one wake-up), and where the time a program reads is faked (a
/// preloaded libfaketime, which does not reach the kernel's timers) that one keeps the pace.
pub async fn sleep_until(at: DateTime<Utc>) {
    let left = (at - Utc::now()).to_std().unwrap_or_default();
    match arm(at) {
        Ok(timer) => {
            tokio::select! {
                () = wait(&timer) => {}
                () = tokio::time::sleep(left) => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "no wall-clock timer; looking at the clock every minute");
            tokio::time::sleep(left.min(std::time::Duration::from_secs(60))).await;
        }
    }
}

/// The `it_value` of a timer expiring at `at`: never all zero (that would disarm it), so an
/// instant at or before the epoch becomes its first nanosecond.
fn expiry(at: DateTime<Utc>) -> libc::timespec {
    let (secs, nanos) = if at.timestamp() <= 0 {
        (0, 1)
    } else {
        (at.timestamp(), at.timestamp_subsec_nanos())
    };
    libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: nanos as _,
    }
}

/// A timerfd set to expire at `at` (an instant already past expires at once).
fn arm(at: DateTime<Utc>) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: a plain syscall; the result is checked before it is used as a descriptor.
    let fd = unsafe {
        libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: expiry(at),
    };
    let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
    // SAFETY: `fd` is a timerfd and `spec` a valid itimerspec; the old value is not asked for.
    if unsafe { libc::timerfd_settime(fd.as_raw_fd(), flags, &spec, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the OwnedFd is the descriptor's only owner and moves into the AsyncFd, which
    // keeps it open and unchanged for its whole life.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}

/// Waits until the timer expires or is cancelled by a set clock.
async fn wait(timer: &AsyncFd<OwnedFd>) {
    loop {
        let Ok(mut ready) = timer.readable().await else {
            return;
        };
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a buffer of 8.
        let read = unsafe {
            libc::read(
                timer.get_ref().as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            )
        };
        if read >= 0 {
            return;
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) => ready.clear_ready(),
            Some(libc::ECANCELED) => {
                tracing::info!("the wall clock was set; looking at the schedule again");
                return;
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn it_wakes_at_the_wall_clock_instant_and_at_once_for_the_past() {
        let started = Instant::now();
        sleep_until(Utc::now() + chrono::Duration::milliseconds(150)).await;
        let slept = started.elapsed();
        assert!(slept >= Duration::from_millis(140), "{slept:?}");
        assert!(slept < Duration::from_secs(2), "{slept:?}");
        let started = Instant::now();
        sleep_until(Utc::now() - chrono::Duration::days(1)).await;
        sleep_until(DateTime::<Utc>::MIN_UTC).await;
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
