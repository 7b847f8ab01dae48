//! Cases: directed cases per requirement, and random stateful sequences, all drawn
//! deterministically from a seed. Request bodies come from the schema generators
//! (`complete-request`, valid and invalid-by-one-rule). The random sequences ask the
//! chat model ([`crate::model`]) which moves exist in a chat's state and where they lead.

#![warn(missing_docs)]

use crate::history::{AuthVariant, Body, ChatRef, Step};
use crate::model::{self, Chat, ChatEvent, OpName};
use crate::schema::{Invalid, RuleKind, Schemas};
use crate::spec::ReqId;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A case: a named, replayable list of steps, with the requirement ids it exercises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The case id (`complete-plain`, `random-3`, ...).
    pub id: String,
    /// The case's own seed (derived from the run seed).
    pub seed: u64,
    /// Requirement ids the case was built to exercise.
    #[serde(alias = "targets")]
    pub exercises: Vec<ReqId>,
    /// The steps, chats named by alias.
    pub steps: Vec<Step>,
}

/// A small deterministic generator (splitmix64) for the runner's own choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// Derives the seed of case `index` from the run seed (stable across shards).
pub fn case_seed(run_seed: u64, index: u64) -> u64 {
    let mut r = Rng::new(run_seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    r.next_u64()
}

/// Draws values from the schema generators, deterministically from a seed.
pub struct Draw<'a> {
    schemas: &'a Schemas,
    runner: TestRunner,
}

impl<'a> Draw<'a> {
    /// Draws from `schemas`, deterministically from `seed`.
    pub fn new(schemas: &'a Schemas, seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        let mut r = Rng::new(seed);
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&r.next_u64().to_le_bytes());
        }
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        Draw {
            schemas,
            runner: TestRunner::new_with_rng(Config::default(), rng),
        }
    }

    /// A valid Complete request body.
    pub fn valid_complete(&mut self) -> Result<Value, String> {
        // Built once per schema and thread (Schemas::valid_strategy), not per draw.
        let s = self
            .schemas
            .valid_strategy("complete-request")
            .map_err(|e| e.to_string())?;
        let tree = s
            .new_tree(&mut self.runner)
            .map_err(|e| format!("generator for complete-request failed: {e}"))?;
        Ok(tree.current())
    }

    /// A valid Complete request body satisfying `pred` (bounded tries).
    pub fn valid_complete_where(&mut self, pred: impl Fn(&Value) -> bool) -> Result<Value, String> {
        for _ in 0..2000 {
            let v = self.valid_complete()?;
            if pred(&v) {
                return Ok(v);
            }
        }
        Err("the complete-request generator never produced the wanted shape in 2000 draws".into())
    }

    /// An invalid Complete request body whose broken rule satisfies `pred` (bounded tries).
    pub fn invalid_complete_where(
        &mut self,
        pred: impl Fn(&Invalid) -> bool,
    ) -> Result<Invalid, String> {
        let s = self
            .schemas
            .invalid_strategy("complete-request")
            .map_err(|e| e.to_string())?;
        for _ in 0..5000 {
            let tree = s
                .new_tree(&mut self.runner)
                .map_err(|e| format!("invalid generator for complete-request failed: {e}"))?;
            let v = tree.current();
            if pred(&v) {
                return Ok(v);
            }
        }
        Err(
            "the invalid complete-request generator never broke the wanted rule in 5000 draws"
                .into(),
        )
    }
}

fn post(chat: &str, body: Value) -> Step {
    Step::AgentPost {
        chat: ChatRef::Alias(chat.into()),
        by_other_agent: false,
        auth: AuthVariant::Normal,
        body: Body::Json(body),
    }
}

fn offer(chat: &str, agent: &str) -> Step {
    Step::OfferChat {
        chat: chat.into(),
        agent: agent.into(),
    }
}

fn accept(chat: &str) -> Step {
    post(
        chat,
        json!({"operationName": "Accept", "nickname": "Agent"}),
    )
}

fn complete() -> Value {
    json!({"operationName": "Complete"})
}

