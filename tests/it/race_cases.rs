//! Races (issue 11): requests racing on one chat in a `Concurrent` step are judged in
//! the order the target served them. Against the faultless embedded server, each race
//! case passes whichever request wins; the order is forced by a test proxy that holds
//! one of the racing requests back (the server stays faultless). The
//! `double-complete-race` fault is found by the race case (CMP-02, CMP-13) and not by
//! the sequential second Complete. Hand-built histories pin both winning orders and a
//! target where both Completes succeed.

use crate::check_common::*;
use gws_conform::cases::{self, Case, coverage};
use gws_conform::check::Verdict::{Fail, Pass};
use gws_conform::check::build::{HistoryBuilder, new_messages, status_change};
use gws_conform::client::Credentials;
use gws_conform::history::{AuthVariant, Body, ChatRef, EventKind, History, Step};
use gws_conform::report::{Overall, RunReport};
use gws_conform::runner::{self, Mode, Progress, RunSettings};
use gws_conform::schema::Schemas;
use gws_conform::server::{self, ServerConfig};
use gws_conform::spec::ReqId;
use serde_json::{Value, json};
use std::time::Duration;

// ------------------------------------------------------------------ a delaying proxy

/// How long the proxy holds back the request it must delay: far longer than the
/// embedded server takes to serve the other one.
const HOLD: Duration = Duration::from_millis(800);

/// A reverse proxy to `upstream` that holds back every POST whose JSON body `hold`
/// picks. Returns its base URL; it lives as long as the runtime.
async fn delaying_proxy(upstream: String, hold: fn(&Value) -> bool) -> String {
    use axum::body::{Body as AxBody, to_bytes};
    use axum::extract::Request;
    use axum::response::Response;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = axum::Router::new().fallback(move |req: Request| {
        let client = client.clone();
        let upstream = upstream.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
            if parts.method == axum::http::Method::POST
                && serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| hold(&v))
            {
                tokio::time::sleep(HOLD).await;
            }
            let pq = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
            let mut rb = client.request(method, format!("{upstream}{pq}"));
            for (k, v) in parts.headers.iter() {
                if !matches!(k.as_str(), "host" | "content-length" | "connection") {
                    rb = rb.header(k.as_str(), v.as_bytes());
                }
            }
            let resp = match rb.body(bytes.to_vec()).send().await {
                Ok(r) => r,
                Err(_) => {
                    return Response::builder()
                        .status(502)
                        .body(AxBody::empty())
                        .unwrap();
                }
            };
            let mut out = Response::builder().status(resp.status().as_u16());
            for (k, v) in resp.headers().iter() {
                if !matches!(
                    k.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out = out.header(k.as_str(), v.as_bytes());
                }
            }
            let body = resp.bytes().await.unwrap_or_default();
            out.body(AxBody::from(body)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn race_case(id: &str) -> Case {
    coverage::race_cases(1, "agent1")
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no race case {id}"))
}

/// Runs `case` against the faultless embedded server behind a proxy that holds back
/// the requests `hold` picks.
fn run_held(case: Case, hold: fn(&Value) -> bool) -> RunReport {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let cfg = ServerConfig::default();
        let agents: Vec<Credentials> = cfg
            .agents
            .iter()
            .map(|(u, p)| Credentials::new(u.clone(), p.clone()))
            .collect();
        let srv = server::start(cfg, "127.0.0.1:0").await.unwrap();
        let proxy = delaying_proxy(srv.base_url.clone(), hold).await;
        let s = RunSettings {
            target: Some(proxy),
            agents,
            mode: Some(Mode::ProviderState),
            random_cases: 0,
            seed: 1,
            deadline: Duration::from_secs(5),
            quiet_window: Duration::from_millis(300),
            shrink_budget: 0,
            keep_histories: true,
            progress: Progress::None,
            replay: Some(case),
            ..RunSettings::default()
        };
        let r = runner::execute(s).await.report;
        srv.shutdown().await;
        r
    })
}

fn run_embedded(case: Case, fault: Option<&str>) -> RunReport {
    let s = RunSettings {
        fault: fault.map(str::to_string),
        seed: 1,
        random_cases: 0,
        deadline: Duration::from_secs(2),
        quiet_window: Duration::from_millis(300),
        shrink_budget: 0,
        keep_histories: true,
        progress: Progress::None,
        replay: Some(case),
        ..RunSettings::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runner::execute(s)).report
}

fn failed(r: &RunReport) -> Vec<String> {
    r.requirements
        .iter()
        .filter(|q| q.verdict == Fail)
        .map(|q| q.id.clone())
        .collect()
}

fn the_case(r: &RunReport) -> &gws_conform::report::CaseReport {
    r.cases
        .iter()
        .find(|c| c.id.starts_with("cov-race"))
        .expect("the race case ran")
}

/// Whether part `k` of the case's `Concurrent` step was answered with statusCode 0.
fn part_succeeded(h: &History, k: usize) -> bool {
    let req = h
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Request { req, part, .. } if *part == Some(k) => Some(*req),
            _ => None,
        })
        .expect("the part was sent");
    h.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Response { req: r, body: Body::Json(v), .. }
            if *r == req && v.get("statusCode").and_then(Value::as_i64) == Some(0))
    })
}

