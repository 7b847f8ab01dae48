//! The run's chats as a real deployment routes them (SPEC §6.13): a Rejected chat may be
//! offered again to another Ready agent, and a customer that waited in the queue may be
//! offered late. Such a chat is still the run's: it is counted against the receiving
//! agent's room as soon as it is seen and closed at once (no case expects one).
//!
//! Which chats are the run's: the agent-side ids its cases bound; in customer-api mode
//! every chat carrying a `userData` tag the provisioner issued; and a chat whose customer
//! (the customer participant's `participantId`, the same for every offer of one
//! interaction) is the customer of a chat the run bound. A chat the run did not open is
//! never touched.
//!
//! Clean-up does not depend on notifications: [`Routing::sweep`] lists every agent's open
//! chats (`GET /api/v2/me/chats`) and closes the run's that no running case holds,
//! whatever happened to the Bayeux sessions.

use crate::client::provision::TagState;
use crate::client::{AgentClient, Provisioner};
use crate::history::{AuthVariant, Body, Event, EventKind, Recorder, chat_hash, notes};
use crate::model::{self, ChatState, OpName};
use futures_util::future::join_all;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Whose a chat the target shows is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whose {
    /// Not the run's: never touched.
    NotOurs,
    /// The run's, held by a running case (or about to be bound by one).
    Busy,
    /// The run's, and no case holds it: to be closed.
    Ours,
}

/// Each agent's room, and the pool when the target routes (customer-api).
type Room = (Vec<(String, Arc<Semaphore>)>, Option<Arc<Semaphore>>);

#[derive(Default)]
struct Owned {
    /// Every agent-side chat id a case bound ([`chat_hash`]es: a long run keeps this
    /// small).
    provisioned: HashSet<u64>,
    /// The chat ids running cases hold.
    live: HashSet<String>,
    /// A customer's key (see [`customer_keys`]) → the first chat seen carrying it.
    key_owner: HashMap<String, String>,
    /// Chats routing offered that no case holds (re-offers, late offers), once seen.
    strays: HashSet<String>,
    /// Chats being closed now (by the watcher or a sweep): nobody else starts on them.
    closing: HashSet<String>,
}

/// The run's chats, the watcher of their offers, and their clean-up.
pub(crate) struct Routing {
    rec: Recorder,
    agents: Arc<Vec<AgentClient>>,
    provisioner: Arc<Provisioner>,
    /// Each agent's room (provider-state), or the one pool (customer-api): a chat
    /// routing offered holds one permit while it is open.
    room: Mutex<Room>,
    owned: Mutex<Owned>,
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The keys of the customer of a chat (its JSON as notified or listed): the customer
/// participant's `participantId` (the same in every offer of one interaction).
pub(crate) fn customer_keys(chat: &Value) -> Vec<String> {
    notes::customer_participant_ids(chat)
        .into_iter()
        .filter_map(|id| match id {
            Value::String(s) if !s.is_empty() => Some(format!("p:{s}")),
            Value::Number(n) => Some(format!("p:{n}")),
            _ => None,
        })
        .collect()
}

fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The owner and chat of an `Invited` status notification.
fn invitation(e: &Event) -> Option<(&str, &Value)> {
    match &e.kind {
        EventKind::Notification { agent, data, .. }
            if notes::chat_state(data) == Some("Invited") =>
        {
            Some((agent.as_str(), notes::chat(data)?))
        }
        _ => None,
    }
}

fn state_of(chat: &Value) -> Option<ChatState> {
    let s = notes::chat_object_state(chat)?;
    ChatState::ALL.into_iter().find(|c| c.as_str() == s)
}

impl Routing {
    pub(crate) fn new(
        rec: Recorder,
        agents: Arc<Vec<AgentClient>>,
        provisioner: Arc<Provisioner>,
    ) -> Routing {
        Routing {
            rec,
            agents,
            provisioner,
            room: Mutex::new((Vec::new(), None)),
            owned: Default::default(),
            tasks: Mutex::new(tokio::task::JoinSet::new()),
        }
    }

    /// The capacity accounting a chat routing offers is counted in.
    pub(crate) fn set_room(
        &self,
        agents: Vec<(String, Arc<Semaphore>)>,
        pool: Option<Arc<Semaphore>>,
    ) {
        *lock(&self.room) = (agents, pool);
    }

    fn semaphore(&self, agent: &str) -> Option<Arc<Semaphore>> {
        let g = lock(&self.room);
        match &g.1 {
            Some(pool) => Some(pool.clone()),
            None => g.0.iter().find(|(a, _)| a == agent).map(|(_, s)| s.clone()),
        }
    }

    /// A case bound `chat_id`: the run's, held by the case until [`Routing::release`].
    pub(crate) fn bind(&self, chat_id: &str) {
        let mut g = lock(&self.owned);
        g.provisioned.insert(chat_hash(chat_id));
        g.live.insert(chat_id.to_string());
    }

    /// The case that held `chats` has ended (its clean-up ran).
    pub(crate) fn release<'a>(&self, chats: impl IntoIterator<Item = &'a String>) {
        let mut g = lock(&self.owned);
        for c in chats {
            g.live.remove(c);
        }
    }

    /// Whether a case bound `chat_id`.
    pub(crate) fn provisioned(&self, chat_id: &str) -> bool {
        lock(&self.owned).provisioned.contains(&chat_hash(chat_id))
    }

    /// How many chats cases bound.
    pub(crate) fn provisioned_count(&self) -> usize {
        lock(&self.owned).provisioned.len()
    }

