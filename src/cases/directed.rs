//! The directed cases: at least one per requirement of the catalogue, in families run
//! in a fixed order (golden, drawn, refused, states, many at once, session, malformed).

use super::steps::{accept, complete, inspect, offer, post, refused as watched};
use super::{Case, CasesError, Draw, case_seed};
use crate::history::{AuthVariant, Body, ChatRef, Step};
use crate::schema::{Invalid, RuleKind, Schemas};
use crate::spec::ReqId;
use serde_json::{Value, json};

fn ids(list: &[ReqId]) -> Vec<ReqId> {
    list.to_vec()
}

fn at_path(inv: &Invalid, path: &str) -> bool {
    inv.rule.instance_path == path
}

/// The directed cases: at least one per requirement of the catalogue, parameters drawn
/// from the schema generators with seeds derived from `run_seed`.
///
/// `agents` are the agent user names (the first is the default owner). Cases that need
/// two agents are left out when only one is configured (their requirements then Skip).
/// The families run in a fixed order: each case's seed derives from its position.
pub fn directed(
    schemas: &Schemas,
    run_seed: u64,
    agents: &[String],
) -> Result<Vec<Case>, CasesError> {
    let mut d = Directed {
        out: Vec::new(),
        idx: 0,
        run_seed,
        draw: Draw::new(schemas, case_seed(run_seed, 1_000_000)),
        a: agents.first().cloned().unwrap_or_else(|| "agent1".into()),
        b: agents.get(1).cloned(),
    };
    golden(&mut d);
    drawn(&mut d)?;
    refused(&mut d)?;
    states(&mut d);
    many_at_once(&mut d);
    session(&mut d);
    malformed(&mut d)?;
    session_binding(&mut d);
    Ok(d.out)
}

/// The directed cases being built: each pushed case gets the next position's seed.
struct Directed<'s> {
    out: Vec<Case>,
    idx: u64,
    run_seed: u64,
    draw: Draw<'s>,
    /// The default owner.
    a: String,
    /// A second agent, when there is one.
    b: Option<String>,
}

impl Directed<'_> {
    fn push(&mut self, name: &str, exercises: &[ReqId], steps: Vec<Step>) {
        let seed = case_seed(self.run_seed, self.idx);
        self.idx += 1;
        self.out.push(Case {
            id: name.to_string(),
            seed,
            exercises: ids(exercises),
            steps,
        });
    }
}

/// Directed cases: the seed's golden scenarios.
fn golden(d: &mut Directed<'_>) {
    let a = d.a.clone();
    d.push(
        "complete-plain",
        &[
            ReqId::Cmp01,
            ReqId::Cmp02,
            ReqId::Cmp03,
            ReqId::Cmp06,
            ReqId::Cmp19,
            ReqId::Cmp22,
            ReqId::Ntf01,
        ],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", complete()),
            inspect("c1"),
            Step::Settle,
        ],
    );
    d.push(
        "complete-queue",
        &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp07],
        vec![
            offer("c1", &a),
            accept("c1"),
            post(
                "c1",
                json!({"operationName": "Complete", "queueName": "PostProcessingQueue"}),
            ),
            inspect("c1"),
            Step::Settle,
        ],
    );
    d.push(
        "complete-text",
        &[
            ReqId::Cmp01,
            ReqId::Cmp02,
            ReqId::Cmp04,
            ReqId::Cmp05,
            ReqId::Cmp06,
        ],
        vec![
            offer("c1", &a),
            accept("c1"),
            post(
                "c1",
                json!({"operationName": "Complete", "text": "Thank you for contacting us. Goodbye!"}),
            ),
            inspect("c1"),
            Step::Settle,
        ],
    );
}

/// Directed cases: bodies drawn from the schema generators.
fn drawn(d: &mut Directed<'_>) -> Result<(), CasesError> {
    let a = d.a.clone();
    let save_lar = d
        .draw
        .valid_complete_where(|v| v.get("saveLAR") == Some(&Value::Bool(true)))?;
    d.push(
        "complete-savelar",
        &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp08],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", save_lar),
            inspect("c1"),
            Step::Settle,
        ],
    );
    let with_text = d.draw.valid_complete_where(|v| {
        v.get("text").is_some() && v.get("treatAs").is_some() && v.get("messageType").is_some()
    })?;
    d.push(
        "complete-text-generated",
        &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp05],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", with_text),
            inspect("c1"),
            Step::Settle,
        ],
    );
    for i in 0..3 {
        let body = d.draw.valid_complete()?;
        d.push(
            &format!("complete-generated-{}", i + 1),
            &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp03],
            vec![
                offer("c1", &a),
                accept("c1"),
                post("c1", body),
                inspect("c1"),
                Step::Settle,
            ],
        );
    }
    Ok(())
}

