//! The deterministic coverage phase (cases named `cov-…`), run before the random
//! sequences:
//!
//! - **near-misses**: for every property of the Complete request schema
//!   (`schemas/complete-request.schema.json`), boundary and near-miss values derived
//!   from the schema (enum members and their case-flipped, padded, prefixed, suffixed
//!   and truncated forms; booleans and their string/number/null/array look-alikes;
//!   strings empty, one character, long, non-ASCII, control characters, JSON escapes, a
//!   lone surrogate; wrong types; an extra property; `operationName` missing or in
//!   another case). One Complete per case; the model ([`crate::model::classify`]) tags
//!   each value with the rule it breaks (`cmp-09`/`cmp-10`/`cmp-11`/`req-01`) or `valid`,
//!   and the tag is part of the case id. A refused value is followed by a plain Complete
//!   (CMP-17: the refusal changed nothing);
//! - **pairs**: all pairs of Complete's parameter classes crossed with the states in
//!   which Complete is legal (a small greedy all-pairs generator), each followed by an
//!   Inspect (CMP-05..08);
//! - **races**: two Completes on one chat at the same instant; Complete racing Leave;
//!   Complete racing the customer leaving. The checker judges racing requests in the
//!   order the target served them (the one answered with success first).
//!
//! [`summary`] computes, from any plan, how often each requirement is exercised and with
//! which parameter classes and states, and which pairs × states ran.

#![warn(missing_docs)]

use super::cases::{Case, case_seed};
use crate::history::{AuthVariant, Body, ChatRef, Step};
use crate::model::{self, Chat, ChatState, Classified, OpName};
use crate::schema::Schemas;
use crate::spec::ReqId;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The schema the coverage phase is derived from.
pub const SCHEMA: &str = "complete-request";

/// Lengths of the long strings (characters). The embedded server caps request bodies at
/// 64 KiB, so the longest text stays below that (a 65,536-character text would not fit).
pub const LONG_LENGTHS: [usize; 4] = [256, 1_024, 4_096, 16_384];

/// What the schema says about one property of the Complete request.
#[derive(Debug, Clone, PartialEq)]
pub enum PropKind {
    /// A fixed value (`const`).
    Const(Value),
    /// One of these values (`enum`).
    Enum(Vec<Value>),
    /// A boolean.
    Boolean,
    /// A string of at least `min_len` characters.
    String {
        /// `minLength` (0 when absent).
        min_len: usize,
    },
    /// Anything else (left alone).
    Other,
}

/// A property of the Complete request, as the schema describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prop {
    /// Property name.
    pub name: String,
    /// What values it takes.
    pub kind: PropKind,
    /// Whether it is required.
    pub required: bool,
}

/// Resolves a local or `common.schema.json#/$defs/…` reference.
fn resolve<'a>(schemas: &'a Schemas, v: &'a Value) -> &'a Value {
    let Some(r) = v.get("$ref").and_then(Value::as_str) else {
        return v;
    };
    let (file, pointer) = r.split_once('#').unwrap_or((r, ""));
    let stem = file.trim_end_matches(".json").trim_end_matches(".schema");
    schemas
        .document(stem)
        .and_then(|d| d.pointer(pointer))
        .unwrap_or(v)
}

/// The properties of the Complete request, read from its schema.
pub fn props(schemas: &Schemas) -> Result<Vec<Prop>, String> {
    let doc = schemas
        .document(SCHEMA)
        .ok_or_else(|| format!("schema `{SCHEMA}` is not loaded"))?;
    let required: Vec<&str> = doc
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = doc
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("schema `{SCHEMA}`: no `properties` object"))?;
    let mut out = Vec::new();
    for (name, raw) in properties {
        let s = resolve(schemas, raw);
        let kind = if let Some(c) = s.get("const") {
            PropKind::Const(c.clone())
        } else if let Some(e) = s.get("enum").and_then(Value::as_array) {
            PropKind::Enum(e.clone())
        } else {
            match s.get("type").and_then(Value::as_str) {
                Some("boolean") => PropKind::Boolean,
                Some("string") => PropKind::String {
                    min_len: s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize,
                },
                _ => PropKind::Other,
            }
        };
        out.push(Prop {
            name: name.clone(),
            kind,
            required: required.contains(&name.as_str()),
        });
    }
    Ok(out)
}

/// The property holding the operation's name (the required `const` one).
fn op_prop(props: &[Prop]) -> Option<&Prop> {
    props
        .iter()
        .find(|p| p.required && matches!(p.kind, PropKind::Const(_)))
}

