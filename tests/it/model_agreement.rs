//! The model drives everything (issue 9.1): the random-sequence generator's belief about
//! each chat is the model's, and the embedded reference server, driven through the
//! runner, takes every chat of random sequences through exactly the states the model
//! predicts, with no Fail and no Error.

use gws_conform::cases;
use gws_conform::check::{Verdict, notification_chat_id};
use gws_conform::history::{AuthVariant, Body, ChatRef, EventKind, History, Step};
use gws_conform::model::{self, Chat, ChatEvent, ChatState};
use gws_conform::runner::{self, Progress, RunSettings};
use gws_conform::schema::Schemas;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

fn agents() -> Vec<String> {
    runner::embedded_agents()
        .into_iter()
        .map(|c| c.user)
        .collect()
}

/// What the model predicts for each chat of `steps`, folded here independently of the
/// generator: the final chat and the states it goes through (consecutive repeats
/// dropped).
fn predict(steps: &[Step]) -> BTreeMap<String, (Chat, Vec<ChatState>)> {
    let mut chats: BTreeMap<String, (Chat, Vec<ChatState>)> = BTreeMap::new();
    fn go(
        chats: &mut BTreeMap<String, (Chat, Vec<ChatState>)>,
        alias: &str,
        f: &dyn Fn(&Chat) -> Chat,
    ) {
        let (chat, path) = chats
            .get_mut(alias)
            .unwrap_or_else(|| panic!("step on {alias} before it was offered"));
        *chat = f(chat);
        if path.last() != Some(&chat.state) {
            path.push(chat.state);
        }
    }
    for step in steps {
        match step {
            Step::OfferChat { chat, .. } => {
                chats.insert(chat.clone(), (Chat::offered(), vec![ChatState::Invited]));
            }
            Step::AgentPost {
                chat: ChatRef::Alias(a),
                by_other_agent,
                auth,
                body,
            } => {
                assert_eq!(*auth, AuthVariant::Normal, "random steps use normal auth");
                let cls = model::classify(body);
                let owns = !*by_other_agent;
                go(&mut chats, a, &|c| {
                    let e = model::expect(Some(c.state), owns, &cls);
                    match (e.refusal, cls.op_name()) {
                        (None, Some(op)) => c.apply(ChatEvent::Performed(op)),
                        _ => *c,
                    }
                });
            }
            Step::AgentPost {
                chat: ChatRef::Unknown(_),
                ..
            } => panic!("random sequences do not use unknown ids"),
            Step::CustomerLeaves { chat } => {
                go(&mut chats, chat, &|c| c.apply(ChatEvent::CustomerLeaves))
            }
            Step::CustomerSends { chat, .. } => {
                go(&mut chats, chat, &|c| c.apply(ChatEvent::CustomerSends))
            }
            Step::Inspect { .. } | Step::Settle => {}
            Step::Concurrent { .. } => panic!("random sequences have no concurrent steps"),
        }
    }
    chats
}

