//! The [`Recorder`]: the thread-safe appender of a run's events, its indexes by chat and
//! by provisioning tag, and the waiters that wake on what they route.

use super::{
    BayeuxEvent, Event, EventKind, History, chat_hash, json_len, notes, notification_chat_id,
    redact_headers,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The notifications about one chat: their indexes in the recorder, and a wake-up for
/// the waiters of that chat only.
#[derive(Debug, Default)]
struct ChatLog {
    idx: Vec<usize>,
    notify: Arc<tokio::sync::Notify>,
}

/// The run's budget of notification bytes ([`Recorder::set_note_budget`]) when none is
/// given: notifications stored at once (their compact JSON text), the kept sample
/// included. A faultless run holds a small part of it: its cases' notifications leave
/// the record as each case ends, and the fastest deliver under 2 MiB per 5 s to one agent.
pub(crate) const DEFAULT_NOTE_BUDGET: u64 = 24 * 1024 * 1024;

/// Notifications that trimming keeps at most ([`Recorder::trim`]), and at most
/// [`MAX_KEPT_NOTE_BYTES`] of them: the sample of those judged worth keeping
/// (schema-invalid ones about no case's chat, for the run's verdict); the others are
/// counted ([`DroppedNotes`]).
pub(crate) const MAX_KEPT_NOTES: usize = 100;

/// Bytes of notifications (compact JSON text) the sample of [`MAX_KEPT_NOTES`] holds at
/// most: what a report writes of one history's bodies (its writer writes 2 MiB).
pub(crate) const MAX_KEPT_NOTE_BYTES: u64 = 2 * 1024 * 1024;

/// What the recorder did not store of the notifications it was given, beyond its
/// budget or its sample ([`Recorder::dropped_notes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedNotes {
    /// The budget in bytes (0: none).
    pub budget: u64,
    /// Notifications not stored because the budget was spent when they came.
    pub over_budget: u64,
    /// Their bytes (compact JSON text).
    pub over_budget_bytes: u64,
    /// Notifications trimming would have kept beyond its sample (100 notifications,
    /// 2 MiB): judged when trimmed (their verdict counts), not stored.
    pub beyond_sample: u64,
    /// Their bytes (compact JSON text).
    pub beyond_sample_bytes: u64,
    /// Histories of judged cases not kept for the report because their notifications
    /// found no room in the budget ([`Recorder::charge_kept`]).
    pub histories: u64,
    /// The bytes of those histories' notifications.
    pub history_bytes: u64,
}

impl DroppedNotes {
    /// True when nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.over_budget == 0 && self.beyond_sample == 0 && self.histories == 0
    }

    /// What was dropped, in one sentence for the report, or `None` when nothing was.
    pub fn describe(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        if self.over_budget > 0 {
            parts.push(format!(
                "{} notifications ({} bytes) came when the run's budget of {} MiB of stored notifications was spent: counted, not stored nor judged",
                self.over_budget,
                self.over_budget_bytes,
                self.budget / (1024 * 1024)
            ));
        }
        if self.beyond_sample > 0 {
            parts.push(format!(
                "{} invalid notifications about no case's chat ({} bytes) beyond the sample kept (at most {MAX_KEPT_NOTES}, {} MiB): judged, counted, not stored",
                self.beyond_sample,
                self.beyond_sample_bytes,
                MAX_KEPT_NOTE_BYTES / (1024 * 1024)
            ));
        }
        if self.histories > 0 {
            parts.push(format!(
                "the histories of {} judged cases ({} bytes of notifications) found no room in the budget: their findings are in the report, their histories are not",
                self.histories, self.history_bytes
            ));
        }
        Some(format!("not kept: {}", parts.join("; ")))
    }
}

