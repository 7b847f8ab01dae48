//! The case's history drawn: the SVG sequence diagram, and the table of its events with
//! their bodies in full.

use super::{MAX_DIAGRAM_EVENTS, esc};
use crate::check::Finding;
use crate::history::{Actor, BayeuxEvent, Body, Event, EventKind, History, notes};
use crate::report::json::MAX_WRITTEN_BODY;
use crate::report::truncate;
use std::collections::HashSet;
use std::fmt::Write as _;

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
        EventKind::Notification { agent, data, .. } => (
            Arrow {
                from: 2,
                to: 0,
                dashed: false,
            },
            notification_label(agent, data),
        ),
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
        EventKind::Bayeux { agent, event } => (Note { at: 2 }, bayeux_label(agent, event)),
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

/// The label of a Bayeux session event of `agent`.
fn bayeux_label(agent: &str, event: &BayeuxEvent) -> String {
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
    }
}

/// The label of a notification delivered to `agent`: its types, the chat's state, the
/// data.
fn notification_label(agent: &str, data: &serde_json::Value) -> String {
    let mt = notes::message_type(data).unwrap_or("?");
    let nt = notes::notification_type(data).unwrap_or("");
    let state = notes::chat_state(data)
        .map(|s| format!(" state={s}"))
        .unwrap_or_default();
    format!("→{agent}: {mt} {nt}{state} {}", data_excerpt(data))
}

/// Bytes of a notification's JSON text a label holds at most: labels are shown cut to
/// 2,000 characters at most, so the whole text of a large notification (hundreds of KB,
/// for every event of a history) is never built for one.
const LABEL_DATA_BYTES: usize = 16 * 1024;

/// `data` as compact JSON text, its first [`LABEL_DATA_BYTES`] bytes (at least 4,096
/// characters, so every label cut to 2,000 reads as before).
fn data_excerpt(data: &serde_json::Value) -> String {
    struct Capped(Vec<u8>);
    impl std::io::Write for Capped {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let room = LABEL_DATA_BYTES - self.0.len();
            if room == 0 {
                return Err(std::io::Error::other("label excerpt full"));
            }
            let n = b.len().min(room);
            self.0.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Capped(Vec::new());
    let _ = serde_json::to_writer(&mut c, data);
    String::from_utf8_lossy(&c.0).into_owned()
}

/// Row height, top margin, the lifelines' x and the width of a diagram.
const ROW: u32 = 22;
const TOP: u32 = 50;
const X: [u32; 3] = [150, 470, 790];
const W: u32 = 1000;

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
    let witness: HashSet<u64> = fails
        .iter()
        .filter_map(|f| f.witness.as_ref())
        .flat_map(|w| w.events.iter().copied())
        .collect();
    let rows = labelled_rows(hist);
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
    let labels = broken_labels(fails);
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
        draw_row(
            &mut s,
            row,
            e,
            shape,
            label,
            witness.contains(&e.seq),
            t0,
            &id,
        );
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

/// The events drawn, each with its shape and its label, the case's alias of the chat it
/// is about added to notifications and requests.
fn labelled_rows(hist: &History) -> Vec<(&Event, Shape, String)> {
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
    hist.events
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
        .collect()
}

/// The broken expectations, as wrapped red labels under the diagram.
fn broken_labels(fails: &[&Finding]) -> Vec<String> {
    fails
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
        .collect()
}

/// One row of the diagram, at `row`: its seq number and time, then its arrow or note;
/// `hot` for a witness event (in red).
#[allow(clippy::too_many_arguments)]
fn draw_row(
    s: &mut String,
    row: usize,
    e: &Event,
    shape: &Shape,
    label: &str,
    hot: bool,
    t0: u64,
    id: &str,
) {
    let y = TOP + row as u32 * ROW;
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

/// The case's events as a table: seq number, ms since the case started, and the event
/// with its body in full (request headers and body, response body, notification data)
/// under a `<details>` (no script needed). Witness events are highlighted; rows are
/// capped like the diagram, the witness rows always kept.
pub(super) fn events_table(hist: &History, fails: &[&Finding], anchor_id: &str) -> String {
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
        let full = cut_body(full_body(e));
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

/// `full` cut after [`MAX_WRITTEN_BODY`] bytes (at a character boundary), saying so: the
/// report.json writes no longer body either, and a page of a flood's histories would
/// otherwise hold every one of its bodies whole (and be built twice, scrubbed).
fn cut_body(full: String) -> String {
    if full.len() <= MAX_WRITTEN_BODY {
        return full;
    }
    let mut end = MAX_WRITTEN_BODY;
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… (cut when written: {} bytes in all)",
        &full[..end],
        full.len()
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_label_holds_a_bounded_excerpt_that_reads_as_the_whole_when_cut() {
        let small = serde_json::json!({"messageType": "ChatStateChangeMessage", "a": [1, 2]});
        assert_eq!(data_excerpt(&small), small.to_string());
        let big = serde_json::json!({"text": "é".repeat(300_000)});
        let label = notification_label("a", &big);
        assert!(label.len() < LABEL_DATA_BYTES + 100, "{}", label.len());
        let whole = format!("→a: ?  {big}");
        assert_eq!(truncate(&label, 2000), truncate(&whole, 2000));
    }

    #[test]
    fn a_body_is_shown_whole_up_to_the_written_bound_then_cut_saying_so() {
        let small = "é".repeat(100);
        assert_eq!(cut_body(small.clone()), small);
        let big = "é".repeat(MAX_WRITTEN_BODY);
        let cut = cut_body(big.clone());
        assert!(cut.len() < MAX_WRITTEN_BODY + 100);
        assert!(cut.ends_with(&format!("(cut when written: {} bytes in all)", big.len())));
        assert!(big.starts_with(cut.split('\n').next().unwrap()));
    }
}
