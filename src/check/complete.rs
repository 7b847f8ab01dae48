//! A Complete the model expects to succeed: builds the rules' view of it, runs the
//! rules (CMP-01..08, 15, 16, 19, 22) and follows the chat to `Completed`.

#![warn(missing_docs)]

use super::index::Index;
use super::replay::{ChatSt, Post, Replay};
use super::rules::text_order::{self, CompleteResult};
use super::rules::{CompleteView, complete_success as cs, inspect};
use super::{Anomaly, Finding, Verdict};
use crate::history::Note;
use crate::model::{ChatState, CompleteParams};

impl<'i, 'a> Replay<'i, 'a> {
    /// Judges a Complete the model expects to succeed on chat `alias` (state `c` before
    /// it), and returns what CMP-20 needs.
    pub(crate) fn judge_complete(
        &mut self,
        alias: &str,
        c: &ChatSt,
        p: &CompleteParams,
        post: &Post<'a>,
    ) -> CompleteResult {
        let from = self.out.len();
        let completed = completed_after(self.idx, &c.id, post.req_seq);
        let v = view(self.idx, alias, c, p, post, completed);
        let f01 = cs::cmp01(&v, self.shapes);
        let cmp01 = f01.verdict == Verdict::Pass;
        self.extend([f01]);
        let mut result = CompleteResult {
            ok: post.ans.ok(),
            completed_count: v.completed.len(),
            order_ok: true,
            events: v.evs(),
            chat: alias.to_string(),
            unobserved: None,
            saw: Vec::new(),
        };
        if !post.ans.ok() {
            // Follow the target: if a Completed arrived anyway, the chat is completed.
            let first = v.completed.first().map(|n| n.seq);
            if first.is_some()
                && let Some(cm) = self.chats.get_mut(alias)
            {
                cm.state = Some(ChatState::Completed);
                cm.seen.push(ChatState::Completed);
                cm.completed_note = first;
            }
            let what = "the Complete was not answered with success";
            let fs = cs::cmp15_16(v.before, v.customer_present, false, what, &v.evs());
            let saw = self.saw_since(from);
            self.extend(fs.into_iter().map(|f| restates(f, &saw)));
            result.saw = self.saw_since(from);
            return result;
        }
        let f02 = cs::cmp02(&v, self.cfg);
        let cmp02 = f02.verdict;
        if f02.verdict == Verdict::Error {
            result.unobserved = Some(f02.reason.clone());
        }
        let cmp02_error = result.unobserved.clone();
        self.extend([f02]);
        result.events.extend(v.first.map(|n| n.seq));
        let first_seq = v.first.or(v.completed.first().copied()).map(|n| n.seq);
        if let Some(cm) = self.chats.get_mut(alias) {
            cm.state = Some(ChatState::Completed);
            cm.seen.push(ChatState::Completed);
            cm.completed_note = first_seq;
        }
        self.extend(cs::cmp03(&v));
        let (f04, order_ok) = text_order::cmp04(&v, self.cfg);
        result.order_ok = order_ok;
        if let Some(e) = f04.iter().find(|f| f.verdict == Verdict::Error) {
            result.unobserved = Some(e.reason.clone());
        }
        self.extend(f04);
        self.extend(text_order::cmp19(&v, first_seq));
        self.extend([text_order::cmp22(&v)]);
        self.extend(inspect::cmp05_08(&v));
        let saw = self.saw_since(from);
        let fs = both_hold(&v, cmp01, cmp02, cmp02_error);
        self.extend(fs.into_iter().map(|f| restates(f, &saw)));
        result.saw = self.saw_since(from);
        result
    }

    /// The anomalies of the Fail findings judged since `self.out[from]`.
    fn saw_since(&self, from: usize) -> Vec<Anomaly> {
        let fs = self.out.get(from..).unwrap_or_default();
        super::anomalies_of(fs).into_iter().collect()
    }
}

/// A CMP-15/16 Fail restates CMP-01 and CMP-02: it saw what they saw.
fn restates(f: Finding, saw: &[Anomaly]) -> Finding {
    if f.verdict == Verdict::Fail {
        f.saw_all(saw)
    } else {
        f
    }
}

/// CMP-15/16 from CMP-01 and CMP-02: Error when CMP-02 could not be observed (and
/// CMP-01 held), else Pass or Fail.
fn both_hold(
    v: &CompleteView,
    cmp01: bool,
    cmp02: Verdict,
    cmp02_error: Option<String>,
) -> Vec<Finding> {
    let evs = v.evs();
    let fs = cs::cmp15_16(
        v.before,
        v.customer_present,
        cmp01 && cmp02 == Verdict::Pass,
        "CMP-01 and CMP-02",
        &evs,
    );
    if let (true, Some(why)) = (cmp01, cmp02_error) {
        return fs
            .into_iter()
            .map(|f| Finding::error(f.req, format!("CMP-02 not judged: {why}")))
            .collect();
    }
    fs
}

/// Every `Completed` for chat `id` after the request `req_seq`, to any agent.
fn completed_after<'i, 'a>(idx: &'i Index<'a>, id: &str, req_seq: u64) -> Vec<&'i Note<'a>> {
    idx.chat_notes(id)
        .iter()
        .filter(|n| n.seq > req_seq && n.is_for(id) && n.is_completed())
        .collect()
}

/// The rules' view of a Complete on chat `alias` (state `c` before it).
fn view<'i, 'a>(
    idx: &'i Index<'a>,
    alias: &'i str,
    c: &'i ChatSt,
    p: &'i CompleteParams,
    post: &'i Post<'a>,
    completed: Vec<&'i Note<'a>>,
) -> CompleteView<'i, 'a> {
    CompleteView {
        idx,
        alias,
        chat_id: &c.id,
        owner: &c.owner,
        before: c.state.unwrap_or(ChatState::Chatting),
        customer_present: c.customer_present,
        p,
        req_seq: post.req_seq,
        ans: &post.ans,
        end: idx.window_end(alias, post.ans.seq),
        first: completed.iter().copied().find(|n| n.agent == c.owner),
        completed,
    }
}
