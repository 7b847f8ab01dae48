//! The near-miss phase of the coverage cases: boundary and near-miss values for every
//! property of the Complete request schema, one Complete per case, tagged with the rule
//! the model says each breaks.

use super::schema_props::{Prop, PropKind, SCHEMA, dependents, op_prop, props};
use super::steps::{complete, post, post_body, setup};
use super::{Case, CasesError, case_seed, slug};
use crate::history::{Body, Step};
use crate::model::{self, Classified};
use crate::schema::Schemas;
use crate::spec::ReqId;
use serde_json::{Map, Value, json};

/// Lengths of the long strings (characters). The embedded server caps request bodies at
/// 64 KiB, so the longest text stays below that (a 65,536-character text would not fit).
pub const LONG_LENGTHS: [usize; 4] = [256, 1_024, 4_096, 16_384];

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
pub(super) fn long(n: usize) -> String {
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

/// The requirement whose rule a body breaks, per the model.
pub(super) fn rule_of(body: &Body) -> Option<ReqId> {
    model::classify(body).broken_req()
}

/// Whether a single-Complete case follows its Complete with a plain one: after a body
/// the model refuses, or one the contract leaves open (SPEC §6.12: if the target
/// refused it, the refusal must have changed nothing, CMP-17).
pub(super) fn follows_up(body: &Body) -> bool {
    !matches!(model::classify(body), Classified::Op(_))
}

/// The requirements a single-Complete case exercises, given the rule its body breaks.
pub(super) fn exercises_of(rule: Option<ReqId>, body: &Body) -> Vec<ReqId> {
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
pub fn near_miss_cases(
    schemas: &Schemas,
    run_seed: u64,
    agent: &str,
) -> Result<Vec<Case>, CasesError> {
    let mut out = Vec::new();
    for (i, (field, class, body)) in near_miss_bodies(schemas)?.into_iter().enumerate() {
        let rule = rule_of(&body);
        let tag = verdict_tag(&body);
        let mut steps = setup("c1", agent);
        steps.push(post_body("c1", body.clone()));
        if follows_up(&body) {
            steps.push(post("c1", complete()));
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

/// A near-miss body: (field, class, body).
type Probe = (String, String, Body);

/// The bodies of the near-miss phase, in case order: per property of the schema (but
/// the operation's), then the whole-object ones.
fn near_miss_bodies(schemas: &Schemas) -> Result<Vec<Probe>, CasesError> {
    let props = props(schemas)?;
    let deps = dependents(schemas);
    let op = op_prop(&props).ok_or(CasesError::NoOperationProperty(SCHEMA))?;
    let PropKind::Const(op_value) = &op.kind else {
        unreachable!("op_prop returns a Const property")
    };
    let op_name = op_value.as_str().unwrap_or("Complete").to_string();
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
    let mut bodies: Vec<Probe> = Vec::new();
    for p in props.iter().filter(|p| p.name != op.name) {
        bodies.extend(prop_probes(p, &with, &op.name, &op_name));
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
    Ok(bodies)
}

/// The probes of one property `p`: `with(name, value)` is a body holding the value
/// (and the partners it depends on); `op_field` = `op_name` is the operation.
fn prop_probes(
    p: &Prop,
    with: &dyn Fn(&str, Value) -> Value,
    op_field: &str,
    op_name: &str,
) -> Vec<Probe> {
    let mut bodies: Vec<Probe> = Vec::new();
    let mut push = |class: String, body: Body| bodies.push((p.name.clone(), class, body));
    match &p.kind {
        PropKind::Enum(members) => {
            for m in members {
                let Some(s) = m.as_str() else { continue };
                push(
                    format!("member-{}", slug(s)),
                    Body::Json(with(&p.name, m.clone())),
                );
                for (how, nm) in near_misses(s) {
                    push(
                        format!("{how}-{}", slug(s)),
                        Body::Json(with(&p.name, json!(nm))),
                    );
                }
            }
            push("empty".into(), Body::Json(with(&p.name, json!(""))));
            // (The boolean probes below already hold their wrong types.)
            for (t, v) in wrong_types(&p.kind) {
                push(format!("type-{t}"), Body::Json(with(&p.name, v)));
            }
        }
        PropKind::Boolean => {
            for b in [true, false] {
                push(format!("{b}"), Body::Json(with(&p.name, json!(b))));
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
                push(c.into(), Body::Json(with(&p.name, v)));
            }
        }
        PropKind::String { .. } => {
            // The property every text probe is worth most on gets the full set; the
            // others a short one. `text` is the one the customer reads.
            let full = p.name == "text";
            for (c, v) in string_probes(full) {
                push(c, Body::Json(with(&p.name, json!(v))));
            }
            for (t, v) in wrong_types(&p.kind) {
                push(format!("type-{t}"), Body::Json(with(&p.name, v)));
            }
            if full {
                // serde_json cannot hold a lone surrogate: a raw body.
                let raw = format!(
                    "{{\"{}\": \"{}\", \"{}\": \"bye \\ud800 there\"}}",
                    op_field, op_name, p.name
                );
                push("lone-surrogate".into(), Body::Raw(raw));
                // An astral character written as its escaped surrogate pair (RFC 8259
                // §7): plain JSON, which serde_json never writes (it sends the UTF-8).
                let raw = format!(
                    "{{\"{}\": \"{}\", \"{}\": \"bye \\ud83d\\udc4b there\"}}",
                    op_field, op_name, p.name
                );
                push("escaped-pair".into(), Body::Raw(raw));
            }
        }
        PropKind::Const(_) | PropKind::Other => {}
    }
    bodies
}
