//! Text for a terminal. Anything a target can influence (reasons, witnesses, error
//! messages, ids) goes through [`escape`] before it reaches stdout, stderr or the
//! progress bar, so a hostile target cannot move the cursor, retitle the window, ring
//! the bell or hide a line with escape sequences.
//!
//! [`TermProgress`] is the terminal's [`super::events::Reporter`] of a run: the progress
//! bar, or one line per case, and the run's warnings and notes on stderr.

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

/// How a run reports progress on the terminal (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing (warnings and notes still go to stderr).
    None,
    /// One line per case (for non-terminals).
    Lines,
    /// A progress bar.
    Bar,
}

/// The terminal's view of a run ([`super::events::Reporter`]): a progress bar with a
/// spinner per shrink, or one line per case and per shrink step; warnings and notes on
/// stderr whatever the mode.
#[derive(Debug)]
pub(crate) struct TermProgress {
    mode: Progress,
    state: std::sync::Mutex<TermState>,
}

#[derive(Debug, Default)]
struct TermState {
    multi: Option<indicatif::MultiProgress>,
    bar: Option<indicatif::ProgressBar>,
    shrinks: std::collections::BTreeMap<usize, indicatif::ProgressBar>,
}

impl TermProgress {
    /// Progress in `mode`.
    pub fn new(mode: Progress) -> TermProgress {
        TermProgress {
            mode,
            state: std::sync::Mutex::new(TermState {
                multi: (mode == Progress::Bar).then(indicatif::MultiProgress::new),
                ..TermState::default()
            }),
        }
    }

    fn planned(st: &mut TermState, total: Option<usize>) {
        let Some(m) = &st.multi else { return };
        let b = match total {
            Some(n) => m.add(indicatif::ProgressBar::new(n as u64)),
            None => m.add(indicatif::ProgressBar::new_spinner()),
        };
        let template = if total.is_some() {
            "{bar:30} {pos}/{len} cases {msg}"
        } else {
            "{spinner} {elapsed:>4} {pos} cases (until --duration ends) {msg}"
        };
        b.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        st.bar = Some(b);
    }

    fn judged(&self, st: &TermState, case: &super::events::Judged<'_>) {
        use crate::check::Verdict;
        match (&st.bar, self.mode) {
            (Some(b), _) => {
                b.inc(1);
                if case.verdict == Verdict::Fail {
                    let failed: std::collections::BTreeSet<crate::spec::ReqId> = case
                        .findings
                        .iter()
                        .filter(|f| f.verdict == Verdict::Fail)
                        .map(|f| f.req)
                        .collect();
                    b.println(format!(
                        "FAIL {} ({})",
                        case.id,
                        crate::spec::join(&failed.into_iter().collect::<Vec<_>>(), ", ")
                    ));
                }
            }
            (None, Progress::Lines) => {
                // One write per line: stderr is unbuffered, and `eprintln!` writes each
                // piece of a formatted line with a system call of its own.
                use std::io::Write;
                let line = format!(
                    "{:>6} {} [{} ms]\n",
                    case.verdict.as_str(),
                    case.id,
                    case.duration_ms
                );
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            _ => {}
        }
    }

    fn shrink_started(st: &mut TermState, group: usize) {
        let Some(m) = &st.multi else { return };
        let b = m.add(indicatif::ProgressBar::new_spinner());
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        st.shrinks.insert(group, b);
    }
}

impl super::events::Reporter for TermProgress {
    fn event(&self, e: &super::events::RunEvent<'_>) {
        use super::events::RunEvent;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *e {
            RunEvent::Warning(w) => eprintln!("warning: {w}"),
            RunEvent::Waiting(w) => match (&st.bar, self.mode) {
                (Some(b), _) => b.set_message(w.to_string()),
                (None, Progress::Lines) => eprintln!("{w}"),
                _ => {}
            },
            RunEvent::CasesPlanned { total } => Self::planned(&mut st, total),
            RunEvent::CaseJudged { case, .. } => self.judged(&st, &case),
            RunEvent::CasesDone {
                histories_dropped,
                max_failing_histories,
            } => {
                if let Some(b) = &st.bar {
                    b.finish_and_clear();
                }
                if histories_dropped > 0 {
                    eprintln!(
                        "note: the histories of {histories_dropped} failing cases were not kept (the first {max_failing_histories} were; their findings are in the report)"
                    );
                }
            }
            RunEvent::ShrinkStarted { group } => Self::shrink_started(&mut st, group),
            RunEvent::ShrinkProgress {
                group,
                message,
                elapsed,
            } => match (st.shrinks.get(&group), self.mode) {
                (Some(b), _) => b.set_message(message.to_string()),
                (None, Progress::Lines) => {
                    if let Some(t) = elapsed {
                        eprintln!("{message}, {:.1} s", t.as_secs_f64())
                    }
                }
                _ => {}
            },
            RunEvent::ShrinkDone { group, message } => match (st.shrinks.get(&group), self.mode) {
                (Some(b), _) => b.finish_with_message(message.to_string()),
                (None, Progress::Lines) => eprintln!("{message}"),
                _ => {}
            },
            _ => {}
        }
    }
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
