//! `report.json`: the serde form of [`RunReport`], described by
//! `schemas/report.schema.json`.

use super::types::RunReport;
use super::{ReportError, scrub_text, write_file};
use crate::history::redact::Scrubber;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The report's JSON Schema (2020-12), as shipped in `schemas/report.schema.json`.
pub const REPORT_SCHEMA: &str = include_str!("../../schemas/report.schema.json");

/// How deep a written JSON document may nest. serde_json refuses to read documents
/// nested beyond 128 levels ("recursion limit exceeded"); a target can answer a body
/// nested deeper than that, and the report and case files put bodies some ten levels
/// down. Any value deeper than this is written as its JSON text (a string, see
/// [`DEEP_MARK`]), so every file the harness writes reads back (`replay`, `merge`).
pub const MAX_WRITTEN_DEPTH: usize = 96;

/// The prefix of a value written as text because it nested deeper than
/// [`MAX_WRITTEN_DEPTH`] levels.
pub const DEEP_MARK: &str = "(nested too deep to store as JSON; kept as text) ";

/// Serializes `value` with every string (keys included) scrubbed, then scrubs the text
/// again as a last line of defence. Values nested deeper than [`MAX_WRITTEN_DEPTH`] are
/// written as text. Every JSON file the harness writes (report.json, case files, the
/// `--json` copy) goes through here.
pub(crate) fn to_scrubbed_json<T: serde::Serialize>(
    value: &T,
    scrub: &Scrubber,
) -> Result<String, ReportError> {
    let mut v = serde_json::to_value(value).map_err(|e| ReportError::Serialize(e.to_string()))?;
    flatten_deep(&mut v, 0);
    scrub_value(&mut v, scrub);
    let text =
        serde_json::to_string_pretty(&v).map_err(|e| ReportError::Serialize(e.to_string()))?;
    Ok(scrub_text(scrub, &text) + "\n")
}

/// Replaces every array or object at depth `MAX_WRITTEN_DEPTH` (counting from `depth`)
/// by its compact JSON text, marked with [`DEEP_MARK`] (values in memory came through
/// serde_json's parser, so they are at most 128 levels deep: the recursion is bounded).
pub(crate) fn flatten_deep(v: &mut Value, depth: usize) {
    match v {
        Value::Array(_) | Value::Object(_) if depth >= MAX_WRITTEN_DEPTH => {
            let text = serde_json::to_string(v).unwrap_or_default();
            *v = Value::String(format!("{DEEP_MARK}{text}"));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| flatten_deep(x, depth + 1)),
        Value::Object(m) => m.values_mut().for_each(|x| flatten_deep(x, depth + 1)),
        _ => {}
    }
}

/// Scrubs every string in a JSON value (object keys included).
pub(crate) fn scrub_value(v: &mut Value, scrub: &Scrubber) {
    match v {
        Value::String(s) => {
            let t = scrub.scrub(s);
            if t != *s {
                *s = t;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub_value(x, scrub)),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut x) in old {
                scrub_value(&mut x, scrub);
                m.insert(scrub.scrub(&k), x);
            }
        }
        _ => {}
    }
}

/// Writes `dir/report.json` (pretty, scrubbed); returns its path.
pub fn write_json(
    dir: &Path,
    report: &RunReport,
    scrub: &Scrubber,
) -> Result<PathBuf, ReportError> {
    super::create_dir(dir)?;
    let path = dir.join("report.json");
    write_file(&path, &to_scrubbed_json(report, scrub)?)?;
    Ok(path)
}

/// Reads a `report.json` back (e.g. shard reports for `merge`). Errors name the file, the
/// line and column, and what is wrong (e.g. the missing field).
pub fn load_report(path: &Path) -> Result<RunReport, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let report: RunReport = serde_json::from_str(&text).map_err(|e| json_error(path, &e))?;
    if report.format != super::types::REPORT_FORMAT {
        return Err(ReportError::Invalid {
            path: path.to_path_buf(),
            what: format!(
                "field `format`: version {} is not supported (this harness reads {})",
                report.format,
                super::types::REPORT_FORMAT
            ),
        });
    }
    Ok(report)
}

/// A serde_json error as a [`ReportError::Parse`] for `path`.
pub(crate) fn json_error(path: &Path, e: &serde_json::Error) -> ReportError {
    let msg = e.to_string();
    // serde_json appends " at line L column C"; we report them as fields instead.
    let message = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    ReportError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message,
    }
}
