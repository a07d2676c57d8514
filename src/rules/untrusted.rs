//! Text that came from outside the program (an identity endpoint, a directory server, a file
//! someone else may have written) made safe to show.
//!
//! Such text reaches a terminal, the state file and a balloon title. A hostile or broken endpoint
//! could put terminal escape sequences in it (rewriting what the person sees, setting the window
//! title, hiding text), control characters, right-to-left overrides that make a message read
//! backwards, or a megabyte of padding. Every path that shows endpoint text goes through
//! [`clean`] (or [`clean_or`]) first, so the rule lives in one place. Where the text is shown as
//! markup (a balloon body on a notification server that renders it, a web page), it is escaped
//! with [`escape_markup`] as well, so it cannot add a link or change how the rest reads.

/// How many characters of endpoint text a message keeps: enough for any real error description.
pub const MAX_ENDPOINT_TEXT: usize = 200;

/// `text` without escape sequences, control characters or invisible formatting characters,
/// with runs of whitespace collapsed to one space, trimmed, and cut to `max_chars` characters
/// (an ellipsis marks the cut).
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0;
    let mut pending_space = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            skip_escape_sequence(&mut chars);
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            // Line breaks and tabs separate words; other controls are dropped the same way.
            pending_space = !out.is_empty();
            continue;
        }
        if is_invisible_format(c) {
            continue;
        }
        if count == max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            if count + 1 == max_chars {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// [`clean`] to [`MAX_ENDPOINT_TEXT`] characters, or `fallback` when nothing printable is left.
pub fn clean_or(text: &str, fallback: &str) -> String {
    let cleaned = clean(text, MAX_ENDPOINT_TEXT);
    if cleaned.is_empty() {
        fallback.to_string()
    } else {
        cleaned
    }
}

/// `text` as markup element content that shows it as it is: `&`, `<` and `>` escaped (the
/// entities every markup reader knows: HTML, Pango, the freedesktop notification body subset).
/// Not for attribute values.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Skips the rest of an escape sequence whose ESC was just read: CSI (`ESC [ … final`), OSC and
/// the other string sequences (`ESC ] … BEL` or `ESC ] … ESC \`), or a two-character escape.
fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
                if !(' '..='?').contains(&c) {
                    break;
                }
            }
        }
        Some(']' | 'P' | '^' | '_' | 'X') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                    chars.next();
                    break;
                }
            }
        }
        _ => {}
    }
}

/// Characters that change how text around them is shown without showing themselves: bidi
/// embeddings, overrides and isolates, zero-width characters, the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00ad}'
        | '\u{061c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed_whole() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m text", 200), "red text");
        assert_eq!(
            clean("a\u{1b}]0;new window title\u{7}b", 200),
            "ab",
            "OSC ended by BEL"
        );
        assert_eq!(
            clean("a\u{1b}]8;;http://x\u{1b}\\b", 200),
            "ab",
            "OSC ended by ST"
        );
        assert_eq!(clean("\u{1b}[2J\u{1b}[Hcleared", 200), "cleared");
        assert_eq!(clean("\u{1b}c reset", 200), "reset");
    }

    #[test]
    fn controls_and_invisible_formatting_are_dropped() {
        assert_eq!(clean("data 52e\0\n", 200), "data 52e");
        assert_eq!(
            clean("AADSTS50126: bad\r\nTrace ID: 1", 200),
            "AADSTS50126: bad Trace ID: 1"
        );
        assert_eq!(clean("pay\u{202e}lmth.exe", 200), "paylmth.exe");
        assert_eq!(clean("zero\u{200b}width\u{feff}", 200), "zerowidth");
        assert_eq!(clean("c1\u{9b}31m", 200), "c1 31m");
        assert_eq!(clean("  a \t\t b  ", 200), "a b");
    }

    #[test]
    fn length_is_bounded_in_characters() {
        let long = "é".repeat(10_000);
        let cleaned = clean(&long, 200);
        assert_eq!(cleaned.chars().count(), 201);
        assert!(cleaned.ends_with('…'));
        assert_eq!(clean("abc", 3), "abc");
        assert_eq!(clean("abcd", 3), "abc…");
        assert_eq!(clean("ab cd", 3), "ab…");
    }

    #[test]
    fn markup_is_escaped_to_show_as_text() {
        assert_eq!(
            escape_markup("<a href=\"https://evil.example\">Tom & Jerry's</a>"),
            "&lt;a href=\"https://evil.example\"&gt;Tom &amp; Jerry's&lt;/a&gt;"
        );
        assert_eq!(escape_markup("&amp;"), "&amp;amp;");
    }

    #[test]
    fn nothing_printable_gives_the_fallback() {
        assert_eq!(clean_or("\u{1b}[31m\n\u{7}", "fallback"), "fallback");
        assert_eq!(clean_or("", "fallback"), "fallback");
        assert_eq!(clean_or("ok", "fallback"), "ok");
    }
}
