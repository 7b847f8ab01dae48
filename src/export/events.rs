//! `--events PATH`: an NDJSON stream, one JSON object a line (issue 14.6): each recorded
//! event of a case with the case id, then one `case_end` line with its verdict.
//!
//! Call from the runner when a case is judged (`src/runner/`), e.g.
//! `crate::export::events::write_case(&mut events_file, &case_report)?` with the file
//! opened once for `--events PATH` (a new run flag with env twin `GWS_EVENTS`).

use std::io::Write;

use serde_json::{Value, json};

use crate::report::types::CaseReport;

/// The NDJSON lines of one case (without newlines).
pub fn case_lines(case: &CaseReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = &case.history {
        for e in &h.events {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("case".into(), json!(case.id));
            }
            out.push(v.to_string());
        }
    }
    out.push(
        json!({
            "type": "case_end",
            "case": case.id,
            "seed": case.seed,
            "verdict": case.verdict,
            "findings": case.findings.len(),
            "duration_ms": case.duration_ms
        })
        .to_string(),
    );
    out
}

/// Writes the lines of `case` to `w`, each followed by `\n`.
pub fn write_case(w: &mut impl Write, case: &CaseReport) -> std::io::Result<()> {
    for l in case_lines(case) {
        w.write_all(l.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()
}