/// Properties that need `text` beside them (the schema's `dependentRequired`).
fn dependents(schemas: &Schemas) -> BTreeMap<String, Vec<String>> {
    schemas
        .document(SCHEMA)
        .and_then(|d| d.get("dependentRequired"))
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let needs = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    (k.clone(), needs)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A lowercase, id-friendly tag for the rule a body breaks, per the model.
/// `valid`, the broken rule's requirement (`cmp-10`, `req-01`), or `either` where the
/// contract leaves both answers open (SPEC §6.12).
pub fn verdict_tag(body: &Body) -> String {
    let cls = model::classify(body);
    match (&cls, cls.broken_req()) {
        (_, Some(req)) => req.as_str().to_ascii_lowercase(),
        (Classified::Unruled { .. }, None) => "either".into(),
        _ => "valid".into(),
    }
}

/// Near-miss forms of an enum member: case flipped (lower, upper), padded, prefixed,
/// suffixed, truncated.
fn near_misses(member: &str) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("lower", member.to_lowercase()),
        ("upper", member.to_uppercase()),
        ("padded", format!(" {member} ")),
        ("prefixed", format!("x{member}")),
        ("suffixed", format!("{member}1")),
    ];
    let mut t = member.to_string();
    t.pop();
    v.push(("truncated", t));
    v.retain(|(_, s)| s != member);
    v
}

/// A long ASCII string of exactly `n` characters.
fn long(n: usize) -> String {
    "Thank you. ".chars().cycle().take(n).collect()
}

/// The string probes: (class, value). `full` adds the long and the rarer forms.
fn string_probes(full: bool) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("empty".into(), String::new()),
        ("one-char".into(), "x".into()),
    ];
    if full {
        for n in LONG_LENGTHS {
            v.push((format!("long-{n}"), long(n)));
        }
        v.push(("accents".into(), "Merci, à bientôt — Ça va ? Ñandú".into()));
        v.push(("cjk".into(), "感谢您的来电，再见".into()));
        v.push(("emoji".into(), "Bye 👋🏽 see you 🎉 🧑‍💻".into()));
        v.push(("combining".into(), "Cafe\u{301} n\u{303}o".into()));
        v.push((
            "rtl".into(),
            "شكرا لك \u{202B}مع السلامة\u{202C} שלום".into(),
        ));
        v.push(("control".into(), "line1\nline2\ttab\r\u{1}\u{7f}".into()));
        v.push((
            "escapes".into(),
            "quote \" backslash \\ slash / \u{8}\u{c}".into(),
        ));
    } else {
        v.push(("long-1024".into(), long(1_024)));
        v.push(("non-ascii".into(), "Ça va 感谢 👋🏽 שלום".into()));
        v.push(("control".into(), "a\nb\tc".into()));
    }
    v
}

fn wrong_types(kind: &PropKind) -> Vec<(&'static str, Value)> {
    let all = [
        ("number", json!(7)),
        ("null", Value::Null),
        ("array", json!([])),
        ("object", json!({})),
        ("string", json!("x")),
        ("boolean", json!(true)),
    ];
    all.into_iter()
        .filter(|(t, _)| match kind {
            PropKind::Boolean => *t != "boolean",
            PropKind::String { .. } => *t != "string",
            PropKind::Enum(_) => !matches!(*t, "string"),
            _ => true,
        })
        .take(2)
        .collect()
}

fn post(chat: &str, body: Body) -> Step {
    Step::AgentPost {
        chat: ChatRef::Alias(chat.into()),
        by_other_agent: false,
        auth: AuthVariant::Normal,
        body,
    }
}

fn post_json(chat: &str, body: Value) -> Step {
    post(chat, Body::Json(body))
}

fn plain_complete() -> Value {
    json!({"operationName": "Complete"})
}

