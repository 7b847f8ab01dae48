//! Room for open chats on the target: per-agent (or pooled) fair semaphores, and
//! fitting a case to the room there is.

use super::*;

/// Room for open chats: a fair (first come, first served) semaphore per agent holding
/// `per_agent` permits, or one pool of agents × `per_agent` when the target routes chats
/// itself (customer-api).
pub(super) struct Capacity {
    pub(super) per_agent: usize,
    pub(super) agents: Vec<(String, Arc<Semaphore>)>,
    pub(super) pool: Option<Arc<Semaphore>>,
}

/// Open chats a case holds per agent: one per `OfferChat` (chats stay open until the
/// case's clean-up).
pub(super) fn chats_per_agent(case: &Case) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in &case.steps {
        if let Step::OfferChat { agent, .. } = s {
            *m.entry(agent.clone()).or_insert(0) += 1;
        }
    }
    m
}

impl Capacity {
    /// The case as it can run within the bound: unchanged, or with chats moved from
    /// agents over the bound to agents with room; `Err` with the reason and the fix
    /// when agents × the bound is too small.
    pub(super) fn fit(&self, case: &Case) -> Result<Option<Case>, String> {
        let need = chats_per_agent(case);
        let total: usize = need.values().sum();
        let n = self.agents.len();
        let room = n * self.per_agent;
        if total > room {
            let what = case
                .exercises
                .first()
                .map(|r| format!("{} (case {})", r.as_str(), case.id))
                .unwrap_or_else(|| format!("case {}", case.id));
            return Err(format!(
                "{what} needs {total} chats open at once; {n} agents × {} allow {room}: add agents or raise --max-chats-per-agent",
                self.per_agent
            ));
        }
        if self.pool.is_some() || need.values().all(|&k| k <= self.per_agent) {
            return Ok(None);
        }
        // Spread: keep each agent's first `per_agent` chats, move the rest to agents
        // with room, in agent order.
        let mut load: BTreeMap<String, usize> =
            self.agents.iter().map(|(a, _)| (a.clone(), 0)).collect();
        let mut out = case.clone();
        for s in &mut out.steps {
            if let Step::OfferChat { agent, .. } = s {
                let here = load.entry(agent.clone()).or_insert(0);
                if *here < self.per_agent {
                    *here += 1;
                    continue;
                }
                if let Some((other, l)) = load.iter_mut().find(|(_, l)| **l < self.per_agent) {
                    *l += 1;
                    *agent = other.clone();
                }
            }
        }
        Ok(Some(out))
    }

    /// The case with its agents renamed (a one-to-one renaming: agents are
    /// interchangeable) so that the agent with the most chats gets the agent with the
    /// most room now; `None` when it is already so. Without it every case naming
    /// `agent1` would queue for `agent1` while the other agents idle.
    pub(super) fn place(&self, case: &Case) -> Option<Case> {
        if self.pool.is_some() {
            return None;
        }
        let need = chats_per_agent(case);
        let mut wanted: Vec<(&String, &usize)> = need.iter().collect();
        wanted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut free: Vec<(usize, &String, usize)> = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, (a, sem))| (i, a, sem.available_permits()))
            .collect();
        free.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        let rename: BTreeMap<&String, &String> = wanted
            .iter()
            .zip(free.iter())
            .map(|((from, _), (_, to, _))| (*from, *to))
            .collect();
        if rename.iter().all(|(a, b)| a == b) || rename.len() < wanted.len() {
            return None;
        }
        let mut out = case.clone();
        for st in &mut out.steps {
            if let Step::OfferChat { agent, .. } = st
                && let Some(to) = rename.get(agent)
            {
                *agent = (*to).clone();
            }
        }
        Some(out)
    }

    /// Waits for room for every chat the case opens; the permits free the room when
    /// dropped (after the case's clean-up).
    pub(super) async fn reserve(&self, case: &Case) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        let need = chats_per_agent(case);
        let mut permits = Vec::new();
        if let Some(pool) = &self.pool {
            let total: usize = need.values().sum();
            if total > 0
                && let Ok(p) = pool.clone().acquire_many_owned(total as u32).await
            {
                permits.push(p);
            }
            return permits;
        }
        // In one fixed (agent name) order, so two cases never wait on each other.
        for (agent, k) in need {
            if let Some((_, sem)) = self.agents.iter().find(|(a, _)| *a == agent)
                && let Ok(p) = sem.clone().acquire_many_owned(k as u32).await
            {
                permits.push(p);
            }
        }
        permits
    }
}