#[derive(Debug)]
struct Inner {
    /// The events from global index `base` on (see [`Recorder::trim`]); an empty slot
    /// is an event moved out by [`Recorder::take_notifications`] (indexes stay global).
    events: Vec<Option<Event>>,
    /// Events before this global index were trimmed (those worth keeping are in `kept`).
    base: usize,
    /// What trimming kept of the events before `base`.
    kept: Vec<Event>,
    /// Notifications in `kept`.
    kept_notes: usize,
    /// Their bytes (compact JSON text).
    kept_note_bytes: u64,
    /// The budget of notification bytes stored at once (`None`: unbounded).
    budget: Option<u64>,
    /// Bytes of the notifications stored now (compact JSON text).
    held: u64,
    /// What was not stored.
    dropped: DroppedNotes,
    /// Bytes charged for histories kept apart ([`Recorder::charge_kept`]), in `held`.
    kept_histories: u64,
    /// Notifications recorded so far (stored, retired or trimmed alike).
    notifications: u64,
    /// Chats whose notifications are no longer stored (hashes of their ids): the case
    /// that owned them has been judged.
    retired: std::collections::HashSet<u64>,
    /// Notifications routed by chat id ([`notes::chat_id_of`]).
    by_chat: std::collections::HashMap<String, ChatLog>,
    /// Notifications routed by the provisioning tag they carry (`chat.userData` under
    /// [`TAG_KEY`]), for the tags a [`TagWatch`] is watching only.
    by_tag: std::collections::HashMap<String, ChatLog>,
    /// Indexes of the Bayeux sessions' ends ([`BayeuxEvent::Closed`]), few in a run.
    ends: Vec<usize>,
    stream_seqs: std::collections::HashMap<String, u64>,
    next_req: u64,
    step: Option<usize>,
}

impl Inner {
    /// Charges a notification of `size` bytes about to be stored; false (and counted)
    /// when the budget has no room for it.
    fn charge(&mut self, size: u64) -> bool {
        if self.budget.is_some_and(|b| self.held + size > b) {
            self.dropped.over_budget += 1;
            self.dropped.over_budget_bytes += size;
            return false;
        }
        self.held += size;
        true
    }

    /// Gives back what a notification leaving the record was charged.
    fn release(&mut self, e: &Event) {
        if self.budget.is_some()
            && let EventKind::Notification { data, .. } = &e.kind
        {
            self.held = self.held.saturating_sub(json_len(data));
        }
    }

    /// Events recorded so far (trimmed ones included).
    fn total(&self) -> usize {
        self.base + self.events.len()
    }

    /// The event at global index `i`, unless trimmed.
    fn at(&self, i: usize) -> Option<&Event> {
        i.checked_sub(self.base)
            .and_then(|j| self.events.get(j))
            .and_then(Option::as_ref)
    }

    /// Global indexes of the notifications about `chats` recorded at `from..to`, in
    /// recording order.
    fn about(&self, chats: &[&str], from: usize, to: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = chats
            .iter()
            .filter_map(|c| self.by_chat.get(*c))
            .flat_map(|log| {
                let a = log.idx.partition_point(|&i| i < from);
                let b = log.idx.partition_point(|&i| i < to);
                log.idx[a..b].iter().copied()
            })
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// See [`Recorder::retire`].
    fn retire(&mut self, chats: &[&str]) {
        for c in chats {
            self.retired.insert(chat_hash(c));
            self.by_chat.remove(*c);
        }
    }

    /// The stored events from global index `from` on.
    fn since(&self, from: usize) -> impl Iterator<Item = &Event> {
        let j = from.saturating_sub(self.base).min(self.events.len());
        self.events[j..].iter().flatten()
    }
}

/// The notifications carrying one provisioning tag, routed to one waiter (see
/// [`Recorder::watch_tag`]).
#[derive(Debug)]
pub struct TagWatch {
    rec: Recorder,
    tag: String,
    notify: Arc<tokio::sync::Notify>,
}

impl TagWatch {
    /// Waits until a notification carrying the tag gives `Some` from `pick` (what it
    /// returns), or `timeout` passes; wakes only when one such notification is recorded.
    pub async fn wait<R>(
        &self,
        timeout: Duration,
        mut pick: impl FnMut(&Event) -> Option<R>,
    ) -> Option<R> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Global index from which the routed notifications are still to be looked at.
        let mut checked = 0;
        let mut find = |checked: &mut usize| {
            let g = self.rec.lock();
            let log = g.by_tag.get(&self.tag)?;
            let start = log.idx.partition_point(|&i| i < *checked);
            let found = log.idx[start..]
                .iter()
                .filter_map(|&i| g.at(i))
                .find_map(&mut pick);
            *checked = g.total();
            found
        };
        loop {
            let woken = self.notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(r) = find(&mut checked) {
                return Some(r);
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return find(&mut checked);
            }
        }
    }
}