fn setup(chat: &str, agent: &str) -> Vec<Step> {
    vec![
        Step::OfferChat {
            chat: chat.into(),
            agent: agent.into(),
        },
        post_json(
            chat,
            json!({"operationName": "Accept", "nickname": "Agent"}),
        ),
    ]
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The requirement whose rule a body breaks, per the model.
fn rule_of(body: &Body) -> Option<ReqId> {
    model::classify(body).broken_req()
}

/// Whether a single-Complete case follows its Complete with a plain one: after a body
/// the model refuses, or one the contract leaves open (SPEC §6.12: if the target
/// refused it, the refusal must have changed nothing, CMP-17).
fn follows_up(body: &Body) -> bool {
    !matches!(model::classify(body), Classified::Op(_))
}

/// The requirements a single-Complete case exercises, given the rule its body breaks.
fn exercises_of(rule: Option<ReqId>, body: &Body) -> Vec<ReqId> {
    match rule {
        Some(r) => vec![r, ReqId::Cmp17, ReqId::Cmp18],
        None => {
            let mut v = vec![ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp06];
            if follows_up(body) {
                // Either answer: a refusal must change nothing and be well formed.
                v.extend([ReqId::Cmp17, ReqId::Cmp18]);
            }
            if let Some(o) = body.json().and_then(Value::as_object) {
                if o.contains_key("text") {
                    v.extend([ReqId::Cmp04, ReqId::Cmp05]);
                }
                if o.contains_key("queueName") {
                    v.push(ReqId::Cmp07);
                }
                if o.get("saveLAR") == Some(&Value::Bool(true)) {
                    v.push(ReqId::Cmp08);
                }
            }
            v.sort();
            v
        }
    }
}

/// Cases of the near-miss phase, one Complete each.
pub fn near_miss_cases(schemas: &Schemas, run_seed: u64, agent: &str) -> Result<Vec<Case>, String> {
    let props = props(schemas)?;
    let deps = dependents(schemas);
    let op =
        op_prop(&props).ok_or_else(|| format!("schema `{SCHEMA}`: no required const property"))?;
    let PropKind::Const(op_value) = &op.kind else {
        unreachable!("op_prop returns a Const property")
    };
    let op_name = op_value.as_str().unwrap_or("Complete").to_string();
    // Bodies: (field, class, body).
    let mut bodies: Vec<(String, String, Body)> = Vec::new();
    let base = |extra: &[(&str, Value)]| -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(op.name.clone(), op_value.clone());
        for (k, v) in extra {
            m.insert((*k).to_string(), v.clone());
        }
        m
    };
    // A property with dependents gets the dependents' required partners (text) beside it.
    let with = |name: &str, v: Value| -> Value {
        let mut extra: Vec<(&str, Value)> = Vec::new();
        if let Some(needs) = deps.get(name) {
            for n in needs {
                extra.push((n.as_str(), json!("Goodbye")));
            }
        }
        let mut m = base(&extra);
        m.insert(name.to_string(), v);
        Value::Object(m)
    };
    for p in &props {
        if p.name == op.name {
            continue;
        }
        match &p.kind {
            PropKind::Enum(members) => {
                for m in members {
                    let Some(s) = m.as_str() else { continue };
                    bodies.push((
                        p.name.clone(),
                        format!("member-{}", slug(s)),
                        Body::Json(with(&p.name, m.clone())),
                    ));
                    for (how, nm) in near_misses(s) {
                        bodies.push((
                            p.name.clone(),
                            format!("{how}-{}", slug(s)),
                            Body::Json(with(&p.name, json!(nm))),
                        ));
                    }
                }
                bodies.push((
                    p.name.clone(),
                    "empty".into(),
                    Body::Json(with(&p.name, json!(""))),
                ));
            }
            PropKind::Boolean => {
                for b in [true, false] {
                    bodies.push((
                        p.name.clone(),
                        format!("{b}"),
                        Body::Json(with(&p.name, json!(b))),
                    ));
                }
                let probes = [
                    ("string-true", json!("true")),
                    ("string-false", json!("false")),
                    ("zero", json!(0)),
                    ("one", json!(1)),
                    ("null", Value::Null),
                    ("array", json!([])),
                ];
                for (c, v) in probes {
                    bodies.push((p.name.clone(), c.into(), Body::Json(with(&p.name, v))));
                }
            }
            PropKind::String { .. } => {
                // The property every text probe is worth most on gets the full set; the
                // others a short one. `text` is the one the customer reads.
                let full = p.name == "text";
                for (c, v) in string_probes(full) {
                    bodies.push((p.name.clone(), c, Body::Json(with(&p.name, json!(v)))));
                }
                for (t, v) in wrong_types(&p.kind) {
                    bodies.push((
                        p.name.clone(),
                        format!("type-{t}"),
                        Body::Json(with(&p.name, v)),
                    ));
                }
                if full {
                    // serde_json cannot hold a lone surrogate: a raw body.
                    let raw = format!(
                        "{{\"{}\": \"{}\", \"{}\": \"bye \\ud800 there\"}}",
                        op.name, op_name, p.name
                    );
                    bodies.push((p.name.clone(), "lone-surrogate".into(), Body::Raw(raw)));
                }
            }
            PropKind::Const(_) | PropKind::Other => {}
        }
        // (The boolean probes above already hold its wrong types.)
        if let PropKind::Enum(_) = &p.kind {
            for (t, v) in wrong_types(&p.kind) {
                bodies.push((
                    p.name.clone(),
                    format!("type-{t}"),
                    Body::Json(with(&p.name, v)),
                ));
            }
        }
    }
    // Objects.
    bodies.push((
        "object".into(),
        "extra-property".into(),
        Body::Json(Value::Object(base(&[("unknownExtra", json!("x"))]))),
    ));
    let mut missing = Map::new();
    missing.insert("text".into(), json!("Goodbye"));
    bodies.push((
        "object".into(),
        "op-missing".into(),
        Body::Json(Value::Object(missing)),
    ));
    for (c, v) in [
        ("op-lower", op_name.to_lowercase()),
        ("op-upper", op_name.to_uppercase()),
    ] {
        let mut m = Map::new();
        m.insert(op.name.clone(), json!(v));
        bodies.push(("object".into(), c.into(), Body::Json(Value::Object(m))));
    }

    let mut out = Vec::new();
    for (i, (field, class, body)) in bodies.into_iter().enumerate() {
        let rule = rule_of(&body);
        let tag = verdict_tag(&body);
        let mut steps = setup("c1", agent);
        steps.push(post("c1", body.clone()));
        if follows_up(&body) {
            steps.push(post_json("c1", plain_complete()));
        }
        steps.push(Step::Inspect { chat: "c1".into() });
        steps.push(Step::Settle);
        out.push(Case {
            id: format!("cov-{tag}-{}-{class}", slug(&field)),
            seed: case_seed(run_seed, 2_000_000 + i as u64),
            exercises: exercises_of(rule, &body),
            steps,
        });
    }
    Ok(out)
}

