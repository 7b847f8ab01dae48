//! Baselines: a TOML file of known failures that a CI gate accepts for now.
//!
//! ```toml
//! [[waive]]
//! id = "CMP-04"
//! reason = "vendor ticket 1234: message arrives after the status change"
//! expires = "2027-01-31"   # optional, YYYY-MM-DD (a TOML date literal works too)
//! ```

use super::ReportError;
use super::table::overall_of;
use super::types::{Overall, RunReport};
use crate::check::Verdict;
use crate::spec::ReqId;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One `[[waive]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// Requirement id from the catalogue.
    pub id: ReqId,
    /// Why the failure is accepted (shown in every report instead of the failure).
    pub reason: String,
    /// Last day (inclusive, UTC) the waiver applies, as `(year, month, day)`.
    pub expires: Option<(i32, u32, u32)>,
}

/// A parsed baseline file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// The `[[waive]]` entries, in file order.
    pub waivers: Vec<Waiver>,
}

/// The file as written: serde checks the shape (unknown keys, types) with line and
/// column; the meaning (catalogue id, non-empty reason, calendar date) is checked after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    #[serde(default)]
    waive: Vec<WaiveEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiveEntry {
    id: Option<String>,
    reason: Option<String>,
    expires: Option<toml::Value>,
}

/// Reads and checks a baseline file. Errors name the file, the entry (`waive[2]`) and the
/// field: unknown requirement id, missing or empty reason, malformed date, unknown key,
/// the same id twice.
pub fn load_baseline(path: &Path) -> Result<Baseline, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_baseline(path, &text)
}

/// [`load_baseline`] on text already read; `path` is only used in messages.
pub fn parse_baseline(path: &Path, text: &str) -> Result<Baseline, ReportError> {
    let invalid = |what: String| ReportError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    let file: BaselineFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        ReportError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_string(),
        }
    })?;
    let mut waivers: Vec<Waiver> = Vec::new();
    for (i, entry) in file.waive.into_iter().enumerate() {
        let at = format!("waive[{}]", i + 1);
        let Some(raw_id) = entry.id else {
            return Err(invalid(format!("{at}: field `id` is missing")));
        };
        let Some(id) = ReqId::parse(&raw_id) else {
            return Err(invalid(format!(
                "{at}: field `id`: unknown requirement id {:?} (see SPEC §3)",
                raw_id.trim()
            )));
        };
        let at = format!("{at} ({id})");
        let reason = match entry.reason {
            Some(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return Err(invalid(format!(
                    "{at}: field `reason` is missing or empty: say why the failure is accepted"
                )));
            }
        };
        let expires = match entry.expires {
            None => None,
            Some(toml::Value::String(s)) => Some(parse_date(&s).ok_or_else(|| {
                invalid(format!(
                    "{at}: field `expires`: {s:?} is not a date YYYY-MM-DD"
                ))
            })?),
            Some(toml::Value::Datetime(d)) => match (d.date, d.time) {
                (Some(date), None) => Some((
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )),
                _ => {
                    return Err(invalid(format!(
                        "{at}: field `expires`: {d} is not a plain date YYYY-MM-DD"
                    )));
                }
            },
            Some(other) => {
                return Err(invalid(format!(
                    "{at}: field `expires`: expected a date YYYY-MM-DD, got {other}"
                )));
            }
        };
        if waivers.iter().any(|w| w.id == id) {
            return Err(invalid(format!("{at}: requirement {id} is waived twice")));
        }
        waivers.push(Waiver {
            id,
            reason,
            expires,
        });
    }
    Ok(Baseline {
        path: path.to_path_buf(),
        waivers,
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses `YYYY-MM-DD` into a valid calendar date.
fn parse_date(s: &str) -> Option<(i32, u32, u32)> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let s = s.trim();
    // `[year]` also takes a sign and more digits: only the plain form is a date here.
    if s.len() != 10 || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let d = time::Date::parse(s, &format).ok()?;
    Some((d.year(), u32::from(u8::from(d.month())), u32::from(d.day())))
}

/// Applies `baseline` to `report` as of `today` (`(year, month, day)`, UTC):
///
/// - a listed requirement that Fails becomes Waived, its reason `waived: <reason>`;
/// - a listed requirement that Passes gets `waiver_unused = true` (so the entry can be
///   removed); one that was not exercised (Skip, e.g. outside `--only` or this shard) or
///   Errored says nothing about the waiver and is left unflagged;
/// - an expired waiver (today after `expires`) waives nothing and adds a run error naming
///   it; it makes the run NotConformant even when its requirement passes (our choice,
///   SPEC is silent: an expired baseline entry is a CI configuration failure that must be
///   seen, the way an unused one is).
///
/// `overall` and `exit_code` are recomputed; `config.baseline` records the file.
pub fn apply_baseline(report: &mut RunReport, baseline: &Baseline, today: (i32, u32, u32)) {
    let mut expired_any = false;
    for w in &baseline.waivers {
        let Some(row) = report
            .requirements
            .iter_mut()
            .find(|r| r.id == w.id.as_str())
        else {
            continue;
        };
        if let Some(exp) = w.expires
            && today > exp
        {
            expired_any = true;
            let line = format!(
                "baseline {}: the waiver of {} expired on {:04}-{:02}-{:02} ({}); it no longer waives anything: fix the failure or renew the waiver",
                baseline.path.display(),
                w.id,
                exp.0,
                exp.1,
                exp.2,
                w.reason
            );
            if !report.errors.contains(&line) {
                report.errors.push(line);
            }
            continue;
        }
        if row.verdict == Verdict::Waived {
            // Already applied (apply_baseline is idempotent).
            continue;
        }
        if row.verdict == Verdict::Fail {
            row.verdict = Verdict::Waived;
            row.reason = format!("waived: {} (was: {})", w.reason, row.reason);
        } else if row.verdict == Verdict::Pass {
            row.waiver_unused = true;
        }
    }
    let any_case_ran = !report.cases.is_empty();
    let mut overall = overall_of(&report.requirements, report.config.strict, any_case_ran);
    if expired_any {
        overall = Overall::NotConformant;
    }
    // Run-level harness errors other than expired waivers keep a Conformant run from
    // certifying, and a signal leaves it Interrupted (see `table::settled`).
    overall = super::table::settled(
        overall,
        !report.errors.is_empty(),
        report.interrupted.is_some(),
    );
    report.overall = overall;
    report.exit_code = overall.exit_code();
    report.config.baseline = Some(baseline.path.display().to_string());
}

/// Today's date in UTC as `(year, month, day)`, for [`apply_baseline`].
pub fn today_utc() -> (i32, u32, u32) {
    let d = time::OffsetDateTime::now_utc().date();
    (d.year(), u32::from(u8::from(d.month())), u32::from(d.day()))
}

/// The proleptic Gregorian date of `days` since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let d = time::OffsetDateTime::UNIX_EPOCH.date() + time::Duration::days(days);
    (d.year(), u32::from(u8::from(d.month())), u32::from(d.day()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_from_epoch_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert!(today_utc().0 >= 2025);
    }

    #[test]
    fn dates_are_checked_on_the_calendar() {
        assert_eq!(parse_date("2027-01-31"), Some((2027, 1, 31)));
        assert_eq!(parse_date("2028-02-29"), Some((2028, 2, 29)));
        assert_eq!(parse_date("2027-02-29"), None);
        assert_eq!(parse_date("2027-13-01"), None);
        assert_eq!(parse_date("27-01-01"), None);
        assert_eq!(parse_date("tomorrow"), None);
    }
}
