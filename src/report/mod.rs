//! Reports: JSON, JUnit, HTML, case files and their HAR, curl scripts, baselines, shard
//! merging, normalized transcripts and the `--events` NDJSON stream. Writers only read
//! plain data the runner fills ([`RunReport`], [`events::Judged`]).
//!
//! Every byte a writer puts on disk passes through the run's
//! [`Scrubber`](crate::history::redact::Scrubber) as a last line of defence (see
//! [`scrub_text`] and [`scrub_markup`]).

pub mod baseline;
pub(crate) mod case;
pub mod events;
pub mod har;
pub mod html;
pub mod json;
pub mod junit;
pub(crate) mod table;
pub mod term;
pub mod transcript;
pub(crate) mod types;

pub use baseline::{Baseline, apply_baseline, load_baseline, parse_baseline, today_utc};
pub(crate) use case::write_case_files;
pub use case::{CASE_FORMAT, CaseFile, case_file, curl_script, load_case_file};
pub use html::write_html;
pub use json::{load_report, write_json};
pub use junit::junit_xml;
pub(crate) use junit::write_junit;
pub use table::{merge, requirement_table, requirement_table_with};
pub use transcript::transcript;
pub use types::*;

#[cfg(doc)]
use crate::history::redact::REDACTED;
use crate::history::redact::Scrubber;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why reading or writing a report artefact failed. Every variant names the file (and,
/// where it can, the line/column, entry or field) so a user can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading or writing `path` failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// `path` is not well-formed (JSON/TOML syntax or shape), at `line`:`column` when known.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// `path` parsed but a value in it is not acceptable (`what` names the entry/field).
    #[error("{}: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which entry or field, and why.
        what: String,
    },
    /// Shard reports that cannot be merged.
    #[error("cannot merge shard reports: {0}")]
    Merge(String),
    /// Serializing an artefact failed (should not happen; reported rather than panicking).
    #[error("cannot serialize report: {0}")]
    Serialize(String),
}

/// The files [`write_all`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The report directory.
    pub dir: PathBuf,
    /// `report.json`.
    pub json: PathBuf,
    /// `junit.xml`.
    pub junit: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// One `(cases/<id>.json, cases/<id>.sh)` pair per failing case.
    pub cases: Vec<(PathBuf, PathBuf)>,
    /// `cases/<id>.har` of each failing case that sent a request.
    pub hars: Vec<PathBuf>,
}

impl Written {
    /// Every path written, in writing order.
    pub fn all(&self) -> Vec<PathBuf> {
        let mut v = vec![self.json.clone(), self.junit.clone(), self.html.clone()];
        for (j, s) in &self.cases {
            v.push(j.clone());
            v.push(s.clone());
        }
        v.extend(self.hars.iter().cloned());
        v
    }
}

/// Writes every artefact of a run into `dir` (created if needed): `report.json`,
/// `junit.xml`, `report.html` and, for each case with verdict Fail,
/// `cases/<id>.json` + `cases/<id>.sh` + `cases/<id>.har` (the HAR when the case sent a
/// request).
pub fn write_all(dir: &Path, report: &RunReport, scrub: &Scrubber) -> Result<Written, ReportError> {
    create_dir(dir)?;
    let json = write_json(dir, report, scrub)?;
    let junit = write_junit(dir, report, scrub)?;
    let html = write_html(dir, report, scrub)?;
    let cases = write_case_files(dir, report, scrub)?;
    let hars = case::write_case_hars(dir, report, scrub)?;
    Ok(Written {
        dir: dir.to_path_buf(),
        json,
        junit,
        html,
        cases,
        hars,
    })
}

