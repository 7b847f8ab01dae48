//! IR → proptest strategies of valid instances.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{Map, Value, json};

use super::{EXTRA_ITEMS, EXTRA_LEN, Node, ObjectNode, StringNode, TypeNode};

// ---------------------------------------------------------------------------------------
// Valid strategies

/// Characters of generated text, weighted by repetition: mostly lowercase ASCII, some
/// upper case, digits, JSON-sensitive punctuation and a few non-ASCII characters. `select`
/// shrinks toward the first, `a`, so shrunk strings are readable.
fn text_pool() -> Vec<char> {
    let mut pool: Vec<char> = Vec::new();
    for _ in 0..4 {
        pool.extend('a'..='z');
    }
    pool.extend('A'..='Z');
    pool.extend('0'..='9');
    pool.extend([' ', '-', '_', '.', ',', '!', '?', '\'', '"', '\\', '/']);
    pool.extend(['é', 'ß', '中', '😀']);
    pool
}

pub(super) fn text(min: usize, max: usize) -> BoxedStrategy<String> {
    proptest::collection::vec(proptest::sample::select(text_pool()), min..=max.max(min))
        .prop_map(|v| v.into_iter().collect())
        .boxed()
}

pub(super) fn word(min: usize, max: usize) -> BoxedStrategy<String> {
    proptest::collection::vec(proptest::char::range('a', 'z'), min..=max.max(min))
        .prop_map(|v| v.into_iter().collect())
        .boxed()
}

pub(crate) fn valid(node: &Arc<Node>) -> BoxedStrategy<Value> {
    match &**node {
        Node::Any => prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-100i64..100).prop_map(|i| json!(i)),
            word(0, 6).prop_map(Value::String),
        ]
        .boxed(),
        Node::Const(v) => Just(v.clone()).boxed(),
        Node::Enum(vs) => proptest::sample::select(vs.clone()).boxed(),
        Node::Types(ts) if ts.len() == 1 => valid_type(&ts[0]),
        Node::Types(ts) => Union::new(ts.iter().map(valid_type)).boxed(),
        Node::OneOf(bs) | Node::AnyOf(bs) => Union::new(bs.iter().map(valid)).boxed(),
    }
}

fn valid_string(s: &StringNode) -> BoxedStrategy<String> {
    match s.format.as_deref() {
        Some("uri") => {
            return word(1, 8)
                .prop_map(|w| format!("http://localhost:8080/api/v2/chats/{w}"))
                .boxed();
        }
        Some("date-time") => {
            return (0u32..24, 0u32..60, 0u32..60)
                .prop_map(|(h, m, sec)| format!("2026-11-25T{h:02}:{m:02}:{sec:02}Z"))
                .boxed();
        }
        _ => {}
    }
    let (min, max) = (s.min, s.max);
    if let Some(p) = &s.pattern {
        return p
            .generate()
            .prop_filter("length outside minLength/maxLength", move |v| {
                let n = v.chars().count();
                n >= min && max.is_none_or(|m| n <= m)
            })
            .boxed();
    }
    let hi = max.unwrap_or(min + EXTRA_LEN).min(min + EXTRA_LEN);
    text(min, hi)
}

fn valid_type(t: &TypeNode) -> BoxedStrategy<Value> {
    match t {
        TypeNode::Null => Just(Value::Null).boxed(),
        TypeNode::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        TypeNode::Integer { min, max } => {
            let lo = min.unwrap_or_else(|| max.map_or(-1000, |m| m.saturating_sub(1000).min(0)));
            let hi = max.unwrap_or_else(|| lo.saturating_add(1000).max(1000));
            (lo..=hi).prop_map(|i| json!(i)).boxed()
        }
        TypeNode::Number { min, max } => {
            let lo = min.unwrap_or(-1000.0);
            let hi = max.unwrap_or(lo + 1000.0);
            (lo..=hi).prop_map(|f| json!(f)).boxed()
        }
        TypeNode::String(s) => valid_string(s).prop_map(Value::String).boxed(),
        TypeNode::Array { items, min, max } => {
            let hi = max.unwrap_or(min + EXTRA_ITEMS).min(min + EXTRA_ITEMS);
            proptest::collection::vec(valid(items), *min..=hi)
                .prop_map(Value::Array)
                .boxed()
        }
        TypeNode::Object(o) => valid_object(o, &[], &[]).prop_map(Value::Object).boxed(),
    }
}

/// Valid objects (apart from the rule the caller breaks on purpose): `force_present` keys
/// are always there, `force_absent` never; `dependentRequired` is closed over the rest.
pub(super) fn valid_object(
    o: &Arc<ObjectNode>,
    force_present: &[String],
    force_absent: &[String],
) -> BoxedStrategy<Map<String, Value>> {
    if o.props.is_empty() {
        if !o.open {
            return Just(Map::new()).boxed();
        }
        if let Some(extra) = &o.extra {
            // A map: a few entries valued by the additionalProperties schema.
            return proptest::collection::vec((word(1, 6), valid(extra)), 0..=2)
                .prop_map(|kv| kv.into_iter().collect())
                .boxed();
        }
        // A free-form object (userData, ext, data): a few short string entries.
        return proptest::collection::vec((word(1, 6), word(0, 6)), 0..=2)
            .prop_map(|kv| kv.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
            .boxed();
    }
    let values: Vec<BoxedStrategy<Value>> = o.props.iter().map(|(_, n)| valid(n)).collect();
    let flags: Vec<BoxedStrategy<bool>> = o.props.iter().map(|_| any::<bool>().boxed()).collect();
    let o = o.clone();
    let fp: Vec<String> = force_present.to_vec();
    let fa: Vec<String> = force_absent.to_vec();
    (values, flags)
        .prop_map(move |(values, flags)| assemble(&o, values, &flags, &fp, &fa))
        .boxed()
}

fn assemble(
    o: &ObjectNode,
    values: Vec<Value>,
    chosen: &[bool],
    fp: &[String],
    fa: &[String],
) -> Map<String, Value> {
    let n = o.props.len();
    let mut present: Vec<bool> = (0..n)
        .map(|i| {
            let k = &o.props[i].0;
            if fa.contains(k) {
                return false;
            }
            chosen[i] || o.is_required(k) || fp.contains(k)
        })
        .collect();
    // Close over dependentRequired. A trigger that was only chosen at random is dropped
    // when what it needs is absent (so shrinking a dependency away also drops its trigger,
    // and optional fields stay independent); a forced or required trigger pulls in what it
    // needs, unless that is forced absent (a deliberate break).
    for _ in 0..=n {
        let mut changed = false;
        for (t, deps) in &o.dependent {
            let Some(ti) = o.index(t) else { continue };
            if !present[ti] {
                continue;
            }
            let pinned = fp.contains(t) || o.is_required(t);
            for d in deps {
                let Some(di) = o.index(d) else { continue };
                if present[di] || !present[ti] {
                    continue;
                }
                if !pinned {
                    present[ti] = false;
                    changed = true;
                } else if !fa.contains(d) {
                    present[di] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    o.props
        .iter()
        .zip(values)
        .zip(present)
        .filter(|(_, p)| *p)
        .map(|(((k, _), v), _)| (k.clone(), v))
        .collect()
}
