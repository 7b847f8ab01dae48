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
use crate::history::{Actor, BayeuxEvent, Body, Event, EventKind, History, notes};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
pub fn render_html_in(report: &RunReport, scrub: &Scrubber, dir: &Path) -> String {
    render_page(report, scrub, Some(dir))
}

fn render_page(report: &RunReport, scrub: &Scrubber, dir: Option<&Path>) -> String {
    let stems = case_stems(report);
    let mut h = String::new();
    let (oclass, otext) = match report.overall {
        Overall::Conformant => ("conformant", "CONFORMANT"),
        Overall::NotConformant => ("not_conformant", "NOT CONFORMANT"),
        Overall::Error => ("harness_error", "ERROR (harness or environment)"),
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
    failing_at_a_glance(&mut h, report);
    if !report.errors.is_empty() {
        h.push_str("<h2>Run errors</h2><ul>");
        for e in &report.errors {
            let _ = write!(h, "<li>{}</li>", esc(e));
        }
        h.push_str("</ul>\n");
    }

    // Requirement table.
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
    if let Some(cov) = &report.coverage {
        coverage_section(&mut h, cov);
    }

    // Failures.
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
            failure_groups(&mut h, groups, &failing, &stems, report, dir)
        }
        _ => {
            for c in failing {
                case_section(&mut h, c, stems.get(&c.id).map(String::as_str), report, dir);
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
    h.push_str("</body></html>\n");
    scrub_markup(scrub, &h)
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

/// Failures grouped by signature: one timeline per group (its representative's), the
/// other cases of the group as links to their case files; failing cases no group
/// names (a `session` failure) keep their own section.
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
            "<section class=\"group\" id=\"group-{}\"><h3>failure {}: {}</h3>",
            n + 1,
            n + 1,
            esc(&g.signature)
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

/// Where an event is drawn.
enum Shape {
    /// An arrow between lifelines (`from`, `to`: 0 harness, 1 target, 2 notification
    /// stream); `dashed` for an answer.
    Arrow { from: u8, to: u8, dashed: bool },
    /// A note on a lifeline.
    Note { at: u8 },
}

fn body_summary(b: &Body) -> String {
    match b {
        Body::Empty => String::new(),
        Body::Json(v) => v.to_string(),
        Body::Raw(r) => format!("raw {r:?}"),
    }
}

fn describe(e: &Event) -> Option<(Shape, String)> {
    use Shape::*;
    Some(match &e.kind {
        EventKind::Request {
            actor,
            method,
            path,
            body,
            ..
        } => {
            let who = match actor {
                Actor::Agent(a) => a.clone(),
                Actor::Customer => "customer".into(),
                Actor::Provider => "provider".into(),
            };
            (
                Arrow {
                    from: 0,
                    to: 1,
                    dashed: false,
                },
                format!("{who}: {method} {path} {}", body_summary(body)),
            )
        }
        EventKind::Response { status, body, .. } => (
            Arrow {
                from: 1,
                to: 0,
                dashed: true,
            },
            format!("{status} {}", body_summary(body)),
        ),
        EventKind::NoResponse { kind, message, .. } => (
            Arrow {
                from: 1,
                to: 0,
                dashed: true,
            },
            format!("no answer ({kind:?}): {message}"),
        ),
        EventKind::Notification { agent, data, .. } => {
            let mt = notes::message_type(data).unwrap_or("?");
            let nt = notes::notification_type(data).unwrap_or("");
            let state = notes::chat_state(data)
                .map(|s| format!(" state={s}"))
                .unwrap_or_default();
            (
                Arrow {
                    from: 2,
                    to: 0,
                    dashed: false,
                },
                format!("→{agent}: {mt} {nt}{state} {data}"),
            )
        }
        EventKind::Bind {
            alias,
            chat_id,
            agent,
            ..
        } => (
            Note { at: 0 },
            format!("{alias} = chat {chat_id} ({agent})"),
        ),
        EventKind::Inspect {
            alias,
            result,
            reason,
        } => (
            Note { at: 0 },
            match result {
                Some(r) => format!("inspect {alias}: {r}"),
                None => format!(
                    "inspect {alias}: {}",
                    reason.as_deref().unwrap_or("unavailable")
                ),
            },
        ),
        EventKind::Quiet {
            waited_ms,
            reached_quiet,
            ..
        } => (
            Note { at: 2 },
            if *reached_quiet {
                format!("quiet (waited {waited_ms} ms)")
            } else {
                format!("deadline: waited {waited_ms} ms, never quiet")
            },
        ),
        EventKind::Bayeux { agent, event } => (
            Note { at: 2 },
            match event {
                BayeuxEvent::Handshake { successful, .. } => {
                    format!("{agent}: handshake ok={successful}")
                }
                BayeuxEvent::Subscribe {
                    channel,
                    successful,
                    ..
                } => {
                    format!("{agent}: subscribe {channel} ok={successful}")
                }
                BayeuxEvent::Connect { successful, .. } => {
                    format!("{agent}: connect ok={successful}")
                }
                BayeuxEvent::FollowedAdvice {
                    reconnect,
                    interval_ms,
                } => {
                    format!("{agent}: advice {reconnect} after {interval_ms} ms")
                }
                BayeuxEvent::Garbage { error, .. } => format!("{agent}: garbage: {error}"),
                BayeuxEvent::BadMessage { error, .. } => {
                    format!("{agent}: unreadable message: {error}")
                }
                BayeuxEvent::Closed { reason } => format!("{agent}: closed: {reason}"),
            },
        ),
        EventKind::HarnessError { message } => {
            (Note { at: 0 }, format!("harness error: {message}"))
        }
        EventKind::NotObservable { message } => {
            (Note { at: 0 }, format!("not observable: {message}"))
        }
        EventKind::Session { agent, csrf } => {
            (Note { at: 0 }, format!("session {agent} (csrf {csrf})"))
        }
        EventKind::Step { index, .. } => (Note { at: 0 }, format!("step {index}")),
        EventKind::Case { .. } => return None,
    })
}

/// An inline SVG sequence diagram of `hist`: three lifelines (harness, target,
/// notification stream), one row per event in recording order with its time in ms on the
/// left axis, witness events in red, and the broken expectations as red labels at the
/// end (with how long the harness waited).
pub fn sequence_svg(hist: &History, fails: &[&Finding], deadline_ms: u64) -> String {
    sequence_svg_with_id(hist, fails, deadline_ms, "timeline")
}

/// [`sequence_svg`] whose element ids (the arrow markers) start with `id`, so several
/// diagrams on one page keep their ids unique.
pub fn sequence_svg_with_id(
    hist: &History,
    fails: &[&Finding],
    deadline_ms: u64,
    id: &str,
) -> String {
    let id = esc(id);
    const ROW: u32 = 22;
    const TOP: u32 = 50;
    const X: [u32; 3] = [150, 470, 790];
    const W: u32 = 1000;
    let witness: HashSet<u64> = fails
        .iter()
        .filter_map(|f| f.witness.as_ref())
        .flat_map(|w| w.events.iter().copied())
        .collect();
    // Chat ids → the case's aliases (c1, c2, …), so that with several chats each
    // notification says which chat it is about.
    let aliases: std::collections::HashMap<&str, &str> = hist
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Bind { alias, chat_id, .. } => Some((chat_id.as_str(), alias.as_str())),
            _ => None,
        })
        .collect();
    let rows: Vec<(&Event, Shape, String)> = hist
        .events
        .iter()
        .filter_map(|e| {
            describe(e).map(|(s, mut l)| {
                if let EventKind::Notification { agent, data, .. } = &e.kind
                    && let Some(alias) = notes::chat_id(data)
                        .and_then(|v| v.as_str())
                        .or_else(|| {
                            // NewMessages name their chat by URI: .../chats/{id}
                            notes::chat_uri_field(data)
                                .and_then(|v| v.as_str())
                                .and_then(|u| u.rsplit('/').next())
                        })
                        .and_then(|id| aliases.get(id))
                {
                    let who = format!("→{agent}:");
                    if let Some(rest) = l.strip_prefix(&who) {
                        l = format!("→{agent} [{alias}]:{rest}");
                    }
                }
                if let EventKind::Request { path, .. } = &e.kind
                    && let Some(alias) = path.split('/').find_map(|seg| aliases.get(seg))
                {
                    l = format!("[{alias}] {l}");
                }
                (e, s, l)
            })
        })
        .collect();
    let total = rows.len();
    // Keep the witness events even when the history is longer than the cap.
    let mut drawn: Vec<&(&Event, Shape, String)> = rows
        .iter()
        .enumerate()
        .filter(|(i, (e, _, _))| *i < MAX_DIAGRAM_EVENTS || witness.contains(&e.seq))
        .map(|(_, r)| r)
        .take(MAX_DIAGRAM_EVENTS + witness.len().min(MAX_DIAGRAM_EVENTS))
        .collect();
    drawn.sort_by_key(|(e, _, _)| e.seq);
    let omitted = total - drawn.len();
    let labels: Vec<String> = fails
        .iter()
        .map(|f| {
            let w = f.witness.as_ref();
            format!(
                "{}: expected {} — {}",
                f.req,
                w.map(|w| w.expected.as_str()).unwrap_or("?"),
                w.map(|w| w.observed.as_str()).unwrap_or(&f.reason)
            )
        })
        .flat_map(|l| wrap(&format!("✗ {}", truncate(&l, 600)), 140))
        .collect();
    let extra = u32::from(omitted > 0);
    let height = TOP + (drawn.len() as u32 + 1 + extra) * ROW + (labels.len() as u32 + 2) * ROW;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" role=\"img\" viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" font-family=\"ui-monospace,Menlo,Consolas,monospace\" font-size=\"11\">\
<title>Sequence of requests, responses and notifications</title>\
<defs><marker id=\"{id}-ah\" markerUnits=\"userSpaceOnUse\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#333\"/></marker>\
<marker id=\"{id}-ahr\" markerUnits=\"userSpaceOnUse\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#c00\"/></marker></defs>"
    );
    let bottom = height - ROW;
    for (i, name) in ["harness", "target", "notification stream"]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"13\">{name}</text><line x1=\"{0}\" y1=\"28\" x2=\"{0}\" y2=\"{bottom}\" stroke=\"#999\" stroke-dasharray=\"2,3\"/>",
            X[i]
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"4\" y=\"{0}\" fill=\"#666\">seq</text><text x=\"50\" y=\"{0}\" fill=\"#666\">ms</text>",
        TOP - 10
    );
    // A shrunk case's history can start late on the recorder's clock (6 s in a real
    // run): the axis counts from the case's first event, as its caption says.
    let t0 = hist.events.iter().map(|e| e.t_us).min().unwrap_or(0);
    for (row, (e, shape, label)) in drawn.iter().enumerate() {
        let y = TOP + row as u32 * ROW;
        let hot = witness.contains(&e.seq);
        let color = if hot { "#c00" } else { "#333" };
        let weight = if hot { " font-weight=\"bold\"" } else { "" };
        let ms = e.t_us.saturating_sub(t0) as f64 / 1000.0;
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{0}\" fill=\"{color}\"{weight}>#{1}</text><text x=\"50\" y=\"{0}\" fill=\"#666\">{ms:.1}</text>",
            y + 4,
            e.seq
        );
        match shape {
            Shape::Arrow { from, to, dashed } => {
                let (x1, x2) = (X[*from as usize], X[*to as usize]);
                let dash = if *dashed {
                    " stroke-dasharray=\"6,3\""
                } else {
                    ""
                };
                let marker = if hot {
                    format!("{id}-ahr")
                } else {
                    format!("{id}-ah")
                };
                let width = if hot { 2.5 } else { 1.2 };
                let tx = x1.min(x2) + 6;
                // About 6.6 px per character at font-size 11: keep the label on its arrow.
                let room = ((x1.abs_diff(x2) - 12) as f64 / 6.6) as usize;
                let label = esc(&truncate(label, room));
                let _ = writeln!(
                    s,
                    "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#{marker})\"/><text x=\"{tx}\" y=\"{}\" fill=\"{color}\"{weight}>{label}<title>#{} {}</title></text>",
                    y - 3,
                    e.seq,
                    esc(&truncate(
                        &describe(e).map(|d| d.1).unwrap_or_default(),
                        2000
                    ))
                );
            }
            Shape::Note { at } => {
                let x = X[*at as usize];
                // Notes on the rightmost lifeline are written to its left, to stay inside.
                let (tx, anchor) = if *at == 2 {
                    (x - 6, "end")
                } else {
                    (x + 6, "start")
                };
                let label = esc(&truncate(label, 70));
                let _ = writeln!(
                    s,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"/><text x=\"{tx}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"{color}\"{weight}>{label}</text>",
                    y + 4
                );
            }
        }
    }
    let mut y = TOP + drawn.len() as u32 * ROW;
    if omitted > 0 {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{y}\" fill=\"#666\">… {omitted} more events not drawn (see the case file)</text>",
            X[0]
        );
        y += ROW;
    }
    for l in &labels {
        y += ROW;
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{y}\" fill=\"#c00\" font-weight=\"bold\" class=\"broken\">{}</text>",
            esc(l)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"4\" y=\"{}\" fill=\"#666\">rows in recording order; left: seq number and ms since the case started; notification deadline {deadline_ms} ms</text>",
        y + ROW
    );
    s.push_str("</svg>\n");
    s
}

