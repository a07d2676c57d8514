//! Windows: the balloon as the shell shows it from a notification-area icon (`Shell_NotifyIconW`
//! with `NIF_INFO`; Windows 10 and 11 render it as a notification), and how it ended.
//!
//! Each balloon gets a thread of its own with a hidden window and a notification-area icon that
//! live exactly as long as the balloon: the shell reports the outcome to that window through
//! the icon's callback message (what each message means is in [`super::shell_balloon`]), then
//! the icon is removed. The tray's icon cannot carry the balloon: tray-icon owns that icon's
//! window and does not pass these messages on, so while a balloon is up the notification area
//! shows a second, identical icon.
//!
//! A shell that never reports (Wine's draws the balloon but sends no `NIN_BALLOON*` message) is
//! covered by a timer: shortly after the timeout the balloon counts as expired and is removed.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_CLASS_ALREADY_EXISTS, HWND, LPARAM, LRESULT, WPARAM,
};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Shell::{
    Shell_NotifyIconW, NIF_ICON, NIF_INFO, NIF_MESSAGE, NIF_SHOWTIP, NIF_TIP, NIIF_INFO,
    NIIF_WARNING, NIM_ADD, NIM_DELETE, NIM_MODIFY, NIM_SETVERSION, NOTIFYICONDATAW,
    NOTIFYICON_VERSION_4,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateIcon, CreateWindowExW, DefWindowProcW, DestroyIcon, DestroyWindow, DispatchMessageW,
    GetMessageW, GetWindowLongPtrW, PostMessageW, PostQuitMessage, RegisterClassExW, SetTimer,
    SetWindowLongPtrW, TranslateMessage, GWLP_USERDATA, HICON, MSG, WM_APP, WM_TIMER, WNDCLASSEXW,
    WS_OVERLAPPED,
};

use super::shell_balloon::{
    self, balloon_event, icon_bitmaps, notification_code, outcome_when_unreported, wide_fixed,
    BalloonEvent, TEXT_UNITS, TIP_UNITS, TITLE_UNITS,
};
use super::{Notifier, Taken, APP_NAME, LONGEST_STAY};
use crate::rules::expiry::{Balloon, Urgency};
use crate::screen::tray::{icon_rgba, IconKind, TRAY_ICON_SIZE};
use crate::system::state::BalloonOutcome;

// The portable mapping uses shellapi.h's values; make sure they are the ones windows-sys has.
const _: () = {
    use windows_sys::Win32::UI::Shell as shell;
    assert!(shell_balloon::NIN_BALLOONSHOW == shell::NIN_BALLOONSHOW);
    assert!(shell_balloon::NIN_BALLOONHIDE == shell::NIN_BALLOONHIDE);
    assert!(shell_balloon::NIN_BALLOONTIMEOUT == shell::NIN_BALLOONTIMEOUT);
    assert!(shell_balloon::NIN_BALLOONUSERCLICK == shell::NIN_BALLOONUSERCLICK);
};

/// The class of the balloon's hidden window. Whatever reports a balloon's end to it (the shell,
/// or a test standing in for the shell) finds it by this name.
pub const WINDOW_CLASS: &str = "signin-assistant-balloon";
/// The icon's callback message: the shell's reports about the icon and its balloon.
pub const CALLBACK_MESSAGE: u32 = WM_APP + 1;
/// Sent by the agent when it stops waiting (it is shutting down).
const STOP_MESSAGE: u32 = WM_APP + 2;
/// The id of the balloon's icon on its window.
pub const ICON_ID: u32 = 1;
const FALLBACK_TIMER: usize = 1;
/// How long after the timeout a shell that says nothing is waited for.
const GRACE: Duration = Duration::from_secs(2);

/// Why the balloon could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("{call} failed (error {code})")]
    Win32 { call: &'static str, code: u32 },
    #[error("the balloon's thread stopped: {0}")]
    Thread(String),
}

/// What the balloon's thread needs.
struct Request {
    title: Vec<u16>,
    text: Vec<u16>,
    tip: Vec<u16>,
    critical: bool,
    /// None: the balloon should stay until the person acts.
    timeout: Option<Duration>,
}

/// Shows the balloon from its own notification-area icon and waits for how it ends.
pub async fn show(
    balloon: &Balloon,
    _action: &str,
    notifier: &Notifier,
    taken: Taken,
) -> Result<BalloonOutcome, ShellError> {
    let request = Request {
        title: wide_fixed(&balloon.title, TITLE_UNITS),
        text: wide_fixed(&balloon.body, TEXT_UNITS),
        tip: wide_fixed("Sign-in Assistant", TIP_UNITS),
        critical: balloon.urgency == Urgency::Critical,
        timeout: notifier.timeout_for(balloon),
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let window = Arc::new(AtomicUsize::new(0));
    let stop = StopOnDrop(window.clone());
    std::thread::Builder::new()
        .name("balloon".into())
        .spawn(move || {
            let _ = done_tx.send(run(&request, &window, taken));
        })
        .map_err(|e| ShellError::Thread(e.to_string()))?;
    let outcome = done_rx
        .await
        .map_err(|e| ShellError::Thread(e.to_string()))?;
    drop(stop);
    outcome
}

/// Removes the balloon when the agent stops waiting for it (it is shutting down).
struct StopOnDrop(Arc<AtomicUsize>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let hwnd = self.0.swap(0, Ordering::AcqRel);
        if hwnd != 0 {
            // SAFETY: posting to a window that is already gone fails harmlessly.
            unsafe { PostMessageW(hwnd as HWND, STOP_MESSAGE, 0, 0) };
        }
    }
}

