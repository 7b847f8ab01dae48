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
}

impl Variation {
    /// Every variation, in the order of [`VARIATIONS`].
    pub(crate) const ALL: [Variation; 7] = [
        Variation::NoCsrf,
        Variation::ReofferRejected,
        Variation::NoReoffer,
        Variation::GwsTranscript,
        Variation::Typing,
        Variation::Latency40ms,
        Variation::Capacity3,
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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Variations::from_names(&[s]).map_err(|e| e.to_string())
    }
}

const fn v(name: &'static str, description: &'static str) -> VariationInfo {
    VariationInfo { name, description }
}

/// The variation catalogue.
pub static VARIATIONS: [VariationInfo; 7] = [
    v(
        "no-csrf",
        "CSRF off, as --no-csrf (SPEC §1.1: \"A target may run with CSRF off; the harness detects which\")",
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
        assert_eq!("".parse::<Variations>(), Ok(Variations::NONE));
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
