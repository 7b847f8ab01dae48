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
