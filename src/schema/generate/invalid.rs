//! IR → proptest strategies of instances that break exactly one named rule.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{Value, json};

use super::ir::esc;
use super::valid::{text, valid_object, word};
use super::{EXTRA_LEN, Invalid, Node, ObjectNode, RuleKind, StringNode, TypeNode, broken, valid};

// ---------------------------------------------------------------------------------------
// Invalid strategies

pub(crate) fn invalid(node: &Arc<Node>) -> Option<BoxedStrategy<Invalid>> {
    let options = invalid_options(node, "");
    if options.is_empty() {
        None
    } else {
        Some(Union::new(options).boxed())
    }
}

/// The rule kinds `invalid(node)` can produce.
pub(crate) fn breakable(node: &Arc<Node>, out: &mut BTreeSet<RuleKind>) {
    for kind in kinds_of(node) {
        out.insert(kind);
    }
}

fn kinds_of(node: &Arc<Node>) -> Vec<RuleKind> {
    let mut v = Vec::new();
    match &**node {
        Node::Any => {}
        Node::Const(_) => v.push(RuleKind::NotConst),
        Node::Enum(_) => v.push(RuleKind::NotInEnum),
        Node::OneOf(bs) | Node::AnyOf(bs) => bs.iter().for_each(|b| v.extend(kinds_of(b))),
        Node::Types(ts) => {
            if !wrong_type_values(ts).is_empty() {
                v.push(RuleKind::WrongType);
            }
            for t in ts {
                match t {
                    TypeNode::Null | TypeNode::Boolean => {}
                    TypeNode::Integer { min, max } => {
                        if min.is_some() {
                            v.push(RuleKind::BelowMinimum);
                        }
                        if max.is_some() {
                            v.push(RuleKind::AboveMaximum);
                        }
                    }
                    TypeNode::Number { min, max } => {
                        if min.is_some() {
                            v.push(RuleKind::BelowMinimum);
                        }
                        if max.is_some() {
                            v.push(RuleKind::AboveMaximum);
                        }
                    }
                    TypeNode::String(s) => {
                        let plain = s.pattern.is_none() && s.format.is_none();
                        if plain && s.min > 0 {
                            v.push(RuleKind::TooShort);
                        }
                        if plain && s.max.is_some_and(|m| m <= MAX_LONG) {
                            v.push(RuleKind::TooLong);
                        }
                        if s.pattern.is_some() {
                            v.push(RuleKind::PatternMismatch);
                        }
                    }
                    TypeNode::Array { items, min, max } => {
                        if *min > 0 {
                            v.push(RuleKind::TooFewItems);
                        }
                        if max.is_some_and(|m| m <= MAX_ITEMS_BREAK) {
                            v.push(RuleKind::TooManyItems);
                        }
                        if *max != Some(0) {
                            v.extend(kinds_of(items));
                        }
                    }
                    TypeNode::Object(o) => {
                        if o.required.iter().any(|k| missing_ok(o, k)) {
                            v.push(RuleKind::MissingRequired);
                        }
                        if !o.open {
                            v.push(RuleKind::ExtraProperty);
                        }
                        if o.dependent
                            .iter()
                            .any(|(_, ds)| ds.iter().any(|d| !o.is_required(d)))
                        {
                            v.push(RuleKind::BrokenDependentRequired);
                        }
                        for (_, n) in &o.props {
                            v.extend(kinds_of(n));
                        }
                        if let Some(extra) = &o.extra {
                            v.extend(kinds_of(extra));
                        }
                    }
                }
            }
        }
    }
    v
}

/// Longest `maxLength` for which TooLong strings are generated.
const MAX_LONG: usize = 1000;
/// Largest `maxItems` for which TooManyItems arrays are generated.
const MAX_ITEMS_BREAK: usize = 64;

/// Can `k` be left out without breaking another rule too? (Not when a required property
/// needs it through dependentRequired.)
fn missing_ok(o: &ObjectNode, k: &str) -> bool {
    !o.dependent
        .iter()
        .any(|(t, ds)| o.is_required(t) && ds.iter().any(|d| d == k))
}