fn inspect(chat: &str) -> Step {
    Step::Inspect { chat: chat.into() }
}

fn ids(list: &[ReqId]) -> Vec<ReqId> {
    list.to_vec()
}

fn at_path(inv: &Invalid, path: &str) -> bool {
    inv.rule.instance_path == path
}

/// The directed cases: at least one per requirement of the catalogue, parameters drawn
/// from the schema generators with seeds derived from `run_seed`.
///
/// `agents` are the agent user names (the first is the default owner). Cases that need
/// two agents are left out when only one is configured (their requirements then Skip).
/// The directed cases: at least one per requirement of the catalogue, parameters drawn
/// from the schema generators with seeds derived from `run_seed`.
///
/// `agents` are the agent user names (the first is the default owner). Cases that need
/// two agents are left out when only one is configured (their requirements then Skip).
/// The families run in a fixed order: each case's seed derives from its position.
pub fn directed(schemas: &Schemas, run_seed: u64, agents: &[String]) -> Result<Vec<Case>, String> {
    let mut d = Directed {
        out: Vec::new(),
        idx: 0,
        run_seed,
        draw: Draw::new(schemas, case_seed(run_seed, 1_000_000)),
        a: agents.first().cloned().unwrap_or_else(|| "agent1".into()),
        b: agents.get(1).cloned(),
    };
    golden(&mut d);
    drawn(&mut d)?;
    refused(&mut d)?;
    states(&mut d);
    many_at_once(&mut d);
    session(&mut d);
    malformed(&mut d)?;
    Ok(d.out)
}

/// The directed cases being built: each pushed case gets the next position's seed.
struct Directed<'s> {
    out: Vec<Case>,
    idx: u64,
    run_seed: u64,
    draw: Draw<'s>,
    /// The default owner.
    a: String,
    /// A second agent, when there is one.
    b: Option<String>,
}

impl Directed<'_> {
    fn push(&mut self, name: &str, exercises: &[ReqId], steps: Vec<Step>) {
        let seed = case_seed(self.run_seed, self.idx);
        self.idx += 1;
        self.out.push(Case {
            id: name.to_string(),
            seed,
            exercises: ids(exercises),
            steps,
        });
    }
}

/// Directed cases: the seed's golden scenarios.
fn golden(d: &mut Directed<'_>) {
    let a = d.a.clone();
    d.push(
        "complete-plain",
        &[
            ReqId::Cmp01,
            ReqId::Cmp02,
            ReqId::Cmp03,
            ReqId::Cmp06,
            ReqId::Cmp19,
            ReqId::Cmp22,
            ReqId::Ntf01,
        ],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", complete()),
            inspect("c1"),
            Step::Settle,
        ],
    );
    d.push(
        "complete-queue",
        &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp07],
        vec![
            offer("c1", &a),
            accept("c1"),
            post(
                "c1",
                json!({"operationName": "Complete", "queueName": "PostProcessingQueue"}),
            ),
            inspect("c1"),
            Step::Settle,
        ],
    );
    d.push(
        "complete-text",
        &[
            ReqId::Cmp01,
            ReqId::Cmp02,
            ReqId::Cmp04,
            ReqId::Cmp05,
            ReqId::Cmp06,
        ],
        vec![
            offer("c1", &a),
            accept("c1"),
            post(
                "c1",
                json!({"operationName": "Complete", "text": "Thank you for contacting us. Goodbye!"}),
            ),
            inspect("c1"),
            Step::Settle,
        ],
    );
}

/// Directed cases: bodies drawn from the schema generators.
fn drawn(d: &mut Directed<'_>) -> Result<(), String> {
    let a = d.a.clone();
    let save_lar = d
        .draw
        .valid_complete_where(|v| v.get("saveLAR") == Some(&Value::Bool(true)))?;
    d.push(
        "complete-savelar",
        &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp08],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", save_lar),
            inspect("c1"),
            Step::Settle,
        ],
    );
    let with_text = d.draw.valid_complete_where(|v| {
        v.get("text").is_some() && v.get("treatAs").is_some() && v.get("messageType").is_some()
    })?;
    d.push(
        "complete-text-generated",
        &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp05],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", with_text),
            inspect("c1"),
            Step::Settle,
        ],
    );
    for i in 0..3 {
        let body = d.draw.valid_complete()?;
        d.push(
            &format!("complete-generated-{}", i + 1),
            &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp03],
            vec![
                offer("c1", &a),
                accept("c1"),
                post("c1", body),
                inspect("c1"),
                Step::Settle,
            ],
        );
    }
    Ok(())
}

