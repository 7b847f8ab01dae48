//! NTF-01 for the notifications no case claimed: a notification that names no chat of
//! any case (no `chat.id`, no uri, or an unknown id) is still judged for its shape, so a
//! malformed message cannot slip past the checker by being unroutable.

use super::{Finding, Shapes, Witness};
use crate::history::{Event, EventKind};
use crate::spec::ReqId;

/// Invalid notifications judged one by one at most ([`judge_unclaimed`]); the rest are
/// counted in one more Fail. The findings stay small whatever a target floods, and
/// within the 20 per requirement a report writes, with room for the run's note on what
/// it did not keep.
pub(crate) const MAX_UNCLAIMED_FAILS: usize = 18;

/// Judges the shape of every notification in `events` against `notification` (NTF-01).
/// A Fail per invalid notification (with its seq as witness), the first
/// [`MAX_UNCLAIMED_FAILS`] of them, then one Fail counting the rest; else one Pass when
/// there was at least one notification, else nothing.
pub fn judge_unclaimed(events: &[&Event], shapes: &dyn Shapes) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut n = 0usize;
    let mut more: Vec<u64> = Vec::new();
    for e in events {
        let EventKind::Notification { agent, data, .. } = &e.kind else {
            continue;
        };
        n += 1;
        if let Err(why) = shapes.validate("notification", data) {
            if out.len() >= MAX_UNCLAIMED_FAILS {
                more.push(e.seq);
                continue;
            }
            out.push(Finding::fail(
                ReqId::Ntf01,
                format!(
                    "a notification to {agent} that no case's chat claimed is not valid: {why}"
                ),
                Witness {
                    expected:
                        "every notification on /v2/me/chats valid against the notification schema"
                            .into(),
                    observed: format!("{data} ({why})"),
                    events: vec![e.seq],
                },
            ));
        }
    }
    if let Some(&first) = more.first() {
        out.push(Finding::fail(
            ReqId::Ntf01,
            format!(
                "{} more notifications that no case's chat claimed are not valid either (not judged one by one: at most {MAX_UNCLAIMED_FAILS} are)",
                more.len()
            ),
            Witness {
                expected: "every notification on /v2/me/chats valid against the notification schema"
                    .into(),
                observed: format!("{} more invalid notifications, the first at seq {first}", more.len()),
                events: more.iter().copied().take(MAX_UNCLAIMED_FAILS).collect(),
            },
        ));
    }
    if out.is_empty() && n > 0 {
        out.push(Finding::pass(
            ReqId::Ntf01,
            format!("{n} notifications outside the cases' chats, all valid"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    use crate::check::Misfit;

    struct NeedsChatId;
    impl Shapes for NeedsChatId {
        fn validate(&self, _schema: &str, v: &Value) -> Result<(), Misfit> {
            crate::history::notes::chat_id(v)
                .map(|_| ())
                .ok_or_else(|| Misfit("/chat: id missing".into()))
        }
    }

    fn note(seq: u64, data: Value) -> Event {
        Event {
            seq,
            t_us: seq,
            stream: "bayeux:a".into(),
            stream_seq: seq,
            in_step: None,
            kind: EventKind::Notification {
                agent: "a".into(),
                channel: "/v2/me/chats".into(),
                data,
            },
            notes: Vec::new(),
        }
    }

    #[test]
    fn an_unroutable_malformed_notification_fails_ntf01() {
        let good = note(1, json!({"chat": {"id": "X"}}));
        let bad = note(2, json!({"chat": {"state": "Completed"}}));
        let f = judge_unclaimed(&[&good, &bad], &NeedsChatId);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].req, ReqId::Ntf01);
        assert_eq!(f[0].verdict, super::super::Verdict::Fail);
        assert_eq!(f[0].witness.as_ref().unwrap().events, vec![2]);
        let f = judge_unclaimed(&[&good], &NeedsChatId);
        assert_eq!(f[0].verdict, super::super::Verdict::Pass);
        assert!(judge_unclaimed(&[], &NeedsChatId).is_empty());
    }

    #[test]
    fn a_flood_of_malformed_notifications_is_judged_in_a_bounded_number_of_findings() {
        let bad: Vec<Event> = (0..500)
            .map(|i| note(i, json!({"chat": {"state": "Completed"}})))
            .collect();
        let refs: Vec<&Event> = bad.iter().collect();
        let f = judge_unclaimed(&refs, &NeedsChatId);
        assert_eq!(f.len(), MAX_UNCLAIMED_FAILS + 1);
        assert!(f.iter().all(|f| f.verdict == super::super::Verdict::Fail));
        let last = f.last().unwrap();
        assert!(last.reason.contains("482 more"), "{}", last.reason);
        assert_eq!(last.witness.as_ref().unwrap().events[0], 18);
    }
}
