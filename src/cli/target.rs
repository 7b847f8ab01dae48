//! Where and how to reach a target: the flags `run` and `replay` share (and
//! `tests/conformance.rs` reads from the environment, by including this file), and what
//! they become: the library's [`RunSettings`].

use super::common::{ModeArg, parse_agents, parse_duration};
use gws_conform::report;
use gws_conform::runner::{Progress, RunSettings};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// Where and how to reach a target (shared by `run` and `replay`).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Base URL of the target (http://host:port); none: certify the embedded reference server.
    #[arg(long, env = "GWS_TARGET")]
    pub target: Option<String>,
    /// An agent USER:PASSWORD (repeat for two agents; GWS_AGENTS takes a comma-separated
    /// list). Prefer the environment variable: command lines are visible to other users.
    #[arg(
        long = "agent",
        env = "GWS_AGENTS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub agents: Vec<String>,
    /// How chats are provisioned (default: provider-state with the embedded server or
    /// when --provider-url is given, else customer-api).
    #[arg(long, env = "GWS_PROVISIONING", value_enum)]
    pub provisioning: Option<ModeArg>,
    /// URL of the target's provider-state endpoint (default {target}/conformance/provider-state).
    #[arg(long, env = "GWS_PROVIDER_URL")]
    pub provider_url: Option<String>,
    /// ContactCenterId header of the customer chat API.
    #[arg(long, env = "GWS_CONTACT_CENTER_ID", default_value = "gws-conform")]
    pub contact_center_id: String,
    /// How long a notification may take to arrive.
    #[arg(long, env = "GWS_DEADLINE", default_value = "5s", value_parser = parse_duration)]
    pub deadline: Duration,
    /// How long nothing must arrive before absence is judged.
    #[arg(long, env = "GWS_QUIET_WINDOW", default_value = "1s", value_parser = parse_duration)]
    pub quiet_window: Duration,
    /// Per-request timeout.
    #[arg(long, env = "GWS_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Give up on the target after this many requests of one kind in a row got no
    /// answer (a Complete that is read and never answered, a refused connection): no
    /// further case starts, the rest is Error "not run: the target stopped answering".
    /// 0: never.
    #[arg(long, env = "GWS_GIVE_UP_AFTER", default_value_t = gws_conform::client::DEFAULT_GIVE_UP_AFTER)]
    pub give_up_after: u32,
    /// Give up on the target when no request was answered for this long (as above).
    /// 0s: never.
    #[arg(long, env = "GWS_GIVE_UP_SILENCE", default_value = "30s", value_parser = parse_duration)]
    pub give_up_silence: Duration,
    /// Embedded server only: switch on one fault (see `gws-conform serve --list-faults`).
    #[arg(long, env = "GWS_FAULT")]
    pub fault: Option<String>,
    /// Embedded server only: at most N open chats per agent, like `serve --capacity`
    /// (the harness then holds at most N per agent too).
    #[arg(long, env = "GWS_SERVE_CAPACITY", value_parser = clap::value_parser!(u32).range(1..))]
    pub embedded_capacity: Option<u32>,
    /// Embedded server only: legitimate variations, like `serve --variation`
    /// (repeatable or comma-separated; see `gws-conform serve --list-variations`).
    #[arg(
        long = "embedded-variation",
        env = "GWS_SERVE_VARIATION",
        value_delimiter = ','
    )]
    pub embedded_variations: Vec<String>,
    /// Embedded server only: delay every answer this long, like `serve --latency`.
    #[arg(long, env = "GWS_SERVE_LATENCY", value_parser = parse_duration)]
    pub embedded_latency: Option<Duration>,
    /// Embedded server only: customers type at this interval, like `serve --typing`.
    #[arg(long, env = "GWS_SERVE_TYPING", value_parser = parse_duration)]
    pub embedded_typing: Option<Duration>,
    /// Embedded server only: `plain` or `gws` inspect transcripts, like
    /// `serve --transcript-form`.
    #[arg(long, env = "GWS_SERVE_TRANSCRIPT_FORM", default_value = "plain")]
    pub embedded_transcript_form: gws_conform::server::TranscriptForm,
    /// Where run folders are written.
    #[arg(long, env = "GWS_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    /// A PEM file of CA certificates trusted for the target and the provider URL, in
    /// addition to the system's roots.
    #[arg(long, env = "GWS_CACERT")]
    pub cacert: Option<PathBuf>,
    /// Accept any TLS certificate (warned about on every run, recorded in report.json).
    #[arg(long, env = "GWS_INSECURE")]
    pub insecure: bool,
}

impl TargetArgs {
    /// Usage errors in the combination of flags.
    pub fn check(&self) -> Result<(), String> {
        if self.fault.is_some() && self.target.is_some() {
            return Err("--fault only applies to the embedded server (no --target)".into());
        }
        if let Some(f) = &self.fault
            && !gws_conform::server::faults()
                .iter()
                .any(|i| i.name == f.as_str())
        {
            return Err(format!(
                "--fault {}: no such fault (see `gws-conform serve --list-faults`)",
                report::term::escape(f)
            ));
        }
        if let Err(e) = gws_conform::server::Variations::from_names(&self.embedded_variations) {
            return Err(format!(
                "--embedded-variation: {}",
                report::term::escape(&e.to_string())
            ));
        }
        if let Some(t) = &self.target
            && !(t.starts_with("http://") || t.starts_with("https://"))
        {
            return Err(format!(
                "--target `{t}` must start with http:// or https://"
            ));
        }
        parse_agents(&self.agents)?;
        if let Some(p) = &self.cacert {
            gws_conform::client::CaFile::load(p).map_err(|e| e.to_string())?;
        }
        if self.target.is_some() && self.agents.is_empty() {
            return Err("--target needs at least one --agent USER:PASSWORD (or GWS_AGENTS)".into());
        }
        Ok(())
    }

    /// Run settings with this target and the defaults for everything else.
    pub fn settings(&self) -> RunSettings {
        RunSettings {
            target: self.target.clone(),
            // Validated by `check`; a malformed entry is dropped here, never echoed.
            agents: parse_agents(&self.agents).unwrap_or_default(),
            mode: self.provisioning.map(Into::into),
            provider_url: self.provider_url.clone(),
            contact_center_id: self.contact_center_id.clone(),
            deadline: self.deadline,
            quiet_window: self.quiet_window,
            request_timeout: self.request_timeout,
            give_up_after: self.give_up_after,
            give_up_silence: self.give_up_silence,
            fault: self.fault.clone(),
            embedded: gws_conform::server::ServerConfig {
                capacity: self.embedded_capacity.map(|c| c as usize),
                latency: self.embedded_latency.unwrap_or_default(),
                typing: self.embedded_typing,
                transcript_form: self.embedded_transcript_form,
                // Validated by `check`.
                variations: gws_conform::server::Variations::from_names(&self.embedded_variations)
                    .unwrap_or_default(),
                ..gws_conform::server::ServerConfig::default()
            }
            .with_variation_presets(),
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            progress: if std::io::stderr().is_terminal() {
                Progress::Bar
            } else {
                Progress::Lines
            },
            ..RunSettings::default()
        }
    }
}
