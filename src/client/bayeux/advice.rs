//! The reconnect policy: the server's advice, and what the connect loop does next
//! ([`decide`]), a pure function.

use super::BayeuxTuning;
use serde_json::Value;
use std::time::Duration;

/// What a Bayeux `advice.reconnect` asks of the client (Bayeux 1.0 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// Connect again (after the advised interval). Also what an unknown value means.
    Retry,
    /// Handshake again, then subscribe and connect.
    Handshake,
    /// Stop: the server will not accept this client again.
    None,
}

impl Reconnect {
    /// The wire name (`"retry"`, `"handshake"`, `"none"`).
    pub fn name(self) -> &'static str {
        match self {
            Reconnect::Retry => "retry",
            Reconnect::Handshake => "handshake",
            Reconnect::None => "none",
        }
    }
}

/// One `advice` object as a server sent it; a field is `None` when absent (or not of
/// the expected JSON type, which Bayeux servers never send).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Advice {
    /// `reconnect` (an unknown string is read as [`Reconnect::Retry`], the default).
    pub reconnect: Option<Reconnect>,
    /// `interval`: wait this long before the next connect.
    pub interval: Option<Duration>,
    /// `timeout`: how long the server holds a long poll.
    pub timeout: Option<Duration>,
    /// `multiple-clients`: the server saw several clients in one browser session.
    pub multiple_clients: Option<bool>,
}

impl Advice {
    /// Reads an `advice` JSON value (anything that is not an object has no field).
    pub fn parse(v: &Value) -> Advice {
        let ms = |k: &str| v.get(k).and_then(Value::as_u64).map(Duration::from_millis);
        Advice {
            reconnect: v.get("reconnect").and_then(Value::as_str).map(|r| match r {
                "handshake" => Reconnect::Handshake,
                "none" => Reconnect::None,
                _ => Reconnect::Retry,
            }),
            interval: ms("interval"),
            timeout: ms("timeout"),
            multiple_clients: v.get("multiple-clients").and_then(Value::as_bool),
        }
    }
}

/// The advice in force: every field as last advised (advice persists until the server
/// changes it, Bayeux 1.0 §5.1), starting from `retry`, interval 0, no timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandingAdvice {
    /// The reconnect policy in force.
    pub reconnect: Reconnect,
    /// The advised interval (not yet capped).
    pub interval: Duration,
    /// The advised long-poll hold, if any was advised.
    pub timeout: Option<Duration>,
    /// Whether the server last said `multiple-clients: true`.
    pub multiple_clients: bool,
}

impl Default for StandingAdvice {
    fn default() -> Self {
        StandingAdvice {
            reconnect: Reconnect::Retry,
            interval: Duration::ZERO,
            timeout: None,
            multiple_clients: false,
        }
    }
}

impl StandingAdvice {
    /// Applies the fields `a` gives.
    pub fn apply(&mut self, a: &Advice) {
        if let Some(r) = a.reconnect {
            self.reconnect = r;
        }
        if let Some(i) = a.interval {
            self.interval = i;
        }
        if let Some(t) = a.timeout {
            self.timeout = Some(t);
        }
        if let Some(m) = a.multiple_clients {
            self.multiple_clients = m;
        }
    }
}

/// What the last step of the connect loop observed (the input of [`decide`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// `/meta/connect` answered with its reply. The standing advice already includes
    /// `advice` (this reply's own advice, if any).
    ConnectReply {
        /// The reply's `successful`.
        successful: bool,
        /// The reply's own advice.
        advice: Option<Advice>,
        /// The advice differs from the last one seen (it is then recorded as followed).
        changed: bool,
        /// The reply's error is `402…` (unknown client: handshake again).
        unknown_client: bool,
    },
    /// The answer delivered messages but held no `/meta/connect` reply.
    DeliveriesOnly,
    /// No usable answer to a connect (transport failure, HTTP error, garbage, no reply).
    ConnectFailed,
    /// A re-handshake (and its subscribe) succeeded.
    Rehandshaked,
    /// A re-handshake or its subscribe failed.
    RehandshakeFailed,
}

/// Consecutive counts the loop keeps between decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    /// Failures in a row (failed connects or failed re-handshakes).
    pub failures: u32,
    /// Re-handshakes asked in a row without a working connect in between.
    pub rehandshakes: u32,
}

/// What the loop does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `/meta/connect` after the delay.
    Connect,
    /// Handshake and subscribe again after the delay.
    Handshake,
    /// End the session, recording `Closed` with this reason.
    Close(String),
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The next action.
    pub action: Action,
    /// How long to wait before it (zero for `Close`).
    pub delay: Duration,
    /// The counts after this step.
    pub streak: Streak,
    /// Advice followed, to record as `FollowedAdvice` (with the capped interval, or 0
    /// for `none`) before acting.
    pub followed: Option<Reconnect>,
    /// An empty fast answer must be paced ([`BayeuxTuning::min_poll_period`]).
    pub pace: bool,
}

