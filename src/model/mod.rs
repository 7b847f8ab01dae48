//! The reference model of agent chats (SPEC §2): states, transitions and expected
//! outcomes, as pure code.
