//! The reference model of agent chats (SPEC §2): states, transitions and expected
//! outcomes, as pure code.
//!
//! Two functions carry it: [`classify`] says what a request body is (which operation,
//! or which rule of SPEC §1.2 it breaks) and [`expect`] says what a conforming target
//! does with it in a given chat state (success or refusal, the preferred statusCodes,
//! the next state and the notifications the agent should see).
//!
//! Everything else that needs the chat model asks this module instead of restating it:
//! the checker (through [`expect`] and [`after_success`]), the random-sequence generator
//! (through [`legal_ops`], [`customer_events`], [`closing_op`] and [`Chat::handle`], in
//! the way of proptest-state-machine's `ReferenceStateMachine`: the model says which
//! transitions exist in a state and where they lead, the generator only picks), the
//! runner (through [`status_change_of`]: which notification a successful operation
//! announces) and the curl-script writer (through [`expect`] over [`ChatState::ALL`]).

#![warn(missing_docs)]

mod answer;
mod expect;
mod ops;
mod race;
mod state;

pub use answer::*;
pub use expect::*;
pub use ops::*;
pub use race::*;
pub use state::*;

#[cfg(test)]
mod tests;
