//! The icon set (assets/icons): which icon a [`View`] shows, and the embedded PNG renditions
//! decoded to the RGBA pixels tray-icon takes.
//!
//! The PNGs are rendered from the SVG sources by assets/icons/render.sh and embedded with
//! `include_bytes!`, so the binary needs no icon files at run time.

use crate::report::view::View;
use crate::rules::expiry::PasswordState;

/// One icon of the set; each has its own glyph so none is told apart by colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IconKind {
    /// Green shield, check mark: ok, or the password never expires.
    Ok,
    /// Amber shield, hourglass: inside the warning window.
    Warning,
    /// Red shield, exclamation mark: the last `urgent_days`.
    Urgent,
    /// Dark red shield, cross: expired.
    Expired,
    /// Grey shield, question mark: sign-in required, or not known yet.
    Unknown,
    /// Blue shield, plus sign: not set up yet (the configuration lacks a required value).
    Setup,
}

/// The sizes rendered (px); trays commonly use 16, 22, 24 and 32, at 1x and 2x.
pub const SIZES: [u32; 6] = [16, 22, 24, 32, 48, 64];

/// The rendition handed to the tray. tray-icon takes one image and the host scales it: Linux
/// panels show 22–48 px (scaling down from 48 stays sharp), the Windows notification area 16
/// or 32, the macOS menu bar 22 pt (44 px on Retina).
pub const TRAY_ICON_SIZE: u32 = if cfg!(windows) { 32 } else { 48 };

impl IconKind {
    pub const ALL: [IconKind; 6] = [
        IconKind::Ok,
        IconKind::Warning,
        IconKind::Urgent,
        IconKind::Expired,
        IconKind::Unknown,
        IconKind::Setup,
    ];

    /// The icon for what the agent last reported.
    pub fn for_view(view: &View) -> IconKind {
        if view.not_set_up.is_some() {
            return IconKind::Setup;
        }
        match view.state {
            PasswordState::Ok | PasswordState::NeverExpires => IconKind::Ok,
            PasswordState::Warning if view.urgent => IconKind::Urgent,
            PasswordState::Warning => IconKind::Warning,
            PasswordState::Expired => IconKind::Expired,
            PasswordState::SignInRequired | PasswordState::Unknown => IconKind::Unknown,
        }
    }

    /// The file stem in assets/icons.
    pub fn name(self) -> &'static str {
        match self {
            IconKind::Ok => "ok",
            IconKind::Warning => "warning",
            IconKind::Urgent => "urgent",
            IconKind::Expired => "expired",
            IconKind::Unknown => "unknown",
            IconKind::Setup => "setup",
        }
    }

    /// The embedded PNG at `size` (one of [`SIZES`]).
    pub fn png(self, size: u32) -> Option<&'static [u8]> {
        PNGS.iter()
            .find(|(kind, s, _)| *kind == self && *s == size)
            .map(|(_, _, bytes)| *bytes)
    }
}

