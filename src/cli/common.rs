//! What the subcommands share: parsing durations and agents from the command line, the
//! async runtime, and the command-line names of the provisioning modes. One home each:
//! `run`, `replay`, `serve`, `selftest` and `observe` call these.

use gws_conform::client::{Credentials, ProvisioningKind};
use gws_conform::exit;
use gws_conform::runner::Cancel;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// Parses `5s`, `300ms`, … for `run`, `replay`, `selftest` and `observe`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration (e.g. 5s, 300ms): {e}"))
}

/// Parses a duration like `150ms`, `2s` or `1m` for `serve` (surrounding blanks allowed).
pub fn parse_serve_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration like 150ms or 2s: {e}"))
}

/// Parses the `USER:PASSWORD` entries of `--agent`/`GWS_AGENTS`. Errors name the entry
/// by position only: a malformed entry may be a password and must not be echoed.
pub fn parse_agents(entries: &[String]) -> Result<Vec<Credentials>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, s)| match s.split_once(':') {
            Some((u, p)) if !u.is_empty() && !p.is_empty() => Ok(Credentials {
                user: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(format!(
                "agent entry {} is not USER:PASSWORD (both non-empty)",
                i + 1
            )),
        })
        .collect()
}

/// Parses `serve --agents u1:p1,u2:p2`; the error names the bad entry (by position and
/// user, never its password).
pub fn parse_serve_agents(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, item) in s.split(',').enumerate() {
        let item = item.trim();
        match item.split_once(':') {
            Some((u, p)) if !u.is_empty() && !p.is_empty() => {
                if out.iter().any(|(x, _): &(String, String)| x == u) {
                    return Err(format!("--agents: user {u:?} is given twice"));
                }
                out.push((u.to_string(), p.to_string()));
            }
            // Never echo the entry: what follows a ':' is a password, and an entry
            // without one may be a password typed in the wrong place.
            Some((u, _)) if !u.is_empty() => {
                return Err(format!(
                    "--agents: entry {} (user {u:?}) has an empty password",
                    i + 1
                ));
            }
            _ => {
                return Err(format!(
                    "--agents: entry {} is not user:password (a non-empty user, ':', a non-empty password)",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

/// How many threads a subcommand's async runtime has.
#[derive(Debug, Clone, Copy)]
pub enum Threads {
    /// One thread. The harness (`run`, `replay`) runs on one: its cases are one set of
    /// futures polled together and its work is mostly waiting, so a second thread only
    /// adds hand-overs between threads (a fifth of its CPU, measured in issue 13) and
    /// never speeds a verdict. The embedded server has a runtime of its own.
    One,
    /// A thread per core (`serve`, `selftest`, `observe`).
    PerCore,
}

/// The async runtime of a subcommand; on failure prints `{prefix}: cannot start the
/// async runtime: …` and gives the exit code (harness error).
pub fn runtime(threads: Threads, prefix: &str) -> Result<tokio::runtime::Runtime, i32> {
    let mut b = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::PerCore => tokio::runtime::Builder::new_multi_thread(),
    };
    b.enable_all().build().map_err(|e| {
        eprintln!("{prefix}: cannot start the async runtime: {e}");
        gws_conform::exit::HARNESS
    })
}

/// The command line's names of the provisioning modes (SPEC §1.5), with their help;
/// the library's type is [`ProvisioningKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// The GWS Customer Chat API of the target itself.
    CustomerApi,
    /// The vendor's provider-state URL (the default: the embedded server's mode).
    ProviderState,
}

impl From<ModeArg> for ProvisioningKind {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::CustomerApi => ProvisioningKind::CustomerApi,
            ModeArg::ProviderState => ProvisioningKind::ProviderState,
        }
    }
}

/// SIGINT and SIGTERM, listened to for the length of a run: the first sets the run's
/// [`Cancel`] (no new case starts; what is in flight ends within the request timeout; the
/// reports are written), a second one exits at once. Stops listening when dropped.
pub struct SignalWatch {
    code: Arc<AtomicI32>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SignalWatch {
    /// Starts listening now (before the caller prints its first line: whoever waits for
    /// that line may signal at once); the watch runs on `rt`.
    pub fn start(rt: &tokio::runtime::Runtime, cancel: Cancel) -> SignalWatch {
        let code = Arc::new(AtomicI32::new(0));
        let _guard = rt.enter();
        let task = listen().map(|streams| rt.spawn(watch(streams, cancel, code.clone())));
        SignalWatch { code, task }
    }

    /// The exit code of the signal that stopped the run (130 SIGINT, 143 SIGTERM).
    pub fn exit_code(&self) -> Option<i32> {
        match self.code.load(Ordering::SeqCst) {
            0 => None,
            c => Some(c),
        }
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

#[cfg(unix)]
type Streams = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);
#[cfg(not(unix))]
type Streams = ();

#[cfg(unix)]
fn listen() -> Option<Streams> {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => Some((i, t)),
        _ => {
            eprintln!(
                "warning: cannot listen for SIGINT/SIGTERM: a signal ends the run without a report"
            );
            None
        }
    }
}

#[cfg(not(unix))]
fn listen() -> Option<Streams> {
    Some(())
}

/// The first signal sets `cancel` and records its exit code in `code`; a second one
/// exits at once.
async fn watch(mut streams: Streams, cancel: Cancel, code: Arc<AtomicI32>) {
    loop {
        let Some((name, c)) = next_signal(&mut streams).await else {
            return;
        };
        if cancel.is_cancelled() {
            eprintln!("{name} again: exiting now, no report written");
            std::process::exit(c);
        }
        code.store(c, Ordering::SeqCst);
        cancel.cancel_by(name);
        eprintln!(
            "{name}: stopping: no new case starts; finishing requests in flight, closing chats and writing the reports ({name} again exits at once)"
        );
    }
}

/// The next signal's name and exit code.
#[cfg(unix)]
async fn next_signal(streams: &mut Streams) -> Option<(&'static str, i32)> {
    let (int, term) = streams;
    Some(tokio::select! {
        _ = int.recv() => ("SIGINT", exit::SIGINT),
        _ = term.recv() => ("SIGTERM", exit::SIGTERM),
    })
}

/// The next signal's name and exit code.
#[cfg(not(unix))]
async fn next_signal(_: &mut Streams) -> Option<(&'static str, i32)> {
    tokio::signal::ctrl_c().await.ok()?;
    Some(("SIGINT", exit::SIGINT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_agents_parse_and_errors_name_the_entry() {
        assert_eq!(
            parse_serve_agents("a:b, c:d").unwrap(),
            vec![("a".into(), "b".into()), ("c".into(), "d".into())]
        );
        let e = parse_serve_agents("a:b,oops").unwrap_err();
        assert!(e.contains("entry 2"), "{e}");
        assert!(parse_serve_agents("a:b,a:c").unwrap_err().contains("twice"));
        let e = parse_serve_agents("a:b,a2:").unwrap_err();
        assert!(e.contains("entry 2") && e.contains("\"a2\""), "{e}");
        // A bad entry is never echoed: it may hold a password.
        for bad in ["a:b,s3cret-pw", "a:b,:s3cret-pw", "s3cret-pw"] {
            let e = parse_serve_agents(bad).unwrap_err();
            assert!(!e.contains("s3cret"), "{bad}: {e}");
        }
    }

    #[test]
    fn mode_names_are_the_library_names() {
        use clap::ValueEnum;
        for m in ModeArg::value_variants() {
            let name = m.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(ProvisioningKind::from(*m).name(), name);
        }
    }
}