/// The states in which Complete is legal (the model's chat state, and whether the
/// customer left), in the order of the pairwise `state` factor.
pub const STATES: [(ChatState, bool); 4] = [
    (ChatState::Chatting, false),
    (ChatState::LeftChat, false),
    (ChatState::Chatting, true),
    (ChatState::LeftChat, true),
];

/// The label of a chat's state in the coverage figures: the model's spelling, with
/// `+customer-left` once the customer left a chat in which Complete is still legal.
pub fn state_label(state: ChatState, customer_left: bool) -> String {
    if customer_left && model::transition(state, OpName::Complete).is_some() {
        format!("{}+customer-left", state.as_str())
    } else {
        state.as_str().to_string()
    }
}

/// The labels of [`STATES`] ([`state_label`]), in their order.
pub fn state_labels() -> &'static [String] {
    static LABELS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        STATES
            .iter()
            .map(|(state, left)| state_label(*state, *left))
            .collect()
    });
    &LABELS
}

/// The steps bringing chat `c1` of `agent` into `state` (one of [`STATES`]): accepted,
/// the customer gone when `customer_left`, then Leave for `LeftChat`.
fn state_setup(state: ChatState, customer_left: bool, agent: &str) -> Vec<Step> {
    let mut s = setup("c1", agent);
    if customer_left {
        s.push(Step::CustomerLeaves { chat: "c1".into() });
    }
    if state == ChatState::LeftChat {
        s.push(post_json(
            "c1",
            json!({"operationName": OpName::Leave.as_str()}),
        ));
    }
    s
}

