//! The checker: a pure function of a recorded history and the model → a verdict per
//! requirement id, each Fail with a minimal witness. No I/O, no clocks, no randomness
//! here, so a saved history can be judged again and every check is unit-testable.
//!
//! - [`judge`] judges case histories (the events of one or more cases, each starting
//!   with a `Case` event) against SPEC §3.
//! - [`judge_session`] judges NTF-02 over the run-level Bayeux events.
//! - [`build::HistoryBuilder`] writes histories by hand (tests, fixtures).

#![warn(missing_docs)]

pub mod anomaly;
pub mod build;
mod case;
mod complete;
mod index;
mod replay;
mod rules;
mod session;
mod stray;
#[allow(missing_docs)] // shared file, owned by the lead
pub(crate) mod verdict;

/// The chat a notification is about (the reader is [`crate::history::notes`]).
pub use crate::history::notification_chat_id;
pub use anomaly::{Anomaly, anomalies_of};
pub use session::{RunLevel, judge_run_level, judge_session};
pub(crate) use stray::judge_unclaimed;
pub use verdict::{Finding, Verdict, Witness, fold};

use crate::history::{EventKind, History};
use std::time::Duration;

/// The numbers the checker judges against (SPEC §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckConfig {
    /// How long after a response an expected notification may take (default 5 s).
    pub deadline: Duration,
    /// How long "nothing more" must hold (default 1 s); informational for the checker,
    /// which judges absence from everything recorded.
    pub quiet_window: Duration,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            deadline: Duration::from_secs(5),
            quiet_window: Duration::from_secs(1),
        }
    }
}

/// Schema validation as the checker needs it. The runner implements it over
/// `crate::schema`; names used: `"response"` (an agent-API operation answer) and
/// `"notification"` (the `data` of a `/v2/me/chats` message).
pub trait Shapes {
    /// `Ok(())` when `instance` is valid against schema `schema`, else why not.
    fn validate(&self, schema: &str, instance: &serde_json::Value) -> Result<(), Misfit>;
}

/// Why an instance is not valid against its schema: a one-line reason naming the
/// offending path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Misfit(pub String);

/// Judges every case of `history` (a case starts at each `Case` event; events before
/// the first one form a case of their own). Per case, returns findings for every
/// requirement the history exercised, at most one Pass/Skip per requirement, every Fail
/// with a witness. Never panics, whatever the history holds.
pub fn judge(history: &History, cfg: &CheckConfig, shapes: &dyn Shapes) -> Vec<Finding> {
    let ev = &history.events;
    let mut starts: Vec<usize> = ev
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, EventKind::Case { .. }))
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(ev.len());
        if s >= end {
            continue;
        }
        out.extend(case::judge_case(&ev[s..end], cfg, shapes));
    }
    out
}
