//! The embedded reference server: an independent implementation of the contract (agent
//! API, Bayeux notifications, customer chat API, provider-state endpoint) with a fault
//! switch. It must never import `crate::model` or `crate::check`.

pub mod cli;