/// A level of a pairwise factor: its class and value (`None`: absent).
pub type Level = (&'static str, Option<Value>);

/// The pairwise factors: Complete's parameters with their value classes, then the state.
/// Each level is (class, value); `None` = absent.
pub fn factors() -> Vec<(&'static str, Vec<Level>)> {
    vec![
        (
            "queueName",
            vec![
                ("absent", None),
                ("ascii", Some(json!("PostProcessingQueue"))),
                ("non-ascii", Some(json!("Файл-队列-ü"))),
            ],
        ),
        (
            "saveLAR",
            vec![
                ("absent", None),
                ("true", Some(json!(true))),
                ("false", Some(json!(false))),
            ],
        ),
        (
            "text",
            vec![
                ("absent", None),
                ("ascii", Some(json!("Thank you. Goodbye!"))),
                ("non-ascii", Some(json!("Merci 👋🏽 感谢 שלום"))),
                ("long", Some(json!(long(4_096)))),
            ],
        ),
        (
            "messageType",
            vec![("absent", None), ("ascii", Some(json!("Text")))],
        ),
        (
            "treatAs",
            vec![
                ("absent", None),
                ("Normal", Some(json!("Normal"))),
                ("System", Some(json!("System"))),
            ],
        ),
        (
            "state",
            state_labels().iter().map(|s| (s.as_str(), None)).collect(),
        ),
    ]
}

/// Whether a combination (level index per factor) is a valid Complete: messageType and
/// treatAs need text (the schema's `dependentRequired`, here the only constraint).
fn feasible(levels: &[Option<usize>]) -> bool {
    // factor indices: 2 = text, 3 = messageType, 4 = treatAs; level 0 = absent.
    let text_absent = levels[2] == Some(0);
    !(text_absent && (levels[3].is_some_and(|l| l > 0) || levels[4].is_some_and(|l| l > 0)))
}

fn pair_feasible(i: usize, a: usize, j: usize, b: usize, n: usize) -> bool {
    let mut l = vec![None; n];
    l[i] = Some(a);
    l[j] = Some(b);
    feasible(&l)
}

/// All feasible pairs ((factor, level), (factor, level)) with the first factor lower.
fn all_pairs(sizes: &[usize]) -> BTreeSet<(usize, usize, usize, usize)> {
    let n = sizes.len();
    let mut s = BTreeSet::new();
    for i in 0..n {
        for j in i + 1..n {
            for a in 0..sizes[i] {
                for b in 0..sizes[j] {
                    if pair_feasible(i, a, j, b, n) {
                        s.insert((i, a, j, b));
                    }
                }
            }
        }
    }
    s
}

fn pairs_of(row: &[usize]) -> Vec<(usize, usize, usize, usize)> {
    let mut v = Vec::new();
    for i in 0..row.len() {
        for j in i + 1..row.len() {
            v.push((i, row[i], j, row[j]));
        }
    }
    v
}

/// A greedy all-pairs covering array over `sizes` (levels per factor), feasible rows
/// only: each row is built factor by factor choosing the level that covers most
/// uncovered pairs with the levels chosen so far, seeded by the first uncovered pair.
/// Deterministic.
pub fn greedy_pairwise(sizes: &[usize]) -> Vec<Vec<usize>> {
    let n = sizes.len();
    let mut uncovered = all_pairs(sizes);
    let mut rows = Vec::new();
    while let Some(&(i0, a0, j0, b0)) = uncovered.iter().next() {
        let mut row: Vec<Option<usize>> = vec![None; n];
        row[i0] = Some(a0);
        row[j0] = Some(b0);
        for f in 0..n {
            if row[f].is_some() {
                continue;
            }
            let mut best: Option<(usize, usize)> = None;
            for l in 0..sizes[f] {
                let mut trial = row.clone();
                trial[f] = Some(l);
                if !feasible(&trial) {
                    continue;
                }
                let gain = (0..n)
                    .filter(|&g| g != f)
                    .filter_map(|g| trial[g].map(|lg| (g, lg)))
                    .filter(|&(g, lg)| {
                        let key = if g < f { (g, lg, f, l) } else { (f, l, g, lg) };
                        uncovered.contains(&key)
                    })
                    .count();
                if best.is_none_or(|(_, bg)| gain > bg) {
                    best = Some((l, gain));
                }
            }
            row[f] = Some(best.map_or(0, |(l, _)| l));
        }
        let row: Vec<usize> = row.into_iter().map(|l| l.unwrap_or(0)).collect();
        let before = uncovered.len();
        for p in pairs_of(&row) {
            uncovered.remove(&p);
        }
        if uncovered.len() == before {
            // Cannot happen (the seed pair is feasible), but never loop forever.
            uncovered.remove(&(i0, a0, j0, b0));
        }
        rows.push(row);
    }
    rows
}

/// Cases of the pairwise phase: one per row of the covering array.
pub fn pairwise_cases(run_seed: u64, agent: &str) -> Vec<Case> {
    let f = factors();
    let sizes: Vec<usize> = f.iter().map(|(_, l)| l.len()).collect();
    let rows = greedy_pairwise(&sizes);
    let state_f = f.len() - 1;
    let mut out = Vec::new();
    for (k, row) in rows.iter().enumerate() {
        let mut body = Map::new();
        body.insert("operationName".into(), json!("Complete"));
        let mut tags = Vec::new();
        for (fi, (name, levels)) in f.iter().enumerate().take(state_f) {
            let (class, value) = &levels[row[fi]];
            if let Some(v) = value {
                body.insert((*name).to_string(), v.clone());
                tags.push(format!(
                    "{}{}",
                    &name[..1].to_ascii_lowercase(),
                    slug(class)
                ));
            }
        }
        let state = f[state_f].1[row[state_f]].0;
        let (chat_state, customer_left) = STATES[row[state_f]];
        let body = Body::Json(Value::Object(body));
        let rule = rule_of(&body);
        let mut steps = state_setup(chat_state, customer_left, agent);
        steps.push(post("c1", body.clone()));
        if follows_up(&body) {
            steps.push(post_json("c1", plain_complete()));
        }
        steps.push(Step::Inspect { chat: "c1".into() });
        steps.push(Step::Settle);
        let mut exercises = exercises_of(rule, &body);
        if chat_state == ChatState::LeftChat {
            exercises.push(ReqId::Cmp15);
        }
        if customer_left {
            exercises.push(ReqId::Cmp16);
        }
        exercises.sort();
        exercises.dedup();
        out.push(Case {
            id: format!(
                "cov-pair-{}-{}-{}",
                k + 1,
                slug(state),
                if tags.is_empty() {
                    "plain".to_string()
                } else {
                    tags.join("-")
                }
            ),
            seed: case_seed(run_seed, 3_000_000 + k as u64),
            exercises,
            steps,
        });
    }
    out
}

/// Cases of the race phase: two Completes on one chat sent at the same instant,
/// Complete racing Leave, and Complete racing the customer leaving. Exactly one Complete
/// succeeds and one Completed arrives; the loser is refused and changes nothing. The
/// checker judges the racing requests in the order the target served them, so either
/// winner passes on a conforming target.
pub fn race_cases(run_seed: u64, agent: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut steps = setup("c1", agent);
    steps.push(Step::Concurrent {
        steps: vec![
            post_json("c1", plain_complete()),
            post_json(
                "c1",
                json!({"operationName": "Complete", "text": "Goodbye (racing)"}),
            ),
        ],
    });
    steps.push(Step::Inspect { chat: "c1".into() });
    steps.push(Step::Settle);
    out.push(Case {
        id: "cov-race-double-complete".into(),
        seed: case_seed(run_seed, 4_000_000),
        exercises: vec![ReqId::Cmp02, ReqId::Cmp13, ReqId::Cmp18, ReqId::Cmp19],
        steps,
    });
    let mut steps = setup("c1", agent);
    steps.push(Step::Concurrent {
        steps: vec![
            post_json("c1", json!({"operationName": "Leave"})),
            post_json("c1", plain_complete()),
        ],
    });
    // Whichever won, a final Complete leaves the chat Completed (refused if it already is).
    steps.push(post_json("c1", plain_complete()));
    steps.push(Step::Inspect { chat: "c1".into() });
    steps.push(Step::Settle);
    out.push(Case {
        id: "cov-race-complete-leave".into(),
        seed: case_seed(run_seed, 4_000_001),
        exercises: vec![ReqId::Cmp02, ReqId::Cmp13, ReqId::Cmp15, ReqId::Cmp19],
        steps,
    });
    // Complete racing the customer leaving: either order is legal (SPEC §2: Complete in
    // Chatting then the customer leaving a completed chat, which changes nothing; or
    // the customer leaving first, then Complete in Chatting after the customer left).
    let mut steps = setup("c1", agent);
    steps.push(Step::Concurrent {
        steps: vec![
            post_json(
                "c1",
                json!({"operationName": "Complete", "text": "Goodbye (racing the customer)"}),
            ),
            Step::CustomerLeaves { chat: "c1".into() },
        ],
    });
    steps.push(Step::Inspect { chat: "c1".into() });
    steps.push(Step::Settle);
    out.push(Case {
        id: "cov-race-complete-customer-leaves".into(),
        seed: case_seed(run_seed, 4_000_002),
        exercises: vec![ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp16, ReqId::Cmp19],
        steps,
    });
    out
}

/// Every case of the coverage phase: near-misses, pairs, races.
pub fn cases(schemas: &Schemas, run_seed: u64, agents: &[String]) -> Result<Vec<Case>, String> {
    let a = agents.first().cloned().unwrap_or_else(|| "agent1".into());
    let mut v = near_miss_cases(schemas, run_seed, &a)?;
    v.extend(pairwise_cases(run_seed, &a));
    v.extend(race_cases(run_seed, &a));
    Ok(v)
}

// ---------------------------------------------------------------------------------
// Coverage figures.

pub use crate::report::{CoverageSummary, PairCoverage, ReqCoverage};

/// The class of a parameter value (the one [`summary`] reports).
pub fn class_of(field: &str, v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::String(s) => {
            if field == "treatAs" {
                return if s == "Normal" || s == "System" {
                    s.clone()
                } else {
                    "near-miss".into()
                };
            }
            if field == "saveLAR" {
                return "string".into();
            }
            let n = s.chars().count();
            if n == 0 {
                "empty".into()
            } else if n == 1 {
                "one-char".into()
            } else if n >= 256 {
                "long".into()
            } else if s.chars().any(char::is_control) {
                "control".into()
            } else if !s.is_ascii() {
                "non-ascii".into()
            } else if s.contains(['"', '\\']) {
                "escapes".into()
            } else {
                "ascii".into()
            }
        }
        Value::Null => "type-null".into(),
        Value::Number(_) => "type-number".into(),
        Value::Array(_) => "type-array".into(),
        Value::Object(_) => "type-object".into(),
    }
}