/// The states the target announced for each alias (StatusChange notifications, in
/// arrival order, consecutive repeats dropped).
fn observed(history: &History) -> BTreeMap<String, Vec<ChatState>> {
    let mut alias_of: BTreeMap<String, String> = BTreeMap::new();
    let mut out: BTreeMap<String, Vec<ChatState>> = BTreeMap::new();
    // The Invited notification may be recorded before the Bind: binds first.
    for e in history.iter() {
        if let EventKind::Bind { alias, chat_id, .. } = &e.kind {
            alias_of.insert(chat_id.clone(), alias.clone());
        }
    }
    for e in history.iter() {
        match &e.kind {
            EventKind::Notification { data, .. }
                if data.get("notificationType").and_then(Value::as_str) == Some("StatusChange") =>
            {
                let alias = notification_chat_id(data)
                    .and_then(|id| alias_of.get(id))
                    .unwrap_or_else(|| panic!("a StatusChange for no chat of the case: {data}"));
                let state = data.pointer("/chat/state").and_then(Value::as_str);
                let state = ChatState::ALL
                    .into_iter()
                    .find(|s| Some(s.as_str()) == state)
                    .unwrap_or_else(|| panic!("unknown state in {data}"));
                let path = out.entry(alias.clone()).or_default();
                if path.last() != Some(&state) {
                    path.push(state);
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_generators_belief_is_the_models_and_it_reaches_every_move() {
    let schemas = Schemas::embedded().unwrap();
    let agents = agents();
    assert!(agents.len() >= 2, "the embedded server has two agents");
    let mut seen_states: Vec<ChatState> = vec![];
    let (mut refused, mut other_agent, mut customer_left, mut left, mut rejected) = (0, 0, 0, 0, 0);
    for seed in 1..=60u64 {
        for index in 0..3 {
            let (case, belief) =
                cases::random_sequence_with_model(schemas, seed, index, &agents).unwrap();
            // Deterministic from the seed.
            assert_eq!(
                cases::random_sequence(schemas, seed, index, &agents).unwrap(),
                case
            );
            let predicted = predict(&case.steps);
            assert_eq!(
                belief.len(),
                predicted.len(),
                "{}: one belief per chat",
                case.id
            );
            for (alias, chat) in &belief {
                let (p, path) = &predicted[alias];
                assert_eq!(chat, p, "seed {seed} {}: chat {alias}", case.id);
                assert_eq!(
                    chat.state,
                    ChatState::Completed,
                    "seed {seed} {}: every chat ends Completed",
                    case.id
                );
                seen_states.extend(path.iter().copied());
                left += usize::from(path.contains(&ChatState::LeftChat));
                rejected += usize::from(path == &[ChatState::Invited, ChatState::Completed]);
            }
            // Replaying the model step by step: count the moves the model refuses.
            let mut chats: BTreeMap<&str, Chat> = BTreeMap::new();
            for step in &case.steps {
                match step {
                    Step::OfferChat { chat, .. } => {
                        chats.insert(chat, Chat::offered());
                    }
                    Step::AgentPost {
                        chat: ChatRef::Alias(a),
                        by_other_agent,
                        body,
                        ..
                    } => {
                        let c = chats.get_mut(a.as_str()).unwrap();
                        let cls = model::classify(body);
                        if !model::expect(Some(c.state), !*by_other_agent, &cls).is_success() {
                            refused += 1;
                        }
                        other_agent += usize::from(*by_other_agent);
                        *c = c.handle(!*by_other_agent, &cls);
                    }
                    Step::CustomerLeaves { chat } => {
                        customer_left += 1;
                        let c = chats.get_mut(chat.as_str()).unwrap();
                        *c = c.apply(ChatEvent::CustomerLeaves);
                    }
                    _ => {}
                }
            }
            // Each body the generator sends is JSON (the invalid ones break one rule of
            // the request schema, possibly `operationName` itself: REQ-01).
            for step in &case.steps {
                if let Step::AgentPost { body, .. } = step {
                    assert!(matches!(body, Body::Json(_)), "{body:?}");
                }
            }
        }
    }
    for s in ChatState::ALL {
        assert!(seen_states.contains(&s), "no chat ever went through {s:?}");
    }
    assert!(
        refused > 0,
        "the generator never sent a request the model refuses"
    );
    assert!(other_agent > 0, "no other agent's attempt");
    assert!(customer_left > 0, "no customer ever left");
    assert!(left > 0, "no agent ever left");
    assert!(rejected > 0, "no chat was rejected");
}

#[test]
fn the_embedded_server_takes_every_chat_through_the_models_states() {
    let schemas = Schemas::embedded().unwrap();
    let agents = agents();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cases: Vec<cases::Case> = (0..24u64)
        .map(|i| cases::random_sequence(schemas, 40 + i, i, &agents).unwrap())
        .collect();
    let results = rt.block_on(futures_util::future::join_all(cases.iter().map(|c| {
        runner::execute(RunSettings {
            replay: Some(c.clone()),
            progress: Progress::None,
            keep_histories: true,
            quiet_window: Duration::from_millis(200),
            shrink_budget: 0,
            ..RunSettings::default()
        })
    })));
    for (case, result) in cases.iter().zip(results) {
        let r = result.report;
        assert!(r.errors.is_empty(), "{}: {:?}", case.id, r.errors);
        for c in &r.cases {
            assert!(
                !matches!(c.verdict, Verdict::Fail | Verdict::Error),
                "{} ({}): {:#?}",
                case.id,
                c.id,
                c.findings
            );
        }
        let judged = r
            .cases
            .iter()
            .find(|c| c.id == case.id)
            .expect("the case was judged");
        let seen = observed(judged.history.as_ref().expect("histories kept"));
        let predicted = predict(&case.steps);
        for (alias, (chat, path)) in &predicted {
            assert_eq!(
                seen.get(alias),
                Some(path),
                "{}: chat {alias}: the server's states are not the model's\n{:#?}",
                case.id,
                case.steps
            );
            assert_eq!(seen[alias].last(), Some(&chat.state));
        }
    }
}

/// The curl script's expectation comments come from the model: the states in which the
/// model accepts the operation, the notifications it expects in order, and for refusals
/// the requirement and the statusCodes.
#[test]
fn curl_expectations_are_rendered_from_the_model() {
    use serde_json::json;
    let post = |body: Value, other: bool| Step::AgentPost {
        chat: ChatRef::Alias("c1".into()),
        by_other_agent: other,
        auth: AuthVariant::Normal,
        body: Body::Json(body),
    };
    let steps = vec![
        Step::OfferChat {
            chat: "c1".into(),
            agent: "agent1".into(),
        },
        post(json!({"operationName": "Accept"}), false),
        post(
            json!({"operationName": "Complete", "treatAs": "Normal"}),
            false,
        ),
        post(
            json!({"operationName": "Complete", "text": "x", "treatAs": "Loud"}),
            false,
        ),
        post(json!({"operationName": "Complete"}), true),
        post(json!({"operationName": "Complete", "text": "Bye"}), false),
    ];
    let cf: gws_conform::report::CaseFile = serde_json::from_value(json!({
        "format": gws_conform::report::CASE_FORMAT, "run_id": "r", "harness_version": "0",
        "target": "http://t", "seed": 1, "id": "x", "exercises": [], "findings": [],
        "steps": steps,
    }))
    .unwrap();
    let s = gws_conform::report::curl_script(&cf);
    let has = |needle: &str| assert!(s.contains(needle), "missing {needle:?} in\n{s}");
    // Accept: the one state the model accepts it in, the state it leads to.
    has(
        "# expects (if the chat is Invited): HTTP 200 {\"statusCode\":0}, the chat becomes Chatting",
    );
    has("#   otherwise (if the chat is Chatting, LeftChat or Completed): refused");
    // Invalid Completes: refused in every state, under their own requirement.
    has(
        "statusCode != 0 (preferably 1, 2 or 10), never a 5xx or statusCode 4: treatAs without text (CMP-09)",
    );
    has("treatAs is not Normal or System (CMP-10)");
    // Another agent's chat.
    has(
        "refused with statusCode 3, 5 or 6, never a 5xx or statusCode 4: the chat belongs to another agent (CMP-21)",
    );
    // A valid Complete: the states, then the notifications in the model's order.
    has(
        "# expects (if the chat is Chatting or LeftChat): HTTP 200 {\"statusCode\":0} (CMP-01), then a NewMessages notification with the text \"Bye\" (CMP-04), then exactly one StatusChange Completed notification (CMP-02)",
    );
    has("otherwise (if the chat is Invited): refused with a statusCode != 0 (preferably 2 or 3)");
    has("Complete is not valid in that state (CMP-12)");
    has("(CMP-13)");
}
