//! The writers: report.json against its schema, junit.xml, report.html (escaping, SVG),
//! case files and curl scripts, and the Scrubber as the last line of defence.

use crate::report_support;
use gws_conform::spec::ReqId;

use gws_conform::check::Verdict;
use gws_conform::report::{self, json::REPORT_SCHEMA};
use quick_junit::{NonSuccessKind, TestCaseStatus};
use report_support::*;
use std::path::Path;

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gws-conform-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn all_text(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out
}

#[test]
fn write_all_writes_every_artefact_and_no_secret() {
    // Kept after the test (target/tmp/report-sample) for scripts/html-screenshot.sh.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-sample");
    let _ = std::fs::remove_dir_all(&dir);
    let r = report();
    let w = report::write_all(&dir, &r, &scrubber()).unwrap();
    assert!(w.json.ends_with("report.json") && w.json.exists());
    assert!(w.junit.exists() && w.html.exists());
    // Exactly the two failing cases get a case file and a script.
    assert_eq!(w.cases.len(), 2, "{:?}", w.cases);
    let names: Vec<String> = w
        .cases
        .iter()
        .map(|(j, _)| j.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"cmp04-1.json".to_string()));
    // The id with a slash and a space cannot escape cases/.
    assert!(
        names.contains(&"cmp02_.._x_9.json".to_string()),
        "{names:?}"
    );
    for (j, s) in &w.cases {
        assert_eq!(j.parent().unwrap(), dir.join("cases"));
        assert!(s.exists());
    }
    // And a HAR each when its history holds a request.
    for h in &w.hars {
        assert_eq!(h.parent().unwrap(), dir.join("cases"));
        assert_eq!(h.extension().unwrap(), "har");
    }
    let files = all_text(&dir);
    assert_eq!(files.len(), 3 + 4 + w.hars.len());
    for (p, text) in &files {
        for secret in scrubber().secrets() {
            assert!(
                !text.contains(secret.as_str()),
                "{} leaks {secret}",
                p.display()
            );
        }
        assert!(!p.to_string_lossy().ends_with(".tmp"));
    }
    // The planted password was in a finding: it is replaced, not dropped silently.
    let json = std::fs::read_to_string(&w.json).unwrap();
    assert!(json.contains("<redacted>"));
}

