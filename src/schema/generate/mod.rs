//! The generator compiler: a schema → an IR ([`Node`]) → proptest strategies of valid
//! instances and of instances that break exactly one named rule.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::pattern::Pattern;

mod invalid;
mod ir;
mod valid;

pub(crate) use invalid::{breakable, invalid};
pub(crate) use ir::{Compiler, check_keywords};
pub(crate) use valid::valid;

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