/// The run passed without a Fail or an error, and part `winner` of the race won.
fn assert_clean_with_winner(r: &RunReport, winner: usize, label: &str) {
    let c = the_case(r);
    assert!(
        failed(r).is_empty() && r.overall == Overall::Conformant && r.errors.is_empty(),
        "{label}: failed {:?}, errors {:?}, findings {}",
        failed(r),
        r.errors,
        serde_json::to_string(&c.findings).unwrap()
    );
    let h = c.history.as_ref().expect("histories are kept");
    assert!(
        part_succeeded(h, winner),
        "{label}: part {winner} was meant to win (the proxy holds the other back)"
    );
}

fn is_op(v: &Value, op: &str) -> bool {
    v.get("operationName").and_then(Value::as_str) == Some(op)
}

fn text_is(v: &Value, t: &str) -> bool {
    v.get("text").and_then(Value::as_str) == Some(t)
}

// ------------------------------------------------------------------ embedded server

#[test]
fn double_complete_passes_whichever_complete_wins() {
    // Part 0 is the plain Complete, part 1 the one with text.
    let r = run_held(race_case("cov-race-double-complete"), |v| {
        is_op(v, "Complete") && text_is(v, "Goodbye (racing)")
    });
    assert_clean_with_winner(&r, 0, "first sent wins");
    let r = run_held(race_case("cov-race-double-complete"), |v| {
        is_op(v, "Complete") && v.get("text").is_none()
    });
    assert_clean_with_winner(&r, 1, "second sent wins");
    let c = the_case(&r);
    for req in [ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp13] {
        assert_verdict(&c.findings, req, Pass);
    }
}

#[test]
fn complete_racing_leave_passes_whichever_wins() {
    // Part 0 is Leave, part 1 Complete.
    let r = run_held(race_case("cov-race-complete-leave"), |v| {
        is_op(v, "Complete")
    });
    assert_clean_with_winner(&r, 0, "Leave wins");
    assert_verdict(&the_case(&r).findings, ReqId::Cmp15, Pass);
    let r = run_held(race_case("cov-race-complete-leave"), |v| is_op(v, "Leave"));
    assert_clean_with_winner(&r, 1, "Complete wins");
    assert_verdict(&the_case(&r).findings, ReqId::Cmp13, Pass);
}

#[test]
fn complete_racing_the_customer_leaving_passes_in_either_order() {
    // The customer leaves first: Complete in Chatting after the customer left (CMP-16).
    let r = run_held(race_case("cov-race-complete-customer-leaves"), |v| {
        text_is(v, "Goodbye (racing the customer)")
    });
    assert_clean_with_winner(&r, 0, "customer first");
    assert_verdict(&the_case(&r).findings, ReqId::Cmp16, Pass);
    // Complete first: the customer then leaves a completed chat, which changes nothing;
    // the text reached the customer's transcript and the session ended (CMP-05/06).
    let r = run_held(race_case("cov-race-complete-customer-leaves"), |v| {
        v.get("state").and_then(Value::as_str) == Some("customer leaves")
    });
    assert_clean_with_winner(&r, 0, "Complete first");
    let c = the_case(&r);
    assert_verdict(&c.findings, ReqId::Cmp05, Pass);
    assert_verdict(&c.findings, ReqId::Cmp06, Pass);
    assert!(
        !c.findings
            .iter()
            .any(|f| f.req == ReqId::Cmp16 && f.verdict != gws_conform::check::Verdict::Skip),
        "the customer was still there: no CMP-16 judgment"
    );
}

#[test]
fn the_race_fault_is_found_by_the_race_case_only() {
    let r = run_embedded(
        race_case("cov-race-double-complete"),
        Some("double-complete-race"),
    );
    let f = failed(&r);
    assert!(
        f.contains(&"CMP-02".to_string()) && f.contains(&"CMP-13".to_string()),
        "failed {f:?}"
    );
    // The sequential second Complete does not see it.
    let directed = cases::all(
        Schemas::embedded().unwrap(),
        1,
        &["agent1".to_string(), "agent2".to_string()],
        0,
    )
    .unwrap()
    .into_iter()
    .find(|c| c.id == "complete-twice")
    .expect("the directed case complete-twice");
    let r = run_embedded(directed, Some("double-complete-race"));
    assert!(failed(&r).is_empty(), "failed {:?}", failed(&r));
}

// ------------------------------------------------------------------ hand-built histories

fn complete_part(chat: &str, text: Option<&str>) -> (Step, Value) {
    let body = match text {
        Some(t) => json!({"operationName": "Complete", "text": t}),
        None => json!({"operationName": "Complete"}),
    };
    (
        Step::AgentPost {
            chat: ChatRef::Alias(chat.into()),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(body.clone()),
        },
        body,
    )
}