impl Drop for TagWatch {
    fn drop(&mut self) {
        self.rec.lock().by_tag.remove(&self.tag);
    }
}

/// Thread-safe appender of events, shared (cheaply cloned) by the runner and the target
/// clients. Waiters use [`Recorder::subscribe`] to wake on each new event.
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
    start: Instant,
    tx: Arc<watch::Sender<u64>>,
    /// Whether `Inner::budget` is set (read without the lock).
    budgeted: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder with an empty history; its clock starts now.
    pub fn new() -> Self {
        let (tx, _rx) = watch::channel(0);
        Recorder {
            inner: Arc::new(Mutex::new(Inner {
                events: Vec::new(),
                base: 0,
                kept: Vec::new(),
                kept_notes: 0,
                kept_note_bytes: 0,
                budget: None,
                held: 0,
                dropped: DroppedNotes::default(),
                kept_histories: 0,
                notifications: 0,
                retired: Default::default(),
                by_chat: Default::default(),
                by_tag: Default::default(),
                ends: Vec::new(),
                stream_seqs: Default::default(),
                next_req: 0,
                step: None,
            })),
            start: Instant::now(),
            tx: Arc::new(tx),
            budgeted: Default::default(),
        }
    }

    /// No tag is watched any more (every [`TagWatch`] was dropped).
    #[cfg(test)]
    pub(super) fn watches_no_tag(&self) -> bool {
        self.lock().by_tag.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock must not take the whole run down.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new, empty recorder on the same clock (same time origin), e.g. one per case
    /// while the run-level recorder takes the Bayeux streams.
    pub fn child(&self) -> Recorder {
        let mut r = Recorder::new();
        r.start = self.start;
        r
    }

    /// Appends a copy of `event` (taken from a recorder on the same clock), keeping its
    /// timestamp, stream and kind; `seq`, `stream_seq` and `in_step` are this recorder's.
    pub fn record_copy(&self, event: &Event) -> u64 {
        self.push(
            &event.stream,
            event.t_us,
            event.kind.clone(),
            event.notes.clone(),
        )
    }

    /// Time since the recorder started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A fresh request id, unique within this recorder.
    pub fn next_request_id(&self) -> u64 {
        let mut g = self.lock();
        g.next_req += 1;
        g.next_req
    }

    /// Marks the step that later events belong to (`None`: between steps).
    pub fn set_step(&self, step: Option<usize>) {
        self.lock().step = step;
    }

    /// Appends an event on `stream`; returns its global sequence number. Request headers
    /// are redacted here, whatever the caller passed.
    pub fn record(&self, stream: &str, kind: EventKind) -> u64 {
        self.record_noted(stream, kind, Vec::new())
    }

    /// [`Recorder::record`] with notes on how the target's bytes were read
    /// ([`Event::notes`]).
    pub fn record_noted(&self, stream: &str, mut kind: EventKind, notes: Vec<String>) -> u64 {
        if let EventKind::Request { headers, .. } = &mut kind {
            redact_headers(headers);
        }
        let t_us = self.start.elapsed().as_micros() as u64;
        self.push(stream, t_us, kind, notes)
    }

    fn push(&self, stream: &str, t_us: u64, kind: EventKind, notes: Vec<String>) -> u64 {
        // Counted before the lock: only a budgeted recorder needs it, but the lock is
        // not held while walking a large value.
        let size = match &kind {
            EventKind::Notification { data, .. } if self.budgeted() => json_len(data),
            _ => 0,
        };
        let seq = {
            let mut g = self.lock();
            let seq = g.total() as u64;
            let stream_seq = match g.stream_seqs.get_mut(stream) {
                Some(ss) => {
                    *ss += 1;
                    *ss - 1
                }
                None => {
                    g.stream_seqs.insert(stream.to_string(), 1);
                    0
                }
            };
            let step = g.step;
            if matches!(kind, EventKind::Notification { .. }) {
                g.notifications += 1;
            }
            if let EventKind::Notification { data, .. } = &kind
                && let Some(id) = notification_chat_id(data)
                && !g.retired.is_empty()
                && g.retired.contains(&chat_hash(id))
            {
                // Its case has been judged: nobody reads it any more.
                return seq;
            }
            if matches!(kind, EventKind::Notification { .. }) && !g.charge(size) {
                return seq;
            }
            if let EventKind::Notification { data, .. } = &kind
                && let Some(id) = notification_chat_id(data)
            {
                // A chat already known costs no key copy.
                let log = match g.by_chat.get_mut(id) {
                    Some(log) => log,
                    None => g.by_chat.entry(id.to_string()).or_default(),
                };
                log.idx.push(seq as usize);
                log.notify.notify_waiters();
            }
            if let EventKind::Bayeux {
                event: BayeuxEvent::Closed { .. },
                ..
            } = &kind
            {
                g.ends.push(seq as usize);
            }
            if let EventKind::Notification { data, .. } = &kind
                && !g.by_tag.is_empty()
                && let Some(tag) = notes::tag(data)
                && let Some(log) = g.by_tag.get_mut(tag)
            {
                log.idx.push(seq as usize);
                log.notify.notify_waiters();
            }
            g.events.push(Some(Event {
                seq,
                t_us,
                stream: stream.to_string(),
                stream_seq,
                in_step: step,
                kind,
                notes,
            }));
            seq
        };
        // Only a subscriber reads it: without one, no wake-up to make.
        if self.tx.receiver_count() > 0 {
            self.tx.send_replace(seq + 1);
        }
        seq
    }

    /// The number of events recorded so far (trimmed ones included: indexes are
    /// global).
    pub fn len(&self) -> usize {
        self.lock().total()
    }

    /// Stops storing the notifications about `chats` (their case has been judged) and
    /// forgets those already stored, once trimmed.
    pub fn retire(&self, chats: &[&str]) {
        self.lock().retire(chats);
    }

    /// Drops the events before global index `floor` (no reader needs them any more),
    /// keeping those `keep` wants and never a notification about a retired chat; the
    /// kept ones stay in [`Recorder::snapshot`]. Indexes stay global.
    /// Does nothing until at least `batch` events can go (trimming is a copy), or the
    /// notifications stored hold more than a quarter of the budget (a few large ones).
    pub fn trim(&self, floor: usize, batch: usize, keep: impl Fn(&Event) -> bool) {
        let mut g = self.lock();
        let n = floor.saturating_sub(g.base).min(g.events.len());
        let heavy = g.budget.is_some_and(|b| g.held > b / 4);
        if n == 0 || (n < batch && !heavy) {
            return;
        }
        let old: Vec<Event> = g.events.drain(..n).flatten().collect();
        g.base += n;
        for e in old {
            let note = matches!(e.kind, EventKind::Notification { .. });
            let retired = match &e.kind {
                EventKind::Notification { data, .. } => {
                    notification_chat_id(data).is_some_and(|id| g.retired.contains(&chat_hash(id)))
                }
                _ => false,
            };
            if retired || !keep(&e) {
                g.release(&e);
            } else if !note {
                g.kept.push(e);
            } else {
                let size = match &e.kind {
                    EventKind::Notification { data, .. } => json_len(data),
                    _ => 0,
                };
                if g.kept_notes < MAX_KEPT_NOTES && g.kept_note_bytes + size <= MAX_KEPT_NOTE_BYTES
                {
                    g.kept_notes += 1;
                    g.kept_note_bytes += size;
                    g.kept.push(e);
                } else {
                    // Judged by `keep` already: only its count and size stay.
                    g.dropped.beyond_sample += 1;
                    g.dropped.beyond_sample_bytes += size;
                    g.release(&e);
                }
            }
        }
        let g = &mut *g;
        let base = g.base;
        for log in g.by_chat.values_mut().chain(g.by_tag.values_mut()) {
            let cut = log.idx.partition_point(|&i| i < base);
            log.idx.drain(..cut);
        }
        let cut = g.ends.partition_point(|&i| i < base);
        g.ends.drain(..cut);
    }

    /// Starts routing the notifications that carry `tag` (under `chat.userData`
    /// [`TAG_KEY`]) to the returned watch, from now on; they stop being routed when it is
    /// dropped. Watch before the request that makes them, so none is missed.
    pub fn watch_tag(&self, tag: &str) -> TagWatch {
        let notify = self
            .lock()
            .by_tag
            .entry(tag.to_string())
            .or_default()
            .notify
            .clone();
        TagWatch {
            rec: self.clone(),
            tag: tag.to_string(),
            notify,
        }
    }

    /// Charges every notification stored from now on by its size (compact JSON text)
    /// against `budget` bytes stored at once (`None`: unbounded, the default): one with
    /// no room left is not stored, only counted ([`Recorder::dropped_notes`]); what leaves
    /// the record (trimmed, taken) gives its bytes back.
    pub fn set_note_budget(&self, budget: Option<u64>) {
        let mut g = self.lock();
        if g.budget.is_none() && budget.is_some() {
            g.held = g
                .kept
                .iter()
                .chain(g.events.iter().flatten())
                .map(|e| match &e.kind {
                    EventKind::Notification { data, .. } => json_len(data),
                    _ => 0,
                })
                .sum();
        }
        g.budget = budget;
        self.budgeted
            .store(budget.is_some(), std::sync::atomic::Ordering::Relaxed);
    }

    fn budgeted(&self) -> bool {
        self.budgeted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Charges the notifications of `h`, a history kept apart from the record (a judged
    /// case's, for the report), against the budget for good; false, and counted, when
    /// they find no room. Kept histories may take a quarter of the budget at most, so
    /// that the record keeps room for the cases still running and a report stays small
    /// (its writer bounds each history, not their number). Always true without a
    /// budget.
    pub fn charge_kept(&self, h: &History) -> bool {
        if !self.budgeted() {
            return true;
        }
        let bytes: u64 = h
            .iter()
            .map(|e| match &e.kind {
                EventKind::Notification { data, .. } => json_len(data),
                _ => 0,
            })
            .sum();
        let mut g = self.lock();
        let Some(budget) = g.budget else {
            return true;
        };
        if g.kept_histories + bytes > budget / 4 || g.held + bytes > budget {
            g.dropped.histories += 1;
            g.dropped.history_bytes += bytes;
            return false;
        }
        g.kept_histories += bytes;
        g.held += bytes;
        true
    }

    /// Bytes of the notifications stored now, as charged against the budget (0 when
    /// there is none).
    pub fn note_bytes_held(&self) -> u64 {
        self.lock().held
    }

    /// What was not stored of the notifications recorded: beyond the budget, or beyond
    /// the sample trimming keeps.
    pub fn dropped_notes(&self) -> DroppedNotes {
        let g = self.lock();
        DroppedNotes {
            budget: g.budget.unwrap_or(0),
            ..g.dropped
        }
    }

    /// Notifications recorded so far, including those no longer stored.
    pub fn notification_count(&self) -> u64 {
        self.lock().notifications
    }

    /// Events stored (not trimmed), kept by trimming included.
    pub fn stored(&self) -> usize {
        let g = self.lock();
        g.events.iter().flatten().count() + g.kept.len()
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the events from index `from` on.
    pub fn events_since(&self, from: usize) -> Vec<Event> {
        let g = self.lock();
        g.since(from).cloned().collect()
    }

    /// A receiver that changes (to the new event count) each time an event is recorded
    /// from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Waits until an event from index `from` on satisfies `pred`, or `timeout` passes.
    /// Returns the matching event. Never sleeps blindly: wakes on each new event.
    pub async fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut checked = from;
        loop {
            {
                let g = self.lock();
                if let Some(e) = g.since(checked).find(|e| pred(e)) {
                    return Some(e.clone());
                }
                checked = g.total().max(checked);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => {
                    // One last look: an event may have landed between the check and the wait.
                    let g = self.lock();
                    return g.since(checked).find(|e| pred(e)).cloned();
                }
            }
        }
    }

    /// Waits until a notification about one of `chats`, recorded at index `from` or
    /// later, satisfies `pred`, or `timeout` passes; the matching event's `seq` (nothing
    /// is copied). Only the notifications of those
    /// chats are looked at, and only their recording wakes this waiter.
    pub async fn wait_for_chats(
        &self,
        chats: &[&str],
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + timeout;
        let notifies: Vec<Arc<tokio::sync::Notify>> = {
            let mut g = self.lock();
            chats
                .iter()
                .map(|c| g.by_chat.entry(c.to_string()).or_default().notify.clone())
                .collect()
        };
        let mut checked = from;
        loop {
            let mut wakes: Vec<_> = notifies.iter().map(|n| Box::pin(n.notified())).collect();
            for w in &mut wakes {
                w.as_mut().enable();
            }
            {
                let g = self.lock();
                for c in chats {
                    if let Some(log) = g.by_chat.get(*c) {
                        let start = log.idx.partition_point(|&i| i < checked);
                        if let Some(e) = log.idx[start..]
                            .iter()
                            .filter_map(|&i| g.at(i))
                            .find(|e| pred(e))
                        {
                            return Some(e.seq);
                        }
                    }
                }
                checked = g.total().max(checked);
            }
            if wakes.is_empty() {
                tokio::time::sleep_until(deadline).await;
                return None;
            }
            if tokio::time::timeout_at(deadline, futures_util::future::select_all(wakes))
                .await
                .is_err()
            {
                let g = self.lock();
                for c in chats {
                    if let Some(log) = g.by_chat.get(*c) {
                        let start = log.idx.partition_point(|&i| i < checked);
                        if let Some(e) = log.idx[start..]
                            .iter()
                            .filter_map(|&i| g.at(i))
                            .find(|e| pred(e))
                        {
                            return Some(e.seq);
                        }
                    }
                }
                return None;
            }
        }
    }

    /// Copies of the notifications about `chats` recorded at indexes `from..to`, in
    /// recording order (without copying anything else of the run).
    pub fn notifications_about(&self, chats: &[&str], from: usize, to: usize) -> Vec<Event> {
        let g = self.lock();
        g.about(chats, from, to)
            .into_iter()
            .filter_map(|i| g.at(i).cloned())
            .collect()
    }

    /// Copies of the Bayeux sessions' ends ([`BayeuxEvent::Closed`]) recorded at indexes
    /// `from..to`: a case that saw one judges nothing its agent could no longer see.
    pub fn session_ends(&self, from: usize, to: usize) -> Vec<Event> {
        let g = self.lock();
        let a = g.ends.partition_point(|&i| i < from);
        let b = g.ends.partition_point(|&i| i < to);
        g.ends[a..b]
            .iter()
            .filter_map(|&i| g.at(i).cloned())
            .collect()
    }

    /// [`Recorder::notifications_about`], moved out of the record instead of copied, and
    /// the chats retired ([`Recorder::retire`]): for the case that owned them, once it
    /// has ended and nothing else reads them.
    pub fn take_notifications(&self, chats: &[&str], from: usize, to: usize) -> Vec<Event> {
        let mut g = self.lock();
        let base = g.base;
        let out: Vec<Event> = g
            .about(chats, from, to)
            .into_iter()
            .filter_map(|i| {
                i.checked_sub(base)
                    .and_then(|j| g.events.get_mut(j))
                    .and_then(Option::take)
            })
            .collect();
        for e in &out {
            g.release(e);
        }
        g.retire(chats);
        out
    }

    /// The history recorded so far, moved out: the recorder is left empty (for a
    /// recorder nobody records on any more, such as a case's once the case has ended).
    pub fn take(&self) -> History {
        let mut g = self.lock();
        // Indexes stay global: the stored events move below `base` (the kept ones are
        // below it already).
        let n = g.events.len();
        let mut events = std::mem::take(&mut g.kept);
        events.extend(g.events.drain(..).flatten());
        g.base += n;
        g.kept_notes = 0;
        g.kept_note_bytes = 0;
        g.held = g.kept_histories;
        History { events }
    }

    /// The history recorded so far.
    pub fn snapshot(&self) -> History {
        let g = self.lock();
        History {
            events: g
                .kept
                .iter()
                .chain(g.events.iter().flatten())
                .cloned()
                .collect(),
        }
    }
}
