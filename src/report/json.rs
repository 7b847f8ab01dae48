//! `report.json`: the serde form of [`RunReport`], described by
//! `schemas/report.schema.json`.

use super::types::RunReport;
use super::{ReportError, scrub_text};
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
pub fn to_scrubbed_json<T: serde::Serialize>(
    value: &T,
    scrub: &Scrubber,
) -> Result<String, ReportError> {
    let mut v = serde_json::to_value(value).map_err(|e| ReportError::Serialize(e.to_string()))?;
    bound_written(&mut v);
    flatten_deep(&mut v, 0);
    scrub_value(&mut v, scrub);
    let text =
        serde_json::to_string_pretty(&v).map_err(|e| ReportError::Serialize(e.to_string()))?;
    Ok(scrub_text(scrub, &text) + "\n")
}

/// Findings kept per requirement in one `findings` array; the rest are summed up in one
/// last finding of that requirement.
pub(crate) const MAX_FINDINGS_PER_REQ: usize = 20;
/// Bytes of one body or notification `data` written at most (its compact JSON text);
/// a larger one is written as a `raw` body / a string saying it was truncated, with its
/// original length and its first bytes.
pub(crate) const MAX_WRITTEN_BODY: usize = 64 * 1024;
/// Bytes of bodies and notification data written per history at most; past that, they
/// are written as a mark with their original length only.
pub(crate) const MAX_WRITTEN_HISTORY_BODIES: usize = 2 * 1024 * 1024;
/// Events written per history at most; the rest are replaced by one `garbage` Bayeux
/// event (agent `harness`) saying how many were not written.
pub(crate) const MAX_WRITTEN_EVENTS: usize = 5000;
/// The prefix of a body or notification data cut because it was too large to write.
pub(crate) const TRUNCATED_MARK: &str = "(truncated when written: ";

/// What [`bound_written`] dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Findings not written.
    pub findings: usize,
    /// Bodies and notification data truncated.
    pub bodies: usize,
    /// History events not written.
    pub events: usize,
}

impl Dropped {
    /// One line for a report's `errors`, or `None` when nothing was dropped.
    pub fn note(&self) -> Option<String> {
        if *self == Dropped::default() {
            return None;
        }
        Some(format!(
            "report bounded when written: {} findings beyond {MAX_FINDINGS_PER_REQ} per requirement per case not written, {} bodies or notification data truncated (over {MAX_WRITTEN_BODY} bytes each or {MAX_WRITTEN_HISTORY_BODIES} per history), {} history events beyond {MAX_WRITTEN_EVENTS} per history not written",
            self.findings, self.bodies, self.events
        ))
    }
}

/// Bounds what a written file holds, whatever the target sent: at most
/// [`MAX_FINDINGS_PER_REQ`] findings per requirement per `findings` array (then one
/// finding counting the rest), bodies and notification data at most
/// [`MAX_WRITTEN_BODY`] bytes each and [`MAX_WRITTEN_HISTORY_BODIES`] per history, at
/// most [`MAX_WRITTEN_EVENTS`] events per history. A top-level `errors` array (the
/// report's) gets a line saying what was dropped.
pub(crate) fn bound_written(v: &mut Value) -> Dropped {
    let mut d = Dropped::default();
    walk_bound(v, &mut d);
    if let (Some(note), Some(Value::Array(errors))) = (d.note(), v.get_mut("errors")) {
        errors.push(Value::String(note));
    }
    d
}

fn walk_bound(v: &mut Value, d: &mut Dropped) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| walk_bound(x, d)),
        Value::Object(m) => {
            if let Some(Value::Array(f)) = m.get_mut("findings") {
                cap_findings(f, d);
            }
            if let Some(Value::Array(events)) = m.get_mut("events")
                && events.iter().any(|e| e.get("stream").is_some())
            {
                cap_history(events, d);
                return;
            }
            m.values_mut().for_each(|x| walk_bound(x, d));
        }
        _ => {}
    }
}