/// The owner's Completes of a case, with the chat's state label ([`state_label`]) when
/// each was sent. The chats follow the model's transitions ([`model::transition`]);
/// inside a Concurrent step every request sees the state before the step.
fn completes(case: &Case) -> Vec<(String, &Body)> {
    let mut chats: BTreeMap<String, Chat> = BTreeMap::new();
    let mut out = Vec::new();
    walk_completes(&case.steps, &mut chats, &mut out, false);
    out
}

/// [`completes`] over `steps` (`together`: the parts of one Concurrent step).
fn walk_completes<'a>(
    steps: &'a [Step],
    chats: &mut BTreeMap<String, Chat>,
    out: &mut Vec<(String, &'a Body)>,
    together: bool,
) {
    let snapshot = if together {
        chats.clone()
    } else {
        BTreeMap::new()
    };
    for st in steps {
        match st {
            Step::OfferChat { chat, .. } => {
                chats.insert(chat.clone(), Chat::offered());
            }
            Step::CustomerLeaves { chat } => {
                if let Some(c) = chats.get_mut(chat) {
                    c.customer_present = false;
                }
            }
            Step::AgentPost {
                chat: ChatRef::Alias(alias),
                by_other_agent: false,
                body,
                ..
            } => {
                let op = body
                    .json()
                    .and_then(|v| v.get("operationName"))
                    .and_then(Value::as_str)
                    .and_then(OpName::parse);
                let before = snapshot.get(alias).or(chats.get(alias)).map(|c| c.state);
                let Some(c) = chats.get_mut(alias) else {
                    continue;
                };
                let label = before.unwrap_or(ChatState::Invited);
                match op {
                    Some(OpName::Complete) => {
                        out.push((state_label(label, !c.customer_present), body));
                        if let Classified::Op(_) = model::classify(body)
                            && let Some(next) = model::transition(label, OpName::Complete)
                        {
                            c.state = next;
                        }
                    }
                    Some(op) => {
                        if let Some(next) = model::transition(c.state, op) {
                            c.state = next;
                        }
                    }
                    None => {}
                }
            }
            Step::Concurrent { steps } => walk_completes(steps, chats, out, true),
            _ => {}
        }
    }
}