macro_rules! renditions {
    ($($kind:ident $name:literal),*) => {
        &[$(
            (IconKind::$kind, 16, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/icons/png/", $name, "-16.png"))),
            (IconKind::$kind, 22, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/icons/png/", $name, "-22.png"))),
            (IconKind::$kind, 24, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/icons/png/", $name, "-24.png"))),
            (IconKind::$kind, 32, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/icons/png/", $name, "-32.png"))),
            (IconKind::$kind, 48, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/icons/png/", $name, "-48.png"))),
            (IconKind::$kind, 64, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/icons/png/", $name, "-64.png"))),
        )*]
    };
}

static PNGS: &[(IconKind, u32, &[u8])] = renditions!(
    Ok "ok", Warning "warning", Urgent "urgent", Expired "expired", Unknown "unknown",
    Setup "setup"
);

/// Decoded pixels, 8-bit RGBA, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Decodes one embedded rendition.
pub fn rgba(kind: IconKind, size: u32) -> Result<Rgba, String> {
    let bytes = kind
        .png(size)
        .ok_or_else(|| format!("no {size} px rendition of {}", kind.name()))?;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buffer = vec![0; reader.output_buffer_size().ok_or("image too large")?];
    let info = reader.next_frame(&mut buffer).map_err(|e| e.to_string())?;
    buffer.truncate(info.buffer_size());
    let data = match info.color_type {
        png::ColorType::Rgba => buffer,
        png::ColorType::Rgb => buffer
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => buffer
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => buffer.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => return Err("indexed PNG was not expanded".into()),
    };
    Ok(Rgba {
        width: info.width,
        height: info.height,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(state: PasswordState, urgent: bool) -> View {
        View {
            state,
            urgent,
            expires_at: None,
            days_left: None,
            summary: String::new(),
            signed_in: true,
            autostart: None,
            stale: false,
            needs_browser: false,
            not_set_up: None,
        }
    }

    #[test]
    fn each_state_has_its_icon() {
        let cases = [
            (PasswordState::Ok, false, IconKind::Ok),
            (PasswordState::NeverExpires, false, IconKind::Ok),
            (PasswordState::Warning, false, IconKind::Warning),
            (PasswordState::Warning, true, IconKind::Urgent),
            (PasswordState::Expired, true, IconKind::Expired),
            (PasswordState::Expired, false, IconKind::Expired),
            (PasswordState::SignInRequired, false, IconKind::Unknown),
            (PasswordState::Unknown, false, IconKind::Unknown),
        ];
        assert_eq!(
            IconKind::for_view(&View::not_set_up("the directory server")),
            IconKind::Setup
        );
        for (state, urgent, want) in cases {
            assert_eq!(
                IconKind::for_view(&view(state, urgent)),
                want,
                "{state:?} {urgent}"
            );
        }
    }

    #[test]
    fn every_rendition_decodes_at_its_size_and_is_drawn() {
        for kind in IconKind::ALL {
            for size in SIZES {
                let icon = rgba(kind, size).unwrap();
                assert_eq!((icon.width, icon.height), (size, size), "{kind:?}");
                assert_eq!(icon.data.len(), (size * size * 4) as usize);
                let opaque = icon.data.chunks_exact(4).filter(|p| p[3] > 200).count();
                // A shield covers well over a third of the square, with transparent corners.
                assert!(opaque * 3 > (size * size) as usize, "{kind:?} {size}");
                assert!(icon.data[3] < 50, "{kind:?} {size}: corner not transparent");
            }
        }
    }

    /// "Not by colour alone": the glyphs (pixels that stand out from the shield's fill, inside
    /// the shield) still differ at 16 px.
    #[test]
    fn icons_differ_in_shape_not_only_colour() {
        let shape = |kind| -> Vec<bool> {
            let icon = rgba(kind, 16).unwrap();
            let luma: Vec<i32> = icon
                .data
                .chunks_exact(4)
                .map(|p| (299 * p[0] as i32 + 587 * p[1] as i32 + 114 * p[2] as i32) / 1000)
                .collect();
            let mut opaque: Vec<i32> = luma
                .iter()
                .zip(icon.data.chunks_exact(4))
                .filter(|(_, p)| p[3] > 200)
                .map(|(l, _)| *l)
                .collect();
            opaque.sort();
            let fill = opaque[opaque.len() / 2];
            (0..16 * 16)
                .map(|i| {
                    let (x, y) = (i % 16, i / 16);
                    (3..13).contains(&x) && (2..13).contains(&y) && (luma[i] - fill).abs() > 50
                })
                .collect()
        };
        let kinds = IconKind::ALL;
        for (i, a) in kinds.iter().enumerate() {
            for b in &kinds[i + 1..] {
                let (sa, sb) = (shape(*a), shape(*b));
                let differing = sa.iter().zip(&sb).filter(|(x, y)| x != y).count();
                assert!(
                    differing >= 12,
                    "{a:?} and {b:?} differ in {differing} glyph pixels"
                );
            }
        }
    }
}