/// Keeps the first [`MAX_FINDINGS_PER_REQ`] findings of each requirement, then one
/// finding per requirement counting what was not written.
fn cap_findings(f: &mut Vec<Value>, d: &mut Dropped) {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut over: Vec<(String, Value, usize)> = Vec::new();
    f.retain(|x| {
        let req = x
            .get("req")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let n = seen.entry(req.clone()).or_default();
        *n += 1;
        if *n <= MAX_FINDINGS_PER_REQ {
            return true;
        }
        match over.iter_mut().find(|(r, _, _)| *r == req) {
            Some(o) => o.2 += 1,
            None => over.push((req, x.get("verdict").cloned().unwrap_or(Value::Null), 1)),
        }
        false
    });
    for (req, verdict, n) in over {
        d.findings += n;
        f.push(serde_json::json!({
            "req": req,
            "verdict": verdict,
            "reason": format!("{n} more findings of {req} like the ones above, not written (at most {MAX_FINDINGS_PER_REQ} per requirement per case)"),
        }));
    }
}

/// Bounds one history's events: count, then bodies and notification data in bytes.
fn cap_history(events: &mut Vec<Value>, d: &mut Dropped) {
    if events.len() > MAX_WRITTEN_EVENTS {
        let rest = events.len() - (MAX_WRITTEN_EVENTS - 1);
        let first = &events[MAX_WRITTEN_EVENTS - 1];
        let mut mark = serde_json::Map::new();
        for k in ["seq", "t_us", "stream", "stream_seq"] {
            mark.insert(k.into(), first.get(k).cloned().unwrap_or(Value::from(0)));
        }
        mark.insert("type".into(), "bayeux".into());
        mark.insert("agent".into(), "harness".into());
        mark.insert(
            "event".into(),
            serde_json::json!({
                "kind": "garbage",
                "error": format!("history cut when written: {rest} more events from here on not written (at most {MAX_WRITTEN_EVENTS} per history)"),
                "excerpt": "",
            }),
        );
        events.truncate(MAX_WRITTEN_EVENTS - 1);
        events.push(Value::Object(mark));
        d.events += rest;
    }
    let mut budget = MAX_WRITTEN_HISTORY_BODIES;
    for e in events.iter_mut() {
        let Value::Object(m) = e else { continue };
        if let Some(data) = m.get_mut("data") {
            cap_value(data, &mut budget, d);
        }
        if let Some(body) = m.get_mut("body")
            && body.get("kind").and_then(Value::as_str) == Some("json")
            && let Some(inner) = body.get_mut("value")
        {
            if cap_value(inner, &mut budget, d) {
                let text = inner.take();
                *body = serde_json::json!({"kind": "raw", "value": text});
            }
        } else if let Some(Value::Object(body)) = m.get_mut("body")
            && let Some(raw) = body.get_mut("value")
        {
            cap_value(raw, &mut budget, d);
        }
    }
}