/// The case's events as a table: seq number, ms since the case started, and the event
/// with its body in full (request headers and body, response body, notification data)
/// under a `<details>` (no script needed). Witness events are highlighted; rows are
/// capped like the diagram, the witness rows always kept.
fn events_table(hist: &History, fails: &[&Finding], anchor_id: &str) -> String {
    let witness: HashSet<u64> = fails
        .iter()
        .filter_map(|f| f.witness.as_ref())
        .flat_map(|w| w.events.iter().copied())
        .collect();
    let t0 = hist.events.iter().map(|e| e.t_us).min().unwrap_or(0);
    let rows: Vec<(&Event, String)> = hist
        .events
        .iter()
        .filter_map(|e| describe(e).map(|(_, l)| (e, l)))
        .map(|(e, l)| {
            if e.notes.is_empty() {
                (e, l)
            } else {
                // How the target's bytes were read (a lone surrogate shown as U+FFFD…).
                (e, format!("{l} [read: {}]", e.notes.join("; ")))
            }
        })
        .collect();
    let total = rows.len();
    let shown: Vec<&(&Event, String)> = rows
        .iter()
        .enumerate()
        .filter(|(i, (e, _))| *i < MAX_DIAGRAM_EVENTS || witness.contains(&e.seq))
        .map(|(_, r)| r)
        .take(2 * MAX_DIAGRAM_EVENTS)
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<details class=\"events\"><summary>Every event of the case, bodies in full ({total})</summary>\n<table class=\"events\"><thead><tr><th>seq</th><th>ms</th><th>event (open a row for its body)</th></tr></thead><tbody>"
    );
    for (e, label) in &shown {
        let hot = witness.contains(&e.seq);
        let ms = e.t_us.saturating_sub(t0) as f64 / 1000.0;
        let full = full_body(e);
        let summary = esc(&truncate(label, 160));
        let cell = if full.is_empty() {
            summary
        } else {
            format!(
                "<details><summary>{summary}</summary><pre>{}</pre></details>",
                esc(&full)
            )
        };
        let _ = writeln!(
            s,
            "<tr id=\"{}-seq-{}\"{}><td class=\"n\">#{}</td><td class=\"n\">{ms:.1}</td><td>{cell}</td></tr>",
            esc(anchor_id),
            e.seq,
            if hot { " class=\"hot\"" } else { "" },
            e.seq
        );
    }
    s.push_str("</tbody></table>");
    if total > shown.len() {
        let _ = write!(
            s,
            "<p>… {} more events not listed (see the case file)</p>",
            total - shown.len()
        );
    }
    s.push_str("</details>\n");
    s
}

