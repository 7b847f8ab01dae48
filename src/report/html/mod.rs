//! `report.html`: one self-contained page (inline CSS, no script, no external resource):
//! run header and overall verdict, the requirement table, and for each failing case its
//! witness in words, an inline SVG sequence diagram of its history, the replay command
//! and links to its case file and curl script.
//!
//! Every string that comes from the run (and so possibly from a hostile target) goes
//! through [`escape_markup`]; the finished page is scrubbed again.

use super::types::{CaseReport, Overall, RunReport};
use super::{
    ReportError, case_stems, escape_markup, replay_command, replay_command_in, scrub_markup,
    truncate, write_file,
};
use crate::check::{Finding, Verdict};
use crate::history::redact::Scrubber;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

mod sequence;

use sequence::events_table;
pub use sequence::sequence_svg;
pub(crate) use sequence::sequence_svg_with_id;

/// At most this many events are drawn per diagram (the rest is summarized), so a flood
/// from a hostile target cannot make the page unbounded.
pub const MAX_DIAGRAM_EVENTS: usize = 400;

const CSS: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em} h2{font-size:1.15em;margin-top:2em} h3{font-size:1em}
table{border-collapse:collapse;width:100%} th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2} td.n{text-align:right;font-variant-numeric:tabular-nums}
.v{font-weight:600;text-transform:uppercase;font-size:.85em;padding:.1em .4em;border-radius:3px}
.pass{background:#d7f5dd;color:#0b5a1c}.fail{background:#fbd5d5;color:#8a0f0f}.skip{background:#eee;color:#555}
.waived{background:#fff1c2;color:#6b5200}.error{background:#e6d9ff;color:#3d1d8a}
.overall{font-size:1.2em;padding:.4em .8em;display:inline-block;border-radius:4px}
.conformant{background:#d7f5dd}.not_conformant{background:#fbd5d5}.harness_error{background:#e6d9ff}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.1em 1em} dl.meta dt{font-weight:600}
pre,code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em} pre{background:#f7f7f7;padding:.5em;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
code{overflow-wrap:anywhere} td,dd,li,p{overflow-wrap:anywhere}
table.events{font-size:.9em;margin-top:.5em} table.events td.n{white-space:nowrap}
table.events summary{cursor:pointer;font-family:ui-monospace,Menlo,Consolas,monospace}
table.events pre{margin:.3em 0 0} tr.hot td{background:#fff0f0} tr.hot summary{color:#a00;font-weight:600}
details.events>summary{cursor:pointer;margin:.5em 0;font-weight:600}
.witness dt{font-weight:600}.witness dd{margin:0 0 .5em 1em}
svg{max-width:100%;height:auto;border:1px solid #ddd;background:#fcfcfc}
.case{border-top:2px solid #ccc;margin-top:1.5em}
#requirements td:first-child,#requirements td:nth-child(2),#requirements td:nth-child(4),td.n{white-space:nowrap;overflow-wrap:normal}
#requirements th{font-size:.85em} #requirements td.n{padding:.25em .3em}
#coverage{font-size:.85em} #coverage td:first-child{white-space:nowrap;overflow-wrap:normal}
.glance{border:2px solid #d33;background:#fff6f6;padding:.3em .8em;margin:.8em 0}
.glance ul{margin:.3em 0;padding-left:1.2em}
"#;

fn esc(s: &str) -> String {
    escape_markup(s)
}

fn verdict_badge(v: Verdict) -> String {
    format!("<span class=\"v {0}\">{0}</span>", v.as_str())
}

/// The whole page (scrubbed), with replay commands relative to the run folder.
pub fn render_html(report: &RunReport, scrub: &Scrubber) -> String {
    render_page(report, scrub, None)
}

/// The whole page (scrubbed) as written into the run folder `dir`: replay commands
/// name the case files by absolute path (see [`super::replay_command_in`]).
pub(crate) fn render_html_in(report: &RunReport, scrub: &Scrubber, dir: &Path) -> String {
    render_page(report, scrub, Some(dir))
}

fn render_page(report: &RunReport, scrub: &Scrubber, dir: Option<&Path>) -> String {
    let stems = case_stems(report);
    let mut h = String::new();
    page_header(&mut h, report);
    failing_at_a_glance(&mut h, report);
    if !report.errors.is_empty() {
        h.push_str("<h2>Run errors</h2><ul>");
        for e in &report.errors {
            let _ = write!(h, "<li>{}</li>", esc(e));
        }
        h.push_str("</ul>\n");
    }

    requirement_table(&mut h, report);
    if let Some(cov) = &report.coverage {
        coverage_section(&mut h, cov);
    }
    failures(&mut h, report, &stems, dir);
    h.push_str("</body></html>\n");
    scrub_markup(scrub, &h)
}

/// The head of the page, the overall verdict, the run's facts and the summary of the
/// requirement verdicts.
fn page_header(h: &mut String, report: &RunReport) {
    let (oclass, otext) = match report.overall {
        Overall::Conformant => ("conformant", "CONFORMANT"),
        Overall::NotConformant => ("not_conformant", "NOT CONFORMANT"),
        Overall::Error => ("harness_error", "ERROR (harness or environment)"),
        Overall::Interrupted => ("harness_error", "INTERRUPTED (stopped by a signal)"),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>gws-conform report {}</title><style>{CSS}</style></head><body>\n",
        esc(&report.run_id)
    );
    let _ = write!(
        h,
        "<h1>gws-conform report</h1>\n<p class=\"overall {oclass}\" id=\"overall\">{otext} (exit {})</p>\n<dl class=\"meta\">",
        report.exit_code
    );
    let shown_target = if report.embedded {
        format!("{} (embedded reference server)", report.target)
    } else {
        report.target.clone()
    };
    for (k, v) in [
        ("target", shown_target),
        ("seed", report.seed.to_string()),
        ("run id", report.run_id.clone()),
        ("harness version", report.harness_version.clone()),
        ("report format", report.format.to_string()),
        ("started", report.started_at.clone()),
        ("duration", format!("{} ms", report.duration_ms)),
        ("provisioning", report.config.provisioning.to_string()),
        ("agents", report.config.agents.join(", ")),
        ("cases", report.case_count().to_string()),
        (
            "deadline / quiet window",
            format!(
                "{} ms / {} ms",
                report.config.deadline_ms, report.config.quiet_window_ms
            ),
        ),
        ("strict", report.config.strict.to_string()),
        (
            "shard",
            report.config.shard.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "baseline",
            report.config.baseline.clone().unwrap_or_else(|| "-".into()),
        ),
    ] {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    h.push_str("</dl>\n");
    let mut by = [0usize; 5];
    for r in &report.requirements {
        by[r.verdict as usize] += 1;
    }
    let _ = writeln!(
        h,
        "<p id=\"summary\">{} requirements: {} pass, {} fail, {} skip, {} waived, {} error</p>",
        report.requirements.len(),
        by[Verdict::Pass as usize],
        by[Verdict::Fail as usize],
        by[Verdict::Skip as usize],
        by[Verdict::Waived as usize],
        by[Verdict::Error as usize]
    );
}

/// The requirement table, with links to the failing cases.
fn requirement_table(h: &mut String, report: &RunReport) {
    h.push_str("<h2>Requirements</h2>\n<table id=\"requirements\"><thead><tr><th>id</th><th>level</th><th>requirement</th><th>verdict</th><th>reason</th><th>pass</th><th>fail</th><th>skip</th><th>waived</th><th>error</th></tr></thead><tbody>\n");
    for r in &report.requirements {
        let mut reason = esc(&truncate(&r.reason, 600));
        if r.waiver_unused {
            reason.push_str(" <em>(waiver unused: remove it from the baseline)</em>");
        }
        if !r.failing_cases.is_empty() {
            reason.push_str("<br>cases: ");
            let links: Vec<String> = r
                .failing_cases
                .iter()
                .map(|c| format!("<a href=\"#case-{}\">{}</a>", esc(&anchor(c)), esc(c)))
                .collect();
            reason.push_str(&links.join(", "));
        }
        let _ = writeln!(
            h,
            "<tr id=\"req-{0}\"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td class=\"n\">{5}</td><td class=\"n\">{6}</td><td class=\"n\">{7}</td><td class=\"n\">{8}</td><td class=\"n\">{9}</td></tr>",
            esc(&r.id),
            r.level.as_str(),
            esc(&r.text),
            verdict_badge(r.verdict),
            reason,
            r.counts.pass,
            r.counts.fail,
            r.counts.skip,
            r.counts.waived,
            r.counts.error
        );
    }
    h.push_str("</tbody></table>\n");
}

/// The failing cases (in their groups when the run grouped them), then the cases that
/// ended in a harness error.
fn failures(
    h: &mut String,
    report: &RunReport,
    stems: &std::collections::HashMap<String, String>,
    dir: Option<&Path>,
) {
    let failing: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    if !failing.is_empty() {
        h.push_str("<h2>Failures</h2>\n");
    }
    match &report.groups {
        Some(groups) if !groups.is_empty() => {
            failure_groups(h, groups, &failing, stems, report, dir)
        }
        _ => {
            for c in failing {
                case_section(h, c, stems.get(&c.id).map(String::as_str), report, dir);
            }
        }
    }
    let errored: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Error)
        .collect();
    if !errored.is_empty() {
        h.push_str("<h2>Harness errors</h2><ul>\n");
        for c in errored {
            for f in c.findings.iter().filter(|f| f.verdict == Verdict::Error) {
                let _ = writeln!(
                    h,
                    "<li>case {} — {}: {}</li>",
                    esc(&c.id),
                    esc(f.req.as_str()),
                    esc(&f.reason)
                );
            }
        }
        h.push_str("</ul>\n");
    }
}

/// At most this many parameter classes are listed per requirement (the rest counted).
const CLASSES_SHOWN: usize = 12;

/// The coverage figures: per requirement, how many cases exercised it, in which chat
/// states and with which parameter classes of Complete; then the pairs × states.
fn coverage_section(h: &mut String, cov: &super::CoverageSummary) {
    let _ = writeln!(
        h,
        "<h2>Coverage</h2>\n<p id=\"coverage-summary\">{} cases planned, {} of them in the coverage phase. What each Pass rests on:</p>",
        cov.cases, cov.coverage_cases
    );
    h.push_str("<table id=\"coverage\"><thead><tr><th>id</th><th>cases</th><th>states</th><th>parameter classes</th></tr></thead><tbody>\n");
    for (id, r) in &cov.requirements {
        let states = if r.states.is_empty() {
            "-".to_string()
        } else {
            r.states.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        let mut classes: Vec<String> = r.classes.iter().take(CLASSES_SHOWN).cloned().collect();
        if r.classes.len() > CLASSES_SHOWN {
            classes.push(format!("… {} more", r.classes.len() - CLASSES_SHOWN));
        }
        let classes = if classes.is_empty() {
            "-".to_string()
        } else {
            classes.join(", ")
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            r.cases,
            esc(&states),
            esc(&classes)
        );
    }
    h.push_str("</tbody></table>\n");
    let p = &cov.pairs;
    let pct = if p.possible == 0 {
        100.0
    } else {
        p.covered as f64 * 100.0 / p.possible as f64
    };
    let _ = writeln!(
        h,
        "<p id=\"coverage-pairs\">Pairs of Complete's parameter classes × states in which Complete is legal: {} of {} covered ({pct:.1} %).</p>",
        p.covered, p.possible
    );
    if !p.missing.is_empty() {
        let _ = write!(
            h,
            "<details><summary>{} pairs not covered</summary><ul>",
            p.missing.len()
        );
        for m in &p.missing {
            let _ = write!(h, "<li><code>{}</code></li>", esc(m));
        }
        h.push_str("</ul></details>\n");
    }
}

/// Failures grouped by anomaly (their signature, with the requirements they touched):
/// one timeline per group (its representative's), the other cases of the group as links
/// to their case files; failing cases no group names (a `session` failure) keep their
/// own section.
fn failure_groups(
    h: &mut String,
    groups: &[super::FailureGroup],
    failing: &[&CaseReport],
    stems: &std::collections::HashMap<String, String>,
    report: &RunReport,
    dir: Option<&Path>,
) {
    let _ = writeln!(
        h,
        "<p>{} distinct failure{} in {} failing case{}.</p>",
        groups.len(),
        if groups.len() == 1 { "" } else { "s" },
        groups.iter().map(|g| 1 + g.others.len()).sum::<usize>(),
        if groups.iter().map(|g| 1 + g.others.len()).sum::<usize>() == 1 {
            ""
        } else {
            "s"
        }
    );
    let mut named = std::collections::BTreeSet::new();
    for (n, g) in groups.iter().enumerate() {
        named.insert(g.representative.as_str());
        let _ = writeln!(
            h,
            "<section class=\"group\" id=\"group-{}\"><h3>failure {}: {} <small>({})</small></h3>",
            n + 1,
            n + 1,
            esc(&g.signature),
            g.requirements
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            h,
            "<p>Representative <a href=\"#case-{}\">{}</a>: {} steps, shrunk to {} in {}/{} re-runs, {} ms (limit {} ms).{}</p>",
            esc(&anchor(&g.representative)),
            esc(&g.representative),
            g.original_steps,
            g.shrunk_steps,
            g.runs,
            g.budget,
            g.elapsed_ms,
            g.limit_ms,
            g.stopped
                .as_ref()
                .map(|w| format!(" <strong>Shrinking stopped early: {}.</strong>", esc(w)))
                .unwrap_or_default()
        );
        if !g.kept.is_empty() {
            h.push_str("<p>Steps that could not be removed:</p><ul>");
            for k in &g.kept {
                let _ = write!(h, "<li>{}</li>", esc(k));
            }
            h.push_str("</ul>\n");
        }
        if let Some(c) = failing.iter().find(|c| c.id == g.representative) {
            case_section(h, c, stems.get(&c.id).map(String::as_str), report, dir);
        }
        if !g.others.is_empty() {
            let _ = writeln!(
                h,
                "<p>{} other case{} with this failure:</p><ul class=\"others\">",
                g.others.len(),
                if g.others.len() == 1 { "" } else { "s" }
            );
            for o in &g.others {
                named.insert(o.as_str());
                let link = match stems.get(o) {
                    Some(stem) => {
                        let har = failing.iter().any(|c| c.id == *o && super::har::has_har(c));
                        format!(
                            " — <a href=\"cases/{0}.json\">cases/{0}.json</a>{1}",
                            esc(stem),
                            if har {
                                format!(" · <a href=\"cases/{0}.har\">HAR</a>", esc(stem))
                            } else {
                                String::new()
                            }
                        )
                    }
                    None => String::new(),
                };
                let _ = write!(
                    h,
                    "<li id=\"case-{}\">{}{link}</li>",
                    esc(&anchor(o)),
                    esc(o)
                );
            }
            h.push_str("</ul>\n");
        }
        h.push_str("</section>\n");
    }
    for c in failing.iter().filter(|c| !named.contains(c.id.as_str())) {
        case_section(h, c, stems.get(&c.id).map(String::as_str), report, dir);
    }
}

/// Right under the summary: every failing requirement, linked to its row and to its
/// first failing case, so a failure is found without scrolling past the whole table.
fn failing_at_a_glance(h: &mut String, report: &RunReport) {
    let failed: Vec<_> = report
        .requirements
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .collect();
    if failed.is_empty() {
        return;
    }
    h.push_str("<div class=\"glance\" id=\"failing\"><strong>Failing requirements</strong><ul>\n");
    for r in failed {
        let case = r
            .failing_cases
            .first()
            .map(|c| {
                format!(
                    " — case <a href=\"#case-{}\">{}</a>",
                    esc(&anchor(c)),
                    esc(c)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<li><a href=\"#req-{0}\">{0}</a> ({1}) {2}: {3}{case}</li>",
            esc(&r.id),
            r.level.as_str(),
            verdict_badge(r.verdict),
            esc(&truncate(&r.reason, 200))
        );
    }
    h.push_str("</ul></div>\n");
}

fn anchor(id: &str) -> String {
    super::file_stem(id)
}

fn case_section(
    h: &mut String,
    c: &CaseReport,
    stem: Option<&str>,
    report: &RunReport,
    dir: Option<&Path>,
) {
    let _ = writeln!(
        h,
        "<section class=\"case\" id=\"case-{}\"><h3>case {} {} <small>(seed {}, {} steps{}, {} ms)</small></h3>",
        esc(&anchor(&c.id)),
        esc(&c.id),
        verdict_badge(c.verdict),
        c.seed,
        c.steps.len(),
        c.original_steps
            .map(|o| format!(", shrunk from {o}"))
            .unwrap_or_default(),
        c.duration_ms
    );
    let fails: Vec<&Finding> = c
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .collect();
    for f in &fails {
        let _ = write!(
            h,
            "<dl class=\"witness\"><dt>{} failed</dt><dd>{}</dd>",
            esc(f.req.as_str()),
            esc(&f.reason)
        );
        if let Some(w) = &f.witness {
            let _ = write!(
                h,
                "<dt>expected</dt><dd>{}</dd><dt>observed</dt><dd>{}</dd>",
                esc(&w.expected),
                esc(&w.observed)
            );
        }
        h.push_str("</dl>\n");
    }
    match &c.history {
        Some(hist) => {
            let id = anchor(&c.id);
            h.push_str(&sequence_svg_with_id(
                hist,
                &fails,
                report.config.deadline_ms,
                &format!("case-{id}"),
            ));
            h.push_str(&events_table(hist, &fails, &id));
        }
        None => h.push_str("<p><em>No history was kept for this case.</em></p>\n"),
    }
    if let Some(stem) = stem {
        let stem_e = esc(stem);
        let _ = writeln!(
            h,
            "<p>Replay: <code>{}</code><br>Case file: <a href=\"cases/{stem_e}.json\">cases/{stem_e}.json</a> · curl script: <a href=\"cases/{stem_e}.sh\">cases/{stem_e}.sh</a>{}</p>",
            esc(&match dir {
                Some(d) => replay_command_in(d, stem, report),
                None => replay_command(stem, report),
            }),
            if super::har::has_har(c) {
                format!(" · HAR: <a href=\"cases/{stem_e}.har\">cases/{stem_e}.har</a>")
            } else {
                String::new()
            }
        );
        if super::needs_agents(report) {
            let _ = writeln!(
                h,
                "<p class=\"note\">The replay logs in as the run's agents: set <code>{}</code> (their passwords) first.</p>",
                esc(&super::agents_hint(report))
            );
        }
    }
    h.push_str("</section>\n");
}

/// Writes `dir/report.html`; returns its path.
pub fn write_html(
    dir: &Path,
    report: &RunReport,
    scrub: &Scrubber,
) -> Result<PathBuf, ReportError> {
    super::create_dir(dir)?;
    let path = dir.join("report.html");
    write_file(&path, &render_html_in(report, scrub, dir))?;
    Ok(path)
}