/// Directed cases: refused bodies: each breaks one rule, then the chat must still complete (CMP-17).
fn refused(d: &mut Directed<'_>) -> Result<(), String> {
    let a = d.a.clone();
    type Rule = Box<dyn Fn(&Invalid) -> bool>;
    let refusals: [(&str, &[ReqId], Rule); 5] = [
        (
            "refuse-messagetype-without-text",
            &[ReqId::Cmp09, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| {
                i.rule.kind == RuleKind::BrokenDependentRequired
                    && at_path(i, "")
                    && i.value.get("messageType").is_some()
            }),
        ),
        (
            "refuse-treatas-without-text",
            &[ReqId::Cmp09, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| {
                i.rule.kind == RuleKind::BrokenDependentRequired
                    && i.value.get("treatAs").is_some()
                    && i.value.get("text").is_none()
            }),
        ),
        (
            "refuse-bad-treatas",
            &[ReqId::Cmp10, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| i.rule.kind == RuleKind::NotInEnum && at_path(i, "/treatAs")),
        ),
        (
            "refuse-savelar-not-boolean",
            &[ReqId::Cmp11, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| i.rule.kind == RuleKind::WrongType && at_path(i, "/saveLAR")),
        ),
        (
            "refuse-empty-queuename",
            &[ReqId::Cmp11, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| i.rule.kind == RuleKind::TooShort && at_path(i, "/queueName")),
        ),
    ];
    for (name, exercises, pred) in refusals.iter() {
        let inv = d.draw.invalid_complete_where(pred)?;
        d.push(
            name,
            exercises,
            vec![
                offer("c1", &a),
                accept("c1"),
                post("c1", inv.value),
                post("c1", complete()),
                Step::Settle,
            ],
        );
    }
    let text_not_string = d
        .draw
        .invalid_complete_where(|i| i.rule.kind == RuleKind::WrongType && at_path(i, "/text"))?;
    d.push(
        "refuse-text-not-string",
        &[ReqId::Cmp11, ReqId::Cmp17],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", text_not_string.value),
            post("c1", complete()),
            Step::Settle,
        ],
    );
    Ok(())
}

/// Directed cases: Complete in each state of the chat.
fn states(d: &mut Directed<'_>) {
    let a = d.a.clone();
    d.push(
        "complete-invited",
        &[ReqId::Cmp12, ReqId::Cmp17, ReqId::Cmp18],
        vec![
            offer("c1", &a),
            post("c1", complete()),
            accept("c1"),
            post("c1", complete()),
            Step::Settle,
        ],
    );
    d.push(
        "complete-twice",
        &[ReqId::Cmp13, ReqId::Cmp19, ReqId::Cmp18],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", complete()),
            post("c1", complete()),
            Step::Settle,
        ],
    );
    d.push(
        "complete-unknown-id",
        &[ReqId::Cmp14, ReqId::Cmp18],
        vec![Step::AgentPost {
            chat: ChatRef::Unknown(format!("0000UNKN{:08X}", d.run_seed as u32)),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(complete()),
        }],
    );
    d.push(
        "complete-leftchat",
        &[ReqId::Cmp15, ReqId::Cmp01, ReqId::Cmp02],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", json!({"operationName": "Leave"})),
            post("c1", complete()),
            Step::Settle,
        ],
    );
    d.push(
        "complete-after-customer-left",
        &[ReqId::Cmp16, ReqId::Cmp01, ReqId::Cmp02],
        vec![
            offer("c1", &a),
            accept("c1"),
            Step::CustomerLeaves { chat: "c1".into() },
            post(
                "c1",
                json!({"operationName": "Complete", "text": "Sorry we missed you."}),
            ),
            Step::Settle,
        ],
    );
}