/// Writes the JUnit report and/or `report.json` of the run folder `dir` again at fixed
/// paths (`--junit PATH`, `--json PATH`), creating their parent folders.
pub fn write_fixed_copies(
    dir: &Path,
    report: &RunReport,
    scrub: &Scrubber,
    junit: Option<&Path>,
    json: Option<&Path>,
) -> Result<(), ReportError> {
    let parent = |p: &Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => create_dir(d),
        _ => Ok(()),
    };
    if let Some(p) = junit {
        parent(p)?;
        let xml = junit::junit_xml_in(report, scrub, dir)?;
        write_file(p, &scrub_markup(scrub, &xml))?;
    }
    if let Some(p) = json {
        parent(p)?;
        json::write_report_json(p, report, scrub)?;
    }
    Ok(())
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `text` to `path` (via a temporary file and a rename, so a reader never sees half
/// a file).
pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Scrubs plain text (JSON, shell): every known secret, also in its JSON-escaped form,
/// becomes [`REDACTED`]. Never produces a quote or backslash, so JSON and single-quoted
/// shell stay well-formed.
pub fn scrub_text(scrub: &Scrubber, text: &str) -> String {
    TextScrubber::new(scrub).scrub(text).into_owned()
}

/// [`scrub_text`] for many texts: the escaped forms of the secrets are worked out once,
/// and a text that holds no secret is borrowed, not copied.
pub(crate) struct TextScrubber<'a> {
    scrub: &'a Scrubber,
    /// The JSON-escaped forms that differ from their secret.
    escaped: Scrubber,
}

impl<'a> TextScrubber<'a> {
    pub(crate) fn new(scrub: &'a Scrubber) -> Self {
        let mut escaped = Scrubber::new();
        for s in scrub.secrets() {
            let e = serde_json::to_string(s).unwrap_or_default();
            let e = e.trim_matches('"');
            if e != s {
                escaped.add_exact(e);
            }
        }
        Self { scrub, escaped }
    }

    pub(crate) fn scrub<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        match self.scrub.scrub_cow(text) {
            std::borrow::Cow::Borrowed(t) => self.escaped.scrub_cow(t),
            std::borrow::Cow::Owned(t) => {
                let again = match self.escaped.scrub_cow(&t) {
                    std::borrow::Cow::Owned(u) => Some(u),
                    std::borrow::Cow::Borrowed(_) => None,
                };
                std::borrow::Cow::Owned(again.unwrap_or(t))
            }
        }
    }
}

/// Scrubs markup (HTML, XML): every known secret, raw or markup-escaped, becomes
/// `&lt;redacted&gt;`, so the replacement cannot itself inject a tag.
pub(crate) fn scrub_markup(scrub: &Scrubber, text: &str) -> String {
    const MARKUP_REDACTED: &str = "&lt;redacted&gt;";
    let mut out = text.to_string();
    for s in scrub.secrets() {
        for form in [escape_markup(s), s.clone()] {
            if form.len() >= 4 && out.contains(form.as_str()) {
                out = out.replace(form.as_str(), MARKUP_REDACTED);
            }
        }
    }
    out
}

/// Escapes `& < > " '` for HTML/XML text and attribute values.
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 forbids (control characters from a hostile target).
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A case id made safe as a file stem: only `[A-Za-z0-9._-]`, no leading dot, never empty.
pub(crate) fn file_stem(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if s.starts_with('.') {
        s.replace_range(0..1, "_");
    }
    if s.is_empty() {
        s.push_str("case");
    }
    s
}

/// The file stem of each failing case (`cases/<stem>.json`), unique within the report
/// even when two ids sanitize to the same stem.
pub fn case_stems(report: &RunReport) -> HashMap<String, String> {
    let mut used = std::collections::HashSet::new();
    let mut out = HashMap::new();
    for c in report
        .cases
        .iter()
        .filter(|c| c.verdict == crate::check::Verdict::Fail)
    {
        if out.contains_key(&c.id) {
            continue;
        }
        let base = file_stem(&c.id);
        let mut stem = base.clone();
        let mut n = 2;
        while !used.insert(stem.to_ascii_lowercase()) {
            stem = format!("{base}-{n}");
            n += 1;
        }
        out.insert(c.id.clone(), stem);
    }
    out
}

/// The command that replays a saved case, from the run folder (`cases/<stem>.json`
/// relative). A case that failed on an external target names that target (without
/// `--target` a replay certifies the embedded reference server, which would not show the
/// failure again) and, when the run used provider-state provisioning, that too (a replay
/// on a `--target` defaults to customer-api, where queue and last agent are not
/// observable). See [`replay_command_in`] for the form printed to users.
pub fn replay_command(stem: &str, report: &types::RunReport) -> String {
    replay_words("gws-conform", &format!("cases/{stem}.json"), report)
}

