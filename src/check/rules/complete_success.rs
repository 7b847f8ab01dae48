//! CMP-01, CMP-02, CMP-03 (a Complete the model expects to succeed: its answer, its one
//! Completed notification, that notification's uri) and CMP-15/16 (both are "CMP-01
//! and CMP-02 hold" in a particular state).

use super::{CompleteView, unobserved, w};
use crate::check::anomaly::normalize;
use crate::check::index::secs;
use crate::check::{Anomaly, CheckConfig, Finding, Shapes};
use crate::history::Note;
use crate::model::ChatState;
use crate::spec::ReqId;

/// CMP-01: HTTP 200 and `{"statusCode":0}` valid against the response schema, no
/// statusMessage.
pub(crate) fn cmp01(v: &CompleteView, shapes: &dyn Shapes) -> Finding {
    let ans = v.ans;
    let mut problems = vec![];
    if ans.status != 200 {
        problems.push(format!("HTTP {}", ans.status));
    }
    match ans.json {
        None => problems.push("the body is not JSON".into()),
        Some(j) => {
            if let Err(e) = shapes.validate("response", j) {
                problems.push(format!(
                    "the body is not valid against the response schema: {e}"
                ));
            }
            match j.get("statusCode") {
                Some(c) if c.as_i64() == Some(0) => {}
                Some(c) => problems.push(format!("statusCode {c}")),
                None => problems.push("no statusCode".into()),
            }
            if j.get("statusMessage").is_some() {
                problems.push("a statusMessage is present".into());
            }
        }
    }
    if problems.is_empty() {
        return Finding::pass(ReqId::Cmp01, "HTTP 200, statusCode 0");
    }
    // Not accepted (an HTTP error or a statusCode other than 0) is one anomaly whatever
    // the chat's state; a success in the wrong shape is another.
    let refused = ans.status != 200
        || ans
            .json
            .and_then(|j| j.get("statusCode"))
            .is_some_and(|c| c.as_i64() != Some(0));
    let anomaly = if refused {
        Anomaly::CompleteNotAccepted
    } else {
        Anomaly::Other(format!("CMP-01: {}", normalize(&problems.join("; "))))
    };
    Finding::fail(
        ReqId::Cmp01,
        format!(
            "Complete on a {} chat: {}",
            v.before.as_str(),
            problems.join("; ")
        ),
        w(
            "HTTP 200 and {\"statusCode\":0} valid against the response schema",
            problems.join("; "),
            v.evs(),
        ),
    )
    .saw(anomaly)
}

/// CMP-02: exactly one `StatusChange Completed` to the owner within the deadline, and
/// none to another agent. Only for an answer with statusCode 0.
pub(crate) fn cmp02(v: &CompleteView, cfg: &CheckConfig) -> Finding {
    let (to_owner, to_others): (Vec<&Note>, Vec<&Note>) =
        v.completed.iter().partition(|n| n.agent == v.owner);
    let dl = cfg.deadline.as_micros() as u64;
    let expected = format!(
        "exactly one StatusChange Completed for chat {} to {} within {} of the response",
        v.chat_id,
        v.owner,
        secs(dl)
    );
    let Some(n) = v.first else {
        if let Some(l) = v.idx.lost_by(v.owner, v.ans.t_us.saturating_add(dl)) {
            return unobserved(ReqId::Cmp02, "no Completed seen", l);
        }
        let mut e = v.evs();
        e.extend(v.idx.last_quiet_seq());
        e.extend(to_others.iter().map(|n| n.seq));
        let mut obs = format!("none arrived; {}", v.idx.waited_since(v.ans.t_us));
        if let Some(o) = to_others.first() {
            obs.push_str(&format!(
                "; delivered to {} instead (not the owner)",
                o.agent
            ));
        }
        return Finding::fail(
            ReqId::Cmp02,
            "no Completed notification reached the owner",
            w(expected, obs, e),
        )
        .saw(Anomaly::NoCompleted);
    };
    let took = n.t_us.saturating_sub(v.ans.t_us);
    let dups: Vec<u64> = to_owner
        .iter()
        .skip(1)
        .filter(|m| m.seq < v.end)
        .map(|m| m.seq)
        .collect();
    let mut e = v.evs();
    e.push(n.seq);
    if took > dl {
        Finding::fail(
            ReqId::Cmp02,
            "the Completed notification came after the deadline",
            w(
                expected,
                format!("arrived {} after the response", secs(took)),
                e,
            ),
        )
        .saw(Anomaly::LateCompleted)
    } else if !dups.is_empty() {
        e.extend(&dups);
        Finding::fail(
            ReqId::Cmp02,
            "more than one Completed notification",
            w(
                expected,
                format!("{} Completed notifications", dups.len() + 1),
                e,
            ),
        )
        .saw(Anomaly::SecondCompleted)
    } else if let Some(o) = to_others.first() {
        e.push(o.seq);
        Finding::fail(
            ReqId::Cmp02,
            "Completed delivered to an agent that does not own the chat",
            w(expected, format!("also delivered to {}", o.agent), e),
        )
        .saw(Anomaly::CompletedToOtherAgent)
    } else {
        Finding::pass(
            ReqId::Cmp02,
            format!("one Completed, {} after the response", secs(took)),
        )
    }
}

/// CMP-03: the owner's Completed names the chat in `chat.uri`.
pub(crate) fn cmp03(v: &CompleteView) -> Option<Finding> {
    let n = v.first?;
    let uri = n.chat_uri();
    let want = format!("/api/v2/chats/{}", v.chat_id);
    Some(match uri {
        Some(u) if u.ends_with(&want) => Finding::pass(ReqId::Cmp03, "chat.uri names the chat"),
        _ => Finding::fail(
            ReqId::Cmp03,
            "chat.uri of the Completed notification does not name the chat",
            w(
                format!("chat.uri ending with {want}"),
                format!("chat.uri {}", uri.unwrap_or("missing")),
                vec![n.seq],
            ),
        )
        .saw(Anomaly::CompletedNamesOtherChat),
    })
}

/// CMP-15 (Complete on a LeftChat chat) and CMP-16 (after the customer left): both
/// are "CMP-01 and CMP-02 hold" (`ok`), `what` naming what failed otherwise.
pub(crate) fn cmp15_16(
    before: ChatState,
    customer_present: bool,
    ok: bool,
    what: &str,
    evs: &[u64],
) -> Vec<Finding> {
    let mut rows = vec![];
    if before == ChatState::LeftChat {
        rows.push((ReqId::Cmp15, "Complete on a LeftChat chat"));
    }
    if !customer_present {
        rows.push((ReqId::Cmp16, "Complete after the customer left"));
    }
    rows.into_iter()
        .map(|(r, label)| {
            if ok {
                Finding::pass(r, format!("{label} succeeded"))
            } else {
                Finding::fail(
                    r,
                    format!("{label} did not succeed"),
                    w(
                        format!("{label} succeeds (CMP-01 and CMP-02)"),
                        format!("{what} failed; see those findings"),
                        evs.to_vec(),
                    ),
                )
            }
        })
        .collect()
}
