//! What the Windows shell tells a notification-area icon about its balloon, as pure functions.
//!
//! A balloon (`Shell_NotifyIconW` with `NIF_INFO`; Windows 10 and 11 show it as a notification)
//! reports how it ended through the icon's callback message: `NIN_BALLOONUSERCLICK` (clicked),
//! `NIN_BALLOONTIMEOUT` (it went away by itself; Windows sends the same when the person closes
//! it with X, so on Windows "closed with X" is recorded as expired), `NIN_BALLOONHIDE` (it was
//! taken away, e.g. its icon was removed). The Win32 side (`notify/windows.rs`) only moves
//! messages and pixels; what they mean lives here, where it is unit-tested on every platform.

use crate::system::state::BalloonOutcome;

// The notification codes of shellapi.h (WM_USER + n); notify/windows.rs checks them against
// windows-sys at compile time.
pub const NIN_BALLOONSHOW: u32 = 0x0402;
pub const NIN_BALLOONHIDE: u32 = 0x0403;
pub const NIN_BALLOONTIMEOUT: u32 = 0x0404;
pub const NIN_BALLOONUSERCLICK: u32 = 0x0405;

/// Characters (UTF-16 units, the terminating NUL included) the fixed buffers of
/// `NOTIFYICONDATAW` hold.
pub const TIP_UNITS: usize = 128;
pub const TITLE_UNITS: usize = 64;
pub const TEXT_UNITS: usize = 256;

/// What one callback message says about the balloon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalloonEvent {
    /// The balloon is on screen.
    Shown,
    /// The balloon is gone, and this is how it ended.
    Ended(BalloonOutcome),
    /// Anything else (mouse over the icon, clicks on the icon itself, …).
    Other,
}

/// The notification code in a callback message. With `NOTIFYICON_VERSION_4` (which the
/// balloon's icon asks for) it is the low word of `lParam`, the icon's id being the high word;
/// with the older versions `lParam` is the code itself.
pub fn notification_code(version_4: bool, lparam: isize) -> u32 {
    if version_4 {
        (lparam as usize & 0xFFFF) as u32
    } else {
        lparam as u32
    }
}

/// What a notification code means for the balloon.
pub fn balloon_event(code: u32) -> BalloonEvent {
    match code {
        NIN_BALLOONSHOW => BalloonEvent::Shown,
        NIN_BALLOONUSERCLICK => BalloonEvent::Ended(BalloonOutcome::Clicked),
        NIN_BALLOONTIMEOUT => BalloonEvent::Ended(BalloonOutcome::TimedOut),
        NIN_BALLOONHIDE => BalloonEvent::Ended(BalloonOutcome::Closed),
        _ => BalloonEvent::Other,
    }
}

/// How the balloon counts when the shell said nothing by the time the agent stopped waiting:
/// a balloon with a timeout has expired; one meant to stay was taken away.
pub fn outcome_when_unreported(had_timeout: bool) -> BalloonOutcome {
    if had_timeout {
        BalloonOutcome::TimedOut
    } else {
        BalloonOutcome::Closed
    }
}

/// `text` as the NUL-terminated UTF-16 a fixed `NOTIFYICONDATAW` buffer of `units` holds,
/// shortened (never in the middle of a surrogate pair) when it is too long.
pub fn wide_fixed(text: &str, units: usize) -> Vec<u16> {
    let mut wide: Vec<u16> = text.encode_utf16().take(units.saturating_sub(1)).collect();
    if wide.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        wide.pop();
    }
    wide.resize(units, 0);
    wide
}

