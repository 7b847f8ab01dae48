//! Recording one case: room and work slot, the steps in order until the first
//! divergence, the final quiet window, clean-up, and the case's history merged from
//! its own events and the run's notifications about its chats.

use super::*;

impl Env {
    /// Runs `case` once and judges its history, unless `deadline` passes while the case waits for room on the
    /// target, or the run is stopped (a signal, a halt) before the case starts (then `None`:
    /// nothing ran).
    pub async fn run_case_until(
        &self,
        case: &Case,
        deadline: Option<Instant>,
    ) -> Option<CaseOutcome> {
        let started = Instant::now();
        let fitted = match self.capacity.as_ref().map(|c| c.fit(case)) {
            Some(Err(reason)) => {
                let findings: Vec<Finding> = case
                    .exercises
                    .iter()
                    .map(|r| Finding::error(*r, reason.clone()))
                    .collect();
                return Some(CaseOutcome {
                    history: History::default(),
                    findings,
                    verdict: Verdict::Error,
                    duration: started.elapsed(),
                });
            }
            Some(Ok(c)) => c,
            None => None,
        };
        let case = fitted.as_ref().unwrap_or(case);
        // A signal or a halt ends the waits for a work slot and for room: the case never
        // starts.
        let work = tokio::select! {
            w = async {
                match &self.work {
                    Some(w) => w.clone().acquire_owned().await.ok(),
                    None => None,
                }
            } => w,
            _ = self.stopped() => return None,
        };
        let placed = self.capacity.as_ref().and_then(|c| c.place(case));
        let case = placed.as_ref().unwrap_or(case);
        let mut room = tokio::select! {
            r = async {
                match &self.capacity {
                    Some(c) => c.reserve(case).await,
                    None => Vec::new(),
                }
            } => r,
            _ = self.stopped() => return None,
        };
        if deadline.is_some_and(|d| Instant::now() >= d) || self.stop_reason().is_some() {
            return None;
        }
        let mut work = work.into_iter().collect();
        let history = self.record_case(case, &mut room, &mut work).await;
        drop(room);
        drop(work);
        let findings = check::judge(&history, &self.check, &self.shapes);
        let verdict = check::fold(findings.iter().map(|f| &f.verdict));
        Some(CaseOutcome {
            history,
            findings,
            verdict,
            duration: started.elapsed(),
        })
    }

