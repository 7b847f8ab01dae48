//! The chat and its states (SPEC §2): [`ChatState`], [`Chat`], [`ChatEvent`], and the
//! transition table with what follows from it (legal operations, closing a chat, the
//! state a success announces or leads to).

use super::{Classified, OpName, expect};
use serde::{Deserialize, Serialize};

/// The agent-side state of a chat (SPEC §2; facts sheet §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChatState {
    /// Offered to the agent, not yet accepted.
    Invited,
    /// Accepted; the agent and the customer talk.
    Chatting,
    /// The agent left the chat (Complete still applies).
    LeftChat,
    /// Done; nothing more happens to the chat.
    Completed,
}

impl ChatState {
    /// Every state, in the order of the SPEC §2 table.
    pub const ALL: [ChatState; 4] = [
        ChatState::Invited,
        ChatState::Chatting,
        ChatState::LeftChat,
        ChatState::Completed,
    ];

    /// An open chat (Invited, Chatting, LeftChat) occupies its agent's capacity (SPEC
    /// §6.9); a Completed one no longer does.
    pub fn holds_capacity(self) -> bool {
        self != ChatState::Completed
    }

    /// Parses the spelling used in `chat.state` of a notification ([`ChatState::as_str`]).
    pub fn parse(s: &str) -> Option<ChatState> {
        ChatState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The spelling used in `chat.state` of a notification.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatState::Invited => "Invited",
            ChatState::Chatting => "Chatting",
            ChatState::LeftChat => "LeftChat",
            ChatState::Completed => "Completed",
        }
    }
}

/// A chat as the model tracks it: the agent-side state and the customer side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    /// The agent-side state.
    pub state: ChatState,
    /// False once the customer left (CMP-16, SPEC §6.4).
    pub customer_present: bool,
}

/// Something that happens to a chat, as the model follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChatEvent {
    /// The target performed this agent operation (answered statusCode 0), whether or not
    /// the model allows it in the chat's state (see [`after_success`]).
    Performed(OpName),
    /// The customer sends a message: nothing changes on the agent side.
    CustomerSends,
    /// The customer leaves (customer-side Complete): the agent's chat stays in its state
    /// and Complete still succeeds (CMP-16, SPEC §6.4).
    CustomerLeaves,
}

impl Chat {
    /// A chat just offered to an agent.
    pub fn offered() -> Self {
        Chat {
            state: ChatState::Invited,
            customer_present: true,
        }
    }

    /// True while the customer's chat session is still running, as far as this agent's
    /// chat goes: false once the customer left, once the agent left with Leave
    /// (`LeftChat`: Leave outside a conference ends the customer's session, facts sheet
    /// §3.1/§3.3) and once the chat is `Completed` (Complete ends the session, CMP-06;
    /// after Reject the interaction is no longer this agent's). CMP-05 applies only
    /// while it is open (SPEC §6.4) and CMP-06 only "if still open".
    pub fn customer_session_open(&self) -> bool {
        self.customer_present && matches!(self.state, ChatState::Invited | ChatState::Chatting)
    }

    /// The chat after `event` (pure).
    pub fn apply(&self, event: ChatEvent) -> Chat {
        match event {
            ChatEvent::Performed(op) => Chat {
                state: after_success(self.state, op),
                ..*self
            },
            ChatEvent::CustomerSends => *self,
            ChatEvent::CustomerLeaves => Chat {
                customer_present: false,
                ..*self
            },
        }
    }

    /// The chat after a conforming target handled `request` from its owner
    /// (`caller_owns`) or from another agent: what [`expect`] says, followed with
    /// [`Chat::apply`] when it expects success, unchanged when it expects a refusal.
    pub fn handle(&self, caller_owns: bool, request: &Classified) -> Chat {
        let e = expect(Some(self.state), caller_owns, request);
        match (e.is_success(), request.op_name()) {
            (true, Some(op)) => self.apply(ChatEvent::Performed(op)),
            _ => *self,
        }
    }
}