fn wrong_type_values(ts: &[TypeNode]) -> Vec<Value> {
    let has = |n: &str| ts.iter().any(|t| t.type_name() == n);
    let mut out = Vec::new();
    if !has("string") {
        out.push(json!("x"));
    }
    if !has("integer") && !has("number") {
        out.push(json!(7));
    }
    if !has("boolean") {
        out.push(json!(true));
    }
    if !has("null") {
        out.push(Value::Null);
    }
    if !has("array") {
        out.push(json!([]));
    }
    if !has("object") {
        out.push(json!({}));
    }
    out
}

fn type_names(ts: &[TypeNode]) -> String {
    ts.iter()
        .map(TypeNode::type_name)
        .collect::<Vec<_>>()
        .join("|")
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn invalid_options(node: &Arc<Node>, path: &str) -> Vec<BoxedStrategy<Invalid>> {
    let mut out: Vec<BoxedStrategy<Invalid>> = Vec::new();
    let p = path.to_string();
    match &**node {
        Node::Any => {}
        Node::Const(c) => {
            let other = match c {
                Value::String(s) => json!(format!("{s}_x")),
                Value::Number(n) => json!(n.as_i64().map_or(0, |i| i.wrapping_add(1))),
                Value::Bool(b) => json!(!b),
                Value::Null => json!("null"),
                _ => Value::Null,
            };
            let rule = broken(RuleKind::NotConst, path, format!("{other} instead of {c}"));
            out.push(Just(Invalid { value: other, rule }).boxed());
        }
        Node::Enum(vs) => {
            let vs = vs.clone();
            let allowed = vs.clone();
            out.push(
                word(1, 6)
                    .prop_map(|w| format!("Zz{w}"))
                    .prop_filter("must be outside the enum", move |s| {
                        !allowed.contains(&Value::String(s.clone()))
                    })
                    .prop_map(move |s| Invalid {
                        rule: broken(
                            RuleKind::NotInEnum,
                            &p,
                            format!("{s:?} is not one of {}", Value::Array(vs.clone())),
                        ),
                        value: Value::String(s),
                    })
                    .boxed(),
            );
        }
        Node::OneOf(bs) | Node::AnyOf(bs) => {
            for b in bs {
                out.extend(invalid_options(b, path));
            }
        }
        Node::Types(ts) => {
            let wrong = wrong_type_values(ts);
            if !wrong.is_empty() {
                let names = type_names(ts);
                out.push(
                    proptest::sample::select(wrong)
                        .prop_map(move |v| Invalid {
                            rule: broken(
                                RuleKind::WrongType,
                                &p,
                                format!("{} instead of {names}", json_type(&v)),
                            ),
                            value: v,
                        })
                        .boxed(),
                );
            }
            for t in ts {
                type_invalid_options(t, path, &mut out);
            }
        }
    }
    out
}

fn type_invalid_options(t: &TypeNode, path: &str, out: &mut Vec<BoxedStrategy<Invalid>>) {
    match t {
        TypeNode::Null | TypeNode::Boolean => {}
        TypeNode::Integer { min, max } => integer_invalid_options(*min, *max, path, out),
        TypeNode::Number { min, max } => number_invalid_options(*min, *max, path, out),
        TypeNode::String(s) => string_invalid_options(s, path, out),
        TypeNode::Array { items, min, max } => array_invalid_options(items, *min, *max, path, out),
        TypeNode::Object(o) => object_invalid_options(o, path, out),
    }
}

/// An integer below `minimum`, above `maximum`.
fn integer_invalid_options(
    min: Option<i64>,
    max: Option<i64>,
    path: &str,
    out: &mut Vec<BoxedStrategy<Invalid>>,
) {
    let p = path.to_string();
    if let Some(m) = min {
        let p = p.clone();
        out.push(
            (1i64..=100)
                .prop_map(move |d| Invalid {
                    value: json!(m.saturating_sub(d)),
                    rule: broken(
                        RuleKind::BelowMinimum,
                        &p,
                        format!("{} < {m}", m.saturating_sub(d)),
                    ),
                })
                .boxed(),
        );
    }
    if let Some(m) = max {
        out.push(
            (1i64..=100)
                .prop_map(move |d| Invalid {
                    value: json!(m.saturating_add(d)),
                    rule: broken(
                        RuleKind::AboveMaximum,
                        &p,
                        format!("{} > {m}", m.saturating_add(d)),
                    ),
                })
                .boxed(),
        );
    }
}

/// A number below `minimum`, above `maximum`.
fn number_invalid_options(
    min: Option<f64>,
    max: Option<f64>,
    path: &str,
    out: &mut Vec<BoxedStrategy<Invalid>>,
) {
    let p = path.to_string();
    if let Some(m) = min {
        let p = p.clone();
        out.push(
            (0.5f64..100.0)
                .prop_map(move |d| Invalid {
                    value: json!(m - d),
                    rule: broken(RuleKind::BelowMinimum, &p, format!("{} < {m}", m - d)),
                })
                .boxed(),
        );
    }
    if let Some(m) = max {
        out.push(
            (0.5f64..100.0)
                .prop_map(move |d| Invalid {
                    value: json!(m + d),
                    rule: broken(RuleKind::AboveMaximum, &p, format!("{} > {m}", m + d)),
                })
                .boxed(),
        );
    }
}

/// A string too short, too long (plain strings only) or off its pattern.
fn string_invalid_options(s: &StringNode, path: &str, out: &mut Vec<BoxedStrategy<Invalid>>) {
    let p = path.to_string();
    let plain = s.pattern.is_none() && s.format.is_none();
    if plain && s.min > 0 {
        let (min, p) = (s.min, p.clone());
        out.push(
            text(0, min - 1)
                .prop_map(move |v| Invalid {
                    rule: broken(
                        RuleKind::TooShort,
                        &p,
                        format!("{} characters < {min}", v.chars().count()),
                    ),
                    value: Value::String(v),
                })
                .boxed(),
        );
    }
    if let Some(max) = s.max.filter(|m| plain && *m <= MAX_LONG) {
        let p = p.clone();
        out.push(
            text(max + 1, max + 3)
                .prop_map(move |v| Invalid {
                    rule: broken(
                        RuleKind::TooLong,
                        &p,
                        format!("{} characters > {max}", v.chars().count()),
                    ),
                    value: Value::String(v),
                })
                .boxed(),
        );
    }
    if let Some(pat) = &s.pattern {
        let (pat, min, max) = (pat.clone(), s.min, s.max);
        let hi = max.unwrap_or(min + EXTRA_LEN).min(min + EXTRA_LEN);
        let mutated = (
            pat.generate(),
            any::<prop::sample::Index>(),
            proptest::char::range(' ', '~'),
        )
            .prop_map(|(s, i, c)| {
                let mut cs: Vec<char> = s.chars().collect();
                if cs.is_empty() {
                    c.to_string()
                } else {
                    let at = i.index(cs.len());
                    cs[at] = c;
                    cs.into_iter().collect()
                }
            });
        let random = text(min, hi);
        out.push(
            prop_oneof![mutated, random]
                .prop_filter("must not match the pattern and keep the length", move |v| {
                    let n = v.chars().count();
                    !pat.matches(v) && n >= min && max.is_none_or(|m| n <= m)
                })
                .prop_map(move |v| Invalid {
                    rule: broken(
                        RuleKind::PatternMismatch,
                        &p,
                        format!("{v:?} does not match"),
                    ),
                    value: Value::String(v),
                })
                .boxed(),
        );
    }
}

/// An array with too few items, too many, or one item that breaks a rule of `items`.
fn array_invalid_options(
    items: &Arc<Node>,
    min: usize,
    max: Option<usize>,
    path: &str,
    out: &mut Vec<BoxedStrategy<Invalid>>,
) {
    let p = path.to_string();
    if min > 0 {
        let p = p.clone();
        out.push(
            proptest::collection::vec(valid(items), 0..min)
                .prop_map(move |v| Invalid {
                    rule: broken(
                        RuleKind::TooFewItems,
                        &p,
                        format!("{} items < {min}", v.len()),
                    ),
                    value: Value::Array(v),
                })
                .boxed(),
        );
    }
    if let Some(m) = max.filter(|m| *m <= MAX_ITEMS_BREAK) {
        let p = p.clone();
        out.push(
            proptest::collection::vec(valid(items), m + 1..=m + 2)
                .prop_map(move |v| Invalid {
                    rule: broken(
                        RuleKind::TooManyItems,
                        &p,
                        format!("{} items > {m}", v.len()),
                    ),
                    value: Value::Array(v),
                })
                .boxed(),
        );
    }
    if max != Some(0) {
        let lo = min.max(1);
        let hi = max.unwrap_or(lo + 2).min(lo + 2).max(lo);
        for child in invalid_options(items, &format!("{path}/0")) {
            out.push(
                (proptest::collection::vec(valid(items), lo..=hi), child)
                    .prop_map(|(mut v, inv)| {
                        v[0] = inv.value;
                        Invalid {
                            value: Value::Array(v),
                            rule: inv.rule,
                        }
                    })
                    .boxed(),
            );
        }
    }
}

fn object_invalid_options(o: &Arc<ObjectNode>, path: &str, out: &mut Vec<BoxedStrategy<Invalid>>) {
    if let Some(extra) = &o.extra {
        // One additional property whose value breaks the additionalProperties schema.
        let key = (0..)
            .map(|i| format!("zzextra{i}"))
            .find(|k| o.index(k).is_none())
            .unwrap_or_default();
        for child in invalid_options(extra, &format!("{path}/{}", esc(&key))) {
            let key = key.clone();
            out.push(
                (valid_object(o, &[], &[]), child)
                    .prop_map(move |(mut m, inv)| {
                        m.insert(key.clone(), inv.value);
                        Invalid {
                            value: Value::Object(m),
                            rule: inv.rule,
                        }
                    })
                    .boxed(),
            );
        }
    }
    for k in o.required.iter().filter(|k| missing_ok(o, k)) {
        let (p, k2) = (path.to_string(), k.clone());
        out.push(
            valid_object(o, &[], std::slice::from_ref(k))
                .prop_map(move |m| Invalid {
                    value: Value::Object(m),
                    rule: broken(RuleKind::MissingRequired, &p, format!("without {k2:?}")),
                })
                .boxed(),
        );
    }
    if !o.open {
        let p = path.to_string();
        let taken: Vec<String> = o.props.iter().map(|(k, _)| k.clone()).collect();
        out.push(
            (valid_object(o, &[], &[]), word(0, 4), word(0, 6))
                .prop_filter("extra key must be unknown", move |(_, suffix, _)| {
                    !taken.contains(&format!("zz{suffix}"))
                })
                .prop_map(move |(mut m, suffix, v)| {
                    let key = format!("zz{suffix}");
                    m.insert(key.clone(), Value::String(v));
                    Invalid {
                        value: Value::Object(m),
                        rule: broken(
                            RuleKind::ExtraProperty,
                            &p,
                            format!("unknown property {key:?}"),
                        ),
                    }
                })
                .boxed(),
        );
    }
    for (t, deps) in &o.dependent {
        for d in deps.iter().filter(|d| !o.is_required(d)) {
            let p = path.to_string();
            let detail = format!("{t:?} without {d:?}");
            out.push(
                valid_object(o, std::slice::from_ref(t), std::slice::from_ref(d))
                    .prop_map(move |m| Invalid {
                        value: Value::Object(m),
                        rule: broken(RuleKind::BrokenDependentRequired, &p, detail.clone()),
                    })
                    .boxed(),
            );
        }
    }
    for (k, n) in &o.props {
        let child_path = format!("{path}/{}", esc(k));
        for child in invalid_options(n, &child_path) {
            let k = k.clone();
            out.push(
                (valid_object(o, std::slice::from_ref(&k), &[]), child)
                    .prop_map(move |(mut m, inv)| {
                        m.insert(k.clone(), inv.value);
                        Invalid {
                            value: Value::Object(m),
                            rule: inv.rule,
                        }
                    })
                    .boxed(),
            );
        }
    }
}
