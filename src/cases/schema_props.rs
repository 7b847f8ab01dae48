//! The one reader of the Complete request schema's properties for case generation: each
//! property's kind (const, enum, boolean, string with `minLength`), whether it is
//! required, and the `dependentRequired` partners. (The schema's compiled IR in
//! `schema/generate.rs` is private to `schema`; see ARCHITECTURE.md.)

use super::CasesError;
use crate::schema::Schemas;
use serde_json::Value;
use std::collections::BTreeMap;

/// The schema the coverage phase is derived from.
pub const SCHEMA: &str = "complete-request";

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
pub fn props(schemas: &Schemas) -> Result<Vec<Prop>, CasesError> {
    let doc = schemas
        .document(SCHEMA)
        .ok_or(CasesError::SchemaNotLoaded(SCHEMA))?;
    let required: Vec<&str> = doc
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = doc
        .get("properties")
        .and_then(Value::as_object)
        .ok_or(CasesError::NoProperties(SCHEMA))?;
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
pub(super) fn op_prop(props: &[Prop]) -> Option<&Prop> {
    props
        .iter()
        .find(|p| p.required && matches!(p.kind, PropKind::Const(_)))
}

/// Properties that need `text` beside them (the schema's `dependentRequired`).
pub(super) fn dependents(schemas: &Schemas) -> BTreeMap<String, Vec<String>> {
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
