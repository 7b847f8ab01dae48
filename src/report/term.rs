//! Text for a terminal. Anything a target can influence (reasons, witnesses, error
//! messages, ids) goes through [`escape`] before it reaches stdout, stderr or the
//! progress bar, so a hostile target cannot move the cursor, retitle the window, ring
//! the bell or hide a line with escape sequences.

#![warn(missing_docs)]

use std::fmt::Write as _;

/// `s` with every control character except `\n` and `\t` made visible: C0 controls
/// (ESC, BEL, CR, …), DEL and C1 controls (U+0080..U+009F) become `\x1b`-style
/// escapes (`\u{9b}` for C1). Everything else is kept as is.
pub fn escape(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            let n = c as u32;
            if n < 0x80 {
                let _ = write!(out, "\\x{n:02x}");
            } else {
                let _ = write!(out, "\\u{{{n:x}}}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`] for one line: newlines and tabs become spaces too.
pub fn escape_line(s: &str) -> String {
    escape(&s.replace(['\n', '\t'], " "))
}

fn needs_escape(c: char) -> bool {
    c != '\n' && c != '\t' && (c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_and_text_stays() {
        assert_eq!(escape("plain — text\n\tnext"), "plain — text\n\tnext");
        assert_eq!(escape("\x1b[2J\x07bell"), "\\x1b[2J\\x07bell");
        assert_eq!(escape("a\rb\x7f"), "a\\x0db\\x7f");
        assert_eq!(escape("c1 \u{9b}31m"), "c1 \\u{9b}31m");
        assert_eq!(escape_line("two\nlines\x1b"), "two lines\\x1b");
        assert!(!escape("\x1b]0;title\x07").contains('\x1b'));
    }
}
