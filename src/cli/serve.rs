//! `gws-conform serve`: the embedded reference server on its own.

use std::io::Write;

use super::common::{Threads, parse_serve_agents, parse_serve_duration, runtime};
use gws_conform::exit;
use gws_conform::server::{
    ServerConfig, StartError, TranscriptForm, Variations, faults, start, variations,
};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to bind (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0", env = "GWS_SERVE_BIND")]
    pub bind: String,
    /// Agents as `user:password` pairs separated by commas
    /// (default agent1:agent1-pass,agent2:agent2-pass,agent3:agent3-pass).
    #[arg(long, env = "GWS_SERVE_AGENTS")]
    pub agents: Option<String>,
    /// Do not enforce CSRF tokens on REST POST/PUT/DELETE.
    #[arg(long, env = "GWS_SERVE_NO_CSRF")]
    pub no_csrf: bool,
    /// Run with one fault from the catalogue (see --list-faults).
    #[arg(long, env = "GWS_SERVE_FAULT")]
    pub fault: Option<String>,
    /// List the fault catalogue and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// Behave in one of the legitimate ways a conformant deployment may (see
    /// --list-variations); repeatable, or comma-separated; combinable with a fault.
    #[arg(long = "variation", env = "GWS_SERVE_VARIATION", value_delimiter = ',')]
    pub variations: Vec<String>,
    /// List the variation catalogue and exit.
    #[arg(long)]
    pub list_variations: bool,
    /// The ContactCenterId header the customer API expects.
    #[arg(
        long,
        default_value = "gws-conform",
        env = "GWS_SERVE_CONTACT_CENTER_ID"
    )]
    pub contact_center_id: String,
    /// At most N open chats (Invited, Chatting, LeftChat) per agent; more customers wait
    /// in the queue, and provider-state `chat offered` beyond it answers 409 (default:
    /// unlimited).
    #[arg(long, env = "GWS_SERVE_CAPACITY", value_parser = clap::value_parser!(u32).range(1..))]
    pub capacity: Option<u32>,
    /// Delay every HTTP answer this long, like a remote deployment (e.g. `150ms`).
    #[arg(long, env = "GWS_SERVE_LATENCY", value_parser = parse_serve_duration)]
    pub latency: Option<std::time::Duration>,
    /// Customers in open chats start/stop typing at this interval (e.g. `2s`); the agent
    /// gets TypingStarted/TypingStopped notifications (default: they never type).
    #[arg(long, env = "GWS_SERVE_TYPING", value_parser = parse_serve_duration)]
    pub typing: Option<std::time::Duration>,
    /// Form of the provider-state inspect `customerTranscript` entries: `plain`
    /// (`from: "Agent"|"Customer"`) or `gws` (`from: {nickname, participantId, type}`).
    #[arg(long, env = "GWS_SERVE_TRANSCRIPT_FORM", default_value = "plain")]
    pub transcript_form: TranscriptForm,
}

/// Runs `serve`; returns the process exit code.
pub fn main(args: ServeArgs) -> i32 {
    if args.list_faults {
        for f in faults() {
            println!(
                "{}\t{}\t{}",
                f.name,
                f.expect
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                f.description
            );
        }
        return exit::CONFORMANT;
    }
    if args.list_variations {
        for v in variations() {
            println!("{}\t{}", v.name, v.description);
        }
        return exit::CONFORMANT;
    }
    if std::net::ToSocketAddrs::to_socket_addrs(args.bind.as_str()).is_err() {
        eprintln!(
            "serve: --bind {:?} is not an address like 127.0.0.1:8080",
            args.bind
        );
        return exit::USAGE;
    }
    let mut cfg = ServerConfig::default();
    if let Some(a) = &args.agents {
        match parse_serve_agents(a) {
            Ok(v) => cfg.agents = v,
            Err(e) => {
                eprintln!("serve: {e}");
                return exit::USAGE;
            }
        }
    }
    cfg.csrf = !args.no_csrf;
    match Variations::from_names(&args.variations) {
        Ok(v) => cfg.variations = v,
        Err(e) => {
            eprintln!("serve: {e}");
            return exit::USAGE;
        }
    }
    cfg.fault = args.fault.clone();
    cfg.contact_center_id = args.contact_center_id.clone();
    cfg.capacity = args.capacity.map(|n| n as usize);
    cfg.latency = args.latency.unwrap_or_default();
    cfg.typing = args.typing;
    cfg.transcript_form = args.transcript_form;
    let rt = match runtime(Threads::PerCore, "serve") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let cfg_variations = cfg.variations;
    rt.block_on(async move {
        let server = match start(cfg, &args.bind).await {
            Ok(s) => s,
            Err(e @ StartError::Bind { .. }) => {
                eprintln!("serve: {e}");
                return exit::HARNESS;
            }
            Err(e) => {
                eprintln!("serve: {e}");
                return exit::USAGE;
            }
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", server.base_url);
            let _ = out.flush();
        }
        if let Some(w) = bind_warning(server.addr, &server.base_url) {
            eprintln!("{w}");
        }
        if let Some(f) = &args.fault {
            eprintln!("serve: running with fault {f:?}");
        }
        if !cfg_variations.is_empty() {
            eprintln!("serve: running with variations {cfg_variations}");
        }
        wait_for_signal().await;
        server.shutdown().await;
        exit::CONFORMANT
    })
}

/// The stderr warning for a bind that is not loopback-only (`None` for loopback): where
/// the server listens, the URL printed, and which endpoints take no authentication.
pub fn bind_warning(addr: std::net::SocketAddr, base_url: &str) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    let scope = if addr.ip().is_unspecified() {
        format!(
            "all interfaces ({addr}); this host reaches it at {base_url}, other hosts at this host's addresses, port {}",
            addr.port()
        )
    } else {
        format!("{addr} ({base_url})")
    };
    Some(format!(
        "serve: WARNING: listening on {scope}, not loopback only. The customer chat API \
         /api/v2/chats and /conformance/provider-state take NO authentication: anyone who \
         can reach this port can create, read and end chats. Bind 127.0.0.1 unless that is \
         intended."
    ))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_binds_warn_and_name_the_open_endpoints() {
        let lo: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(bind_warning(lo, "http://127.0.0.1:8080"), None);
        let any: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let w = bind_warning(any, "http://127.0.0.1:8080").unwrap();
        for needle in [
            "0.0.0.0:8080",
            "/api/v2/chats",
            "/conformance/provider-state",
        ] {
            assert!(w.contains(needle), "{needle} missing: {w}");
        }
    }

    #[test]
    fn transcript_form_parses() {
        assert_eq!("gws".parse(), Ok(TranscriptForm::Gws));
        assert_eq!("Plain".parse(), Ok(TranscriptForm::Plain));
        assert!("xml".parse::<TranscriptForm>().is_err());
    }
}