/// Directed cases: many at once: ≥5 Completes within 50 ms, chats of the same agent and of two agents (CMP-20).
fn many_at_once(d: &mut Directed<'_>) {
    let a = d.a.clone();
    let b = d.b.clone();
    {
        let n = 6;
        let mut steps = Vec::new();
        let mut inner = Vec::new();
        for i in 0..n {
            let alias = format!("c{}", i + 1);
            let owner = match (&b, i % 2) {
                (Some(b), 1) => b.clone(),
                _ => a.clone(),
            };
            steps.push(offer(&alias, &owner));
            steps.push(accept(&alias));
            let body = if i % 2 == 0 {
                json!({"operationName": "Complete", "text": format!("Goodbye from chat {}", i + 1)})
            } else {
                complete()
            };
            inner.push(post(&alias, body));
        }
        steps.push(Step::Concurrent { steps: inner });
        steps.push(Step::Settle);
        d.push(
            "complete-many-at-once",
            &[ReqId::Cmp20, ReqId::Cmp02, ReqId::Cmp04],
            steps,
        );
    }
    if b.is_some() {
        d.push(
            "complete-other-agents-chat",
            &[ReqId::Cmp21, ReqId::Cmp17, ReqId::Cmp18],
            vec![
                offer("c1", &a),
                accept("c1"),
                Step::AgentPost {
                    chat: ChatRef::Alias("c1".into()),
                    by_other_agent: true,
                    auth: AuthVariant::Normal,
                    body: Body::Json(complete()),
                },
                post("c1", complete()),
                Step::Settle,
            ],
        );
    }
}

/// Directed cases: the session: CSRF and credentials (SES-01/02).
fn session(d: &mut Directed<'_>) {
    let a = d.a.clone();
    let auth_post = |auth: AuthVariant| Step::AgentPost {
        chat: ChatRef::Alias("c1".into()),
        by_other_agent: false,
        auth,
        body: Body::Json(complete()),
    };
    d.push(
        "complete-without-csrf",
        &[ReqId::Ses01],
        vec![
            offer("c1", &a),
            accept("c1"),
            auth_post(AuthVariant::NoCsrf),
            post("c1", complete()),
            Step::Settle,
        ],
    );
    d.push(
        "complete-without-credentials",
        &[ReqId::Ses02],
        vec![
            offer("c1", &a),
            accept("c1"),
            auth_post(AuthVariant::NoCredentials),
            auth_post(AuthVariant::CookieOnly),
            post("c1", complete()),
            Step::Settle,
        ],
    );
}

/// Directed cases: malformed requests (REQ-01).
fn malformed(d: &mut Directed<'_>) -> Result<(), String> {
    let a = d.a.clone();
    let missing_op = d.draw.invalid_complete_where(|i| {
        i.rule.kind == RuleKind::MissingRequired && i.value.get("operationName").is_none()
    })?;
    d.push(
        "malformed-bodies",
        &[ReqId::Req01, ReqId::Cmp18],
        vec![
            offer("c1", &a),
            accept("c1"),
            Step::AgentPost {
                chat: ChatRef::Alias("c1".into()),
                by_other_agent: false,
                auth: AuthVariant::Normal,
                body: Body::Raw("{\"operationName\": \"Complete\",".into()),
            },
            post("c1", missing_op.value),
            post("c1", json!({"operationName": "CompleteEverything"})),
            post("c1", complete()),
            Step::Settle,
        ],
    );
    Ok(())
}

/// A move the random generator may make on one chat: the `Transition` of
/// proptest-state-machine's `ReferenceStateMachine`. Which moves exist in a state comes
/// from the model ([`model::legal_ops`], [`model::customer_events`]); where a move
/// leads is the model's too ([`Chat::handle`], [`Chat::apply`]). The generator only
/// weighs and picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    /// The owner performs an operation the model allows in the chat's state.
    Op(OpName),
    /// A customer-side event the model drives in the chat's state.
    Customer(ChatEvent),
    /// The owner sends a valid Complete the model refuses in this state (CMP-12/13).
    RefusedComplete,
    /// The owner sends a Complete that breaks one parameter rule (CMP-09/10/11).
    InvalidComplete,
    /// Another agent sends a Complete (CMP-21).
    OtherAgentComplete,
}

