//! Whether the target still answers: every request the clients send (agent REST,
//! provisioning; not the Bayeux long-poll, whose connects are held open on purpose) tells
//! [`Liveness`] whether it got an HTTP answer. The runner asks [`Liveness::gone`] and
//! stops starting cases once nothing more can be learnt (issue #26): K requests of one
//! kind in a row without an answer (a target that reads every Complete and never
//! answers still answers the provisioning around it), or no answer at all for N seconds
//! while requests went out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Requests of one kind in a row without an answer after which the target counts as
/// gone (`--give-up-after`; 0: never).
pub const DEFAULT_GIVE_UP_AFTER: u32 = 5;

/// No answer at all for this long, while requests went out, and the target counts as
/// gone (`--give-up-silence`; 0: never). Three default request timeouts.
pub const DEFAULT_GIVE_UP_SILENCE: Duration = Duration::from_secs(30);

/// The run's record of answered and unanswered requests; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Liveness(Arc<Mutex<State>>);

/// Two records are equal when they are the same record.
impl PartialEq for Liveness {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Per kind of request: how many in a row got no answer.
    in_a_row: HashMap<String, u32>,
    /// When the first request without an answer since the last answer was sent.
    silent_since: Option<Instant>,
    /// The last request without an answer: its kind, its error, and when (wall clock).
    last: Option<(String, String, SystemTime)>,
    /// The requests sent and not yet ended: kind and when sent.
    in_flight: Vec<(String, Instant)>,
}

/// Why the target counts as gone: what the run's report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    /// When the last request without an answer ended (RFC 3339, UTC).
    pub at: String,
    /// That request's kind (`agent POST Complete`) and error.
    pub last_error: String,
    /// `K Complete requests in a row` or `no answer for 30 s`.
    pub rule: String,
}

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not run: the target stopped answering at {} ({}: {})",
            self.at, self.rule, self.last_error
        )
    }
}