    /// Records `case`; `room` is its share of the target's capacity, given back as soon
    /// as the case holds no open chat any more and opens none (before its final quiet
    /// window: waiting for absence occupies no agent); `work` is its work slot, given
    /// back before that final quiet window in any case.
    async fn record_case(
        &self,
        case: &Case,
        room: &mut Vec<tokio::sync::OwnedSemaphorePermit>,
        work: &mut Vec<tokio::sync::OwnedSemaphorePermit>,
    ) -> History {
        let last_offer = case
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::OfferChat { .. }));
        let rec = self.run_rec.child();
        let from = self.enter();
        rec.record(
            "runner",
            EventKind::Case {
                id: case.id.clone(),
                seed: case.seed,
                exercises: case.exercises.clone(),
            },
        );
        for a in self.agents.iter() {
            rec.record(
                "runner",
                EventKind::Session {
                    agent: a.user().to_string(),
                    csrf: a.uses_csrf(),
                },
            );
        }
        let mut st = CaseState::default();
        let mut settled_last = false;
        for (i, step) in case.steps.iter().enumerate() {
            if let Some(message) = self.stop_reason() {
                rec.set_step(None);
                rec.record("runner", EventKind::HarnessError { message });
                break;
            }
            rec.set_step(Some(i));
            rec.record(
                "runner",
                EventKind::Step {
                    index: i,
                    step: step.clone(),
                },
            );
            settled_last = matches!(step, Step::Settle);
            if settled_last && i + 1 == case.steps.len() {
                work.clear();
            }
            if settled_last && last_offer.is_none_or(|o| o < i) && st.all_closed() {
                room.clear();
            }
            if let Err(e) = self.run_step(&rec, from, step, &mut st).await {
                let kind = match e {
                    StepError::Harness(message) => EventKind::HarnessError { message },
                    StepError::NotObservable(message) => EventKind::NotObservable { message },
                };
                rec.record("runner", kind);
                break;
            }
            if let Some(why) = self.await_pending(from, &mut st).await {
                st.diverged.get_or_insert(why);
            }
            // SPEC §6.11: the first divergence from the model ends the case; what it
            // did is the checker's to judge, the rest is not run.
            if st.diverged.is_some() {
                settled_last = false;
                break;
            }
        }
        if !settled_last {
            // Nothing more runs after this quiet window.
            work.clear();
            if st.all_closed() {
                room.clear();
            }
            self.settle(&rec, from, &mut st).await;
        }
        self.finish_case(rec, from, st).await
    }

    /// The end of a case: its history is cut, its chats are closed and torn down, and
    /// the run's notifications about them are merged into the case's events.
    async fn finish_case(&self, rec: Recorder, from: usize, st: CaseState) -> History {
        rec.set_step(None);
        // The case's history ends here: clean-up is recorded on the run recorder only,
        // where no case is judged (its notifications arrive after the cut).
        let cut = self.run_rec.len();
        self.clean_up(&st).await;
        for o in st.bound.values() {
            self.provisioner.teardown(&rec, o).await;
        }
        // Whatever the notifications said: the run's chats no running case holds (this
        // case's, and any routing offered again or late) are closed.
        self.routing.release(&st.chats);
        self.routing.sweep().await;
        let ids: Vec<&str> = st.chats.iter().map(String::as_str).collect();
        // Bounded: nobody reads them after this case (its chats are retired), so they
        // are moved out of the run record rather than copied.
        let mut run = if self.bounded {
            self.run_rec.take_notifications(&ids, from, cut)
        } else {
            self.run_rec.notifications_about(&ids, from, cut)
        };
        run.extend(self.run_rec.session_ends(from, cut));
        self.leave(from, &st.chats);
        merge_histories(rec.take(), run, &st.chats)
    }

    /// Leaves nothing open (SPEC §6.9): every chat the case provisioned ends Completed
    /// (Accept first when it is still Invited), and in customer-api mode the customer
    /// leaves too. Best effort; recorded on the run recorder, never judged.
    async fn clean_up(&self, st: &CaseState) {
        for o in st.bound.values() {
            let t = st.tracked.get(&o.chat_id);
            if let Some(agent) = self.agent(&o.agent) {
                self.routing
                    .close(agent, &o.chat_id, t.and_then(|t| t.state))
                    .await;
            }
            if self.provisioner.mode_name() == "customer-api" && !t.is_some_and(|t| t.customer_left)
            {
                let _ = self.provisioner.customer_leaves(&self.run_rec, o).await;
            }
        }
    }

    /// At the end of a run: in customer-api mode every customer the run asked a chat
    /// for and who has not left yet leaves (those still waiting for an agent included);
    /// then every chat of the run's that the target still lists as open for an agent
    /// (`GET /api/v2/me/chats`) is closed, whatever the notifications said.
    pub(super) async fn sweep(&self) {
        self.provisioner.all_customers_leave(&self.run_rec).await;
        // A second look only when the first closed something.
        for _ in 0..2 {
            if self.routing.sweep().await == 0 {
                break;
            }
        }
    }
}

/// The case history: the case's own events plus the run-level notifications about its
/// chats (and any Bayeux session that closed meanwhile), in time order, renumbered; each notification is attributed to the step that
/// was running when it arrived.
pub(super) fn merge_histories(case: History, run: Vec<Event>, chats: &BTreeSet<String>) -> History {
    let mut events: Vec<Event> = case.events;
    // A Bayeux session that ended during the case is carried too: the checker judges
    // nothing it could no longer see after it (SPEC §4).
    events.extend(run.into_iter().filter(|e| {
        notification_about(e, chats).is_some()
            || matches!(
                e.kind,
                EventKind::Bayeux {
                    event: crate::history::BayeuxEvent::Closed { .. },
                    ..
                }
            )
    }));
    // Stable: on equal times the case's own events come first.
    events.sort_by_key(|e| e.t_us);
    let mut stream_seqs: HashMap<&str, u64> = HashMap::new();
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| {
            let ss = stream_seqs.entry(e.stream.as_str()).or_insert(0);
            *ss += 1;
            *ss - 1
        })
        .collect();
    let mut current_step = None;
    for ((i, e), stream_seq) in events.iter_mut().enumerate().zip(seqs) {
        e.seq = i as u64;
        e.stream_seq = stream_seq;
        match &e.kind {
            EventKind::Step { index, .. } => current_step = Some(*index),
            EventKind::Notification { .. } => e.in_step = current_step,
            _ => {}
        }
    }
    History { events }
}