impl Move {
    /// How often the generator picks the move, relative to the other moves available.
    fn weight(self) -> usize {
        match self {
            Move::Op(OpName::Accept) => 70,
            Move::Op(OpName::Reject) => 10,
            Move::Op(OpName::SendMessage) => 20,
            Move::Op(OpName::Leave) => 10,
            Move::Op(OpName::Complete) => 35,
            Move::Customer(ChatEvent::CustomerLeaves) => 10,
            Move::Customer(_) => 5,
            Move::RefusedComplete => 10,
            Move::InvalidComplete => 15,
            Move::OtherAgentComplete => 5,
        }
    }
}

/// The moves available on `chat` (the reference state machine's `transitions`).
fn moves(chat: &Chat, agents: usize) -> Vec<Move> {
    let legal = model::legal_ops(chat);
    let mut v: Vec<Move> = legal.iter().map(|op| Move::Op(*op)).collect();
    v.extend(model::customer_events(chat).into_iter().map(Move::Customer));
    if !legal.contains(&OpName::Complete) {
        v.push(Move::RefusedComplete);
    }
    v.push(Move::InvalidComplete);
    if agents > 1 {
        v.push(Move::OtherAgentComplete);
    }
    v
}

/// A request body for `op` (a plain Complete: the random moves draw theirs).
fn op_body(op: OpName, rng: &mut Rng) -> Value {
    match op {
        OpName::Accept => json!({"operationName": "Accept", "nickname": "Agent"}),
        OpName::SendMessage => {
            json!({"operationName": "SendMessage", "text": format!("message {}", rng.below(1000))})
        }
        OpName::Reject | OpName::Leave | OpName::Complete => json!({"operationName": op.as_str()}),
    }
}

/// A random stateful sequence over several concurrent chats and (when configured) two
/// agents: offers, accepts, messages, leaves, customer events, valid and invalid
/// Completes, other agents' attempts; ends with inspections and a settle.
pub fn random_sequence(
    schemas: &Schemas,
    run_seed: u64,
    index: u64,
    agents: &[String],
) -> Result<Case, String> {
    random_sequence_with_model(schemas, run_seed, index, agents).map(|(case, _)| case)
}