#[test]
fn scrubber_is_the_last_line_of_defence() {
    // Without the Scrubber the password is in report.json; with it, it is not.
    let dir = tmpdir("scrub");
    let r = report();
    let empty = gws_conform::history::redact::Scrubber::new();
    let p = report::write_json(&dir, &r, &empty).unwrap();
    assert!(std::fs::read_to_string(&p).unwrap().contains(PASSWORD));
    let p = report::write_json(&dir, &r, &scrubber()).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(!text.contains(PASSWORD), "{text}");
    // Still valid JSON after scrubbing.
    let _: serde_json::Value = serde_json::from_str(&text).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(REPORT_SCHEMA).unwrap();
    assert_eq!(
        schema["$id"],
        "https://gws-conform.local/schemas/report.schema.json"
    );
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn report_json_validates_against_the_schema_and_a_broken_one_does_not() {
    let dir = tmpdir("schema");
    let r = report();
    let p = report::write_json(&dir, &r, &scrubber()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let val = validator();
    let errors: Vec<String> = val
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // It also round-trips through load_report.
    let back = report::load_report(&p).unwrap();
    let verdicts = |r: &gws_conform::report::RunReport| -> Vec<(String, Verdict)> {
        r.requirements
            .iter()
            .map(|q| (q.id.clone(), q.verdict))
            .collect()
    };
    assert_eq!(verdicts(&back), verdicts(&r));
    assert_eq!(back.overall, r.overall);
    assert_eq!(back.cases.len(), r.cases.len());

    type Breakage = Box<dyn Fn(&mut serde_json::Value)>;
    let breakages: Vec<(&str, Breakage)> = vec![
        (
            "bad verdict",
            Box::new(|v| v["requirements"][0]["verdict"] = "maybe".into()),
        ),
        ("bad overall", Box::new(|v| v["overall"] = "fine".into())),
        (
            "bad level",
            Box::new(|v| v["requirements"][1]["level"] = "MIGHT".into()),
        ),
        (
            "missing seed",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("seed");
            }),
        ),
        ("extra field", Box::new(|v| v["surprise"] = 1.into())),
        (
            "bad event type",
            Box::new(|v| v["cases"][1]["history"]["events"][0]["type"] = "telepathy".into()),
        ),
        (
            "event missing a field",
            Box::new(|v| {
                v["cases"][1]["history"]["events"][2]
                    .as_object_mut()
                    .unwrap()
                    .remove("chat_id");
            }),
        ),
        (
            "bad step",
            Box::new(|v| v["cases"][0]["steps"][0]["step"] = "dance".into()),
        ),
        (
            "negative count",
            Box::new(|v| v["requirements"][0]["counts"]["pass"] = (-1).into()),
        ),
    ];
    for (what, breakage) in breakages {
        let mut b = v.clone();
        breakage(&mut b);
        assert!(!val.is_valid(&b), "schema accepted a report with {what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn load_report_names_file_line_and_field() {
    let dir = tmpdir("loadreport");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("report.json");
    std::fs::write(&p, "{\n  \"format\": 1,\n  \"run_id\": \"x\"\n}\n").unwrap();
    let e = report::load_report(&p).unwrap_err().to_string();
    assert!(
        e.contains("report.json") && e.contains("line 4") && e.contains("missing field `target`"),
        "{e}"
    );
    std::fs::write(&p, "{ not json").unwrap();
    let e = report::load_report(&p).unwrap_err().to_string();
    assert!(e.contains("line 1, column"), "{e}");
    let e = report::load_report(&dir.join("nope.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.json"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn junit_has_one_suite_per_family_and_one_testcase_per_requirement() {
    let r = report();
    let xml = report::junit_xml(&r, &scrubber()).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let names: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "gws-conform.CMP",
            "gws-conform.NTF",
            "gws-conform.SES",
            "gws-conform.REQ"
        ]
    );
    let cases: Vec<&quick_junit::TestCase> = parsed
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .collect();
    assert_eq!(cases.len(), gws_conform::spec::CATALOGUE.len());
    for (tc, req) in cases.iter().zip(gws_conform::spec::CATALOGUE) {
        let name = tc.name.as_str();
        assert_eq!(
            name,
            format!("{} {}", req.id, report::junit::short_title(req.id)),
            "a short title, not the prose cut"
        );
        assert!(!name.contains('…'), "{name}");
        let family = &req.id.as_str()[..3];
        assert_eq!(
            tc.classname.as_ref().unwrap().as_str(),
            format!("gws-conform.{family}")
        );
        assert!(tc.time.is_some(), "{name} has a time");
        let expect = verdict_of(&r, req.id.as_str());
        match (&tc.status, expect) {
            (TestCaseStatus::Success { .. }, Verdict::Pass) => {}
            (
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Failure,
                    ..
                },
                Verdict::Fail,
            ) => {
                let out = tc.system_out.as_ref().expect("system-out").as_str();
                assert!(
                    out.contains("expected:") && out.contains("observed:"),
                    "{out}"
                );
                assert!(out.contains("gws-conform replay cases/"), "{out}");
            }
            (
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Error,
                    ..
                },
                Verdict::Error,
            ) => {}
            (TestCaseStatus::Skipped { message, .. }, Verdict::Skip) => {
                assert!(!message.as_ref().unwrap().as_str().is_empty());
            }
            (s, v) => panic!("{}: junit status {s:?} for verdict {v:?}", req.id),
        }
    }
    // The time of a requirement is the sum of its cases' durations.
    let cmp04 = cases
        .iter()
        .find(|t| t.name.as_str().starts_with("CMP-04"))
        .unwrap();
    let ms: u64 = r
        .cases
        .iter()
        .filter(|c| c.exercises.contains(&ReqId::Cmp04))
        .map(|c| c.duration_ms)
        .sum();
    assert_eq!(cmp04.time, Some(std::time::Duration::from_millis(ms)));
    // The hostile strings survive as text (escaped), not as markup.
    let out = cmp04.system_out.as_ref().unwrap().as_str();
    assert!(out.contains(HOSTILE[2]), "{out}");
    assert!(!xml.contains("<evil/>"));
    assert!(!xml.contains(PASSWORD));
    // A waived requirement is a skip saying so.
    let mut r2 = report();
    let b = report::parse_baseline(
        Path::new("b.toml"),
        "[[waive]]\nid = \"CMP-04\"\nreason = \"ticket 9\"\n",
    )
    .unwrap();
    report::apply_baseline(&mut r2, &b, (2026, 11, 25));
    let xml = report::junit_xml(&r2, &scrubber()).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let tc = parsed.test_suites[0]
        .test_cases
        .iter()
        .find(|t| t.name.as_str().starts_with("CMP-04"))
        .unwrap();
    match &tc.status {
        TestCaseStatus::Skipped { message, .. } => {
            assert!(
                message
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .starts_with("waived: ticket 9"),
                "{message:?}"
            )
        }
        s => panic!("waived shows as {s:?}"),
    }
}

#[test]
fn html_is_self_contained_escaped_and_draws_each_failure() {
    let r = report();
    let html = report::html::render_html(&r, &scrubber());
    // The table has a row per requirement.
    assert!(html.contains("<table id=\"requirements\">"));
    for req in gws_conform::spec::CATALOGUE {
        assert!(
            html.contains(&format!("<tr id=\"req-{}\">", req.id)),
            "{}",
            req.id
        );
    }
    // One SVG per failing case, with three lifelines and a red broken-expectation label.
    let failing = r
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .count();
    assert_eq!(html.matches("<svg ").count(), failing);
    assert!(html.contains(">notification stream</text>"));
    assert!(html.contains("class=\"broken\">✗ CMP-02: expected StatusChange Completed within 5 s"));
    assert!(html.contains("gws-conform replay cases/cmp04-1.json"));
    assert!(html.contains("href=\"cases/cmp04-1.sh\""));
    // No hostile string reaches the page unescaped.
    for bad in HOSTILE {
        assert!(!html.contains(bad), "unescaped: {bad}");
    }
    for bad in ["<script", "<svg onload", "<evil", "<b>"] {
        assert!(!html.contains(bad), "found {bad}");
    }
    // Every <svg element is one of ours.
    assert_eq!(
        html.matches("<svg ").count(),
        html.matches("<svg xmlns=").count()
    );
    assert!(
        html.contains("&lt;/script&gt;"),
        "hostile text is shown escaped"
    );
    // Self-contained: no external resource.
    for ext in ["src=\"http", "href=\"http", "@import", "url(http", "<link"] {
        assert!(!html.contains(ext), "external resource {ext}");
    }
    assert!(!html.contains(PASSWORD));
    // Tag balance: as many <svg as </svg>, <section as </section>.
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert_eq!(
        html.matches("<section").count(),
        html.matches("</section>").count()
    );
}

#[test]
fn case_file_round_trips_and_bad_ones_are_named() {
    let dir = tmpdir("case");
    let r = report();
    let w = report::write_all(&dir, &r, &scrubber()).unwrap();
    let (jp, _) = w
        .cases
        .iter()
        .find(|(j, _)| j.ends_with("cmp04-1.json"))
        .unwrap();
    let cf = report::load_case_file(jp).unwrap();
    let case = r.cases.iter().find(|c| c.id == "cmp04-1").unwrap();
    assert_eq!(
        cf,
        report::case_file(&r, case),
        "scrubbing a clean case changes nothing"
    );
    assert_eq!(cf.seed, 42);
    assert_eq!(cf.exercises, case.exercises);
    assert_eq!(cf.history, case.history);

    let bad = dir.join("bad.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(jp).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("steps");
    std::fs::write(&bad, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let e = report::load_case_file(&bad).unwrap_err().to_string();
    assert!(
        e.contains("bad.json") && e.contains("missing field `steps`") && e.contains("line "),
        "{e}"
    );
    v["steps"] = serde_json::json!([{"step": "dance"}]);
    std::fs::write(&bad, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let e = report::load_case_file(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.contains("dance"), "{e}");
    v["steps"] = serde_json::json!([{"step": "settle"}]);
    v["format"] = 99.into();
    std::fs::write(&bad, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let e = report::load_case_file(&bad).unwrap_err().to_string();
    assert!(e.contains("field `format`"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn bash_n(script: &str) {
    let dir = tmpdir(&format!("bash{}", script.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("s.sh");
    std::fs::write(&p, script).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash -n failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn curl_script_is_valid_bash_reads_secrets_from_env_and_replays_each_step() {
    let dir = tmpdir("curl");
    let r = report();
    let w = report::write_all(&dir, &r, &scrubber()).unwrap();
    for (jp, sp) in &w.cases {
        let cf = report::load_case_file(jp).unwrap();
        let s = std::fs::read_to_string(sp).unwrap();
        assert_eq!(
            s,
            report::curl_script(&cf),
            "the written script is the case file's"
        );
        bash_n(&s);
        assert!(s.starts_with("#!/usr/bin/env bash\n"));
        assert!(s.contains("set -euo pipefail"));
        assert!(s.contains("${GWS_TARGET:?") && s.contains("${GWS_PASSWORD:?"));
        assert!(s.contains("GWS_PROVIDER_URL"));
        assert!(
            s.contains("x-csrf-token"),
            "takes the CSRF token from the headers"
        );
        assert!(!s.contains("jq "), "no jq dependency");
        assert!(!s.contains(PASSWORD));
        // Each agent request is replayed with its exact body, single-quoted.
        assert!(s.contains(r#"agent 1 normal POST "/api/v2/me/chats/${CHAT_c1}" '{"operationName":"Accept","nickname":"Ag'\''ent"}'"#), "{s}");
        assert!(s.contains("# expects (if the chat is Chatting or LeftChat): HTTP 200"));
        assert!(s.contains("provider setup 'chat offered'"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    // The hostile text is inside one quoted word: no command substitution can run.
    let c = r.cases.iter().find(|c| c.id == "cmp04-1").unwrap();
    let s = report::curl_script(&report::case_file(&r, c));
    assert!(s.contains("</script><script>alert(1)</script>"));
    assert!(!s.lines().any(|l| l.starts_with("<svg")));
}

#[test]
fn curl_script_covers_every_step_kind() {
    use gws_conform::history::{AuthVariant, Body, ChatRef, Step};
    let r = report();
    let mut cf = report::case_file(&r, &r.cases[1]);
    cf.steps = vec![
        Step::OfferChat {
            chat: "c-1".into(),
            agent: "agent2".into(),
        },
        Step::CustomerSends {
            chat: "c-1".into(),
            text: "it's $(rm -rf /) `x` \"q\" \\".into(),
        },
        Step::CustomerLeaves { chat: "c-1".into() },
        Step::AgentPost {
            chat: ChatRef::Alias("c-1".into()),
            by_other_agent: true,
            auth: AuthVariant::NoCsrf,
            body: Body::Raw("{not json'".into()),
        },
        Step::AgentPost {
            chat: ChatRef::Unknown("../x y".into()),
            by_other_agent: false,
            auth: AuthVariant::NoCredentials,
            body: Body::Empty,
        },
        Step::Concurrent {
            steps: vec![
                Step::AgentPost {
                    chat: ChatRef::Alias("c-1".into()),
                    by_other_agent: false,
                    auth: AuthVariant::CookieOnly,
                    body: Body::Json(serde_json::json!({"operationName":"Complete"})),
                },
                Step::Inspect { chat: "c-1".into() },
            ],
        },
        Step::Settle,
    ];
    let s = report::curl_script(&cf);
    bash_n(&s);
    assert!(s.contains("${GWS_USER2:?"), "a second agent is needed");
    assert!(s.contains("login 2"));
    assert!(s.contains("/api/v2/me/chats/..%2Fx%20y"));
    assert!(s.contains(" &\n") && s.contains("\nwait\n"));
    assert!(
        s.contains("agent 1 no_csrf POST"),
        "agent2 owns c-1, so the other agent is 1"
    );
    assert!(s.contains("provider teardown"));
    // The dangerous text is one single-quoted word.
    assert!(s.contains(r#"'it'\''s $(rm -rf /) `x` "q" \'"#), "{s}");
}

#[test]
fn a_flood_of_events_keeps_the_diagram_bounded_and_the_witness_visible() {
    use gws_conform::report::html::{MAX_DIAGRAM_EVENTS, sequence_svg};
    let mut h = H::new().post(
        "/api/v2/me/chats/x",
        serde_json::json!({"operationName":"Complete"}),
    );
    for i in 0..5000 {
        h = h.notify(serde_json::json!({"messageType":"MessageLogUpdated","n":i,"text":"<svg onload=alert(1)>"}));
    }
    let h = h.quiet(5000, false).build();
    let last = h.events.last().unwrap().seq;
    let f = gws_conform::check::Finding::fail(
        ReqId::Cmp19,
        "flood",
        witness("nothing after Completed", "5000 notifications", vec![last]),
    );
    let svg = sequence_svg(&h, &[&f], 5000);
    let rows = svg.matches("<line x1=").count() + svg.matches("<circle").count();
    assert!(rows <= MAX_DIAGRAM_EVENTS + 1 + 3, "{rows} rows drawn");
    assert!(svg.contains("more events not drawn"));
    assert!(
        svg.contains("deadline: waited 5000 ms, never quiet"),
        "the witness event is drawn"
    );
    assert!(!svg.contains("<svg onload"));
}

#[test]
fn the_schema_accepts_every_event_and_step_kind() {
    use gws_conform::history::{
        Actor, AuthVariant, BayeuxEvent, Body, ChatRef, EventKind, NoResponseKind, Step,
    };
    use serde_json::json;
    let all_steps = vec![
        Step::OfferChat {
            chat: "c1".into(),
            agent: "agent1".into(),
        },
        Step::AgentPost {
            chat: ChatRef::Unknown("u".into()),
            by_other_agent: true,
            auth: AuthVariant::CookieOnly,
            body: Body::Empty,
        },
        Step::AgentPost {
            chat: ChatRef::Alias("c1".into()),
            by_other_agent: false,
            auth: AuthVariant::NoCredentials,
            body: Body::Raw("{".into()),
        },
        Step::CustomerSends {
            chat: "c1".into(),
            text: "hi".into(),
        },
        Step::CustomerLeaves { chat: "c1".into() },
        Step::Inspect { chat: "c1".into() },
        Step::Settle,
        Step::Concurrent {
            steps: vec![Step::Settle],
        },
    ];
    let bayeux = vec![
        BayeuxEvent::Handshake {
            successful: false,
            error: Some("x".into()),
        },
        BayeuxEvent::Subscribe {
            channel: "/v2/me/chats".into(),
            successful: true,
            error: None,
        },
        BayeuxEvent::Connect {
            successful: true,
            advice: Some(json!({"reconnect":"retry"})),
            error: None,
        },
        BayeuxEvent::FollowedAdvice {
            reconnect: "handshake".into(),
            interval_ms: 10,
        },
        BayeuxEvent::Garbage {
            error: "not JSON".into(),
            excerpt: "<html>".into(),
        },
        BayeuxEvent::BadMessage {
            error: "/meta/connect answer: the element at byte 9 is not JSON: key must be a string"
                .into(),
            excerpt: "{oops}".into(),
        },
        BayeuxEvent::Closed {
            reason: "none".into(),
        },
    ];
    let mut h = H::new()
        .push(
            "runner",
            EventKind::Case {
                id: "k".into(),
                seed: 1,
                exercises: vec![ReqId::Ntf02],
            },
        )
        .push(
            "rest:agent1",
            EventKind::Session {
                agent: "agent1".into(),
                csrf: false,
            },
        )
        .push(
            "customer",
            EventKind::Request {
                req: 9,
                actor: Actor::Customer,
                method: "GET".into(),
                path: "/api/v2/chats/x".into(),
                headers: vec![("ContactCenterId".into(), "cc".into())],
                body: Body::Empty,
                part: Some(1),
            },
        )
        .push(
            "customer",
            EventKind::NoResponse {
                req: 9,
                kind: NoResponseKind::TooLarge,
                message: "too big".into(),
                elapsed_us: 5,
            },
        )
        .push(
            "provider",
            EventKind::Request {
                req: 10,
                actor: Actor::Provider,
                method: "POST".into(),
                path: "/provider".into(),
                headers: vec![],
                body: Body::Json(json!({})),
                part: None,
            },
        )
        .push(
            "provider",
            EventKind::Response {
                req: 10,
                status: 501,
                body: Body::Raw("nope".into()),
                elapsed_us: 5,
            },
        )
        .noted(&[r"the target sent the lone-surrogate escape \ud800 at byte 17; shown as U+FFFD"])
        .push(
            "runner",
            EventKind::Inspect {
                alias: "c1".into(),
                result: None,
                reason: Some("501".into()),
            },
        )
        .push(
            "runner",
            EventKind::Inspect {
                alias: "c1".into(),
                result: Some(json!({"queue": null})),
                reason: None,
            },
        )
        .push(
            "runner",
            EventKind::HarnessError {
                message: "boom".into(),
            },
        );
    for (i, st) in all_steps.iter().enumerate() {
        h = h.step(i, st.clone());
    }
    for ev in bayeux {
        h = h.push(
            "bayeux:agent1",
            EventKind::Bayeux {
                agent: "agent1".into(),
                event: ev,
            },
        );
    }
    let mut c = case(
        "kinds",
        vec![gws_conform::check::Finding::error(
            ReqId::Ntf02,
            "handshake failed",
        )],
        Some(h.build()),
        all_steps,
    );
    c.original_steps = Some(12);
    let mut r = report_of(vec![c], false);
    r.config.shard = Some("1/3".into());
    r.config.baseline = Some("b.toml".into());
    r.errors.push("target unreachable".into());
    let v = serde_json::to_value(&r).unwrap();
    let val = validator();
    let errors: Vec<String> = val
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // How the target's bytes were read is shown with the event (of a failing case).
    let mut failing = r.cases[0].clone();
    failing.verdict = gws_conform::check::Verdict::Fail;
    failing.findings = vec![gws_conform::check::Finding::fail(
        ReqId::Ntf01,
        "agent1: a message of a Bayeux answer cannot be read",
        gws_conform::check::Witness {
            expected: "a Bayeux message".into(),
            observed: "{oops}".into(),
            events: vec![],
        },
    )];
    let html = report::html::render_html(&report_of(vec![failing], false), &scrubber());
    assert!(
        html.contains(r"read: the target sent the lone-surrogate escape \ud800"),
        "notes not shown"
    );
    assert!(html.contains("unreadable message: /meta/connect answer"));
}

#[test]
fn committed_sample_artefacts_still_load_and_validate() {
    // fixtures/reports/sample-*.json were written by this crate (format 1); a change that
    // breaks reading them breaks users' stored reports and case files.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports");
    let r = report::load_report(&root.join("sample-report.json")).unwrap();
    assert_eq!(r.format, 1);
    assert_eq!(r.requirements.len(), gws_conform::spec::CATALOGUE.len());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("sample-report.json")).unwrap())
            .unwrap();
    assert!(validator().is_valid(&v));
    let cf = report::load_case_file(&root.join("sample-case.json")).unwrap();
    assert_eq!(cf.id, "cmp04-1");
    assert!(cf.history.is_some());
    // The recomputed table agrees with the stored one.
    let (rows, overall) = report::requirement_table(&r.cases, r.config.strict);
    assert_eq!(rows, r.requirements);
    assert_eq!(overall, r.overall);
}

/// SPEC §1.4/§6 hostile peers: a target answering JSON nested 126 levels deep. Every
/// file the harness writes reads back: report.json (`merge`), the case file (`replay`),
/// with the deep part kept as text.
#[test]
fn a_body_nested_126_levels_deep_writes_and_reads_back() {
    let mut deep = serde_json::json!("bottom");
    for i in 0..126 {
        deep = if i % 2 == 0 {
            serde_json::json!([deep])
        } else {
            serde_json::json!({ "k": deep })
        };
    }
    let text = serde_json::to_string(&deep).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    let mut r = report();
    let c = r
        .cases
        .iter_mut()
        .find(|c| c.id == "cmp04-1")
        .expect("the failing case");
    let h = c.history.take().unwrap();
    let mut b = H::new();
    for e in h.events {
        b = b.push(&e.stream, e.kind);
    }
    c.history = Some(b.answer(200, deep.clone()).notify(deep).build());
    let dir = tmpdir("deep");
    let written = report::write_all(&dir, &r, &scrubber()).unwrap();
    let back = report::load_report(&written.json).expect("report.json reads back");
    assert_eq!(back.cases.len(), r.cases.len());
    let json = std::fs::read_to_string(&written.json).unwrap();
    assert!(
        json.contains(report::json::DEEP_MARK.trim_end()),
        "kept as text"
    );
    for (case, _) in &written.cases {
        report::load_case_file(case).expect("the case file reads back for replay");
    }
    let merged = report::merge(vec![back.clone()]).expect("merge reads it");
    assert_eq!(merged.requirements.len(), back.requirements.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// report.html for the person fixing it: ids are unique (each diagram its own arrow
/// markers), every event's body is on the page in full under a <details>, the timeline
/// rows carry their seq numbers, long cells wrap.
#[test]
fn html_ids_are_unique_and_every_body_is_on_the_page() {
    let r = report();
    let html = report::html::render_html(&r, &scrubber());
    let mut seen = std::collections::HashSet::new();
    let mut rest = html.as_str();
    while let Some(i) = rest.find(" id=\"") {
        rest = &rest[i + 5..];
        let id = &rest[..rest.find('"').unwrap()];
        assert!(seen.insert(id.to_string()), "duplicate id {id}");
    }
    assert!(html.matches("<svg ").count() >= 2, "two diagrams at least");
    // The hostile history's events, each with a seq row and its body in full.
    let c = r.cases.iter().find(|c| c.id == "cmp04-1").unwrap();
    let h = c.history.as_ref().unwrap();
    for e in &h.events {
        if let gws_conform::history::EventKind::Notification { data, .. } = &e.kind {
            assert!(
                html.contains(&format!("id=\"cmp04-1-seq-{}\"", e.seq)),
                "row of seq {}",
                e.seq
            );
            let pretty = serde_json::to_string_pretty(data).unwrap();
            let escaped = report::escape_markup(&pretty);
            assert!(html.contains(&escaped), "the full body of seq {}", e.seq);
        }
    }
    assert!(html.contains("<details"), "bodies open without script");
    assert!(!html.contains("<script"));
    // Seq numbers on the timeline rows.
    let witness_seq = c.findings[1].witness.as_ref().unwrap().events[0];
    assert!(
        html.contains(&format!(">#{witness_seq}</text>")),
        "seq on the row"
    );
    assert!(html.contains("overflow-wrap:anywhere"), "long cells wrap");
}

/// `replay` says first whether the recorded failure reproduces, and exits 1 when it
/// does whatever its level (CMP-04 is recorded failed here), 0 when nothing fails.
#[test]
fn replay_outcome_names_the_reproduced_failure() {
    use gws_conform::runner::replay::replay_outcome;
    let r = report();
    let failing = r.cases.iter().find(|c| c.id == "cmp04-1").unwrap();
    let file = report::case_file(&r, failing);
    let (line, code) = replay_outcome(&file, &r);
    assert!(line.starts_with("reproduced: CMP-04 "), "{line}");
    assert_eq!(code, 1);
    let mut clean = report();
    clean.cases.retain(|c| c.verdict == Verdict::Pass);
    clean.errors.clear();
    clean.overall = report::Overall::Conformant;
    let (line, code) = replay_outcome(&file, &clean);
    assert_eq!(line, "no longer reproduces (CMP-04)");
    assert_eq!(code, 0);
}

#[test]
fn report_json_is_streamed_case_by_case_with_the_same_text_as_whole() {
    // The streaming writer must give exactly the text the whole-report serializer gives
    // (scrubbed, bounded, same indentation), for an empty and a full case list.
    let scrub = scrubber();
    // Cases written straight to text must read as the bounded ones do; those the bounds
    // change take the bounded path: a body holding `findings`/`events` keys (bounded
    // wherever they are), one nesting deep, 25 findings of one requirement.
    let mut odd = cases();
    let many: Vec<serde_json::Value> = (0..25)
        .map(|i| serde_json::json!({"req": "CMP-01", "verdict": "pass", "reason": i}))
        .collect();
    let mut deep = serde_json::json!("leaf");
    for _ in 0..100 {
        deep = serde_json::json!([deep]);
    }
    for (k, v) in [
        (
            "findings-key",
            serde_json::json!({"operationName": "Complete", "findings": many}),
        ),
        (
            "events-key",
            serde_json::json!({"events": [{"stream": "x", "data": "y"}]}),
        ),
        ("deep", serde_json::json!({"operationName": deep})),
    ] {
        let mut c = odd[0].clone();
        c.id = k.into();
        c.steps.push(gws_conform::history::Step::AgentPost {
            chat: gws_conform::history::ChatRef::Alias("c1".into()),
            by_other_agent: false,
            auth: gws_conform::history::AuthVariant::Normal,
            body: gws_conform::history::Body::Json(v),
        });
        odd.push(c);
    }
    let mut crowded = odd[0].clone();
    crowded.id = "crowded".into();
    crowded.findings = (0..25)
        .map(|i| gws_conform::check::Finding::pass(ReqId::Cmp01, format!("pass {i}")))
        .collect();
    odd.push(crowded);
    for (name, r) in [
        ("stream-full", report()),
        ("stream-empty", report_of(Vec::new(), false)),
        ("stream-odd", report_of(odd, false)),
    ] {
        let dir = tmpdir(name);
        let path = report::json::write_json(&dir, &r, &scrub).unwrap();
        let streamed = std::fs::read_to_string(&path).unwrap();
        let whole = report::json::to_scrubbed_json(&r, &scrub).unwrap();
        assert_eq!(streamed, whole, "{name}");
        let back = report::json::load_report(&path).unwrap();
        assert_eq!(back.cases.len(), r.cases.len());
        assert!(!dir.join("report.json.tmp").exists());
    }
}

#[test]
fn a_secret_that_json_escapes_is_scrubbed_from_strings_keys_and_flattened_bodies() {
    // A cookie value with a quote, a backslash, a slash and non-ASCII text: in report.json
    // it appears escaped (in a string, in a key, and escaped twice inside a body nested
    // deeper than the written depth, which is written as text).
    use gws_conform::history::{AuthVariant, Body, ChatRef, Step};
    let secret = "ck\"\\/é-Zz9";
    let mut scrub = scrubber();
    scrub.add(secret);
    let mut deep = serde_json::json!({ "leaf": secret, secret: 1 });
    for _ in 0..gws_conform::report::json::MAX_WRITTEN_DEPTH + 4 {
        deep = serde_json::json!({ "n": deep });
    }
    let mut r = report();
    let case = &mut r.cases[0];
    case.steps.push(Step::AgentPost {
        chat: ChatRef::Alias("c1".into()),
        by_other_agent: false,
        auth: AuthVariant::Normal,
        body: Body::Json(
            serde_json::json!({ "note": format!("x{secret}y"), secret: "v", "deep": deep }),
        ),
    });
    if let Some(f) = case.findings.first_mut() {
        f.reason = format!("cookie {secret} seen");
    }
    let dir = tmpdir("scrub-escaped");
    let p = report::write_json(&dir, &r, &scrub).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let once = serde_json::to_string(secret).unwrap();
    let once = once.trim_matches('"');
    let twice = serde_json::to_string(once).unwrap();
    let twice = twice.trim_matches('"');
    for leak in [secret, once, twice, "Zz9"] {
        assert!(!text.contains(leak), "{leak:?} in report.json");
    }
    assert!(text.contains("x<redacted>y"));
    // The same text as the whole-report writer, and still valid JSON.
    assert_eq!(text, report::json::to_scrubbed_json(&r, &scrub).unwrap());
    let _: serde_json::Value = serde_json::from_str(&text).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
