//! `gws-conform run` end to end, as a user runs it: exit codes (SPEC §5), the report
//! folder, hostile targets, and that no secret reaches any output.

use crate::common_bin;

use common_bin::{BIN, run_dir, serve, tmpdir};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") {
            c.env_remove(k);
        }
    }
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("runs the binary")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["run", "--shard", "5/4"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard"));
    let out = run(&["run", "--target", "http://127.0.0.1:9"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--agent"));
    let out = run(&["run", "--only", "CMP-99"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["run", "--fault", "no-such-fault", "--cases", "0"], &[]);
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn an_unreachable_target_is_a_harness_error_exit_3() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reports = tmpdir("down");
    let out = run(
        &[
            "run",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--reports",
            reports.to_str().unwrap(),
        ],
        &[("GWS_AGENTS", "agent1:pw-unreachable")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ERROR"), "{stdout}");
    let report = std::fs::read_to_string(run_dir(&reports).join("report.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["overall"], "error");
    assert!(
        v["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verdict"] != "fail"),
        "a harness error is never a target Fail"
    );
}

/// A hostile target: answers every connection with garbage and closes.
fn garbage_server() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(false).unwrap();
    let h = std::thread::spawn(move || {
        for s in l.incoming().take(64) {
            let Ok(mut s) = s else { break };
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"\x00\xffNOT HTTP AT ALL\r\n\r\n{{{{");
        }
    });
    (port, h)
}

#[test]
fn a_target_answering_garbage_is_a_harness_error_not_a_hang() {
    let (port, _h) = garbage_server();
    let reports = tmpdir("garbage");
    let out = run(
        &[
            "run",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--request-timeout",
            "2s",
            "--reports",
            reports.to_str().unwrap(),
        ],
        &[("GWS_AGENTS", "agent1:pw-garbage")],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A hostile target: accepts connections and never answers.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().take(16) {
            let Ok(s) = s else { break };
            held.push(s); // keep it open, say nothing
        }
    });
    (port, h)
}

#[test]
fn a_target_that_never_answers_is_a_harness_error_after_the_request_timeout() {
    let (port, _h) = silent_server();
    let reports = tmpdir("silent");
    let out = run(
        &[
            "run",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--request-timeout",
            "1s",
            "--reports",
            reports.to_str().unwrap(),
        ],
        &[("GWS_AGENTS", "agent1:pw-silent")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The cause comes first on stderr and once in the table ("not run: …").
    let errors = stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .chain(stdout.lines().filter(|l| l.contains("not run:")))
        .collect::<Vec<_>>();
    assert!(
        errors.iter().any(|l| l.contains("agent1")),
        "the error names what broke: {stdout}"
    );
}

#[test]
fn the_embedded_server_is_certified_and_a_fault_is_caught_with_its_requirement() {
    let reports = tmpdir("embedded");
    let out = run(
        &[
            "run",
            "--seed",
            "7",
            "--cases",
            "2",
            "--reports",
            reports.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CONFORMANT"), "{stdout}");
    let folder = run_dir(&reports);
    for f in ["report.json", "junit.xml", "report.html"] {
        assert!(folder.join(f).is_file(), "{f} written");
    }

    let reports = tmpdir("fault");
    let out = run(
        &[
            "run",
            "--seed",
            "7",
            "--cases",
            "0",
            "--only",
            "CMP-04",
            "--fault",
            "complete-text-after-status",
            "--quiet-window",
            "300ms",
            "--reports",
            reports.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("CMP-04")).unwrap();
    assert!(line.contains("fail"), "{line}");
    let folder = run_dir(&reports);
    let cases = folder.join("cases");
    let n = std::fs::read_dir(&cases).map(|d| d.count()).unwrap_or(0);
    assert!(n >= 2, "a case file and a curl script per failing case");
}

#[test]
fn no_secret_reaches_any_output() {
    let pw1 = "Pw1-s3cret-Kx9";
    let pw2 = "Pw2-s3cret-Qz7";
    let agents = format!("agent1:{pw1},agent2:{pw2}");
    // A faulty server so that failing cases, case files and curl scripts are written too.
    let srv = serve(&["--agents", &agents, "--fault", "complete-text-after-status"]);
    let reports = tmpdir("secrets");
    let snaps = tmpdir("secrets-snap");
    let out = run(
        &[
            "run",
            "--target",
            &srv.url,
            "--seed",
            "3",
            "--cases",
            "1",
            "--only",
            "CMP-04,SES-01,SES-02",
            "--quiet-window",
            "300ms",
            "--shrink-budget",
            "8",
            "--reports",
            reports.to_str().unwrap(),
            "--snapshot-dir",
            snaps.to_str().unwrap(),
        ],
        &[("GWS_AGENTS", &agents)],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secrets = [
        pw1.to_string(),
        pw2.to_string(),
        b64(&format!("agent1:{pw1}")),
        b64(&format!("agent2:{pw2}")),
    ];
    let mut texts = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        ),
    ];
    let mut files = files_under(&reports);
    files.extend(files_under(&snaps));
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        texts.push((
            f.display().to_string(),
            std::fs::read_to_string(&f).unwrap_or_default(),
        ));
    }
    for (name, text) in &texts {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{name} contains a secret");
        }
        // Session cookies and CSRF tokens: only ever as placeholders.
        for marker in ["JSESSIONID=", "X-CSRF-TOKEN: ", "\"X-CSRF-TOKEN\",\""] {
            for (i, _) in text.match_indices(marker) {
                let rest = &text[i + marker.len()..];
                assert!(
                    rest.starts_with("<redacted>")
                        || rest.starts_with('$')
                        || rest.starts_with("\"$"),
                    "{name}: {marker} followed by {:?}",
                    &rest[..rest.len().min(30)]
                );
            }
        }
    }
}

#[test]
fn an_unknown_fault_is_a_usage_error_that_writes_nothing() {
    let dir = tmpdir("unknown-fault");
    let reports = dir.join("reports");
    let out = run(
        &[
            "run",
            "--fault",
            "no-such-fault",
            "--reports",
            reports.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-fault"));
    assert!(
        !reports.exists(),
        "a usage error wrote {}",
        reports.display()
    );
}

#[test]
fn an_unwritable_reports_folder_is_refused_before_the_run() {
    let dir = tmpdir("unwritable-reports");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let reports = file.join("reports");
    let out = run(&["run", "--reports", reports.to_str().unwrap()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--reports"), "{err}");
    // Refused before the run: no case ran (no seed line is printed before the check).
    assert!(!err.contains("re-run with --seed"), "{err}");
}
