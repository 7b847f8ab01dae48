//! Random stateful sequences: the model says which moves exist in a chat's state and
//! where they lead; the generator only weighs and picks (proptest-state-machine's
//! `ReferenceStateMachine`).

use super::steps::{complete, inspect, offer};
use super::{Case, CasesError, Draw, Rng, case_seed};
use crate::history::{AuthVariant, Body, ChatRef, Step};
use crate::model::{self, Chat, ChatEvent, OpName};
use crate::schema::{RuleKind, Schemas};
use crate::spec::ReqId;
use serde_json::{Value, json};

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
) -> Result<Case, CasesError> {
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
) -> Result<(Case, Vec<(String, Chat)>), CasesError> {
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
        let (step, next) = random_move(&alias, &chat, agents.len(), &mut rng, &mut draw)?;
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
        exercises: vec![
            ReqId::Cmp01,
            ReqId::Cmp02,
            ReqId::Cmp17,
            ReqId::Cmp18,
            ReqId::Cmp19,
            ReqId::Ntf01,
        ],
        steps,
    };
    Ok((case, chats))
}

/// The owner posts `body` on `alias`: the step, and the chat as the model says it is
/// afterwards.
fn owner_post(alias: &str, chat: &Chat, body: Value) -> (Step, Chat) {
    post_on(alias, chat, true, body)
}

/// `body` posted on `alias` by its owner (`caller_owns`) or by another agent: the step,
/// and the chat as the model says it is afterwards.
fn post_on(alias: &str, chat: &Chat, caller_owns: bool, body: Value) -> (Step, Chat) {
    let body = Body::Json(body);
    let next = chat.handle(caller_owns, &model::classify(&body));
    let step = Step::AgentPost {
        chat: ChatRef::Alias(alias.into()),
        by_other_agent: !caller_owns,
        auth: AuthVariant::Normal,
        body,
    };
    (step, next)
}

/// One random move on chat `alias` (in the model's state `chat`; `agents` configured):
/// the step, and the chat as the model says it is afterwards.
fn random_move(
    alias: &str,
    chat: &Chat,
    agents: usize,
    rng: &mut Rng,
    draw: &mut Draw<'_>,
) -> Result<(Step, Chat), CasesError> {
    let available = moves(chat, agents);
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
    Ok(match mv {
        Move::Customer(ev) => {
            let step = match ev {
                ChatEvent::CustomerLeaves => Step::CustomerLeaves {
                    chat: alias.to_string(),
                },
                _ => Step::CustomerSends {
                    chat: alias.to_string(),
                    text: format!("customer says {}", rng.below(1000)),
                },
            };
            (step, chat.apply(ev))
        }
        Move::OtherAgentComplete => post_on(alias, chat, false, complete()),
        Move::Op(op) => {
            let body = match op {
                OpName::Complete => draw.valid_complete()?,
                _ => op_body(op, rng),
            };
            owner_post(alias, chat, body)
        }
        Move::RefusedComplete => owner_post(alias, chat, draw.valid_complete()?),
        Move::InvalidComplete => {
            let inv =
                draw.invalid_complete_where(|i| !matches!(i.rule.kind, RuleKind::ExtraProperty))?;
            owner_post(alias, chat, inv.value)
        }
    })
}