/// The next state of an operation that succeeds in `state` (SPEC §2 table).
pub fn transition(state: ChatState, op: OpName) -> Option<ChatState> {
    use ChatState::*;
    use OpName::*;
    match (state, op) {
        (Invited, Accept) => Some(Chatting),
        (Invited, Reject) => Some(Completed),
        (Chatting, SendMessage) => Some(Chatting),
        (Chatting, Leave) => Some(LeftChat),
        (Chatting, Complete) | (LeftChat, Complete) => Some(Completed),
        _ => None,
    }
}

/// The operations the model allows in the chat's state (those [`transition`] leads
/// somewhere), in [`OpName::ALL`] order: the agent-side `transitions` of the reference
/// state machine.
pub fn legal_ops(chat: &Chat) -> Vec<OpName> {
    OpName::ALL
        .into_iter()
        .filter(|op| transition(chat.state, *op).is_some())
        .collect()
}

/// The chat after `op` succeeds, when the model allows `op` in its state.
pub fn next(chat: &Chat, op: OpName) -> Option<Chat> {
    transition(chat.state, op).map(|state| Chat { state, ..*chat })
}

/// The customer-side events the model drives for a chat: while the agent is `Chatting`
/// and the customer is still there, the customer may send or leave. (What a customer
/// does to a chat not yet accepted, or after the agent left, is not modelled.)
pub fn customer_events(chat: &Chat) -> Vec<ChatEvent> {
    if chat.state == ChatState::Chatting && chat.customer_session_open() {
        vec![ChatEvent::CustomerSends, ChatEvent::CustomerLeaves]
    } else {
        vec![]
    }
}

/// The operation that finishes a chat still open (leads it to `Completed`): Reject when
/// Invited, Complete when Chatting or LeftChat; `None` once Completed.
pub fn closing_op(chat: &Chat) -> Option<OpName> {
    legal_ops(chat)
        .into_iter()
        .find(|op| transition(chat.state, *op) == Some(ChatState::Completed))
}

/// The operations the harness sends to close a chat of its own that is still open when
/// it cleans up (after a case, at the end of a run, or a chat routing offered it that no
/// case needs): Accept then Complete when Invited, Complete when Chatting or LeftChat,
/// nothing once Completed.
///
/// Not [`closing_op`]: Reject also ends an Invited chat for this agent, but it hands the
/// interaction back to routing, which may offer it again to another Ready agent (SPEC
/// §6.13), so a clean-up by Reject could chase the same customer from agent to agent.
/// Accept then Complete ends the interaction for good (Complete ends the customer's
/// session, CMP-06).
pub fn closing_ops_for_cleanup(state: ChatState) -> &'static [OpName] {
    match state {
        ChatState::Invited => &[OpName::Accept, OpName::Complete],
        ChatState::Chatting | ChatState::LeftChat => &[OpName::Complete],
        ChatState::Completed => &[],
    }
}

/// The state a successful `op` announces in a `StatusChange` notification, whatever
/// state it started from; `None` when it changes no state (SendMessage).
pub fn status_change_of(op: OpName) -> Option<ChatState> {
    let mut to = ChatState::ALL
        .into_iter()
        .filter_map(|s| transition(s, op).filter(|n| *n != s));
    let first = to.next()?;
    to.all(|n| n == first).then_some(first)
}

/// The state a chat is in after the target *did* perform `op` (even one the model
/// refuses): the checker follows the target so one fault does not cascade.
pub fn after_success(state: ChatState, op: OpName) -> ChatState {
    transition(state, op).unwrap_or(match op {
        OpName::Accept => ChatState::Chatting,
        OpName::Reject | OpName::Complete => ChatState::Completed,
        OpName::Leave => ChatState::LeftChat,
        OpName::SendMessage => state,
    })
}
