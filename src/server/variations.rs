//! The catalogue of legitimate variations: the dual of the fault catalogue. Each
//! variation is one way a conformant GWS deployment may behave differently from the
//! server's default, switched on by name (`serve --variation NAME`, repeatable and
//! combinable; `ServerConfig::variations`). A correct harness reports no failure against
//! any of them, alone or combined. Each description names the contract sentence that
//! allows it.

use super::StartError;

/// One entry of the variation catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariationInfo {
    /// Kebab-case name, as given to `--variation`.
    pub name: &'static str,
    /// What the server does differently, and why that is allowed.
    pub description: &'static str,
    /// Faults of the fault catalogue this variation makes unobservable, each with why:
    /// under it the faulty behaviour is what a conformant server may do, so no harness
    /// can (or should) report it. `selftest --variations` shows these cells as `n/a`.
    pub masks: &'static [(&'static str, &'static str)],
}

/// The variations, as switches the server checks. The order is that of [`VARIATIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variation {
    NoCsrf,
    ReofferRejected,
    NoReoffer,
    GwsTranscript,
    Typing,
    Latency40ms,
    Capacity3,
    ErrorsHttp4xx,
    NoReferenceId,
    BatchedConnect,
    ShortLongPoll,
    MultipleClients,
    ConnectionClose,
    IdleClose2s,
    Chunked,
    Charset,
    LoneSurrogates,
    EscapedLetters,
}

impl Variation {
    /// Every variation, in the order of [`VARIATIONS`].
    pub(crate) const ALL: [Variation; 18] = [
        Variation::NoCsrf,
        Variation::ReofferRejected,
        Variation::NoReoffer,
        Variation::GwsTranscript,
        Variation::Typing,
        Variation::Latency40ms,
        Variation::Capacity3,
        Variation::ErrorsHttp4xx,
        Variation::NoReferenceId,
        Variation::BatchedConnect,
        Variation::ShortLongPoll,
        Variation::MultipleClients,
        Variation::ConnectionClose,
        Variation::IdleClose2s,
        Variation::Chunked,
        Variation::Charset,
        Variation::LoneSurrogates,
        Variation::EscapedLetters,
    ];

