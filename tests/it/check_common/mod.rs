//! Helpers shared by the checker tests: scenario builders over
//! `gws_conform::check::build::HistoryBuilder` and a hand-written `Shapes`.
#![allow(dead_code)]

use gws_conform::check::build::{HistoryBuilder, new_messages, status_change};
use gws_conform::check::{CheckConfig, Finding, Shapes, Verdict, fold, judge};
use gws_conform::history::History;
use gws_conform::spec::ReqId;
use serde_json::{Value, json};

/// Small hand-written stand-in for the schemas: a response is an object with an integer
/// `statusCode`; a notification is an object with string `messageType` and
/// `notificationType` and no `bogus` key.
pub struct TestShapes;

impl Shapes for TestShapes {
    fn validate(&self, schema: &str, v: &Value) -> Result<(), gws_conform::check::Misfit> {
        test_shape(schema, v).map_err(gws_conform::check::Misfit)
    }
}

fn test_shape(schema: &str, v: &Value) -> Result<(), String> {
    let o = v.as_object().ok_or("not an object")?;
    match schema {
        "response" => match o.get("statusCode") {
            Some(c) if c.is_i64() => Ok(()),
            _ => Err("/statusCode: not an integer".into()),
        },
        "notification" => {
            for k in ["messageType", "notificationType"] {
                if !o.get(k).is_some_and(Value::is_string) {
                    return Err(format!("/{k}: missing or not a string"));
                }
            }
            if o.contains_key("bogus") {
                return Err("/bogus: unexpected property".into());
            }
            Ok(())
        }
        other => Err(format!("unknown schema {other}")),
    }
}

pub fn run(h: &History) -> Vec<Finding> {
    judge(h, &CheckConfig::default(), &TestShapes)
}

/// The folded verdict of `req` over the findings; panics (test failure) when absent.
pub fn verdict(fs: &[Finding], req: ReqId) -> Verdict {
    let v: Vec<Verdict> = fs
        .iter()
        .filter(|f| f.req == req)
        .map(|f| f.verdict)
        .collect();
    assert!(!v.is_empty(), "no finding for {req}: {fs:#?}");
    fold(&v)
}

pub fn has(fs: &[Finding], req: ReqId) -> bool {
    fs.iter().any(|f| f.req == req)
}

/// Asserts `req` folds to `want`, printing the findings otherwise.
#[track_caller]
pub fn assert_verdict(fs: &[Finding], req: ReqId, want: Verdict) {
    let got = verdict(fs, req);
    assert_eq!(got, want, "{req}: {fs:#?}");
    if want == Verdict::Fail {
        for f in fs
            .iter()
            .filter(|f| f.req == req && f.verdict == Verdict::Fail)
        {
            let w = f.witness.as_ref().expect("every Fail has a witness");
            assert!(!w.events.is_empty(), "{req}: empty witness {f:#?}");
        }
    }
}

pub fn ok() -> Value {
    json!({"statusCode":0})
}

pub fn err(code: i64) -> Value {
    json!({"statusCode":code,"statusMessage":"refused"})
}

/// A case with one session, chat `c1` (id `X1`) of `agent1` offered and accepted.
pub fn chatting(exercises: &[ReqId]) -> HistoryBuilder {
    let mut b = HistoryBuilder::new();
    b.case("case-1", exercises).session("agent1", false);
    accept(&mut b, "c1", "agent1", "X1");
    b
}

/// Offers `alias` to `agent` as `id` and accepts it.
pub fn accept(b: &mut HistoryBuilder, alias: &str, agent: &str, id: &str) {
    b.offer(alias, agent, id);
    let r = b.post(alias, agent, id, json!({"operationName":"Accept"}));
    b.respond(r, 200, ok());
    b.notify(agent, status_change(id, "Chatting"));
}

/// A Complete with `body` answered `{"statusCode":0}` and the notifications a
/// conforming target sends (the text first, then one Completed).
pub fn complete_ok(b: &mut HistoryBuilder, alias: &str, agent: &str, id: &str, body: Value) {
    let text = body.get("text").and_then(Value::as_str).map(str::to_string);
    let r = b.post(alias, agent, id, body);
    b.respond(r, 200, ok());
    if let Some(t) = text {
        b.notify(agent, new_messages(id, &t, "Agent"));
    }
    b.notify(agent, status_change(id, "Completed"));
}
