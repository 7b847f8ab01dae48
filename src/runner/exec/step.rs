//! Carrying out one step of a case: provisioning, agent requests (alone or at once),
//! customer events, inspections and settling, each followed through the model.

use super::*;

impl Env {
    pub(super) async fn run_step(
        &self,
        rec: &Recorder,
        from: usize,
        step: &Step,
        st: &mut CaseState,
    ) -> Result<(), StepError> {
        match step {
            Step::OfferChat { chat, agent } => {
                let nickname = format!("Customer {chat}");
                let asked = Instant::now();
                let o = loop {
                    match self
                        .provisioner
                        .offer_chat(rec, &self.run_rec, chat, agent, &nickname)
                        .await
                    {
                        Ok(o) => break o,
                        // SPEC §6.9: 409 is "agent at capacity: retry later".
                        Err(e)
                            if crate::client::provision::is_at_capacity(&e)
                                && asked.elapsed() < self.check.deadline =>
                        {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => {
                            return Err(StepError::from_target(
                                &format!("provisioning chat {chat}"),
                                e,
                            ));
                        }
                    }
                };
                self.routing.bind(&o.chat_id);
                st.chats.insert(o.chat_id.clone());
                st.pending.push(Pending {
                    chat_id: o.chat_id.clone(),
                    state: ChatState::Invited.as_str(),
                    since: Instant::now(),
                });
                st.tracked.insert(
                    o.chat_id.clone(),
                    Tracked {
                        state: Some(ChatState::Invited),
                        customer_left: false,
                    },
                );
                st.bound.insert(chat.clone(), o);
                Ok(())
            }
            Step::AgentPost { .. } => {
                let posted = self
                    .post_only(rec, step, None, st)
                    .await
                    .map_err(StepError::Harness)?;
                st.apply(posted, true);
                Ok(())
            }
            Step::Concurrent { steps } => self.run_concurrent(rec, steps, st).await,
            Step::CustomerSends { chat, text } => {
                let o = st.offered(chat).map_err(StepError::Harness)?;
                self.provisioner
                    .customer_sends(rec, o, text)
                    .await
                    .map_err(|e| StepError::from_target(&format!("customer message on {chat}"), e))
            }
            Step::CustomerLeaves { chat } => {
                let o = st.offered(chat).map_err(StepError::Harness)?.clone();
                if let Some(t) = st.tracked.get_mut(&o.chat_id) {
                    t.customer_left = true;
                }
                self.provisioner
                    .customer_leaves(rec, &o)
                    .await
                    .map_err(|e| StepError::from_target(&format!("customer leaving {chat}"), e))
            }
            Step::Inspect { chat } => {
                let o = st.offered(chat).map_err(StepError::Harness)?;
                self.provisioner
                    .inspect(rec, o)
                    .await
                    .map_err(|e| StepError::from_target(&format!("inspecting {chat}"), e))
            }
            Step::Settle => {
                self.settle(rec, from, st).await;
                Ok(())
            }
        }
    }

    /// A Concurrent step: its parts sent at the same instant; racing requests on one
    /// chat are followed by the model's order of races ([`model::race_end`]).
    async fn run_concurrent(
        &self,
        rec: &Recorder,
        steps: &[Step],
        st: &mut CaseState,
    ) -> Result<(), StepError> {
        // The customer's parts first mark the chats they leave (the model then
        // knows Complete succeeds either way, SPEC §2).
        for inner in steps {
            if let Step::CustomerLeaves { chat } = inner {
                let id = st
                    .offered(chat)
                    .map_err(StepError::Harness)?
                    .chat_id
                    .clone();
                if let Some(t) = st.tracked.get_mut(&id) {
                    t.customer_left = true;
                }
            }
        }
        let mut futs: Vec<BoxFuture<'_, Result<Posted, StepError>>> = Vec::new();
        // Per part: the chat id an agent request names (None otherwise).
        let mut ids: Vec<Option<String>> = Vec::new();
        for (j, inner) in steps.iter().enumerate() {
            match inner {
                Step::AgentPost { chat, .. } => {
                    ids.push(match chat {
                        ChatRef::Alias(a) => st.bound.get(a).map(|o| o.chat_id.clone()),
                        ChatRef::Unknown(_) => None,
                    });
                    let f = self.post_only(rec, inner, Some(j), st);
                    futs.push(async move { f.await.map_err(StepError::Harness) }.boxed());
                }
                Step::CustomerLeaves { chat } | Step::CustomerSends { chat, .. } => {
                    ids.push(None);
                    let o = st.offered(chat).map_err(StepError::Harness)?.clone();
                    let p = &self.provisioner;
                    futs.push(
                        async move {
                            let (r, what) = match inner {
                                Step::CustomerSends { text, .. } => (
                                    p.customer_sends(rec, &o, text).await,
                                    format!("customer message on {chat}"),
                                ),
                                _ => (
                                    p.customer_leaves(rec, &o).await,
                                    format!("customer leaving {chat}"),
                                ),
                            };
                            r.map(|()| Posted::default())
                                .map_err(|e| StepError::from_target(&what, e))
                        }
                        .boxed(),
                    );
                }
                _ => {
                    return Err(StepError::Harness(format!(
                        "a Concurrent step may only hold agent requests and customer events (part {j} is not)"
                    )));
                }
            }
        }
        // Two requests on one chat at once: the model cannot say which wins; the
        // order that explains the answers (if one does) says where the chat is.
        let racing = racing_chats(&ids);
        let starts: BTreeMap<String, Option<ChatState>> = racing
            .keys()
            .map(|id| (id.clone(), st.tracked.get(id).and_then(|t| t.state)))
            .collect();
        let answered: Vec<Result<Posted, StepError>> = join_all(futs).await;
        let results = posted_parts(steps, answered)?;
        let mut oks: Vec<(Option<bool>, Option<ReqId>)> = Vec::new();
        for (j, p) in results.into_iter().enumerate() {
            oks.push((p.ok, p.credentials));
            let in_race = ids[j].as_ref().is_some_and(|id| racing.contains_key(id));
            st.apply(p, !in_race);
        }
        for (id, parts) in racing {
            let start = starts.get(&id).copied().flatten();
            let raced = racing_parts(steps, &parts, &oks);
            let end = start.and_then(|s| model::race_end(s, &raced));
            if let Some(t) = st.tracked.get_mut(&id) {
                t.state = end;
            }
            if start.is_some() && end.is_none() {
                st.diverged.get_or_insert(format!(
                    "chat {id}: no order of the {} racing requests explains their answers",
                    parts.len()
                ));
            }
        }
        Ok(())
    }

    /// Sends one AgentPost; says what it did to the chat (by the model, following the
    /// target) and the state notification to wait for when it succeeded.
    async fn post_only(
        &self,
        rec: &Recorder,
        step: &Step,
        part: Option<usize>,
        st: &CaseState,
    ) -> Result<Posted, String> {
        let Step::AgentPost {
            chat,
            by_other_agent,
            auth,
            body,
        } = step
        else {
            return Ok(Posted::default());
        };
        let (owner, chat_id) = match chat {
            ChatRef::Alias(a) => {
                let o = st.offered(a)?;
                (o.agent.clone(), o.chat_id.clone())
            }
            ChatRef::Unknown(id) => (
                self.agents
                    .first()
                    .map(|a| a.user().to_string())
                    .unwrap_or_default(),
                id.clone(),
            ),
        };
        let sender = if *by_other_agent {
            self.agents
                .iter()
                .find(|a| a.user() != owner)
                .ok_or("this case needs a second agent (give two --agent)")?
        } else {
            self.agent(&owner)
                .ok_or_else(|| format!("chat owner {owner} is not one of the configured agents"))?
        };
        // Credentials borrowed from another agent (its CSRF token, its Basic).
        let peer = self.agents.iter().find(|a| a.user() != sender.user());
        if auth.needs_peer() && peer.is_none() {
            return Err("this case needs a second agent (give two --agent)".into());
        }
        let outcome = sender
            .post_chat_with(rec, &chat_id, body, *auth, part, peer)
            .await;
        let known = match chat {
            ChatRef::Alias(_) => Some(st.tracked.get(&chat_id).and_then(|t| t.state)),
            ChatRef::Unknown(_) => None,
        };
        let credentials = model::credentials_refusal(*auth, sender.uses_csrf());
        let answer = match &outcome {
            Outcome::NoAnswer { message, .. } => Err(message.as_str()),
            Outcome::Answered { .. } => Ok(status_code_zero(&outcome)),
        };
        let (update, diverged) = model::follow(
            known,
            !*by_other_agent,
            credentials,
            &model::classify(body),
            answer,
        );
        let owns = !*by_other_agent && *auth == AuthVariant::Normal;
        let pending = match (owns && status_code_zero(&outcome), expected_state(body)) {
            (true, Some(state)) => Some(Pending {
                chat_id: chat_id.clone(),
                state,
                since: Instant::now(),
            }),
            _ => None,
        };
        Ok(Posted {
            ok: (!matches!(outcome, Outcome::NoAnswer { .. })).then(|| status_code_zero(&outcome)),
            pending,
            update: update.map(|s| (chat_id, s)),
            diverged,
            credentials,
        })
    }

    /// Waits (on events, bounded by the deadline from each request) for the state
    /// notifications successful operations announced; says which did not come.
    pub(super) async fn await_pending(&self, from: usize, st: &mut CaseState) -> Option<String> {
        let mut missed = None;
        for p in std::mem::take(&mut st.pending) {
            let left = self.check.deadline.saturating_sub(p.since.elapsed());
            let got = self
                .run_rec
                // Only this chat's notifications are routed to this waiter.
                .wait_for_chats(&[p.chat_id.as_str()], from, left, |e| match &e.kind {
                    EventKind::Notification { data, .. } => {
                        crate::history::notes::chat_state(data) == Some(p.state)
                    }
                    _ => false,
                })
                .await;
            if got.is_none() && missed.is_none() {
                missed = Some(format!(
                    "no StatusChange to {} for chat {} within the deadline",
                    p.state, p.chat_id
                ));
            }
        }
        missed
    }

    /// Waits until nothing about the case's chats arrived for the quiet window (bounded
    /// by the deadline), and records how that went. Notifications the checker does not
    /// judge (a customer typing) do not break the quiet.
    pub(super) async fn settle(&self, rec: &Recorder, from: usize, st: &mut CaseState) {
        let _ = self.await_pending(from, st).await;
        let started = Instant::now();
        let quiet = self.check.quiet_window;
        let bound = self.check.deadline.max(quiet * 2);
        let ids: Vec<&str> = st.chats.iter().map(String::as_str).collect();
        let reached = loop {
            let n = self.run_rec.len();
            let got = self
                .run_rec
                .wait_for_chats(&ids, n, quiet, |e| {
                    notification_about(e, &st.chats)
                        .is_some_and(|d| !crate::history::is_typing_only(d))
                })
                .await;
            if got.is_none() {
                break true;
            }
            if started.elapsed() >= bound {
                break false;
            }
        };
        rec.record(
            "runner",
            EventKind::Quiet {
                waited_ms: started.elapsed().as_millis() as u64,
                quiet_ms: quiet.as_millis() as u64,
                reached_quiet: reached,
            },
        );
    }
}

/// What the parts of a Concurrent step did (`answered`, in part order). A customer event
/// that raced a Complete on its chat may find the customer's session already ended by
/// it (the model: the customer then changes nothing): not a harness error.
fn posted_parts(
    steps: &[Step],
    answered: Vec<Result<Posted, StepError>>,
) -> Result<Vec<Posted>, StepError> {
    let completed: BTreeSet<&str> = steps
        .iter()
        .zip(&answered)
        .filter_map(|(s, r)| match (s, r) {
            (
                Step::AgentPost {
                    chat: ChatRef::Alias(a),
                    body,
                    ..
                },
                Ok(p),
            ) if p.ok == Some(true) && model::classify(body).is_complete() => Some(a.as_str()),
            _ => None,
        })
        .collect();
    let completed_by_race = |chat: &str| completed.contains(chat);
    let mut results = Vec::new();
    for (inner, r) in steps.iter().zip(answered) {
        match (inner, r) {
            (_, Ok(p)) => results.push(p),
            (Step::CustomerLeaves { chat } | Step::CustomerSends { chat, .. }, Err(_))
                if completed_by_race(chat) =>
            {
                results.push(Posted::default())
            }
            (_, Err(e)) => return Err(e),
        }
    }
    Ok(results)
}

/// The chats that two or more agent requests of a Concurrent step name (`ids`: per
/// part, the chat id an agent request names), with the parts that race on each.
fn racing_chats(ids: &[Option<String>]) -> BTreeMap<String, Vec<usize>> {
    let mut racing: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (j, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            racing.entry(id.clone()).or_default().push(j);
        }
    }
    racing.retain(|_, v| v.len() > 1);
    racing
}