/// Replaces `v` by a string saying it was truncated (its first bytes, unless the history
/// budget is spent) when its compact JSON text is over [`MAX_WRITTEN_BODY`] or over what
/// is left of `budget`; returns whether it did.
fn cap_value(v: &mut Value, budget: &mut usize, d: &mut Dropped) -> bool {
    let text = match &*v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    let len = text.len();
    if len <= MAX_WRITTEN_BODY && len <= *budget {
        *budget -= len;
        return false;
    }
    d.bodies += 1;
    let keep = MAX_WRITTEN_BODY.min(*budget).min(len);
    let mut cut = keep;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    *budget -= cut;
    *v = Value::String(format!(
        "{TRUNCATED_MARK}{len} bytes, {cut} kept) {}",
        &text[..cut]
    ));
    true
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
            if let std::borrow::Cow::Owned(t) = scrub.scrub_cow(s) {
                *s = t;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub_value(x, scrub)),
        Value::Object(m) => {
            m.values_mut().for_each(|x| scrub_value(x, scrub));
            // Keys are rebuilt (in order) only when one holds a secret.
            if m.keys()
                .any(|k| matches!(scrub.scrub_cow(k), std::borrow::Cow::Owned(_)))
            {
                let old = std::mem::take(m);
                for (k, x) in old {
                    m.insert(scrub.scrub(&k), x);
                }
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
    write_report_json(&path, report, scrub)?;
    Ok(path)
}

/// `report` without its cases (written one at a time after the other fields).
fn head_of(report: &RunReport) -> RunReport {
    RunReport {
        format: report.format,
        run_id: report.run_id.clone(),
        target: report.target.clone(),
        embedded: report.embedded,
        seed: report.seed,
        harness_version: report.harness_version.clone(),
        started_at: report.started_at.clone(),
        duration_ms: report.duration_ms,
        config: report.config.clone(),
        overall: report.overall,
        exit_code: report.exit_code,
        requirements: report.requirements.clone(),
        cases: Vec::new(),
        errors: report.errors.clone(),
        groups: report.groups.clone(),
        coverage: report.coverage.clone(),
        unlisted: report.unlisted.clone(),
        interrupted: report.interrupted.clone(),
    }
}

/// Writes `report` as `report.json` at `path` one case at a time (the same text as
/// [`to_scrubbed_json`] of the whole report, without ever holding it: a run of 100,000
/// cases writes its report in constant memory beyond the report itself). Written to a
/// temporary file first and renamed, so a reader never sees half a file.
pub(crate) fn write_report_json(
    path: &Path,
    report: &RunReport,
    scrub: &Scrubber,
) -> Result<(), ReportError> {
    use std::io::Write;
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let ser = |e: serde_json::Error| ReportError::Serialize(e.to_string());
    let mut head = serde_json::to_value(head_of(report)).map_err(ser)?;
    let mut dropped = Dropped::default();
    walk_bound(&mut head, &mut dropped);
    let Value::Object(fields) = head else {
        return Err(ReportError::Serialize(
            "the report is not a JSON object".into(),
        ));
    };
    let tmp = path.with_extension("json.tmp");
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    let texts = super::TextScrubber::new(scrub);
    // One buffer for every case's text (a report of 100,000 cases allocates it once).
    let mut buf: Vec<u8> = Vec::new();
    // Writes the text in `buf` scrubbed, each line after the first indented by `indent`.
    // No scrub of each string before: JSON escaping is per character, so a secret in a
    // string (or key) is in the text as its JSON-escaped form, which the text scrubber
    // replaces with the same `<redacted>` (one pass over the text, not two).
    let put = |w: &mut std::io::BufWriter<std::fs::File>,
               buf: &[u8],
               indent: &[u8]|
     -> Result<(), ReportError> {
        let t = std::str::from_utf8(buf).map_err(|e| ReportError::Serialize(e.to_string()))?;
        let t = texts.scrub(t);
        for (i, line) in t.split('\n').enumerate() {
            if i > 0 {
                w.write_all(b"\n").map_err(io)?;
                w.write_all(indent).map_err(io)?;
            }
            w.write_all(line.as_bytes()).map_err(io)?;
        }
        Ok(())
    };
    w.write_all(b"{\n").map_err(io)?;
    let n = fields.len();
    for (i, (key, mut value)) in fields.into_iter().enumerate() {
        let key_text = texts
            .scrub(&serde_json::to_string(&key).map_err(ser)?)
            .into_owned();
        write!(w, "  {key_text}: ").map_err(io)?;
        if key == "cases" {
            if report.cases.is_empty() {
                w.write_all(b"[]").map_err(io)?;
            } else {
                w.write_all(b"[").map_err(io)?;
                for (j, case) in report.cases.iter().enumerate() {
                    buf.clear();
                    if writes_plain(case) {
                        // Nothing to bound or flatten: straight to text.
                        serde_json::to_writer_pretty(&mut buf, case).map_err(ser)?;
                    } else {
                        let mut cv = serde_json::to_value(case).map_err(ser)?;
                        walk_bound(&mut cv, &mut dropped);
                        flatten_deep(&mut cv, 2);
                        serde_json::to_writer_pretty(&mut buf, &cv).map_err(ser)?;
                    }
                    w.write_all(b"\n    ").map_err(io)?;
                    put(&mut w, &buf, b"    ")?;
                    if j + 1 < report.cases.len() {
                        w.write_all(b",").map_err(io)?;
                    }
                }
                w.write_all(b"\n  ]").map_err(io)?;
            }
        } else {
            if key == "errors"
                && let (Some(note), Value::Array(errors)) = (dropped.note(), &mut value)
            {
                errors.push(Value::String(note));
            }
            flatten_deep(&mut value, 1);
            buf.clear();
            serde_json::to_writer_pretty(&mut buf, &value).map_err(ser)?;
            put(&mut w, &buf, b"  ")?;
        }
        w.write_all(if i + 1 < n { b",\n" } else { b"\n" })
            .map_err(io)?;
    }
    w.write_all(b"}\n").map_err(io)?;
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(io)
}

/// Whether `case` is written the same without going through a `Value` first: nothing
/// [`walk_bound`] or [`flatten_deep`] would change. True for the usual passing case (no
/// history kept, a few findings per requirement, small generated bodies); any doubt
/// (a history, many findings, a body nesting deep or holding a `findings` or `events`
/// key) takes the `Value` path.
fn writes_plain(case: &super::types::CaseReport) -> bool {
    use crate::history::{Body, Step};
    // Containers a step body may nest: the case is at depth 2 and a body's value some
    // five levels below it; 64 more stay well under MAX_WRITTEN_DEPTH.
    const BODY_DEPTH: usize = 64;
    fn body(v: &Value, left: usize) -> bool {
        match v {
            Value::Array(a) => left > 0 && a.iter().all(|x| body(x, left - 1)),
            Value::Object(m) => {
                left > 0
                    && !m.contains_key("findings")
                    && !m.contains_key("events")
                    && m.values().all(|x| body(x, left - 1))
            }
            _ => true,
        }
    }
    fn steps(s: &[Step], left: usize) -> bool {
        s.iter().all(|s| match s {
            Step::AgentPost {
                body: Body::Json(v),
                ..
            } => body(v, left),
            Step::Concurrent { steps: inner } => left > 2 && steps(inner, left - 2),
            _ => true,
        })
    }
    if case.history.is_some() || !steps(&case.steps, BODY_DEPTH) {
        return false;
    }
    let mut per_req: Vec<(crate::spec::ReqId, usize)> = Vec::new();
    for f in &case.findings {
        match per_req.iter_mut().find(|(r, _)| *r == f.req) {
            Some((_, n)) if *n >= MAX_FINDINGS_PER_REQ => return false,
            Some((_, n)) => *n += 1,
            None => per_req.push((f.req, 1)),
        }
    }
    true
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

#[cfg(test)]
mod bound_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn findings_are_capped_per_requirement_and_the_rest_counted() {
        let f: Vec<Value> = (0..50)
            .map(|i| json!({"req": if i % 2 == 0 { "NTF-01" } else { "NTF-02" }, "verdict": "fail", "reason": i.to_string()}))
            .collect();
        let mut v = json!({"errors": [], "cases": [{"findings": f}]});
        let d = bound_written(&mut v);
        assert_eq!(d.findings, 10);
        let f = v["cases"][0]["findings"].as_array().unwrap();
        assert_eq!(f.len(), 42);
        assert!(
            f[41]["reason"]
                .as_str()
                .unwrap()
                .starts_with("5 more findings of NTF-02")
        );
        assert!(v["errors"][0].as_str().unwrap().contains("10 findings"));
    }

    #[test]
    fn large_bodies_and_long_histories_are_cut_with_their_length() {
        let big = "z".repeat(MAX_WRITTEN_BODY + 10);
        let mut events = vec![
            json!({"seq": 0, "t_us": 0, "stream": "s", "stream_seq": 0, "type": "response", "body": {"kind": "json", "value": {"t": big}}}),
            json!({"seq": 1, "t_us": 0, "stream": "s", "stream_seq": 1, "type": "notification", "agent": "a", "channel": "c", "data": {"small": 1}}),
        ];
        for i in 2..MAX_WRITTEN_EVENTS + 5 {
            events.push(json!({"seq": i, "t_us": 0, "stream": "s", "stream_seq": i, "type": "notification", "agent": "a", "channel": "c", "data": 1}));
        }
        let mut v = json!({"history": {"events": events}});
        let d = bound_written(&mut v);
        let ev = v["history"]["events"].as_array().unwrap();
        assert_eq!(ev.len(), MAX_WRITTEN_EVENTS);
        assert_eq!(d.events, 6);
        assert_eq!(d.bodies, 1);
        assert_eq!(ev[0]["body"]["kind"], "raw");
        let text = ev[0]["body"]["value"].as_str().unwrap();
        assert!(text.starts_with(TRUNCATED_MARK), "{text:.80}");
        assert!(text.contains(&format!("{} bytes", MAX_WRITTEN_BODY + 18)));
        assert!(text.len() < MAX_WRITTEN_BODY + 100);
        assert_eq!(ev[1]["data"], json!({"small": 1}));
        let last = ev.last().unwrap();
        assert_eq!(last["seq"], json!(MAX_WRITTEN_EVENTS - 1));
        assert!(
            last["event"]["error"]
                .as_str()
                .unwrap()
                .contains("6 more events")
        );
    }
}
