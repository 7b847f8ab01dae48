//! The generator compiler: a schema → an IR ([`Node`]) → proptest strategies of valid
//! instances and of instances that break exactly one named rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{Map, Value, json};

use super::pattern::Pattern;
use super::{ID_BASE, SchemaError};

/// Keywords the compiler turns into generators.
const SUPPORTED: &[&str] = &[
    "type",
    "const",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "dependentRequired",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "items",
    "minItems",
    "maxItems",
    "$ref",
    "oneOf",
    "anyOf",
    "allOf",
    "format",
];

/// Keywords that do not constrain instances.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "examples",
    "$comment",
    "$id",
    "$schema",
    "$defs",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// `format` values the generator produces (any other is refused at load time).
const FORMATS: &[&str] = &["uri", "date-time"];

/// Longest generated run beyond a minimum (strings, arrays): keeps instances readable.
const EXTRA_LEN: usize = 12;
const EXTRA_ITEMS: usize = 4;

/// What kind of rule an invalid instance breaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum RuleKind {
    /// `type`: a value of another JSON type.
    WrongType,
    /// `enum`: a value outside the list.
    NotInEnum,
    /// `const`: another value.
    NotConst,
    /// `required`: a required property left out.
    MissingRequired,
    /// `dependentRequired`: a property present without the one it needs.
    BrokenDependentRequired,
    /// `additionalProperties: false`: a property the schema does not list.
    ExtraProperty,
    /// `minLength`.
    TooShort,
    /// `maxLength`.
    TooLong,
    /// `pattern`.
    PatternMismatch,
    /// `minimum`.
    BelowMinimum,
    /// `maximum`.
    AboveMaximum,
    /// `minItems`.
    TooFewItems,
    /// `maxItems`.
    TooManyItems,
}

impl RuleKind {
    /// Every kind.
    pub const ALL: [RuleKind; 13] = [
        RuleKind::WrongType,
        RuleKind::NotInEnum,
        RuleKind::NotConst,
        RuleKind::MissingRequired,
        RuleKind::BrokenDependentRequired,
        RuleKind::ExtraProperty,
        RuleKind::TooShort,
        RuleKind::TooLong,
        RuleKind::PatternMismatch,
        RuleKind::BelowMinimum,
        RuleKind::AboveMaximum,
        RuleKind::TooFewItems,
        RuleKind::TooManyItems,
    ];

    /// The JSON Schema keyword of the rule.
    pub fn keyword(self) -> &'static str {
        match self {
            RuleKind::WrongType => "type",
            RuleKind::NotInEnum => "enum",
            RuleKind::NotConst => "const",
            RuleKind::MissingRequired => "required",
            RuleKind::BrokenDependentRequired => "dependentRequired",
            RuleKind::ExtraProperty => "additionalProperties",
            RuleKind::TooShort => "minLength",
            RuleKind::TooLong => "maxLength",
            RuleKind::PatternMismatch => "pattern",
            RuleKind::BelowMinimum => "minimum",
            RuleKind::AboveMaximum => "maximum",
            RuleKind::TooFewItems => "minItems",
            RuleKind::TooManyItems => "maxItems",
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// The one rule an [`Invalid`] instance breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokenRule {
    /// What kind of rule.
    pub kind: RuleKind,
    /// JSON pointer of the instance location the validator reports (for `required`,
    /// `dependentRequired` and `additionalProperties`: the object holding the property).
    pub instance_path: String,
    /// The schema keyword (`RuleKind::keyword`).
    pub keyword: String,
    /// Human detail, e.g. `without "text"`.
    pub detail: String,
}

impl fmt::Display for BrokenRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = if self.instance_path.is_empty() {
            "/"
        } else {
            &self.instance_path
        };
        write!(f, "{p}: {} ({})", self.keyword, self.detail)
    }
}

/// An instance that breaks exactly one rule, and that rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Invalid {
    /// The instance.
    pub value: Value,
    /// The rule it breaks.
    pub rule: BrokenRule,
}