/// Directed cases: refused bodies: each breaks one rule, then the chat must still complete (CMP-17).
fn refused(d: &mut Directed<'_>) -> Result<(), CasesError> {
    let a = d.a.clone();
    type Rule = Box<dyn Fn(&Invalid) -> bool>;
    let refusals: [(&str, &[ReqId], Rule); 5] = [
        (
            "refuse-messagetype-without-text",
            &[ReqId::Cmp09, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| {
                i.rule.kind == RuleKind::BrokenDependentRequired
                    && at_path(i, "")
                    && i.value.get("messageType").is_some()
            }),
        ),
        (
            "refuse-treatas-without-text",
            &[ReqId::Cmp09, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| {
                i.rule.kind == RuleKind::BrokenDependentRequired
                    && i.value.get("treatAs").is_some()
                    && i.value.get("text").is_none()
            }),
        ),
        (
            "refuse-bad-treatas",
            &[ReqId::Cmp10, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| i.rule.kind == RuleKind::NotInEnum && at_path(i, "/treatAs")),
        ),
        (
            "refuse-savelar-not-boolean",
            &[ReqId::Cmp11, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| i.rule.kind == RuleKind::WrongType && at_path(i, "/saveLAR")),
        ),
        (
            "refuse-empty-queuename",
            &[ReqId::Cmp11, ReqId::Cmp17, ReqId::Cmp18],
            Box::new(|i| i.rule.kind == RuleKind::TooShort && at_path(i, "/queueName")),
        ),
    ];
    for (name, exercises, pred) in refusals.iter() {
        let inv = d.draw.invalid_complete_where(pred)?;
        let mut steps = vec![offer("c1", &a), accept("c1")];
        steps.extend(watched("c1", vec![post("c1", inv.value)]));
        steps.extend([post("c1", complete()), Step::Settle]);
        d.push(name, exercises, steps);
    }
    let text_not_string = d
        .draw
        .invalid_complete_where(|i| i.rule.kind == RuleKind::WrongType && at_path(i, "/text"))?;
    let mut steps = vec![offer("c1", &a), accept("c1")];
    steps.extend(watched("c1", vec![post("c1", text_not_string.value)]));
    steps.extend([post("c1", complete()), Step::Settle]);
    d.push(
        "refuse-text-not-string",
        &[ReqId::Cmp11, ReqId::Cmp17],
        steps,
    );
    Ok(())
}

/// Directed cases: Complete in each state of the chat.
fn states(d: &mut Directed<'_>) {
    let a = d.a.clone();
    d.push(
        "complete-invited",
        &[ReqId::Cmp12, ReqId::Cmp17, ReqId::Cmp18],
        [
            vec![offer("c1", &a)],
            watched("c1", vec![post("c1", complete())]),
            vec![accept("c1"), post("c1", complete()), Step::Settle],
        ]
        .concat(),
    );
    d.push(
        "complete-twice",
        &[ReqId::Cmp13, ReqId::Cmp19, ReqId::Cmp18],
        [
            vec![offer("c1", &a), accept("c1"), post("c1", complete())],
            watched("c1", vec![post("c1", complete())]),
            vec![Step::Settle],
        ]
        .concat(),
    );
    d.push(
        "complete-unknown-id",
        &[ReqId::Cmp14, ReqId::Cmp18],
        vec![Step::AgentPost {
            chat: ChatRef::Unknown(format!("0000UNKN{:08X}", d.run_seed as u32)),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(complete()),
        }],
    );
    d.push(
        "complete-leftchat",
        &[ReqId::Cmp15, ReqId::Cmp01, ReqId::Cmp02],
        vec![
            offer("c1", &a),
            accept("c1"),
            post("c1", json!({"operationName": "Leave"})),
            post("c1", complete()),
            Step::Settle,
        ],
    );
    d.push(
        "complete-after-customer-left",
        &[ReqId::Cmp16, ReqId::Cmp01, ReqId::Cmp02],
        vec![
            offer("c1", &a),
            accept("c1"),
            Step::CustomerLeaves { chat: "c1".into() },
            post(
                "c1",
                json!({"operationName": "Complete", "text": "Sorry we missed you."}),
            ),
            Step::Settle,
        ],
    );
}

/// Directed cases: many at once: ≥5 Completes within 50 ms, chats of the same agent and of two agents (CMP-20).
fn many_at_once(d: &mut Directed<'_>) {
    let a = d.a.clone();
    let b = d.b.clone();
    {
        let n = 6;
        let mut steps = Vec::new();
        let mut inner = Vec::new();
        for i in 0..n {
            let alias = format!("c{}", i + 1);
            let owner = match (&b, i % 2) {
                (Some(b), 1) => b.clone(),
                _ => a.clone(),
            };
            steps.push(offer(&alias, &owner));
            steps.push(accept(&alias));
            let body = if i % 2 == 0 {
                json!({"operationName": "Complete", "text": format!("Goodbye from chat {}", i + 1)})
            } else {
                complete()
            };
            inner.push(post(&alias, body));
        }
        steps.push(Step::Concurrent { steps: inner });
        steps.push(Step::Settle);
        d.push(
            "complete-many-at-once",
            &[ReqId::Cmp20, ReqId::Cmp02, ReqId::Cmp04],
            steps,
        );
    }
    if b.is_some() {
        d.push(
            "complete-other-agents-chat",
            &[ReqId::Cmp21, ReqId::Cmp17, ReqId::Cmp18],
            [
                vec![offer("c1", &a), accept("c1")],
                watched(
                    "c1",
                    vec![Step::AgentPost {
                        chat: ChatRef::Alias("c1".into()),
                        by_other_agent: true,
                        auth: AuthVariant::Normal,
                        body: Body::Json(complete()),
                    }],
                ),
                vec![post("c1", complete()), Step::Settle],
            ]
            .concat(),
        );
    }
}

