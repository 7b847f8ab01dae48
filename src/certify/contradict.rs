//! The statement checked against behaviour: each declaration of a conformance statement
//! that a recorded history contradicts is a verdict of its own, "statement contradicted",
//! with its witness. It blocks the certificate.

use super::statement::{Mode, Statement};
use crate::history::{Actor, Body, EventKind, History};
use crate::model;
use serde::{Deserialize, Serialize};

/// Where a history came from: the run (seed and provisioning mode) and the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The run's seed.
    pub seed: u64,
    /// The provisioning mode of the run.
    pub mode: Mode,
    /// The case id.
    pub case: String,
}

/// One declaration the behaviour contradicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contradiction {
    /// The statement's field (`deployment.csrf`).
    pub field: String,
    /// What the statement says.
    pub declared: String,
    /// What was seen.
    pub seen: String,
    /// Where: the run and the case.
    pub origin: Origin,
    /// The event of the case history (its `seq`), when one event shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<u64>,
}

/// The first contradiction of each declared item, over `histories`. A declaration no
/// history can show (no session was set up; no inspect was answered) is not
/// contradicted: the certificate's rows say what was not observable.
pub(crate) fn contradictions(
    st: &Statement,
    histories: &[(Origin, &History)],
) -> Vec<Contradiction> {
    let mut out: Vec<Contradiction> = Vec::new();
    let mut push = |c: Contradiction| {
        if !out.iter().any(|o| o.field == c.field) {
            out.push(c);
        }
    };
    for (origin, h) in histories {
        if let Some(c) = csrf(st, origin, h) {
            push(c);
        }
        if let Some(c) = reference_id(st, origin, h) {
            push(c);
        }
        if !st.deployment.provisioning.contains(&origin.mode) {
            push(Contradiction {
                field: "deployment.provisioning".into(),
                declared: format!("{:?}", st.deployment.provisioning),
                seen: format!("a run in {:?} mode", origin.mode),
                origin: origin.clone(),
                event: None,
            });
        }
    }
    for c in inspect(st, histories) {
        push(c);
    }
    out
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// `deployment.csrf`: what `GET /api/v2/me` announced (SPEC 1.1).
fn csrf(st: &Statement, origin: &Origin, h: &History) -> Option<Contradiction> {
    h.events.iter().find_map(|e| match &e.kind {
        EventKind::Session { agent, csrf } if *csrf != st.deployment.csrf => Some(Contradiction {
            field: "deployment.csrf".into(),
            declared: on_off(st.deployment.csrf).into(),
            seen: if *csrf {
                format!("GET /api/v2/me of {agent} answered X-CSRF-HEADER and X-CSRF-TOKEN")
            } else {
                format!("GET /api/v2/me of {agent} answered no X-CSRF-HEADER / X-CSRF-TOKEN")
            },
            origin: origin.clone(),
            event: Some(e.seq),
        }),
        _ => None,
    })
}

/// `deployment.reference_id`: whether the agent API's successful answers to chat
/// operations carry an integer `referenceId` (SPEC 1.2).
fn reference_id(st: &Statement, origin: &Origin, h: &History) -> Option<Contradiction> {
    let mut chat_posts = std::collections::BTreeSet::new();
    for e in &h.events {
        match &e.kind {
            EventKind::Request {
                req,
                actor: Actor::Agent(_),
                method,
                path,
                ..
            } if method == "POST" && path.starts_with("/api/v2/me/chats/") => {
                chat_posts.insert(*req);
            }
            EventKind::Response {
                req,
                status,
                body: body @ Body::Json(v),
                ..
            } if chat_posts.contains(req)
                && model::succeeded(*status, model::status_code(body)) =>
            {
                let has = v
                    .get("referenceId")
                    .is_some_and(|r| r.is_i64() || r.is_u64());
                if has != st.deployment.reference_id {
                    return Some(Contradiction {
                        field: "deployment.reference_id".into(),
                        declared: st.deployment.reference_id.to_string(),
                        seen: format!("a successful answer {v}"),
                        origin: origin.clone(),
                        event: Some(e.seq),
                    });
                }
            }
            _ => {}
        }
    }
    None
}

/// `deployment.inspect`: what provider-state `inspect` *can* show. A declared field
/// that no answered inspect of any provider-state run carries is contradicted (the
/// witness: the first answer). A field an answer leaves out while another carries it is
/// not: a server may omit a field it has no value for yet (`lastAgent` before any
/// agent), and the SPEC says no more than "any of".
fn inspect(st: &Statement, histories: &[(Origin, &History)]) -> Vec<Contradiction> {
    let answers: Vec<(&Origin, u64, &serde_json::Value)> = histories
        .iter()
        .filter(|(o, _)| o.mode == Mode::ProviderState)
        .flat_map(|(o, h)| {
            h.events.iter().filter_map(move |e| match &e.kind {
                EventKind::Inspect {
                    result: Some(r), ..
                } => Some((o, e.seq, r)),
                _ => None,
            })
        })
        .collect();
    let Some(&(first_origin, first_seq, first)) = answers.first() else {
        return Vec::new();
    };
    st.deployment
        .inspect
        .iter()
        .filter(|field| {
            answers
                .iter()
                .all(|(_, _, r)| r.get(field.as_str()).is_none())
        })
        .map(|field| Contradiction {
            field: "deployment.inspect".into(),
            declared: field.clone(),
            seen: format!(
                "no inspect answer of {} shows {field}, e.g. {first}",
                answers.len()
            ),
            origin: first_origin.clone(),
            event: Some(first_seq),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Event;
    use serde_json::json;

    fn statement(csrf: bool, reference_id: bool, inspect: &[&str]) -> Statement {
        let text = format!(
            "[product]\nname='x'\nversion='1'\n[deployment]\nprovisioning=['provider-state']\ninspect={:?}\ncsrf={csrf}\nreference_id={reference_id}\n",
            inspect
        );
        Statement::parse("s.toml", &text).unwrap()
    }

    fn history(kinds: Vec<EventKind>) -> History {
        History {
            events: kinds
                .into_iter()
                .enumerate()
                .map(|(i, kind)| Event {
                    seq: i as u64,
                    t_us: 0,
                    stream: "s".into(),
                    stream_seq: i as u64,
                    in_step: None,
                    kind,
                    notes: vec![],
                })
                .collect(),
        }
    }

    fn origin() -> Origin {
        Origin {
            seed: 7,
            mode: Mode::ProviderState,
            case: "complete-plain".into(),
        }
    }

    fn complete_answered(answer: serde_json::Value) -> Vec<EventKind> {
        vec![
            EventKind::Request {
                req: 1,
                actor: Actor::Agent("agent1".into()),
                method: "POST".into(),
                path: "/api/v2/me/chats/x1".into(),
                headers: vec![],
                body: Body::Json(json!({"operationName": "Complete"})),
                part: None,
            },
            EventKind::Response {
                req: 1,
                status: 200,
                body: Body::Json(answer),
                elapsed_us: 1,
            },
        ]
    }

    #[test]
    fn a_true_statement_is_not_contradicted() {
        let st = statement(true, true, &["queue", "customerSessionEnded"]);
        let mut k = vec![EventKind::Session {
            agent: "agent1".into(),
            csrf: true,
        }];
        k.extend(complete_answered(
            json!({"statusCode": 0, "referenceId": 3}),
        ));
        k.push(EventKind::Inspect {
            alias: "c1".into(),
            result: Some(json!({"queue": "q", "customerSessionEnded": true})),
            reason: None,
        });
        let h = history(k);
        assert_eq!(contradictions(&st, &[(origin(), &h)]), vec![]);
    }

    #[test]
    fn csrf_declared_but_not_announced_is_a_contradiction_with_its_witness() {
        let h = history(vec![EventKind::Session {
            agent: "agent1".into(),
            csrf: false,
        }]);
        let c = contradictions(&statement(true, false, &["queue"]), &[(origin(), &h)]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "deployment.csrf");
        assert_eq!(c[0].declared, "on");
        assert!(c[0].seen.contains("no X-CSRF-HEADER"), "{:?}", c[0]);
        assert_eq!((c[0].origin.seed, c[0].event), (7, Some(0)));
        // and the other way round
        let h = history(vec![EventKind::Session {
            agent: "agent1".into(),
            csrf: true,
        }]);
        let c = contradictions(&statement(false, false, &["queue"]), &[(origin(), &h)]);
        assert_eq!(c[0].declared, "off");
    }

    #[test]
    fn reference_id_declared_but_absent_and_the_reverse() {
        let h = history(complete_answered(json!({"statusCode": 0})));
        let c = contradictions(&statement(false, true, &["queue"]), &[(origin(), &h)]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(
            (c[0].field.as_str(), c[0].event),
            ("deployment.reference_id", Some(1))
        );
        let h = history(complete_answered(
            json!({"statusCode": 0, "referenceId": 9}),
        ));
        assert_eq!(
            contradictions(&statement(false, false, &["queue"]), &[(origin(), &h)])[0].field,
            "deployment.reference_id"
        );
        // a refusal carries no referenceId either way: not a contradiction
        let h = history(complete_answered(
            json!({"statusCode": 3, "statusMessage": "no"}),
        ));
        assert!(contradictions(&statement(false, true, &["queue"]), &[(origin(), &h)]).is_empty());
    }

    #[test]
    fn an_inspect_field_declared_but_missing_is_named() {
        let h = history(vec![EventKind::Inspect {
            alias: "c1".into(),
            result: Some(json!({"queue": "q"})),
            reason: None,
        }]);
        let st = statement(false, false, &["queue", "customerTranscript"]);
        let c = contradictions(&st, &[(origin(), &h)]);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].field.as_str(), c[0].declared.as_str()),
            ("deployment.inspect", "customerTranscript")
        );
        // a field one answer leaves out and another shows: the server can show it
        let two = history(vec![
            EventKind::Inspect {
                alias: "c1".into(),
                result: Some(json!({"queue": "q"})),
                reason: None,
            },
            EventKind::Inspect {
                alias: "c1".into(),
                result: Some(json!({"queue": "q", "customerTranscript": []})),
                reason: None,
            },
        ]);
        assert_eq!(contradictions(&st, &[(origin(), &two)]), vec![]);
        // in customer-api mode the Inspect events are the customer's GETs: not judged here
        let o = Origin {
            mode: Mode::CustomerApi,
            ..origin()
        };
        let c = contradictions(&st, &[(o, &h)]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "deployment.provisioning");
    }
}