impl Liveness {
    /// A record with nothing sent yet.
    pub fn new() -> Liveness {
        Liveness::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request of `kind` goes out now (sent at `sent`); [`Liveness::answered`] or
    /// [`Liveness::unanswered`] ends it.
    pub(crate) fn sending(&self, kind: &str, sent: Instant) {
        self.state().in_flight.push((kind.to_string(), sent));
    }

    fn ended(st: &mut State, kind: &str, sent: Instant) {
        if let Some(i) = st
            .in_flight
            .iter()
            .position(|(k, t)| k == kind && *t == sent)
        {
            st.in_flight.swap_remove(i);
        }
    }

    /// What the run waits on: the kind of request most in flight, how many, and how long
    /// the oldest of them has been out (`waiting for 6 agent POST Complete answers, 4 s
    /// so far`); `None` when no request is out.
    pub fn waiting(&self) -> Option<String> {
        let st = self.state();
        let mut by_kind: HashMap<&str, (usize, Instant)> = HashMap::new();
        for (k, t) in &st.in_flight {
            let e = by_kind.entry(k).or_insert((0, *t));
            e.0 += 1;
            e.1 = e.1.min(*t);
        }
        let (kind, (n, oldest)) = by_kind
            .into_iter()
            .max_by_key(|(k, (n, t))| (*n, std::cmp::Reverse(*t), std::cmp::Reverse(*k)))?;
        Some(format!(
            "waiting for {n} {kind} answer{}, {} s so far",
            if n == 1 { "" } else { "s" },
            oldest.elapsed().as_secs()
        ))
    }

    /// A request of `kind`, sent at `sent`, got an HTTP answer (of any status).
    pub(crate) fn answered(&self, kind: &str, sent: Instant) {
        let mut st = self.state();
        Self::ended(&mut st, kind, sent);
        st.in_a_row.remove(kind);
        st.silent_since = None;
    }

    /// A request of `kind`, sent at `sent`, got no answer (`error` says why).
    pub(crate) fn unanswered(&self, kind: &str, sent: Instant, error: &str) {
        let mut st = self.state();
        Self::ended(&mut st, kind, sent);
        *st.in_a_row.entry(kind.to_string()).or_default() += 1;
        if st.silent_since.is_none_or(|s| sent < s) {
            st.silent_since = Some(sent);
        }
        st.last = Some((kind.to_string(), error.to_string(), SystemTime::now()));
    }

    /// Whether the target counts as gone: `after` requests of one kind in a row without
    /// an answer, or none answered for `silence` since the first that was not (either
    /// rule off when 0).
    pub fn gone(&self, after: u32, silence: Duration) -> Option<Gone> {
        let st = self.state();
        let (kind, error, when) = st.last.as_ref()?;
        let at = humantime::format_rfc3339_seconds(*when).to_string();
        let last_error = format!("{kind}: {error}");
        if after > 0
            && let Some((k, n)) = st.in_a_row.iter().find(|(_, n)| **n >= after)
        {
            return Some(Gone {
                at,
                last_error,
                rule: format!("{n} {k} requests in a row without an answer"),
            });
        }
        if !silence.is_zero()
            && let Some(since) = st.silent_since
            && since.elapsed() >= silence
        {
            return Some(Gone {
                at,
                last_error,
                rule: format!(
                    "no request answered for {}",
                    humantime::format_duration(Duration::from_secs(since.elapsed().as_secs()))
                ),
            });
        }
        None
    }
}

/// The kind of a request, as the rules count them: who sent it, the method, and the
/// operation (`operationName` of a JSON body; else the last segment of the path that is
/// not an id).
pub(crate) fn kind_of(actor: &str, method: &str, path: &str, op: Option<&str>) -> String {
    let what = op.map(str::to_string).unwrap_or_else(|| {
        path.split('?')
            .next()
            .unwrap_or("")
            .rsplit('/')
            .find(|s| !s.is_empty() && !s.chars().any(|c| c.is_ascii_digit()))
            .unwrap_or("/")
            .to_string()
    });
    format!("{actor} {method} {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_of_one_kind_in_a_row_is_gone_and_an_answer_resets_it() {
        let l = Liveness::new();
        let t = Instant::now();
        for _ in 0..4 {
            l.unanswered("agent POST Complete", t, "timeout");
            // Provisioning around it still answers: it does not reset Complete's count.
            l.answered("provider POST provider-state", t);
        }
        assert_eq!(l.gone(5, Duration::ZERO), None);
        l.unanswered("agent POST Complete", t, "no complete answer within 10s");
        let g = l.gone(5, Duration::ZERO).expect("gone");
        assert!(
            g.rule.contains("5 agent POST Complete requests in a row"),
            "{g}"
        );
        assert!(
            g.to_string()
                .starts_with("not run: the target stopped answering at ")
        );
        assert!(
            g.to_string().contains("no complete answer within 10s"),
            "{g}"
        );
        l.answered("agent POST Complete", t);
        assert_eq!(l.gone(5, Duration::ZERO), None);
        // 0 turns the rule off.
        for _ in 0..9 {
            l.unanswered("agent POST Complete", t, "timeout");
        }
        assert_eq!(l.gone(0, Duration::ZERO), None);
    }

    #[test]
    fn silence_counts_from_the_first_unanswered_request_until_any_answer() {
        let l = Liveness::new();
        let long_ago = Instant::now() - Duration::from_secs(40);
        assert_eq!(l.gone(5, Duration::from_secs(30)), None, "nothing sent");
        l.unanswered("agent POST Accept", long_ago, "connection refused");
        let g = l.gone(0, Duration::from_secs(30)).expect("silent for 40 s");
        assert!(g.rule.starts_with("no request answered for 40s"), "{g}");
        assert_eq!(l.gone(0, Duration::from_secs(60)), None);
        l.answered("agent GET me", long_ago);
        assert_eq!(l.gone(0, Duration::from_secs(30)), None);
    }

    #[test]
    fn waiting_names_the_requests_out_longest_and_most() {
        let l = Liveness::new();
        assert_eq!(l.waiting(), None);
        let old = Instant::now() - Duration::from_secs(4);
        for _ in 0..6 {
            l.sending("agent POST Complete", old);
        }
        l.sending("provider POST provider-state", Instant::now());
        assert_eq!(
            l.waiting().as_deref(),
            Some("waiting for 6 agent POST Complete answers, 4 s so far")
        );
        for _ in 0..6 {
            l.unanswered("agent POST Complete", old, "timeout");
        }
        assert_eq!(
            l.waiting().as_deref(),
            Some("waiting for 1 provider POST provider-state answer, 0 s so far")
        );
    }

    #[test]
    fn kinds_name_the_operation_or_the_path() {
        assert_eq!(
            kind_of("agent", "POST", "/api/v2/me/chats/123abc", Some("Complete")),
            "agent POST Complete"
        );
        assert_eq!(
            kind_of("customer", "POST", "/api/v2/chats/9f8e7/send?x=1", None),
            "customer POST send"
        );
        assert_eq!(kind_of("agent", "GET", "/api/v2/me", None), "agent GET me");
    }
}
