//! Scaling of the report writers: the cost of `write_all` and `transcript` must grow
//! linearly with the history size (no quadratic pass over events, and the HTML diagram is
//! capped). Prints ratios measured in one run; no absolute timing claims.
//!
//! cargo bench --profile dev --bench report_write

#[path = "../tests/it/report_support/mod.rs"]
mod report_support;

use gws_conform::check::{Finding, Verdict};
use gws_conform::report;
use gws_conform::spec::ReqId;
use report_support::*;
use std::time::{Duration, Instant};

/// A failing case whose history has about `events` events (a notification flood).
fn big_case(id: &str, events: usize) -> gws_conform::report::CaseReport {
    let mut h = H::new().bind("c1", &format!("chat-{id}"));
    let mut k = 0;
    while k < events {
        h = h
            .post(&format!("/api/v2/me/chats/chat-{id}"), serde_json::json!({"operationName":"Complete","text":"x".repeat(40)}))
            .answer(200, serde_json::json!({"statusCode":0,"referenceId":k}))
            .notify(serde_json::json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange",
                "referenceId":k,"chat":{"id":format!("chat-{id}"),"state":"Completed","uri":format!("http://127.0.0.1:9/api/v2/chats/chat-{id}")}}));
        k += 3;
    }
    let h = h.quiet(5000, false).build();
    let last = h.events.last().map(|e| e.seq).unwrap_or(0);
    case(
        id,
        vec![Finding::fail(
            ReqId::Cmp19,
            "flood",
            witness("quiet", "noise", vec![1, last]),
        )],
        Some(h),
        complete_steps(Some("bye")),
    )
}

fn time<F: FnMut()>(mut f: F) -> Duration {
    // Best of 3, to damp noise from the shared machine.
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then only a smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full {
        [1_000usize, 10_000]
    } else {
        [30, 300]
    };
    let dir = std::env::temp_dir().join(format!("gws-conform-bench-{}", std::process::id()));
    let scrub = scrubber();
    let mut results = vec![];
    for events in sizes {
        let cases: Vec<_> = (0..10)
            .map(|i| big_case(&format!("case-{i}"), events))
            .collect();
        assert!(cases.iter().all(|c| c.verdict == Verdict::Fail));
        let r = report_of(cases, false);
        let h = r.cases[0].history.clone().unwrap();
        let w = time(|| {
            report::write_all(&dir, &r, &scrub).unwrap();
        });
        let t = time(|| {
            std::hint::black_box(report::transcript(&h));
        });
        let html = std::fs::metadata(dir.join("report.html")).unwrap().len();
        results.push((events, w, t, html));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (a, b) = (&results[0], &results[1]);
    println!(
        "10 failing cases, history {} vs {} events each (x10):",
        a.0, b.0
    );
    println!(
        "  write_all  time ratio: {:.2}",
        b.1.as_secs_f64() / a.1.as_secs_f64()
    );
    println!(
        "  transcript time ratio: {:.2}",
        b.2.as_secs_f64() / a.2.as_secs_f64()
    );
    println!(
        "  report.html size ratio: {:.2} (diagram capped at {} events)",
        b.3 as f64 / a.3 as f64,
        report::html::MAX_DIAGRAM_EVENTS
    );
}
