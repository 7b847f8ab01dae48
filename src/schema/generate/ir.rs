//! Schema → IR: the load-time keyword check and the compiler of documents into [`Node`]s.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Node, ObjectNode, StringNode, TypeNode};
use crate::schema::pattern::Pattern;
use crate::schema::{ID_BASE, SchemaError};

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

// ---------------------------------------------------------------------------------------
// Keyword check (load time, every subschema including unreferenced $defs)

/// Refuses any keyword the generator does not support, naming file and pointer.
pub(crate) fn check_keywords(file: &str, doc: &Value) -> Result<(), SchemaError> {
    walk(file, doc, "")
}

pub(super) fn esc(key: &str) -> String {
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
                Pattern::parse(p).map_err(|e| SchemaError::new(file, &here, e.to_string()))?;
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
            "integer" => self.compile_integer(doc, ptr, m)?,
            "number" => TypeNode::Number {
                min: m.get("minimum").and_then(Value::as_f64),
                max: m.get("maximum").and_then(Value::as_f64),
            },
            "string" => self.compile_string(doc, ptr, m)?,
            "array" => self.compile_array(doc, ptr, m)?,
            "object" => self.compile_object(doc, ptr, m)?,
            other => {
                return Err(self.err(
                    doc,
                    &format!("{ptr}/type"),
                    format!("unknown type {other:?}"),
                ));
            }
        })
    }

    /// `type: integer` with its `minimum` and `maximum`.
    fn compile_integer(
        &self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
    ) -> Result<TypeNode, SchemaError> {
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
        Ok(TypeNode::Integer { min, max })
    }

    /// `type: string` with its lengths, `pattern` and `format`.
    fn compile_string(
        &self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
    ) -> Result<TypeNode, SchemaError> {
        let min = self.usize_kw(doc, ptr, m, "minLength")?.unwrap_or(0);
        let max = self.usize_kw(doc, ptr, m, "maxLength")?;
        if max.is_some_and(|x| x < min) {
            return Err(self.err(doc, ptr, "minLength > maxLength"));
        }
        let pattern = match m.get("pattern").and_then(Value::as_str) {
            Some(p) => {
                Some(Arc::new(Pattern::parse(p).map_err(|e| {
                    self.err(doc, &format!("{ptr}/pattern"), e.to_string())
                })?))
            }
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
        Ok(TypeNode::String(StringNode {
            min,
            max,
            pattern,
            format,
        }))
    }

    /// `type: array` with its `items` and counts.
    fn compile_array(
        &mut self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
    ) -> Result<TypeNode, SchemaError> {
        let items = match m.get("items") {
            Some(i) => self.compile_value(doc, &format!("{ptr}/items"), i)?,
            None => Arc::new(Node::Any),
        };
        let min = self.usize_kw(doc, ptr, m, "minItems")?.unwrap_or(0);
        let max = self.usize_kw(doc, ptr, m, "maxItems")?;
        if max.is_some_and(|x| x < min) {
            return Err(self.err(doc, ptr, "minItems > maxItems"));
        }
        Ok(TypeNode::Array { items, min, max })
    }

    /// `type: object`: its properties, then `required`, `additionalProperties` and
    /// `dependentRequired`, each checked against the properties.
    fn compile_object(
        &mut self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
    ) -> Result<TypeNode, SchemaError> {
        let mut props = Vec::new();
        if let Some(Value::Object(ps)) = m.get("properties") {
            for (k, pv) in ps {
                let node = self.compile_value(doc, &format!("{ptr}/properties/{}", esc(k)), pv)?;
                props.push((k.clone(), node));
            }
        }
        let required = self.compile_required(doc, ptr, m, &props)?;
        let open = !matches!(m.get("additionalProperties"), Some(Value::Bool(false)));
        let extra = match m.get("additionalProperties") {
            Some(v @ Value::Object(o)) if !o.is_empty() => {
                Some(self.compile_value(doc, &format!("{ptr}/additionalProperties"), v)?)
            }
            _ => None,
        };
        let dependent = self.compile_dependent(doc, ptr, m, &props)?;
        Ok(TypeNode::Object(Arc::new(ObjectNode {
            props,
            required,
            open,
            extra,
            dependent,
        })))
    }

    /// An object's `required`: strings, each a property with a schema.
    fn compile_required(
        &self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
        props: &[(String, Arc<Node>)],
    ) -> Result<Vec<String>, SchemaError> {
        let required: Vec<String> = match m.get("required") {
            None => Vec::new(),
            Some(Value::Array(r)) => r
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| self.err(doc, &format!("{ptr}/required"), "must hold strings"))?,
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
        Ok(required)
    }

    /// An object's `dependentRequired`: arrays of strings, every name a property with a
    /// schema.
    fn compile_dependent(
        &self,
        doc: &str,
        ptr: &str,
        m: &Map<String, Value>,
        props: &[(String, Arc<Node>)],
    ) -> Result<Vec<(String, Vec<String>)>, SchemaError> {
        let mut dependent = Vec::new();
        if let Some(d) = m.get("dependentRequired") {
            let here = format!("{ptr}/dependentRequired");
            let Value::Object(d) = d else {
                return Err(self.err(doc, &here, "must be an object"));
            };
            for (t, deps) in d {
                let deps: Vec<String> = deps
                    .as_array()
                    .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect())
                    .ok_or_else(|| self.err(doc, &here, "values must be arrays of strings"))?;
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
        Ok(dependent)
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