/// The full text of an event's body, pretty-printed JSON where it is JSON (empty when
/// the event has none).
fn full_body(e: &Event) -> String {
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let body = |b: &Body| match b {
        Body::Empty => String::new(),
        Body::Json(v) => pretty(v),
        Body::Raw(r) => r.clone(),
    };
    let mut read = String::new();
    for n in &e.notes {
        read.push_str(&format!("read: {n}\n"));
    }
    if !read.is_empty() {
        read.push('\n');
    }
    read + &match &e.kind {
        EventKind::Request {
            method,
            path,
            headers,
            body: b,
            ..
        } => {
            let mut out = format!("{method} {path}\n");
            let mut hidden = Vec::new();
            for (k, v) in headers {
                // Secret headers are recorded redacted: named, not shown.
                if v.contains(crate::history::redact::REDACTED) {
                    hidden.push(k.as_str());
                } else {
                    out.push_str(&format!("{k}: {v}\n"));
                }
            }
            if !hidden.is_empty() {
                out.push_str(&format!("(also sent, redacted: {})\n", hidden.join(", ")));
            }
            let b = body(b);
            if !b.is_empty() {
                out.push('\n');
                out.push_str(&b);
            }
            out
        }
        EventKind::Response {
            status, body: b, ..
        } => format!("HTTP {status}\n\n{}", body(b)),
        EventKind::Notification { data, .. } => pretty(data),
        EventKind::Inspect {
            result: Some(r), ..
        } => pretty(r),
        _ => String::new(),
    }
}

/// Splits `s` into lines of at most `width` characters (at spaces when it can).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![];
    let mut cur = String::new();
    for word in s.split(' ') {
        let (cl, wl) = (cur.chars().count(), word.chars().count());
        if cl > 0 && cl + 1 + wl > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        while cur.chars().count() > width {
            let head: String = cur.chars().take(width).collect();
            cur = cur.chars().skip(width).collect();
            lines.push(head);
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
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