/// The two bitmaps `CreateIcon` takes for 32-bit RGBA pixels: the AND mask (1 bit per pixel,
/// set where the pixel is fully transparent, rows padded to 16 bits) and the colour bitmap
/// (BGRA, top row first).
pub fn icon_bitmaps(width: usize, height: usize, rgba: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let row_bytes = width.div_ceil(16) * 2;
    let mut mask = vec![0u8; row_bytes * height];
    let mut colour = Vec::with_capacity(width * height * 4);
    for (i, pixel) in rgba.chunks_exact(4).take(width * height).enumerate() {
        let (x, y) = (i % width, i / width);
        colour.extend_from_slice(&[pixel[2], pixel[1], pixel[0], pixel[3]]);
        if pixel[3] == 0 {
            mask[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
        }
    }
    (mask, colour)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_maps_to_its_outcome() {
        let cases = [
            (
                NIN_BALLOONUSERCLICK,
                BalloonEvent::Ended(BalloonOutcome::Clicked),
            ),
            (
                NIN_BALLOONTIMEOUT,
                BalloonEvent::Ended(BalloonOutcome::TimedOut),
            ),
            (NIN_BALLOONHIDE, BalloonEvent::Ended(BalloonOutcome::Closed)),
            (NIN_BALLOONSHOW, BalloonEvent::Shown),
            // WM_MOUSEMOVE, WM_LBUTTONUP, NIN_SELECT, WM_CONTEXTMENU: the icon, not the balloon.
            (0x0200, BalloonEvent::Other),
            (0x0202, BalloonEvent::Other),
            (0x0400, BalloonEvent::Other),
            (0x007B, BalloonEvent::Other),
        ];
        for (code, event) in cases {
            assert_eq!(balloon_event(code), event, "code {code:#x}");
        }
    }

    #[test]
    fn version_4_carries_the_code_in_the_low_word() {
        // MAKELPARAM(NIN_BALLOONUSERCLICK, icon id 1)
        let lparam = (1isize << 16) | NIN_BALLOONUSERCLICK as isize;
        assert_eq!(notification_code(true, lparam), NIN_BALLOONUSERCLICK);
        assert_eq!(
            balloon_event(notification_code(true, lparam)),
            BalloonEvent::Ended(BalloonOutcome::Clicked)
        );
        // The same message read the old way is no balloon code at all.
        assert_eq!(
            balloon_event(notification_code(false, lparam)),
            BalloonEvent::Other
        );
        assert_eq!(
            notification_code(false, NIN_BALLOONTIMEOUT as isize),
            NIN_BALLOONTIMEOUT
        );
    }

    #[test]
    fn silence_counts_as_expired_only_for_a_balloon_with_a_timeout() {
        assert_eq!(outcome_when_unreported(true), BalloonOutcome::TimedOut);
        assert_eq!(outcome_when_unreported(false), BalloonOutcome::Closed);
    }

    #[test]
    fn text_is_nul_terminated_and_cut_at_a_character() {
        let short = wide_fixed("Password", TITLE_UNITS);
        assert_eq!(short.len(), TITLE_UNITS);
        assert_eq!(String::from_utf16(&short[..8]).unwrap(), "Password");
        assert!(short[8..].iter().all(|&u| u == 0));

        let long = wide_fixed(&"x".repeat(500), TEXT_UNITS);
        assert_eq!(long.len(), TEXT_UNITS);
        assert_eq!(long[TEXT_UNITS - 1], 0);
        assert_eq!(long[TEXT_UNITS - 2], u16::from(b'x'));

        // "🔑" is a surrogate pair: with room for only one unit before the NUL it is left out.
        let cut = wide_fixed("a🔑", 3);
        assert_eq!(cut, vec![u16::from(b'a'), 0, 0]);
    }

    #[test]
    fn icon_bitmaps_swap_to_bgra_and_mask_transparent_pixels() {
        // 2x2: opaque red, transparent, half-transparent green, opaque blue.
        let rgba = [255, 0, 0, 255, 9, 9, 9, 0, 0, 255, 0, 128, 0, 0, 255, 255];
        let (mask, colour) = icon_bitmaps(2, 2, &rgba);
        assert_eq!(mask, vec![0b0100_0000, 0, 0, 0]);
        assert_eq!(
            colour,
            vec![0, 0, 255, 255, 9, 9, 9, 0, 0, 255, 0, 128, 255, 0, 0, 255]
        );
        let (mask, colour) = icon_bitmaps(32, 32, &vec![0; 32 * 32 * 4]);
        assert_eq!(mask, vec![0xFF; 4 * 32]);
        assert_eq!(colour.len(), 32 * 32 * 4);
    }
}
