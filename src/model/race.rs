//! Requests that raced on one chat (sent at the same instant): which order of serving
//! them explains their answers ([`explaining_order`]) and where the chat ends up
//! ([`race_end`]). The runner and the checker both order races here, so they agree.

use super::{ChatState, Classified, after_success, explains};
use crate::spec::ReqId;

/// One of the agent requests that raced on one chat.
#[derive(Debug, Clone)]
pub struct Racing {
    /// The chat's owner sent it.
    pub caller_owns: bool,
    /// [`super::credentials_refusal`] of the request.
    pub credentials: Option<ReqId>,
    /// What the request is ([`super::classify`] of its body).
    pub request: Classified,
    /// Whether it succeeded ([`super::succeeded`]); `None` when it went unsent or
    /// unanswered: it explains anything from there on.
    pub ok: Option<bool>,
}

/// At most this many racing requests are ordered (4! = 24 orders); more are not.
pub const MAX_RACING: usize = 4;

/// Where serving `parts` in `order` (positions in `parts`) from `start` leads, when the
/// model explains every answer in that order ([`explains`]; SPEC §6.8: Leave in
/// LeftChat may go either way); `None` when one answer is not explained. An unanswered
/// request explains anything from there on (the state so far is returned).
pub fn explained_in_order(
    start: ChatState,
    parts: &[Racing],
    order: &[usize],
) -> Option<ChatState> {
    let mut s = start;
    for &k in order {
        let p = &parts[k];
        let Some(ok) = p.ok else {
            return Some(s);
        };
        if !explains(s, p.caller_owns, p.credentials, &p.request, ok) {
            return None;
        }
        if ok && let Some(op) = p.request.op_name() {
            s = after_success(s, op);
        }
    }
    Some(s)
}

/// The first order of the racing requests `parts` (all on one chat in state `start`)
/// that explains their answers, as positions in `parts` in lexicographic order (the
/// sending order first), with the state it leads to; `None` when there are more than
/// [`MAX_RACING`] or no order explains them.
pub fn explaining_order(start: ChatState, parts: &[Racing]) -> Option<(Vec<usize>, ChatState)> {
    if parts.len() > MAX_RACING {
        return None;
    }
    let mut order: Vec<usize> = (0..parts.len()).collect();
    loop {
        if let Some(end) = explained_in_order(start, parts, &order) {
            return Some((order, end));
        }
        if !next_permutation(&mut order) {
            return None;
        }
    }
}

/// Where a chat is after agent requests that raced on it, from state `start`: by the
/// first order of the requests whose answers the model explains ([`explaining_order`]);
/// `None` when no order does, or a request went unanswered.
pub fn race_end(start: ChatState, parts: &[Racing]) -> Option<ChatState> {
    if parts.iter().any(|p| p.ok.is_none()) {
        return None;
    }
    explaining_order(start, parts).map(|(_, end)| end)
}

/// The next ordering of `v` in lexicographic order; false after the last.
pub fn next_permutation(v: &mut [usize]) -> bool {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else {
        return false;
    };
    let j = (i..v.len()).rev().find(|&j| v[j] > v[i - 1]).unwrap_or(i);
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}