    /// Whose chat `id` (its JSON `chat`, as notified or listed) is; learns its customer.
    pub(crate) fn whose(&self, id: &str, chat: &Value) -> Whose {
        let tag = notes::chat_object_tag(chat).and_then(|t| self.provisioner.tag_state(t));
        let keys = customer_keys(chat);
        let mut g = lock(&self.owned);
        let mut of_ours = false;
        for k in &keys {
            match g.key_owner.get(k) {
                Some(first) if first != id => {
                    of_ours |=
                        g.provisioned.contains(&chat_hash(first)) || g.strays.contains(first);
                }
                Some(_) => {}
                None => {
                    g.key_owner.insert(k.clone(), id.to_string());
                }
            }
        }
        if g.live.contains(id) {
            return Whose::Busy;
        }
        if g.provisioned.contains(&chat_hash(id)) || g.strays.contains(id) {
            return Whose::Ours;
        }
        match tag {
            // The RequestChat's case is about to bind it.
            Some(TagState::Waiting) => return Whose::Busy,
            Some(TagState::Bound(x)) if x == id => return Whose::Busy,
            Some(_) => return Whose::Ours,
            None => {}
        }
        if of_ours { Whose::Ours } else { Whose::NotOurs }
    }

    /// Watches the run's record for invitations until `stop` changes: an offer of a
    /// chat of the run's that no case holds is counted and closed at once.
    pub(crate) async fn watch(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut from = 0;
        loop {
            let next = tokio::select! {
                e = self.rec.wait_for(from, Duration::from_secs(3600), |e| invitation(e).is_some()) => e,
                _ = stop.changed() => break,
            };
            let Some(e) = next else { continue };
            from = e.seq as usize + 1;
            let Some((agent, chat)) = invitation(&e) else {
                continue;
            };
            let Some(id) = id_of(notes::chat_object_id(chat)) else {
                continue;
            };
            if self.whose(&id, chat) != Whose::Ours || self.provisioned(&id) {
                continue;
            }
            {
                let mut g = lock(&self.owned);
                if !g.strays.insert(id.clone()) || !g.closing.insert(id.clone()) {
                    continue;
                }
            }
            let me = self.clone();
            let agent = agent.to_string();
            lock(&self.tasks).spawn(async move { me.close_offered(agent, id).await });
        }
    }

    /// Holds room on `agent` for the offered chat `id` (as soon as there is room in the
    /// harness's accounting) while closing it.
    async fn close_offered(self: Arc<Self>, agent: String, id: String) {
        let Some(a) = self.agents.iter().find(|a| a.user() == agent) else {
            lock(&self.owned).closing.remove(&id);
            return;
        };
        let close = self.close(a, &id, Some(ChatState::Invited));
        match self.semaphore(&agent) {
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => {
                    close.await;
                    drop(p);
                }
                Err(_) => {
                    tokio::pin!(close);
                    tokio::select! {
                        p = sem.acquire_owned() => {
                            (&mut close).await;
                            drop(p);
                        }
                        _ = &mut close => {}
                    }
                }
            },
            None => close.await,
        }
        lock(&self.owned).closing.remove(&id);
    }

    /// Waits for the closings under way.
    pub(crate) async fn finish(&self) {
        let mut set = std::mem::take(&mut *lock(&self.tasks));
        while set.join_next().await.is_some() {}
    }

    /// Brings one chat to Completed from `state` (`None`: not known) by
    /// [`model::closing_ops_for_cleanup`], recorded on the run record (never judged);
    /// when the target says the chat is not where it was thought to be, Complete, else
    /// Accept then Complete. Best effort.
    pub(crate) async fn close(&self, agent: &AgentClient, chat_id: &str, state: Option<ChatState>) {
        let rec = &self.rec;
        let post = |op: OpName| {
            let body = Body::Json(serde_json::json!({ "operationName": op.as_str() }));
            async move {
                let o = agent
                    .post_chat(rec, chat_id, &body, AuthVariant::Normal, None)
                    .await;
                super::exec::status_code_zero(&o)
            }
        };
        if let Some(s) = state {
            let mut done = true;
            for op in model::closing_ops_for_cleanup(s) {
                if !post(*op).await {
                    done = false;
                    break;
                }
            }
            if done {
                return;
            }
        }
        if !post(OpName::Complete).await && post(OpName::Accept).await {
            post(OpName::Complete).await;
        }
    }

    /// Lists every agent's open chats (`GET /api/v2/me/chats`) and closes those of the
    /// run's that no running case holds; returns how many it closed.
    pub(crate) async fn sweep(&self) -> usize {
        let per_agent = self.agents.iter().map(|a| async move {
            let listed = a.get(&self.rec, "/api/v2/me/chats").await;
            let Some(chats) = listed
                .json()
                .and_then(|v| v.get("chats"))
                .and_then(Value::as_array)
                .cloned()
            else {
                return 0;
            };
            let mut closed = 0;
            for c in &chats {
                let Some(id) = id_of(notes::chat_object_id(c)) else {
                    continue;
                };
                let state = state_of(c);
                if state == Some(ChatState::Completed) || self.whose(&id, c) != Whose::Ours {
                    continue;
                }
                if !lock(&self.owned).closing.insert(id.clone()) {
                    continue;
                }
                self.close(a, &id, state).await;
                lock(&self.owned).closing.remove(&id);
                closed += 1;
            }
            closed
        });
        join_all(per_agent).await.into_iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_customer_key_is_the_customer_participant() {
        let c = json!({"participants": [
            {"nickname": "C", "type": "Customer", "participantId": "p1"},
            {"nickname": "A", "type": "Agent", "participantId": "p2"},
            {"type": "Client", "participantId": 7},
        ]});
        assert_eq!(
            customer_keys(&c),
            vec!["p:p1".to_string(), "p:7".to_string()]
        );
        assert!(customer_keys(&json!({"id": "x"})).is_empty());
    }
}