/// What the window procedure knows about its balloon; lives in `run` and is reached through
/// the window's user data (GWLP_USERDATA).
struct ThisBalloon {
    /// How the balloon ended, once it has.
    outcome: Cell<Option<BalloonOutcome>>,
    /// Whether the shell speaks NOTIFYICON_VERSION_4 to the icon.
    version_4: Cell<bool>,
    /// The outcome when the shell says nothing before the fallback timer.
    unreported: Cell<BalloonOutcome>,
}

/// The balloon thread: window, icon, balloon (then `taken` is told), message loop, cleanup.
fn run(
    request: &Request,
    window_slot: &AtomicUsize,
    taken: Taken,
) -> Result<BalloonOutcome, ShellError> {
    let class = register_class()?;
    // Declared before the window, so it outlives it (locals are dropped in reverse order).
    let this = ThisBalloon {
        outcome: Cell::new(None),
        version_4: Cell::new(false),
        unreported: Cell::new(outcome_when_unreported(request.timeout.is_some())),
    };
    let window = Window::create(&class)?;
    // SAFETY: `this` outlives the window, so the pointer stays valid for every message.
    unsafe {
        SetWindowLongPtrW(
            window.0,
            GWLP_USERDATA,
            &this as *const ThisBalloon as isize,
        )
    };
    let icon = OwnedIcon::for_balloon(request.critical);
    let mut data = NOTIFYICONDATAW {
        cbSize: std::mem::size_of::<NOTIFYICONDATAW>() as u32,
        hWnd: window.0,
        uID: ICON_ID,
        uFlags: NIF_MESSAGE | NIF_ICON | NIF_TIP | NIF_SHOWTIP,
        uCallbackMessage: CALLBACK_MESSAGE,
        hIcon: icon.as_ref().map_or(ptr::null_mut(), |i| i.0),
        ..Default::default()
    };
    data.szTip.copy_from_slice(&request.tip);
    // SAFETY: `data` is a complete NOTIFYICONDATAW whose window lives until the icon is deleted.
    if unsafe { Shell_NotifyIconW(NIM_ADD, &data) } == 0 {
        return Err(last_error("Shell_NotifyIconW(NIM_ADD)"));
    }
    let _added = AddedIcon(window.0);
    data.Anonymous.uVersion = NOTIFYICON_VERSION_4;
    // SAFETY: as above.
    let version_4 = unsafe { Shell_NotifyIconW(NIM_SETVERSION, &data) } != 0;
    this.version_4.set(version_4);

    data.uFlags = NIF_INFO;
    data.szInfoTitle.copy_from_slice(&request.title);
    data.szInfo.copy_from_slice(&request.text);
    data.dwInfoFlags = if request.critical {
        NIIF_WARNING
    } else {
        NIIF_INFO
    };
    let wait = request.timeout.map_or(LONGEST_STAY, |t| t + GRACE);
    // Ignored since Windows Vista (the system decides), but older shells and Wine read it.
    data.Anonymous.uTimeout = duration_ms(request.timeout.unwrap_or(LONGEST_STAY));
    // SAFETY: as above.
    if unsafe { Shell_NotifyIconW(NIM_MODIFY, &data) } == 0 {
        return Err(last_error("Shell_NotifyIconW(NIM_MODIFY, NIF_INFO)"));
    }
    // SAFETY: a timer on our own window, reported as WM_TIMER to `window_proc`.
    unsafe { SetTimer(window.0, FALLBACK_TIMER, duration_ms(wait), None) };
    window_slot.store(window.0 as usize, Ordering::Release);
    let _ = taken.send(());
    tracing::debug!(version_4, "balloon shown from its notification-area icon");

    let mut msg = MSG::default();
    // SAFETY: a plain message loop on the thread that owns the window.
    while unsafe { GetMessageW(&mut msg, ptr::null_mut(), 0, 0) } > 0 {
        unsafe {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
    window_slot.store(0, Ordering::Release);
    Ok(this.outcome.take().unwrap_or(BalloonOutcome::Closed))
}

/// Receives the shell's reports, the fallback timer and the agent's stop.
unsafe extern "system" fn window_proc(
    hwnd: HWND,
    message: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    // SAFETY: null, or the `ThisBalloon` that `run` keeps alive while it is attached.
    let this = unsafe { (GetWindowLongPtrW(hwnd, GWLP_USERDATA) as *const ThisBalloon).as_ref() };
    match (message, this) {
        (CALLBACK_MESSAGE, Some(this)) => {
            let code = notification_code(this.version_4.get(), lparam);
            tracing::trace!(code, "notification-area message");
            match balloon_event(code) {
                BalloonEvent::Ended(outcome) => this.finish(outcome),
                BalloonEvent::Shown => tracing::debug!("the shell shows the balloon"),
                BalloonEvent::Other => {}
            }
            0
        }
        (WM_TIMER, Some(this)) if wparam == FALLBACK_TIMER => {
            tracing::debug!("the shell did not report the balloon's end in time");
            this.finish(this.unreported.get());
            0
        }
        (STOP_MESSAGE, Some(this)) => {
            this.finish(BalloonOutcome::Closed);
            0
        }
        // SAFETY: the default handling of every other message.
        _ => unsafe { DefWindowProcW(hwnd, message, wparam, lparam) },
    }
}

impl ThisBalloon {
    /// Notes the first outcome and ends the message loop.
    fn finish(&self, outcome: BalloonOutcome) {
        if self.outcome.get().is_none() {
            self.outcome.set(Some(outcome));
            // SAFETY: ends the message loop of this thread (the window's).
            unsafe { PostQuitMessage(0) };
        }
    }
}

fn duration_ms(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

fn last_error(call: &'static str) -> ShellError {
    // SAFETY: reads the calling thread's last-error value.
    let code = unsafe { GetLastError() };
    ShellError::Win32 { call, code }
}

/// Registers the window class once per process; returns its name.
fn register_class() -> Result<Vec<u16>, ShellError> {
    let name: Vec<u16> = WINDOW_CLASS.encode_utf16().chain(Some(0)).collect();
    let class = WNDCLASSEXW {
        cbSize: std::mem::size_of::<WNDCLASSEXW>() as u32,
        lpfnWndProc: Some(window_proc),
        // SAFETY: the module handle of this executable.
        hInstance: unsafe { GetModuleHandleW(ptr::null()) },
        lpszClassName: name.as_ptr(),
        ..Default::default()
    };
    // SAFETY: `class` is complete and `name` outlives the call (the system copies it).
    if unsafe { RegisterClassExW(&class) } == 0 {
        let error = last_error("RegisterClassExW");
        if !matches!(error, ShellError::Win32 { code, .. } if code == ERROR_CLASS_ALREADY_EXISTS) {
            return Err(error);
        }
    }
    Ok(name)
}

/// The hidden window that owns the balloon's icon; destroyed on drop.
struct Window(HWND);

impl Window {
    fn create(class: &[u16]) -> Result<Window, ShellError> {
        let title: Vec<u16> = APP_NAME.encode_utf16().chain(Some(0)).collect();
        // SAFETY: a top-level window of our registered class, never shown.
        let hwnd = unsafe {
            CreateWindowExW(
                0,
                class.as_ptr(),
                title.as_ptr(),
                WS_OVERLAPPED,
                0,
                0,
                0,
                0,
                ptr::null_mut(),
                ptr::null_mut(),
                GetModuleHandleW(ptr::null()),
                ptr::null(),
            )
        };
        if hwnd.is_null() {
            return Err(last_error("CreateWindowExW"));
        }
        Ok(Window(hwnd))
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: the window was created by this thread and is destroyed once.
        unsafe { DestroyWindow(self.0) };
    }
}

/// The icon is in the notification area; removed on drop (before its window goes).
struct AddedIcon(HWND);

impl Drop for AddedIcon {
    fn drop(&mut self) {
        let data = NOTIFYICONDATAW {
            cbSize: std::mem::size_of::<NOTIFYICONDATAW>() as u32,
            hWnd: self.0,
            uID: ICON_ID,
            ..Default::default()
        };
        // SAFETY: identifies the icon added with this window and id.
        unsafe { Shell_NotifyIconW(NIM_DELETE, &data) };
    }
}

/// An icon handle made from the embedded artwork; destroyed on drop.
struct OwnedIcon(HICON);

impl OwnedIcon {
    /// The warning (or urgent) shield, or None when it cannot be made (the shell then shows
    /// a blank icon; the balloon itself still works).
    fn for_balloon(critical: bool) -> Option<OwnedIcon> {
        let kind = if critical {
            IconKind::Urgent
        } else {
            IconKind::Warning
        };
        let pixels = icon_rgba(kind, TRAY_ICON_SIZE).ok()?;
        let (width, height) = (pixels.width as usize, pixels.height as usize);
        let (mask, colour) = icon_bitmaps(width, height, &pixels.data);
        // SAFETY: both bitmaps have the sizes CreateIcon expects for width x height at 32 bpp.
        let icon = unsafe {
            CreateIcon(
                GetModuleHandleW(ptr::null()),
                width as i32,
                height as i32,
                1,
                32,
                mask.as_ptr(),
                colour.as_ptr(),
            )
        };
        (!icon.is_null()).then_some(OwnedIcon(icon))
    }
}

impl Drop for OwnedIcon {
    fn drop(&mut self) {
        // SAFETY: created by CreateIcon and destroyed once.
        unsafe { DestroyIcon(self.0) };
    }
}
