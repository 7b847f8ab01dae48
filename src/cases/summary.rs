//! Coverage figures of a plan: per requirement, how often it is exercised and with which
//! parameter classes and states; which pairs × states ran.

use super::Case;
use super::pairwise::{Level, all_pairs, factors, pairs_of, state_label, state_labels};
use crate::history::{Body, ChatRef, Step};
use crate::model::{self, Chat, ChatState, Classified, OpName};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) use crate::report::{CoverageSummary, PairCoverage, ReqCoverage};

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