/// [`random_sequence`], with the generator's belief about each chat at the end: the
/// model's chat, per alias, after a conforming target ran the case (every chat ends
/// `Completed`: the sequence finishes what is still open).
pub fn random_sequence_with_model(
    schemas: &Schemas,
    run_seed: u64,
    index: u64,
    agents: &[String],
) -> Result<(Case, Vec<(String, Chat)>), String> {
    let seed = case_seed(run_seed, 10_000 + index);
    let mut rng = Rng::new(seed);
    let mut draw = Draw::new(schemas, seed);
    let n_chats = 2 + rng.below(2);
    let mut steps = Vec::new();
    let mut chats: Vec<(String, Chat)> = Vec::new();
    for i in 0..n_chats {
        let alias = format!("c{}", i + 1);
        let agent = agents[i % agents.len().max(1)].clone();
        steps.push(offer(&alias, &agent));
        chats.push((alias, Chat::offered()));
    }
    let len = 4 + rng.below(8);
    for _ in 0..len {
        let k = rng.below(chats.len());
        let (alias, chat) = chats[k].clone();
        let available = moves(&chat, agents.len());
        let total: usize = available.iter().map(|m| m.weight()).sum();
        let mut roll = rng.below(total);
        let mv = available
            .iter()
            .copied()
            .find(|m| {
                let hit = roll < m.weight();
                roll = roll.saturating_sub(m.weight());
                hit
            })
            .unwrap_or(Move::InvalidComplete);
        let (step, next) = match mv {
            Move::Customer(ev) => {
                let step = match ev {
                    ChatEvent::CustomerLeaves => Step::CustomerLeaves {
                        chat: alias.clone(),
                    },
                    _ => Step::CustomerSends {
                        chat: alias.clone(),
                        text: format!("customer says {}", rng.below(1000)),
                    },
                };
                (step, chat.apply(ev))
            }
            Move::OtherAgentComplete => {
                let body = Body::Json(complete());
                let next = chat.handle(false, &model::classify(&body));
                let step = Step::AgentPost {
                    chat: ChatRef::Alias(alias.clone()),
                    by_other_agent: true,
                    auth: AuthVariant::Normal,
                    body,
                };
                (step, next)
            }
            Move::Op(op) => {
                let body = match op {
                    OpName::Complete => draw.valid_complete()?,
                    _ => op_body(op, &mut rng),
                };
                owner_post(&alias, &chat, body)
            }
            Move::RefusedComplete => owner_post(&alias, &chat, draw.valid_complete()?),
            Move::InvalidComplete => {
                let inv = draw
                    .invalid_complete_where(|i| !matches!(i.rule.kind, RuleKind::ExtraProperty))?;
                owner_post(&alias, &chat, inv.value)
            }
        };
        chats[k].1 = next;
        steps.push(step);
    }
    // Finish every chat that is still open, so each case ends in a known state.
    for (alias, chat) in chats.iter_mut() {
        while let Some(op) = model::closing_op(chat) {
            let (step, next) = owner_post(alias, chat, op_body(op, &mut rng));
            if next == *chat {
                break;
            }
            steps.push(step);
            *chat = next;
        }
    }
    for (alias, _) in &chats {
        steps.push(inspect(alias));
    }
    steps.push(Step::Settle);
    let case = Case {
        id: format!("random-{}", index + 1),
        seed,
        exercises: ids(&[
            ReqId::Cmp01,
            ReqId::Cmp02,
            ReqId::Cmp17,
            ReqId::Cmp18,
            ReqId::Cmp19,
            ReqId::Ntf01,
        ]),
        steps,
    };
    Ok((case, chats))
}

/// The owner posts `body` on `alias`: the step, and the chat as the model says it is
/// afterwards.
fn owner_post(alias: &str, chat: &Chat, body: Value) -> (Step, Chat) {
    let body = Body::Json(body);
    let next = chat.handle(true, &model::classify(&body));
    let step = Step::AgentPost {
        chat: ChatRef::Alias(alias.into()),
        by_other_agent: false,
        auth: AuthVariant::Normal,
        body,
    };
    (step, next)
}

/// Every case of a run: the directed ones, the coverage phase (`cov-…`, see
/// [`super::coverage`]), then `random` random sequences.
pub fn all(
    schemas: &Schemas,
    run_seed: u64,
    agents: &[String],
    random: u32,
) -> Result<Vec<Case>, String> {
    let mut v = directed(schemas, run_seed, agents)?;
    v.extend(super::coverage::cases(schemas, run_seed, agents)?);
    for i in 0..random {
        v.push(random_sequence(schemas, run_seed, i as u64, agents)?);
    }
    Ok(v)
}

/// Keeps the cases of shard `k` of `n` (1-based `k`), by position: deterministic for a
/// seed, so shards of one seed partition exactly the unsharded run's cases.
pub fn shard(cases: Vec<Case>, k: u32, n: u32) -> Vec<Case> {
    cases
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (*i as u32) % n == k - 1)
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spreads() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut seen = [0u32; 4];
        let mut r = Rng::new(1);
        for _ in 0..4000 {
            seen[r.below(4)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn shards_partition_the_cases() {
        let cases: Vec<Case> = (0..10)
            .map(|i| Case {
                id: format!("x{i}"),
                seed: i,
                exercises: vec![],
                steps: vec![],
            })
            .collect();
        let mut ids: Vec<String> = (1..=3)
            .flat_map(|k| shard(cases.clone(), k, 3))
            .map(|c| c.id)
            .collect();
        ids.sort();
        let mut all: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
        all.sort();
        assert_eq!(ids, all);
    }
}
