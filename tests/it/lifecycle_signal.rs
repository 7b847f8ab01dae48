//! SPEC §5: a run stopped by SIGTERM writes a partial report (what was judged, the rest
//! Error "interrupted") and exits 143.

use crate::common_bin;

use common_bin::{BIN, run_dir, tmpdir};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[cfg(unix)]
#[test]
fn sigterm_writes_a_partial_report_and_exits_143() {
    let reports = tmpdir("sigterm");
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") {
            c.env_remove(k);
        }
    }
    let mut child = c
        .args([
            "run",
            "--cases",
            "200",
            "--seed",
            "7",
            "--quiet-window",
            "100ms",
            "--reports",
            reports.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts run");
    let pid = child.id().to_string();

    // Hang guard: whatever happens, the child is gone after 60 s.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let guard_pid = pid.clone();
    let guard = std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = Command::new("kill").args(["-KILL", &guard_pid]).status();
        }
    });

    // Read stderr on a thread (the pipe must never fill); signal once the run printed
    // its seed line and the first case line.
    let (line_tx, line_rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            all.push_str(&line);
            all.push('\n');
            let _ = line_tx.send(line);
        }
        all
    });
    let first = line_rx.recv().expect("a first line");
    assert!(first.contains("seed 7"), "{first}");
    let _ = line_rx.recv();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("runs kill");
    assert!(sent.success());

    let status = child.wait().unwrap();
    let _ = done_tx.send(());
    guard.join().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(143), "stderr:\n{err}");
    assert!(err.contains("SIGTERM"), "{err}");

    let dir = run_dir(&reports);
    let report = gws_conform::report::load_report(&dir.join("report.json"))
        .expect("report.json exists and loads");
    let interrupted = report
        .cases
        .iter()
        .flat_map(|c| c.findings.iter())
        .filter(|f| {
            f.verdict == gws_conform::check::Verdict::Error && f.reason.contains("interrupted")
        })
        .count();
    assert!(interrupted > 0, "Error findings saying interrupted");
    assert!(
        report.errors.iter().any(|e| e.contains("interrupted")),
        "{:?}",
        report.errors
    );
    let _ = std::fs::remove_dir_all(&reports);
}

/// SPEC §6.9: a run stopped by SIGINT leaves no chat of its own open, nor a customer of
/// its own waiting in the queue: customer-api against a target with less room (2 per
/// agent) than the harness's default bound (3), so that customers queue.
#[cfg(unix)]
#[test]
fn sigint_leaves_no_chat_of_the_run_open() {
    use gws_conform::client::Credentials;
    use gws_conform::server::{self, ServerConfig};
    let cfg = ServerConfig {
        capacity: Some(2),
        ..ServerConfig::default()
    };
    let agents: Vec<Credentials> = cfg
        .agents
        .iter()
        .map(|(u, p)| Credentials::new(u.clone(), p.clone()))
        .collect();
    let list = agents
        .iter()
        .map(|a| format!("{}:{}", a.user, a.password))
        .collect::<Vec<_>>()
        .join(",");
    let srv = server::start_dedicated(cfg, "127.0.0.1:0", 1).expect("server starts");
    let reports = tmpdir("sigint-open");
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") {
            c.env_remove(k);
        }
    }
    let mut child = c
        .env("GWS_AGENTS", &list)
        .args([
            "run",
            "--target",
            &srv.base_url,
            "--provisioning",
            "customer-api",
            "--cases",
            "200",
            "--seed",
            "7",
            "--deadline",
            "2s",
            "--quiet-window",
            "100ms",
            "--reports",
            reports.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts run");
    let pid = child.id().to_string();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let guard_pid = pid.clone();
    let guard = std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_secs(90)).is_err() {
            let _ = Command::new("kill").args(["-KILL", &guard_pid]).status();
        }
    });
    let (line_tx, line_rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            all.push_str(&line);
            all.push('\n');
            let _ = line_tx.send(line);
        }
        all
    });
    // The seed line, then a few judged cases: chats are open and customers queue.
    for _ in 0..6 {
        let _ = line_rx.recv();
    }
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("runs kill");
    assert!(sent.success());
    let status = child.wait().unwrap();
    let _ = done_tx.send(());
    guard.join().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "stderr:\n{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let open = rt.block_on(crate::runner_cleanup::open_chats(&srv.base_url, &agents));
    assert!(
        open.is_empty(),
        "chats left open after SIGINT: {}",
        serde_json::to_string(&open).unwrap()
    );
    rt.block_on(srv.shutdown());
    let _ = std::fs::remove_dir_all(&reports);
}