    /// Looks a variation up by its catalogue name.
    pub(crate) fn by_name(name: &str) -> Option<Variation> {
        VARIATIONS
            .iter()
            .position(|v| v.name == name)
            .map(|i| Variation::ALL[i])
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

/// How long `reoffer-rejected` waits before a Rejected chat is routed again (a routing
/// strategy's turn), so that the re-offer arrives after the Reject's answer.
pub(crate) const REOFFER_DELAY_MS: u64 = 250;

/// Under `batched-connect`, a held `/meta/connect` waits this long after the first
/// queued message, so that messages of several chats share one answer.
pub(crate) const BATCH_HOLD_MS: u64 = 80;

/// The `advice.interval` of a second long-poll on one cookie (`multiple-clients`).
pub(crate) const MULTIPLE_CLIENTS_INTERVAL_MS: u64 = 2_000;

/// Pairs of variations that contradict each other (both cannot hold at once).
pub(crate) const EXCLUSIVE: &[(Variation, Variation)] =
    &[(Variation::ReofferRejected, Variation::NoReoffer)];

/// A set of variations (none by default: the server's own behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Variations(u64);

impl Variations {
    /// No variation.
    pub const NONE: Variations = Variations(0);

    /// The set named by `names` (each item may itself be a comma-separated list; blanks
    /// are ignored). An unknown name is an error listing the valid ones; so is a pair of
    /// contradicting variations.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Variations, StartError> {
        let mut set = Variations::NONE;
        for item in names {
            for n in item.as_ref().split(',').map(str::trim) {
                if n.is_empty() {
                    continue;
                }
                let v =
                    Variation::by_name(n).ok_or_else(|| StartError::UnknownVariation(n.into()))?;
                set.0 |= v.bit();
            }
        }
        for (a, b) in EXCLUSIVE {
            if set.has(*a) && set.has(*b) {
                return Err(StartError::BadConfig(format!(
                    "variations {} and {} contradict each other",
                    VARIATIONS[*a as usize].name, VARIATIONS[*b as usize].name
                )));
            }
        }
        Ok(set)
    }

    /// Whether `v` is in the set.
    pub(crate) fn has(self, v: Variation) -> bool {
        self.0 & v.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names in the set, in catalogue order.
    pub fn names(self) -> Vec<&'static str> {
        Variation::ALL
            .iter()
            .filter(|v| self.has(**v))
            .map(|v| VARIATIONS[*v as usize].name)
            .collect()
    }

    /// Whether the two named variations may be combined (both known, not contradicting).
    pub fn compatible(a: &str, b: &str) -> bool {
        Variations::from_names(&[a, b]).is_ok()
    }
}

impl std::fmt::Display for Variations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl std::str::FromStr for Variations {
    type Err = StartError;
    fn from_str(s: &str) -> Result<Self, StartError> {
        Variations::from_names(&[s])
    }
}

const fn v(name: &'static str, description: &'static str) -> VariationInfo {
    VariationInfo {
        name,
        description,
        masks: &[],
    }
}

const fn masking(
    name: &'static str,
    description: &'static str,
    masks: &'static [(&'static str, &'static str)],
) -> VariationInfo {
    VariationInfo {
        name,
        description,
        masks,
    }
}

/// The variation catalogue.
pub(crate) static VARIATIONS: [VariationInfo; 18] = [
    masking(
        "no-csrf",
        "CSRF off, as --no-csrf (SPEC §1.1: \"A target may run with CSRF off; the harness detects which\")",
        &[
            (
                "csrf-not-enforced",
                "with CSRF off no token is handed out, and accepting a request without one is right (SES-01 applies only \"when the target uses CSRF\")",
            ),
            (
                "csrf-any-session",
                "with CSRF off there is no token to bind to a session (SES-01 applies only \"when the target uses CSRF\")",
            ),
        ],
    ),
    v(
        "reoffer-rejected",
        "GWS routing: a Rejected chat goes back to the queue and is offered again 250 ms later (a routing turn, after the Reject's answer) to another Ready agent with room, as a new Invited under a new agent-side chat id, in both provisioning modes; queued customer chats are offered whenever an agent has room again (SPEC §6.13: \"a Rejected chat may be offered again to another Ready agent, and a chat that waited in a queue may be offered whenever an agent has room again\"). The default routing also re-offers and serves the queue, but at once, inside the Reject",
    ),
    v(
        "no-reoffer",
        "a Rejected chat is never offered again: it waits in the queue until its customer leaves (SPEC §6.13 says \"may be offered again\", so not re-offering is allowed too); queued customer chats are still offered when an agent has room",
    ),
    v(
        "gws-transcript",
        "provider-state inspect transcripts in the GWS form {type, text, from: {nickname, participantId, type}} (SPEC §6.6: \"or the GWS transcript object ...: read both\"); as --transcript-form gws",
    ),
    v(
        "typing",
        "customers of open chats start and stop typing every 300 ms: the agent gets TypingStarted/TypingStopped NewMessages (SPEC §6.10: typing notices are read, not judged); as --typing 300ms",
    ),
    v(
        "latency-40ms",
        "every answer is delayed 40 ms, like a remote deployment (no requirement bounds answer times; SPEC §6.5's deadline is 5 s); as --latency 40ms",
    ),
    v(
        "capacity-3",
        "a GWS capacity rule of 3 open chats per agent: more customers wait in the queue, provider-state chat offered answers 409 (SPEC §6.9: \"1 to 5 chats is usual\", 409 means retry later); as --capacity 3",
    ),
    v(
        "errors-http-4xx",
        "statusCode errors come with a 4xx status (1, 2, 10 and others: 400; 3, 5: 403; 6: 404; 13, 18, 19: 409; 20: 401) instead of the default HTTP 200; the body is unchanged (SPEC §6.3: \"a statusCode error may come with HTTP 200 or a 4xx; the harness judges the body\")",
    ),
    masking(
        "no-reference-id",
        "no referenceId in any answer or notification (SPEC §1.2: \"an integer referenceId MAY be added\"; §1.4: \"optionally referenceId\"; CMP-22 applies only \"when present\")",
        &[(
            "reference-id-mismatch",
            "with no referenceId anywhere there is none to mismatch (CMP-22 applies only when present)",
        )],
    ),
    v(
        "batched-connect",
        "a held /meta/connect waits 80 ms after the first queued message, so messages of several chats share one answer, and the connect reply comes LAST in the array (the default puts it first; Bayeux 1.0 lets a response batch hold the messages in any order, SPEC §1.4)",
    ),
    v(
        "short-long-poll",
        "long-polls are held 1 s (advice.timeout 1000) instead of 10 s (SPEC §1.4: the server's advice \"must be obeyed\"; any timeout is the server's choice)",
    ),
    v(
        "multiple-clients",
        "like a CometD server, while one Bayeux client of a cookie holds a long-poll, another client on the same cookie is answered at once with advice {multiple-clients: true, reconnect: retry, interval: 2000} (SPEC §6.7: \"real CometD servers allow one long-poll session per browser cookie by default\")",
    ),
    v(
        "connection-close",
        "every answer carries Connection: close and the connection closes after it (RFC 9112 §9.6; a server may close any connection after a response)",
    ),
    v(
        "idle-close-2s",
        "a keep-alive connection with no request for 2 s is closed (as Gunicorn does; RFC 9112 §9.8: \"a server might close an idle connection at any time\"); held long-polls are not idle",
    ),
    v(
        "chunked",
        "answer bodies are sent with Transfer-Encoding: chunked, without Content-Length (RFC 9112 §6.1, §7.1)",
    ),
    v(
        "charset",
        "JSON answers say Content-Type: application/json;charset=UTF-8 (RFC 8259 §11: the charset parameter has no effect, but is harmless; RFC 9110 §8.3)",
    ),
    v(
        "lone-surrogates",
        "the JSON reader accepts escapes of lone surrogates in request strings (\"\\ud800\") and writes them back as the same escape in answers, notifications and transcripts (SPEC §6.12: \"Escapes of lone surrogates are JSON; a target may accept or refuse them ... and may echo them back\"); the default refuses such bodies, which is allowed too",
    ),
    v(
        "escaped-letters",
        "in JSON string values, the letters A a E e O o are written as \\u0041-style escapes, e.g. in statusMessage and message texts (RFC 8259 §7: \"Any character may be escaped\"); no schema field is of type number, so numbers keep their one form",
    ),
];

/// The variation catalogue (see [`VariationInfo`]).
pub fn variations() -> &'static [VariationInfo] {
    &VARIATIONS
}