/// The class level index of `v` for pairwise factor `name`, if it is one of its levels.
fn level_of(levels: &[Level], v: Option<&Value>, field: &str) -> Option<usize> {
    match v {
        None => Some(0),
        Some(v) => {
            let c = class_of(field, v);
            levels.iter().position(|(lc, lv)| {
                lv.is_some() && (*lc == c || (field == "treatAs" && lv.as_ref() == Some(v)))
            })
        }
    }
}

/// Coverage figures computed from a plan: per requirement, how many cases exercise it
/// and with which parameter classes and states; which pairs × states ran.
pub fn summary(cases: &[Case]) -> CoverageSummary {
    let mut acc = Accumulator::new();
    for c in cases {
        acc.add(c);
    }
    acc.finish()
}

/// [`summary`] built one case at a time, as a streaming run judges them.
pub struct Accumulator {
    f: Vec<(&'static str, Vec<Level>)>,
    possible: BTreeSet<(usize, usize, usize, usize)>,
    covered: BTreeSet<(usize, usize, usize, usize)>,
    requirements: BTreeMap<String, ReqCoverage>,
    cases: usize,
    coverage_cases: usize,
}

impl Default for Accumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Accumulator {
    /// Nothing counted yet.
    pub fn new() -> Self {
        let f = factors();
        let sizes: Vec<usize> = f.iter().map(|(_, l)| l.len()).collect();
        let possible = all_pairs(&sizes);
        Accumulator {
            f,
            possible,
            covered: BTreeSet::new(),
            requirements: BTreeMap::new(),
            cases: 0,
            coverage_cases: 0,
        }
    }

    /// Counts one case.
    pub fn add(&mut self, case: &Case) {
        let f = &self.f;
        self.cases += 1;
        if case.id.starts_with("cov-") {
            self.coverage_cases += 1;
        }
        let mut classes = BTreeSet::new();
        let mut states = BTreeSet::new();
        for (state, body) in completes(case) {
            states.insert(state.clone());
            if let Some(o) = body.json().and_then(Value::as_object) {
                for (k, v) in o {
                    if k != "operationName" {
                        classes.insert(format!("{k}:{}", class_of(k, v)));
                    }
                }
                if !matches!(model::classify(body), Classified::Op(_)) {
                    continue;
                }
                let mut row = Vec::new();
                for (name, levels) in f.iter().take(f.len() - 1) {
                    row.push(level_of(levels, o.get(*name), name));
                }
                row.push(state_labels().iter().position(|s| *s == state));
                if row.iter().all(Option::is_some) {
                    let row: Vec<usize> = row.into_iter().map(|l| l.unwrap_or(0)).collect();
                    for p in pairs_of(&row) {
                        if self.possible.contains(&p) {
                            self.covered.insert(p);
                        }
                    }
                }
            } else if let Body::Raw(_) = body {
                classes.insert("body:raw".into());
            }
        }
        for r in &case.exercises {
            let e = self.requirements.entry(r.as_str().to_string()).or_default();
            e.cases += 1;
            e.classes.extend(classes.iter().cloned());
            e.states.extend(states.iter().cloned());
        }
    }

