//! `gws-conform observe`: judge live traffic (the recording proxy of `observe`) or a HAR
//! recording against the contract, then write the usual run folder.

use super::common::{ModeArg, SignalWatch, Threads, parse_duration, runtime};
use gws_conform::check::CheckConfig;
use gws_conform::exit;
use gws_conform::observe::{
    MAX_RECORD_BYTES, Observation, ProxyConfig, judge_har, start_proxy, write_observation,
};
use gws_conform::report;
use gws_conform::runner::Cancel;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `gws-conform observe`.
#[derive(Debug, clap::Args)]
pub struct ObserveArgs {
    /// Address the proxy listens on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8090", conflicts_with = "har")]
    pub listen: String,
    /// The target's base URL, e.g. https://gws.example.com.
    #[arg(long, required_unless_present = "har", conflicts_with = "har")]
    pub upstream: Option<String>,
    /// Judge a HAR 1.2 recording offline instead of proxying.
    #[arg(long)]
    pub har: Option<PathBuf>,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Where run folders are written.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// A PEM CA certificate to trust for the upstream (private CAs).
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// How long after a response an expected notification may take.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub deadline: Duration,
    /// How long "nothing more" must hold.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub quiet_window: Duration,
    /// Also write what the proxy recorded as a HAR file (credentials redacted).
    #[arg(long)]
    pub har_out: Option<PathBuf>,
    /// Cap of the recording in bytes; later traffic passes but is not judged.
    #[arg(long, default_value_t = MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
    /// How a replay provisions chats: customer-api or provider-state (recorded in the
    /// case files).
    #[arg(long, value_enum, default_value_t = ModeArg::CustomerApi)]
    pub provisioning: ModeArg,
}

fn print_outcome(obs: &Observation, dir: &Path) {
    let r = &obs.report;
    let judged = r.cases.len();
    let failing: Vec<&str> = r
        .cases
        .iter()
        .filter(|c| c.verdict == gws_conform::check::Verdict::Fail)
        .map(|c| c.id.as_str())
        .collect();
    println!(
        "observed {} exchanges, judged {judged} chats, {} with violations",
        obs.exchanges.len(),
        failing.len()
    );
    for e in &r.errors {
        println!("error: {e}");
    }
    println!("reports: {}", dir.display());
    let stems = report::case_stems(r);
    for id in failing.iter().take(10) {
        if let Some(stem) = stems.get(*id) {
            println!(
                "  failing chat {id}: {}",
                report::replay_command(stem, r).replacen(
                    "cases/",
                    &format!("{}/cases/", dir.display()),
                    1
                )
            );
        }
    }
}

/// Runs `gws-conform observe`; returns the exit code (0 no violation, 1 violations,
/// 2 usage, 3 harness error or nothing judged).
pub fn main(args: ObserveArgs) -> i32 {
    let cfg = CheckConfig {
        deadline: args.deadline,
        quiet_window: args.quiet_window,
    };
    if let Some(har) = &args.har {
        let obs = match judge_har(har, cfg, args.max_record_bytes, args.provisioning.into()) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        for l in &obs.lines {
            println!("{l}");
        }
        return finish(&args, obs);
    }
    let Some(upstream) = args.upstream.clone() else {
        eprintln!("error: give --upstream URL (live) or --har FILE (offline)");
        return exit::USAGE;
    };
    let rt = match runtime(Threads::PerCore, "error") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let pcfg = ProxyConfig {
        cacert: args.cacert.clone(),
        check: cfg,
        max_record_bytes: args.max_record_bytes,
        print: true,
        ..ProxyConfig::new(&upstream)
    };
    // SIGINT or SIGTERM ends the observation (a second one exits at once); with
    // --duration, one before the end interrupts it.
    let cancel = Cancel::new();
    let signals = SignalWatch::start(&rt, cancel.clone());
    let started = std::time::Instant::now();
    let obs = rt.block_on(async {
        let h = match start_proxy(pcfg, &args.listen).await {
            Ok(h) => h,
            Err(e) => return Err(e),
        };
        eprintln!(
            "observing: clients → {} → {upstream} (Ctrl-C ends{})",
            h.base_url,
            args.duration
                .map(|d| format!(", or after {}", humantime::format_duration(d)))
                .unwrap_or_default()
        );
        match args.duration {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {},
                    _ = cancel.cancelled() => {},
                }
            }
            None => cancel.cancelled().await,
        }
        Ok(h.finish(args.provisioning.into()).await)
    });
    match obs {
        Ok(mut o) => {
            // A signal before the --duration is over cut the observation short.
            if let (Some(d), Some((signal, at)), Some(code)) =
                (args.duration, cancel.cause(), signals.exit_code())
                && at.saturating_duration_since(started) < d
            {
                o.report.interrupted = Some(gws_conform::report::Interruption {
                    signal,
                    not_started: None,
                    after_ms: at.saturating_duration_since(started).as_millis() as u64,
                });
                o.report.overall = gws_conform::report::Overall::Interrupted;
                o.report.exit_code = code;
            }
            finish(&args, o)
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

fn finish(args: &ObserveArgs, obs: Observation) -> i32 {
    match write_observation(&args.reports, &obs, args.har_out.as_deref()) {
        Ok(dir) => {
            print_outcome(&obs, &dir);
            obs.report.exit_code
        }
        Err(e) => {
            eprintln!("error: writing the reports: {e}");
            exit::HARNESS
        }
    }
}