/// The replay command as printed to users: runnable as is from any directory. The case
/// file is named by its absolute path under `dir` (the run folder), the program as
/// `gws-conform` when that is on `PATH`, else by the absolute path of the running
/// executable. A case that failed on an external target needs the agents' passwords in
/// `GWS_AGENTS` ([`needs_agents`]; [`agents_hint`] is the line that says so).
pub fn replay_command_in(dir: &Path, stem: &str, report: &types::RunReport) -> String {
    let dir = absolute(dir);
    let case = dir.join("cases").join(format!("{stem}.json"));
    replay_words(
        &program_name(),
        &shell_word(&case.display().to_string()),
        report,
    )
}

/// True when replaying a case of `report` needs `GWS_AGENTS` (an external target).
pub fn needs_agents(report: &types::RunReport) -> bool {
    !report.embedded && !report.target.is_empty()
}

/// `GWS_AGENTS=agent1:…,agent2:…` with the run's user names (never a password).
pub fn agents_hint(report: &types::RunReport) -> String {
    let names: Vec<String> = if report.config.agents.is_empty() {
        vec!["USER:…".into()]
    } else {
        report
            .config
            .agents
            .iter()
            .map(|a| format!("{a}:…"))
            .collect()
    };
    format!("GWS_AGENTS={}", shell_word(&names.join(",")))
}

fn replay_words(program: &str, case: &str, report: &types::RunReport) -> String {
    let mut cmd = format!("{program} replay {case}");
    if needs_agents(report) {
        cmd.push_str(" --target ");
        cmd.push_str(&shell_word(&report.target));
        if report.config.provisioning == crate::client::ProvisioningKind::ProviderState {
            cmd.push_str(" --provisioning provider-state");
        }
    }
    cmd
}

/// `path` made absolute (against the current directory), without resolving links.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// How to name this program in a printed command: `gws-conform` when an executable of
/// that name is on `PATH`, else the absolute path of the running executable when it is
/// gws-conform itself (not a test harness linking the library), else `gws-conform`.
pub(crate) fn program_name() -> String {
    const NAME: &str = "gws-conform";
    if let Some(paths) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&paths) {
            if d.is_absolute() && is_executable(&d.join(NAME)) {
                return NAME.into();
            }
        }
    }
    match std::env::current_exe() {
        Ok(exe) if exe.file_stem().and_then(|s| s.to_str()) == Some(NAME) => {
            shell_word(&exe.display().to_string())
        }
        _ => NAME.into(),
    }
}

fn is_executable(p: &Path) -> bool {
    match std::fs::metadata(p) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(m) => m.is_file(),
        Err(_) => false,
    }
}

/// `s` as it can be pasted into a shell: as is when it holds only URL-safe characters,
/// else single-quoted.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/@%+=,".contains(c));
    if plain {
        s.to_string()
    } else {
        case::shell_quote(s)
    }
}

/// Truncates `s` to at most `max` characters, marking the cut with `…`.
pub fn truncate_chars(s: &str, max: usize) -> String {
    truncate(s, max)
}

/// Truncates `s` to at most `max` characters, marking the cut with `…`.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_and_unique() {
        assert_eq!(file_stem("../../etc/passwd"), "_._.._etc_passwd");
        assert!(!file_stem("../x").contains('/'));
        assert_eq!(file_stem(""), "case");
        assert_eq!(file_stem("cmp-04-3"), "cmp-04-3");
    }

    #[test]
    fn markup_scrub_never_injects_a_tag() {
        let mut s = Scrubber::new();
        s.add("p<ss&word");
        let html = format!("<td>{}</td><td>p<ss&word</td>", escape_markup("p<ss&word"));
        let out = scrub_markup(&s, &html);
        assert_eq!(out, "<td>&lt;redacted&gt;</td><td>&lt;redacted&gt;</td>");
    }

    #[test]
    fn text_scrub_catches_json_escaped_secrets() {
        let mut s = Scrubber::new();
        s.add("pa\"ss\\wd");
        let json = serde_json::to_string(&serde_json::json!({"x": "pa\"ss\\wd"})).unwrap();
        let out = scrub_text(&s, &json);
        assert!(!out.contains("ss\\\\wd"), "{out}");
        let _: serde_json::Value = serde_json::from_str(&out).unwrap();
    }
}