/// Directed cases: the session: CSRF and credentials (SES-01/02).
fn session(d: &mut Directed<'_>) {
    let a = d.a.clone();
    let auth_post = |auth: AuthVariant| Step::AgentPost {
        chat: ChatRef::Alias("c1".into()),
        by_other_agent: false,
        auth,
        body: Body::Json(complete()),
    };
    d.push(
        "complete-without-csrf",
        &[ReqId::Ses01],
        [
            vec![offer("c1", &a), accept("c1")],
            watched("c1", vec![auth_post(AuthVariant::NoCsrf)]),
            vec![post("c1", complete()), Step::Settle],
        ]
        .concat(),
    );
    d.push(
        "complete-without-credentials",
        &[ReqId::Ses02],
        [
            vec![offer("c1", &a), accept("c1")],
            watched("c1", vec![auth_post(AuthVariant::NoCredentials)]),
            vec![post("c1", complete()), Step::Settle],
        ]
        .concat(),
    );
}

/// Directed cases: malformed requests (REQ-01).
fn malformed(d: &mut Directed<'_>) -> Result<(), CasesError> {
    let a = d.a.clone();
    let missing_op = d.draw.invalid_complete_where(|i| {
        i.rule.kind == RuleKind::MissingRequired && i.value.get("operationName").is_none()
    })?;
    d.push(
        "malformed-bodies",
        &[ReqId::Req01, ReqId::Cmp18],
        [
            vec![offer("c1", &a), accept("c1")],
            watched(
                "c1",
                vec![
                    Step::AgentPost {
                        chat: ChatRef::Alias("c1".into()),
                        by_other_agent: false,
                        auth: AuthVariant::Normal,
                        body: Body::Raw("{\"operationName\": \"Complete\",".into()),
                    },
                    // Not JSON either: an escape with no hex digits (RFC 8259 §7).
                    Step::AgentPost {
                        chat: ChatRef::Alias("c1".into()),
                        by_other_agent: false,
                        auth: AuthVariant::Normal,
                        body: Body::Raw(
                            "{\"operationName\": \"Complete\", \"text\": \"bad \\uZZZZ\"}".into(),
                        ),
                    },
                    post("c1", missing_op.value),
                    post("c1", json!({"operationName": "CompleteEverything"})),
                ],
            ),
            vec![post("c1", complete()), Step::Settle],
        ]
        .concat(),
    );
    Ok(())
}

/// Directed cases: the session's credentials bound to it (SES-01/02, issue 25): the
/// owner's session with the other agent's CSRF token, and the owner's cookie with the
/// other agent's Basic credentials (see `model::credentials_refusal` for why that must be
/// refused). Each is refused and changes nothing; with one agent they are left out.
///
/// First the session cookie without Basic (SPEC §6.2), which `complete-without-credentials`
/// sent after its request without any credentials until each refusal was watched on its
/// own (a case of its own keeps both short enough to shrink).
fn session_binding(d: &mut Directed<'_>) {
    let a = d.a.clone();
    let auth_post = |auth: AuthVariant| Step::AgentPost {
        chat: ChatRef::Alias("c1".into()),
        by_other_agent: false,
        auth,
        body: Body::Json(complete()),
    };
    d.push(
        "complete-with-cookie-only",
        &[ReqId::Ses02],
        [
            vec![offer("c1", &a), accept("c1")],
            watched("c1", vec![auth_post(AuthVariant::CookieOnly)]),
            vec![post("c1", complete()), Step::Settle],
        ]
        .concat(),
    );
    if d.b.is_none() {
        return;
    }
    for (name, req, auth) in [
        (
            "complete-with-other-sessions-csrf",
            ReqId::Ses01,
            AuthVariant::ForeignCsrf,
        ),
        (
            "complete-with-other-agents-basic",
            ReqId::Ses02,
            AuthVariant::ForeignBasic,
        ),
    ] {
        d.push(
            name,
            &[req],
            [
                vec![offer("c1", &a), accept("c1")],
                watched("c1", vec![auth_post(auth)]),
                vec![post("c1", complete()), Step::Settle],
            ]
            .concat(),
        );
    }
}