/// Two Completes on chat X1 at once; `winner` gets statusCode 0, the other the answer
/// `loser` (statusCode 0 too when `None`); `completed` Completed notifications follow.
fn double(winner: usize, loser: Option<i64>, completed: usize) -> History {
    let mut b = HistoryBuilder::new();
    b.case("race", &[ReqId::Cmp02, ReqId::Cmp13]);
    b.session("agent1", false);
    accept(&mut b, "c1", "agent1", "X1");
    let parts = [complete_part("c1", None), complete_part("c1", Some("bye"))];
    b.step(Step::Concurrent {
        steps: parts.iter().map(|(s, _)| s.clone()).collect(),
    });
    let reqs: Vec<u64> = parts
        .iter()
        .enumerate()
        .map(|(k, (_, body))| b.request("agent1", "X1", Body::Json(body.clone()), Some(k)))
        .collect();
    let other = 1 - winner;
    match loser {
        Some(code) => {
            b.respond(
                reqs[other],
                200,
                json!({"statusCode": code, "statusMessage": "Chat not valid for this operation"}),
            );
        }
        None => {
            b.respond(reqs[other], 200, ok());
        }
    }
    b.respond(reqs[winner], 200, ok());
    if winner == 1 {
        b.notify("agent1", new_messages("X1", "bye", "Agent"));
    }
    for _ in 0..completed {
        b.notify("agent1", status_change("X1", "Completed"));
    }
    b.settle();
    b.build()
}

#[test]
fn checker_judges_a_race_by_its_answers_in_both_orders() {
    for winner in [0, 1] {
        let fs = run(&double(winner, Some(2), 1));
        assert!(
            !fs.iter().any(|f| f.verdict == Fail),
            "winner {winner}: {fs:#?}"
        );
        assert_verdict(&fs, ReqId::Cmp01, Pass);
        assert_verdict(&fs, ReqId::Cmp02, Pass);
        assert_verdict(&fs, ReqId::Cmp13, Pass);
    }
    // The text of the winner is judged (CMP-04) only when the winner carried it.
    let fs = run(&double(1, Some(2), 1));
    assert_verdict(&fs, ReqId::Cmp04, Pass);
}

#[test]
fn checker_fails_a_race_both_completes_won() {
    // Both answered with success, two Completed: CMP-02 and CMP-13 fail.
    let fs = run(&double(0, None, 2));
    assert_verdict(&fs, ReqId::Cmp02, Fail);
    assert_verdict(&fs, ReqId::Cmp13, Fail);
    // The loser refused but a second Completed arrived anyway.
    let fs = run(&double(1, Some(2), 2));
    assert!(
        fs.iter()
            .any(|f| matches!(f.req, ReqId::Cmp02 | ReqId::Cmp13) && f.verdict == Fail),
        "{fs:#?}"
    );
}

// ------------------------------------------------------------------ coverage in the report

#[test]
fn report_json_and_html_carry_the_plan_coverage() {
    let r = run_embedded(race_case("cov-race-double-complete"), None);
    let cov = r
        .coverage
        .as_ref()
        .expect("a run report carries its coverage");
    assert_eq!(cov.cases, 1);
    assert_eq!(cov.coverage_cases, 1);
    let c13 = cov.requirements.get("CMP-13").expect("CMP-13 exercised");
    assert_eq!(c13.cases, 1);
    assert!(c13.states.contains("Chatting"), "{c13:?}");
    assert!(c13.classes.contains("text:ascii"), "{c13:?}");

    let dir = std::env::temp_dir().join(format!("gws-conform-race-cov-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scrub = gws_conform::history::redact::Scrubber::new();
    let p = gws_conform::report::write_json(&dir, &r, &scrub).unwrap();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(v["coverage"]["requirements"]["CMP-13"]["cases"], 1);
    assert!(v["coverage"]["pairs"]["possible"].as_u64().unwrap() > 0);
    let schema: Value = serde_json::from_str(gws_conform::report::json::REPORT_SCHEMA).unwrap();
    let val = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = val.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // A coverage figure of the wrong type is refused by the schema.
    let mut bad = v.clone();
    bad["coverage"]["requirements"]["CMP-13"]["cases"] = json!("one");
    assert!(!val.is_valid(&bad));
    // It round-trips.
    let back = gws_conform::report::load_report(&p).unwrap();
    assert_eq!(back.coverage, r.coverage);

    let h = gws_conform::report::write_html(&dir, &r, &scrub).unwrap();
    let html = std::fs::read_to_string(h).unwrap();
    assert!(html.contains("<h2>Coverage</h2>"), "no coverage section");
    assert!(html.contains("<table id=\"coverage\">"));
    assert!(html.contains("id=\"coverage-pairs\""));
    let _ = std::fs::remove_dir_all(&dir);
}