impl super::ServerConfig {
    /// This configuration with the deployment presets among its variations applied to
    /// their fields (`capacity-3`, `latency-40ms`, `typing`, `gws-transcript`, `no-csrf`);
    /// a field already set keeps its value. Idempotent; the harness calls it so that it
    /// knows the capacity it must respect (SPEC §6.9).
    pub fn with_variation_presets(mut self) -> Self {
        let vs = self.variations;
        if vs.has(Variation::NoCsrf) {
            self.csrf = false;
        }
        if vs.has(Variation::Capacity3) && self.capacity.is_none() {
            self.capacity = Some(3);
        }
        if vs.has(Variation::Latency40ms) && self.latency.is_zero() {
            self.latency = std::time::Duration::from_millis(40);
        }
        if vs.has(Variation::Typing) && self.typing.is_none() {
            self.typing = Some(std::time::Duration::from_millis(300));
        }
        if vs.has(Variation::ShortLongPoll) {
            self.bayeux_timeout_ms = self.bayeux_timeout_ms.min(1_000);
        }
        if vs.has(Variation::IdleClose2s) {
            self.head_read_timeout = self
                .head_read_timeout
                .min(std::time::Duration::from_secs(2));
        }
        if vs.has(Variation::GwsTranscript) {
            self.transcript_form = super::TranscriptForm::Gws;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_masked_fault_is_in_the_fault_catalogue_and_says_why() {
        for v in &VARIATIONS {
            for (fault, why) in v.masks {
                assert!(
                    crate::server::faults().iter().any(|f| f.name == *fault),
                    "{} masks unknown fault {fault}",
                    v.name
                );
                assert!(
                    !why.trim().is_empty(),
                    "{} masks {fault} without a reason",
                    v.name
                );
            }
        }
    }

    #[test]
    fn table_matches_enum_and_names_are_unique_kebab_case() {
        assert_eq!(Variation::ALL.len(), VARIATIONS.len());
        for (i, v) in Variation::ALL.iter().enumerate() {
            assert_eq!(*v as usize, i, "enum order");
            assert_eq!(Variation::by_name(VARIATIONS[i].name), Some(*v));
            let dbg = format!("{v:?}").to_ascii_lowercase();
            assert_eq!(
                VARIATIONS[i].name.replace('-', ""),
                dbg,
                "name of {v:?} follows its enum member"
            );
        }
        let mut names: Vec<&str> = VARIATIONS.iter().map(|v| v.name).collect();
        for n in &names {
            assert!(
                !n.is_empty()
                    && !n.starts_with('-')
                    && !n.ends_with('-')
                    && !n.contains("--")
                    && n.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n} is not kebab-case"
            );
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), VARIATIONS.len(), "duplicate variation names");
        for v in VARIATIONS.iter() {
            assert!(v.description.contains("SPEC") || v.description.contains("RFC"));
        }
        assert_eq!(Variation::by_name("no-such-variation"), None);
    }

    #[test]
    fn sets_parse_combine_and_refuse_unknown_or_contradicting_names() {
        let s = Variations::from_names(&["no-csrf,capacity-3", " typing "]).unwrap();
        assert!(s.has(Variation::NoCsrf) && s.has(Variation::Capacity3));
        assert!(s.has(Variation::Typing) && !s.has(Variation::NoReoffer));
        assert_eq!(s.to_string(), "no-csrf,typing,capacity-3");
        assert_eq!("".parse::<Variations>().ok(), Some(Variations::NONE));
        let e = Variations::from_names(&["nope"]).unwrap_err().to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("reoffer-rejected"),
            "{e}"
        );
        assert!(Variations::from_names(&["reoffer-rejected", "no-reoffer"]).is_err());
        assert!(!Variations::compatible("reoffer-rejected", "no-reoffer"));
        assert!(Variations::compatible("reoffer-rejected", "no-csrf"));
    }

    #[test]
    fn presets_fill_the_deployment_fields_once() {
        let cfg = super::super::ServerConfig {
            variations: Variations::from_names(&[
                "capacity-3,latency-40ms,typing,gws-transcript,no-csrf",
            ])
            .unwrap(),
            ..Default::default()
        }
        .with_variation_presets();
        assert_eq!(cfg.capacity, Some(3));
        assert_eq!(cfg.latency, std::time::Duration::from_millis(40));
        assert!(cfg.typing.is_some() && !cfg.csrf);
        assert_eq!(cfg.transcript_form, super::super::TranscriptForm::Gws);
        let again = cfg.clone().with_variation_presets();
        assert_eq!(again.capacity, cfg.capacity);
    }
}