fn broken(kind: RuleKind, path: &str, detail: impl Into<String>) -> BrokenRule {
    BrokenRule {
        kind,
        instance_path: path.to_string(),
        keyword: kind.keyword().to_string(),
        detail: detail.into(),
    }
}

// ---------------------------------------------------------------------------------------
// IR

/// A compiled schema.
#[derive(Debug)]
pub(crate) enum Node {
    /// No constraint (`true`, `{}`).
    Any,
    Const(Value),
    Enum(Vec<Value>),
    /// One or more JSON types, each with its constraints.
    Types(Vec<TypeNode>),
    OneOf(Vec<Arc<Node>>),
    AnyOf(Vec<Arc<Node>>),
}

#[derive(Debug)]
pub(crate) enum TypeNode {
    Null,
    Boolean,
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    String(StringNode),
    Array {
        items: Arc<Node>,
        min: usize,
        max: Option<usize>,
    },
    Object(Arc<ObjectNode>),
}

impl TypeNode {
    fn type_name(&self) -> &'static str {
        match self {
            TypeNode::Null => "null",
            TypeNode::Boolean => "boolean",
            TypeNode::Integer { .. } => "integer",
            TypeNode::Number { .. } => "number",
            TypeNode::String(_) => "string",
            TypeNode::Array { .. } => "array",
            TypeNode::Object(_) => "object",
        }
    }
}

#[derive(Debug)]
pub(crate) struct StringNode {
    min: usize,
    max: Option<usize>,
    pattern: Option<Arc<Pattern>>,
    format: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ObjectNode {
    props: Vec<(String, Arc<Node>)>,
    required: Vec<String>,
    /// `additionalProperties` is not `false`.
    open: bool,
    /// The schema of additional properties, when `additionalProperties` is a (non-empty)
    /// schema.
    extra: Option<Arc<Node>>,
    dependent: Vec<(String, Vec<String>)>,
}

impl ObjectNode {
    fn index(&self, key: &str) -> Option<usize> {
        self.props.iter().position(|(k, _)| k == key)
    }
    fn is_required(&self, key: &str) -> bool {
        self.required.iter().any(|r| r == key)
    }
}

// ---------------------------------------------------------------------------------------
// Keyword check (load time, every subschema including unreferenced $defs)

/// Refuses any keyword the generator does not support, naming file and pointer.
pub(crate) fn check_keywords(file: &str, doc: &Value) -> Result<(), SchemaError> {
    walk(file, doc, "")
}

fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(file: &str, v: &Value, ptr: &str) -> Result<(), SchemaError> {
    let m = match v {
        Value::Bool(true) => return Ok(()),
        Value::Object(m) => m,
        _ => {
            return Err(SchemaError::new(
                file,
                ptr,
                "a schema must be an object or `true` (the generator does not support `false`)",
            ));
        }
    };
    for (k, sub) in m {
        let here = format!("{ptr}/{}", esc(k));
        if !SUPPORTED.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()) {
            return Err(SchemaError::new(
                file,
                here,
                format!(
                    "keyword `{k}` is not supported by the generator (supported: {})",
                    SUPPORTED.join(", ")
                ),
            ));
        }
        match k.as_str() {
            "properties" | "$defs" => {
                let Value::Object(children) = sub else {
                    return Err(SchemaError::new(file, here, "must be an object"));
                };
                for (ck, cv) in children {
                    walk(file, cv, &format!("{here}/{}", esc(ck)))?;
                }
            }
            "items" => walk(file, sub, &here)?,
            "additionalProperties" => match sub {
                Value::Bool(_) => {}
                other => walk(file, other, &here)?,
            },
            "oneOf" | "anyOf" | "allOf" => {
                let Value::Array(items) = sub else {
                    return Err(SchemaError::new(file, here, "must be an array"));
                };
                if items.is_empty() {
                    return Err(SchemaError::new(file, here, "must not be empty"));
                }
                for (i, item) in items.iter().enumerate() {
                    walk(file, item, &format!("{here}/{i}"))?;
                }
            }
            "format" => {
                let f = sub.as_str().unwrap_or_default();
                if !FORMATS.contains(&f) {
                    return Err(SchemaError::new(
                        file,
                        here,
                        format!(
                            "format {sub} is not supported by the generator (supported: {})",
                            FORMATS.join(", ")
                        ),
                    ));
                }
            }
            "pattern" => {
                let p = sub
                    .as_str()
                    .ok_or_else(|| SchemaError::new(file, &here, "must be a string"))?;
                Pattern::parse(p).map_err(|e| SchemaError::new(file, &here, e))?;
            }
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Compiler

/// Compiles documents (by file name, e.g. `common.schema.json`) into [`Node`]s.
pub(crate) struct Compiler<'a> {
    docs: &'a BTreeMap<String, (String, &'a Value)>,
    cache: HashMap<(String, String), Arc<Node>>,
    stack: Vec<(String, String)>,
}

fn err_in(
    docs: &BTreeMap<String, (String, &Value)>,
    doc: &str,
    ptr: &str,
    msg: impl Into<String>,
) -> SchemaError {
    let file = docs
        .get(doc)
        .map(|d| d.0.clone())
        .unwrap_or(doc.to_string());
    SchemaError::new(file, ptr, msg)
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(docs: &'a BTreeMap<String, (String, &'a Value)>) -> Self {
        Compiler {
            docs,
            cache: HashMap::new(),
            stack: Vec::new(),
        }
    }

