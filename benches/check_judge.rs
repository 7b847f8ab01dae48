//! How the checker scales: judging time per event for histories of growing size, as
//! ratios measured in one run (no absolute claims). Two shapes:
//! - many small cases (one chat each, the runner's usual shape): should be linear;
//! - one big case with many chats (CMP-20-like): the checker scans the case per step,
//!   so this one grows faster than linear.
//!
//! Run: `cargo bench --bench check_judge --profile dev` (reuses the prebuilt dev
//! dependencies; ratios, not absolute times, are the claim).

use gws_conform::check::build::{HistoryBuilder, new_messages, status_change};
use gws_conform::check::{CheckConfig, Shapes, judge};
use gws_conform::history::History;
use gws_conform::spec::ReqId;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Instant;

struct AnyShape;
impl Shapes for AnyShape {
    fn validate(&self, _: &str, _: &Value) -> Result<(), gws_conform::check::Misfit> {
        Ok(())
    }
}

fn chat(b: &mut HistoryBuilder, k: usize) {
    let (alias, id) = (format!("c{k}"), format!("X{k}"));
    b.offer(&alias, "agent1", &id);
    let r = b.post(&alias, "agent1", &id, json!({"operationName":"Accept"}));
    b.respond(r, 200, json!({"statusCode":0}));
    b.notify("agent1", status_change(&id, "Chatting"));
    let r = b.post(
        &alias,
        "agent1",
        &id,
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.respond(r, 200, json!({"statusCode":0}));
    b.notify("agent1", new_messages(&id, "bye", "Agent"));
    b.notify("agent1", status_change(&id, "Completed"));
}

fn many_cases(n: usize) -> History {
    let mut b = HistoryBuilder::new();
    for k in 0..n {
        b.case(&format!("case{k}"), &[ReqId::Cmp01, ReqId::Cmp02])
            .session("agent1", false);
        chat(&mut b, k);
        b.settle();
    }
    b.build()
}

fn one_case(n: usize) -> History {
    let mut b = HistoryBuilder::new();
    b.case("big", &[ReqId::Cmp01, ReqId::Cmp02])
        .session("agent1", false);
    for k in 0..n {
        chat(&mut b, k);
    }
    b.settle();
    b.build()
}

/// Nanoseconds per event, best of 7 samples; each sample judges the history enough
/// times to cover about 200 000 events, so small histories are not timer noise.
fn ns_per_event(h: &History) -> f64 {
    let cfg = CheckConfig::default();
    let reps = (200_000 / h.events.len().max(1)).max(1);
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..reps {
            black_box(judge(black_box(h), &cfg, &AnyShape));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (reps * h.events.len()) as f64);
    }
    best
}

fn main() {
    let (small, big) = (20, 200);
    for (label, f) in [
        ("many small cases", many_cases as fn(usize) -> History),
        ("one case, many chats", one_case),
    ] {
        let a = ns_per_event(&f(small));
        let b = ns_per_event(&f(big));
        println!(
            "{label}: {small} → {big} chats ({} → {} events): time per event grew x{:.2}",
            f(small).events.len(),
            f(big).events.len(),
            b / a
        );
    }
}