/// The reconnect decision, a pure function of the standing advice, the counts in a row,
/// what just happened and the loop limits.
///
/// - the reply's own `reconnect: none` or `handshake` is obeyed at once; `retry` (or
///   no reconnect) on a successful reply connects again after the capped interval;
/// - an unknown client (`402…`) handshakes again;
/// - an unsuccessful reply without its own reconnect follows the standing advice
///   (`handshake`, `none`, or back off as a failure);
/// - failures back off exponentially (never less than the interval) and after
///   [`BayeuxTuning::max_failures`] in a row the session closes; so does a server that
///   asks for more than `max_failures` re-handshakes in a row.
pub fn decide(
    standing: &StandingAdvice,
    streak: Streak,
    happened: &Happened,
    tuning: &BayeuxTuning,
) -> Decision {
    let interval = standing.interval.min(tuning.max_interval);
    counted(
        next_step(standing, happened),
        interval,
        streak,
        happened,
        tuning,
    )
}

/// What the loop should do after `happened`, before the counts and limits apply.
enum Next {
    Connect {
        follow: bool,
        pace: bool,
    },
    Handshake,
    Stop(&'static str),
    Backoff(&'static str),
    /// A re-handshake worked: connect at once, the failures forgotten.
    Reset,
}

/// The first phase of [`decide`]: the reply's own advice, then an unknown client, then
/// the standing advice.
fn next_step(standing: &StandingAdvice, happened: &Happened) -> Next {
    match happened {
        Happened::ConnectReply {
            successful,
            advice,
            changed,
            unknown_client,
        } => match advice.and_then(|a| a.reconnect) {
            Some(Reconnect::None) => Next::Stop("server advised reconnect: none"),
            Some(Reconnect::Handshake) => Next::Handshake,
            Some(Reconnect::Retry) if *successful => Next::Connect {
                follow: *changed,
                pace: true,
            },
            _ if *unknown_client => Next::Handshake,
            // No reconnect in this reply: the standing advice applies.
            _ if !*successful => match standing.reconnect {
                Reconnect::Handshake => Next::Handshake,
                Reconnect::None => Next::Stop("server advised reconnect: none (standing advice)"),
                Reconnect::Retry => Next::Backoff("failed connects"),
            },
            // Successful, with advice without `reconnect` (only `interval` or
            // `multiple-clients`) or none: connect again after the interval.
            _ => Next::Connect {
                follow: *changed && advice.is_some(),
                pace: true,
            },
        },
        Happened::DeliveriesOnly => Next::Connect {
            follow: false,
            pace: false,
        },
        Happened::ConnectFailed => Next::Backoff("failed connects"),
        Happened::Rehandshaked => Next::Reset,
        Happened::RehandshakeFailed => Next::Backoff("failures to re-handshake"),
    }
}

/// The second phase of [`decide`]: `next` with the counts in a row, the limits that close
/// the session, and the delay (the interval, or the back-off after failures).
fn counted(
    next: Next,
    interval: Duration,
    streak: Streak,
    happened: &Happened,
    tuning: &BayeuxTuning,
) -> Decision {
    let mut d = Decision {
        action: Action::Connect,
        delay: interval,
        streak,
        followed: None,
        pace: false,
    };
    match next {
        Next::Connect { follow, pace } => {
            d.streak = Streak::default();
            d.followed = follow.then_some(Reconnect::Retry);
            d.pace = pace;
        }
        Next::Handshake => {
            d.streak.rehandshakes = streak.rehandshakes.saturating_add(1);
            if d.streak.rehandshakes > tuning.max_failures {
                d.action = Action::Close(format!(
                    "gave up: the server asked for {} re-handshakes in a row without a working connect",
                    d.streak.rehandshakes
                ));
                d.delay = Duration::ZERO;
            } else {
                d.action = Action::Handshake;
                d.followed = Some(Reconnect::Handshake);
            }
        }
        Next::Stop(reason) => {
            d.action = Action::Close(reason.to_string());
            d.delay = Duration::ZERO;
            d.followed = Some(Reconnect::None);
        }
        Next::Backoff(what) => {
            d.streak.failures = streak.failures.saturating_add(1);
            if d.streak.failures >= tuning.max_failures {
                d.action = Action::Close(format!(
                    "gave up after {} consecutive {what}",
                    d.streak.failures
                ));
                d.delay = Duration::ZERO;
            } else {
                if matches!(happened, Happened::RehandshakeFailed) {
                    d.action = Action::Handshake;
                }
                d.delay = backoff(tuning, d.streak.failures).max(interval);
            }
        }
        Next::Reset => {
            d.delay = Duration::ZERO;
            d.streak.failures = 0;
        }
    }
    d
}

/// The exponential back-off after `failures` failures in a row.
pub(super) fn backoff(tuning: &BayeuxTuning, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    tuning
        .base_backoff
        .saturating_mul(1u32 << exp)
        .min(tuning.max_backoff)
}