    fn err(&self, doc: &str, ptr: &str, msg: impl Into<String>) -> SchemaError {
        err_in(self.docs, doc, ptr, msg)
    }

    pub(crate) fn compile_root(&mut self, doc: &str) -> Result<Arc<Node>, SchemaError> {
        self.compile_at(doc, "")
    }

    fn compile_at(&mut self, doc: &str, ptr: &str) -> Result<Arc<Node>, SchemaError> {
        let key = (doc.to_string(), ptr.to_string());
        if let Some(n) = self.cache.get(&key) {
            return Ok(n.clone());
        }
        if self.stack.contains(&key) || self.stack.len() > 64 {
            return Err(self.err(
                doc,
                ptr,
                "recursive $ref: the generator supports only non-recursive schemas",
            ));
        }
        let root = self
            .docs
            .get(doc)
            .ok_or_else(|| self.err(doc, ptr, "no such schema document"))?
            .1;
        let v = root
            .pointer(ptr)
            .ok_or_else(|| self.err(doc, ptr, "JSON pointer does not resolve"))?;
        self.stack.push(key.clone());
        let node = self.compile_value(doc, ptr, v);
        self.stack.pop();
        let node = node?;
        self.cache.insert(key, node.clone());
        Ok(node)
    }

    /// `$ref` → (document file name, pointer).
    fn resolve_ref(&self, doc: &str, ptr: &str, r: &str) -> Result<(String, String), SchemaError> {
        let (file_part, frag) = r.split_once('#').unwrap_or((r, ""));
        let target = if file_part.is_empty() {
            doc.to_string()
        } else {
            let rel = file_part.strip_prefix(ID_BASE).unwrap_or(file_part);
            if rel.contains(':') || rel.contains('/') {
                return Err(self.err(
                    doc,
                    &format!("{ptr}/$ref"),
                    format!("$ref {r:?}: only schemas of this set can be referenced"),
                ));
            }
            rel.to_string()
        };
        if !self.docs.contains_key(&target) {
            return Err(self.err(
                doc,
                &format!("{ptr}/$ref"),
                format!("$ref {r:?}: no schema {target} in this set"),
            ));
        }
        let frag = frag.replace("%24", "$");
        if !frag.is_empty() && !frag.starts_with('/') {
            return Err(self.err(
                doc,
                &format!("{ptr}/$ref"),
                format!("$ref {r:?}: only JSON-pointer fragments are supported"),
            ));
        }
        let target_root = self.docs[&target].1;
        if target_root.pointer(&frag).is_none() {
            return Err(self.err(
                doc,
                &format!("{ptr}/$ref"),
                format!("$ref {r:?}: pointer {frag:?} not found in {target}"),
            ));
        }
        Ok((target, frag))
    }