    /// The summary of every case counted.
    pub fn finish(self) -> CoverageSummary {
        let f = &self.f;
        let name = |fi: usize, l: usize| format!("{}={}", f[fi].0, f[fi].1[l].0);
        let missing = self
            .possible
            .difference(&self.covered)
            .map(|&(i, a, j, b)| format!("{} & {}", name(i, a), name(j, b)))
            .collect();
        CoverageSummary {
            cases: self.cases,
            coverage_cases: self.coverage_cases,
            requirements: self.requirements,
            pairs: PairCoverage {
                covered: self.covered.len(),
                possible: self.possible.len(),
                missing,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> &'static Schemas {
        Schemas::embedded().expect("embedded schemas")
    }

    #[test]
    fn props_come_from_the_schema() {
        let p = props(schemas()).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        // The schema and the model name the same properties.
        assert_eq!(names.len(), model::COMPLETE_PROPERTIES.len(), "{names:?}");
        for n in model::COMPLETE_PROPERTIES {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let treat = p.iter().find(|p| p.name == "treatAs").unwrap();
        assert_eq!(
            treat.kind,
            PropKind::Enum(vec![json!("Normal"), json!("System")])
        );
        let q = p.iter().find(|p| p.name == "queueName").unwrap();
        assert_eq!(q.kind, PropKind::String { min_len: 1 });
        assert!(op_prop(&p).is_some_and(|o| o.name == "operationName"));
    }

    #[test]
    fn near_misses_are_tagged_with_the_rule_they_break() {
        let c = near_miss_cases(schemas(), 1, "agent1").unwrap();
        let ids: Vec<&str> = c.iter().map(|c| c.id.as_str()).collect();
        for want in [
            "cov-cmp-10-treatas-lower-normal",
            "cov-valid-treatas-member-normal",
            "cov-cmp-11-savelar-string-true",
            "cov-cmp-11-savelar-null",
            "cov-valid-text-emoji",
            "cov-valid-text-long-4096",
            "cov-cmp-11-queuename-empty",
            "cov-either-object-extra-property",
            "cov-req-01-object-op-lower",
            "cov-either-text-lone-surrogate",
        ] {
            assert!(ids.contains(&want), "{want} not in {ids:?}");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "duplicate ids");
        assert!(c.len() <= 80, "{} near-miss cases", c.len());
        // Refused ones are followed by a plain Complete; valid ones are not.
        for case in &c {
            let posts = case
                .steps
                .iter()
                .filter(|s| matches!(s, Step::AgentPost { .. }))
                .count();
            let refused = !case.id.starts_with("cov-valid-");
            assert_eq!(posts, if refused { 3 } else { 2 }, "{}", case.id);
        }
    }

    #[test]
    fn greedy_pairwise_covers_every_feasible_pair() {
        let f = factors();
        let sizes: Vec<usize> = f.iter().map(|(_, l)| l.len()).collect();
        let rows = greedy_pairwise(&sizes);
        let mut need = all_pairs(&sizes);
        for r in &rows {
            let mut l: Vec<Option<usize>> = r.iter().copied().map(Some).collect();
            assert!(feasible(&l), "{r:?}");
            l.clear();
            for p in pairs_of(r) {
                need.remove(&p);
            }
        }
        assert!(need.is_empty(), "uncovered {need:?}");
        // Far fewer rows than the full product (3*3*4*2*3*4 = 864).
        assert!(rows.len() <= 24, "{} rows", rows.len());
    }

    #[test]
    fn summary_reports_full_pairwise_coverage_and_states() {
        let c = cases(schemas(), 1, &["agent1".into()]).unwrap();
        let s = summary(&c);
        assert_eq!(
            s.pairs.covered, s.pairs.possible,
            "missing {:?}",
            s.pairs.missing
        );
        assert_eq!(s.coverage_cases, c.len());
        let cmp16 = &s.requirements["CMP-16"];
        assert!(cmp16.states.contains("Chatting+customer-left"), "{cmp16:?}");
        assert!(cmp16.states.contains("LeftChat+customer-left"), "{cmp16:?}");
        let cmp10 = &s.requirements["CMP-10"];
        assert!(cmp10.classes.contains("treatAs:near-miss"), "{cmp10:?}");
        // Serializes (for the report).
        let j = serde_json::to_value(&s).unwrap();
        assert!(j["pairs"]["possible"].as_u64().unwrap() > 50);
    }

    #[test]
    fn plan_counts_for_seed_1() {
        let agents = ["agent1".to_string(), "agent2".to_string()];
        let all = super::super::cases::all(schemas(), 1, &agents, 3).unwrap();
        let n = |p: &str| all.iter().filter(|c| c.id.starts_with(p)).count();
        let (cov, random) = (n("cov-"), n("random-"));
        let s = summary(&all);
        eprintln!(
            "plan seed 1: {} cases: {} directed, {cov} cov- ({} pairs rows), {random} random; pairs {}/{}",
            all.len(),
            all.len() - cov - random,
            n("cov-pair-"),
            s.pairs.covered,
            s.pairs.possible
        );
        assert!(cov <= 100, "{cov} coverage cases");
    }

    #[test]
    fn race_cases_send_two_requests_at_once() {
        for c in race_cases(1, "a") {
            assert!(
                c.steps
                    .iter()
                    .any(|s| matches!(s, Step::Concurrent { steps } if steps.len() == 2)),
                "{}",
                c.id
            );
        }
    }
}