    fn compile_value(&mut self, doc: &str, ptr: &str, v: &Value) -> Result<Arc<Node>, SchemaError> {
        let m = match v {
            Value::Bool(true) => return Ok(Arc::new(Node::Any)),
            Value::Object(m) => m,
            _ => return Err(self.err(doc, ptr, "unsupported schema value")),
        };
        let constraining: Vec<&str> = m
            .keys()
            .map(String::as_str)
            .filter(|k| !ANNOTATIONS.contains(k))
            .collect();
        if let Some(Value::String(r)) = m.get("$ref") {
            if constraining.len() > 1 {
                return Err(self.err(
                    doc,
                    ptr,
                    "$ref beside other constraining keywords is not supported by the generator",
                ));
            }
            let (d, p) = self.resolve_ref(doc, ptr, r)?;
            return self.compile_at(&d, &p);
        }
        if let Some(all) = m.get("allOf") {
            let merged = self.merge_all_of(doc, ptr, m, all)?;
            return self.compile_value(doc, ptr, &merged);
        }
        for kw in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = m.get(kw) {
                if constraining.len() > 1 {
                    return Err(self.err(
                        doc,
                        ptr,
                        format!("{kw} beside other constraining keywords is not supported by the generator"),
                    ));
                }
                let mut nodes = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    nodes.push(self.compile_value(doc, &format!("{ptr}/{kw}/{i}"), b)?);
                }
                return Ok(Arc::new(if kw == "oneOf" {
                    Node::OneOf(nodes)
                } else {
                    Node::AnyOf(nodes)
                }));
            }
        }
        if let Some(c) = m.get("const") {
            return Ok(Arc::new(Node::Const(c.clone())));
        }
        if let Some(e) = m.get("enum") {
            let Value::Array(vals) = e else {
                return Err(self.err(doc, &format!("{ptr}/enum"), "must be an array"));
            };
            if vals.is_empty() {
                return Err(self.err(doc, &format!("{ptr}/enum"), "must not be empty"));
            }
            return Ok(Arc::new(Node::Enum(vals.clone())));
        }
        let types: Vec<String> = match m.get("type") {
            None => {
                if constraining.is_empty() {
                    return Ok(Arc::new(Node::Any));
                }
                return Err(self.err(
                    doc,
                    ptr,
                    format!(
                        "keywords {constraining:?} without \"type\": the generator needs a type"
                    ),
                ));
            }
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts
                .iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.err(doc, &format!("{ptr}/type"), "must hold strings"))?,
            Some(_) => {
                return Err(self.err(doc, &format!("{ptr}/type"), "must be a string or array"));
            }
        };
        let mut nodes = Vec::new();
        for t in &types {
            nodes.push(self.compile_type(doc, ptr, m, t)?);
        }
        if nodes.is_empty() {
            return Err(self.err(doc, &format!("{ptr}/type"), "must not be empty"));
        }
        Ok(Arc::new(Node::Types(nodes)))
    }

    fn usize_kw(
        &self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
        k: &str,
    ) -> Result<Option<usize>, SchemaError> {
        match m.get(k) {
            None => Ok(None),
            Some(v) => v.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
                self.err(doc, &format!("{ptr}/{k}"), "must be a non-negative integer")
            }),
        }
    }

    fn compile_type(
        &mut self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
        t: &str,
    ) -> Result<TypeNode, SchemaError> {
        Ok(match t {
            "null" => TypeNode::Null,
            "boolean" => TypeNode::Boolean,
            "integer" => {
                let int = |k: &str| -> Result<Option<i64>, SchemaError> {
                    match m.get(k) {
                        None => Ok(None),
                        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                            err_in(self.docs, doc, &format!("{ptr}/{k}"), "must be an integer")
                        }),
                    }
                };
                let (min, max) = (int("minimum")?, int("maximum")?);
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    return Err(self.err(doc, ptr, "minimum > maximum"));
                }
                TypeNode::Integer { min, max }
            }
            "number" => TypeNode::Number {
                min: m.get("minimum").and_then(Value::as_f64),
                max: m.get("maximum").and_then(Value::as_f64),
            },
            "string" => {
                let min = self.usize_kw(doc, ptr, m, "minLength")?.unwrap_or(0);
                let max = self.usize_kw(doc, ptr, m, "maxLength")?;
                if max.is_some_and(|x| x < min) {
                    return Err(self.err(doc, ptr, "minLength > maxLength"));
                }
                let pattern = match m.get("pattern").and_then(Value::as_str) {
                    Some(p) => Some(Arc::new(
                        Pattern::parse(p)
                            .map_err(|e| self.err(doc, &format!("{ptr}/pattern"), e))?,
                    )),
                    None => None,
                };
                let format = m.get("format").and_then(Value::as_str).map(str::to_string);
                if format.is_some() && (pattern.is_some() || min > 0 || max.is_some()) {
                    return Err(self.err(
                        doc,
                        ptr,
                        "format together with pattern/minLength/maxLength is not supported by the generator",
                    ));
                }
                TypeNode::String(StringNode {
                    min,
                    max,
                    pattern,
                    format,
                })
            }
            "array" => {
                let items = match m.get("items") {
                    Some(i) => self.compile_value(doc, &format!("{ptr}/items"), i)?,
                    None => Arc::new(Node::Any),
                };
                let min = self.usize_kw(doc, ptr, m, "minItems")?.unwrap_or(0);
                let max = self.usize_kw(doc, ptr, m, "maxItems")?;
                if max.is_some_and(|x| x < min) {
                    return Err(self.err(doc, ptr, "minItems > maxItems"));
                }
                TypeNode::Array { items, min, max }
            }
            "object" => {
                let mut props = Vec::new();
                if let Some(Value::Object(ps)) = m.get("properties") {
                    for (k, pv) in ps {
                        let node =
                            self.compile_value(doc, &format!("{ptr}/properties/{}", esc(k)), pv)?;
                        props.push((k.clone(), node));
                    }
                }
                let required: Vec<String> = match m.get("required") {
                    None => Vec::new(),
                    Some(Value::Array(r)) => r
                        .iter()
                        .map(|x| x.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or_else(|| {
                            self.err(doc, &format!("{ptr}/required"), "must hold strings")
                        })?,
                    Some(_) => {
                        return Err(self.err(doc, &format!("{ptr}/required"), "must be an array"));
                    }
                };
                for r in &required {
                    if !props.iter().any(|(k, _)| k == r) {
                        return Err(self.err(
                            doc,
                            &format!("{ptr}/required"),
                            format!("required property {r:?} has no schema under \"properties\""),
                        ));
                    }
                }
                let open = !matches!(m.get("additionalProperties"), Some(Value::Bool(false)));
                let extra = match m.get("additionalProperties") {
                    Some(v @ Value::Object(o)) if !o.is_empty() => {
                        Some(self.compile_value(doc, &format!("{ptr}/additionalProperties"), v)?)
                    }
                    _ => None,
                };
                let mut dependent = Vec::new();
                if let Some(d) = m.get("dependentRequired") {
                    let here = format!("{ptr}/dependentRequired");
                    let Value::Object(d) = d else {
                        return Err(self.err(doc, &here, "must be an object"));
                    };
                    for (t, deps) in d {
                        let deps: Vec<String> = deps
                            .as_array()
                            .and_then(|a| {
                                a.iter().map(|x| x.as_str().map(str::to_string)).collect()
                            })
                            .ok_or_else(|| {
                                self.err(doc, &here, "values must be arrays of strings")
                            })?;
                        for k in std::iter::once(t).chain(deps.iter()) {
                            if !props.iter().any(|(p, _)| p == k) {
                                return Err(self.err(
                                    doc,
                                    &here,
                                    format!("property {k:?} has no schema under \"properties\""),
                                ));
                            }
                        }
                        dependent.push((t.clone(), deps));
                    }
                }
                TypeNode::Object(Arc::new(ObjectNode {
                    props,
                    required,
                    open,
                    extra,
                    dependent,
                }))
            }
            other => {
                return Err(self.err(
                    doc,
                    &format!("{ptr}/type"),
                    format!("unknown type {other:?}"),
                ));
            }
        })
    }

    /// Merges `allOf` subschemas (after following `$ref`s) into one schema object:
    /// `properties` and `dependentRequired` are united, `required` concatenated; any other
    /// keyword must agree. Refs inside merged subschemas must name their file.
    fn merge_all_of(
        &self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
        all: &Value,
    ) -> Result<Value, SchemaError> {
        let mut out = m.clone();
        out.remove("allOf");
        let Value::Array(parts) = all else {
            return Err(self.err(doc, &format!("{ptr}/allOf"), "must be an array"));
        };
        for (i, part) in parts.iter().enumerate() {
            let here = format!("{ptr}/allOf/{i}");
            let mut part = part.clone();
            let mut hops = 0;
            while let Some(Value::String(r)) = part.get("$ref").cloned() {
                hops += 1;
                if hops > 16 {
                    return Err(self.err(doc, &here, "$ref chain too long"));
                }
                let (d, p) = self.resolve_ref(doc, &here, &r)?;
                if d != doc {
                    return Err(self.err(
                        doc,
                        &here,
                        "allOf over another file's schema is not supported by the generator",
                    ));
                }
                part = self.docs[&d]
                    .1
                    .pointer(&p)
                    .cloned()
                    .unwrap_or(Value::Bool(true));
            }
            let Value::Object(pm) = part else {
                return Err(self.err(doc, &here, "must be an object"));
            };
            for (k, v) in pm {
                if ANNOTATIONS.contains(&k.as_str()) {
                    continue;
                }
                match (k.as_str(), out.get_mut(&k)) {
                    (_, None) => {
                        out.insert(k, v);
                    }
                    ("properties" | "dependentRequired", Some(Value::Object(existing))) => {
                        for (pk, pv) in v.as_object().cloned().unwrap_or_default() {
                            if existing.get(&pk).is_some_and(|e| *e != pv) {
                                return Err(self.err(
                                    doc,
                                    &here,
                                    format!("allOf: conflicting {k}/{pk}"),
                                ));
                            }
                            existing.insert(pk, pv);
                        }
                    }
                    ("required", Some(Value::Array(existing))) => {
                        for r in v.as_array().cloned().unwrap_or_default() {
                            if !existing.contains(&r) {
                                existing.push(r);
                            }
                        }
                    }
                    (_, Some(existing)) => {
                        if *existing != v {
                            return Err(self.err(
                                doc,
                                &here,
                                format!(
                                    "allOf: keyword {k} conflicts; the generator cannot merge it"
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Ok(Value::Object(out))
    }
}

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

fn text(min: usize, max: usize) -> BoxedStrategy<String> {
    proptest::collection::vec(proptest::sample::select(text_pool()), min..=max.max(min))
        .prop_map(|v| v.into_iter().collect())
        .boxed()
}

fn word(min: usize, max: usize) -> BoxedStrategy<String> {
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
fn valid_object(
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
    let p = path.to_string();
    match t {
        TypeNode::Null | TypeNode::Boolean => {}
        TypeNode::Integer { min, max } => {
            if let Some(m) = *min {
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
            if let Some(m) = *max {
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
        TypeNode::Number { min, max } => {
            if let Some(m) = *min {
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
            if let Some(m) = *max {
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
        TypeNode::String(s) => {
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
        TypeNode::Array { items, min, max } => {
            let (min, max) = (*min, *max);
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
        TypeNode::Object(o) => object_invalid_options(o, path, out),
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
