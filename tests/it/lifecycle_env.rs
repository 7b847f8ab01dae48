//! Environment errors come first and once: the first `error:` line on stderr names the
//! cause and what to try; the requirement table says "not run: <cause>" once.

use crate::common_bin;

use common_bin::{BIN, serve, tmpdir};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], agents: &str) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") {
            c.env_remove(k);
        }
    }
    c.env("GWS_AGENTS", agents);
    c.output().expect("runs the binary")
}

fn check_once(out: &Output, hint: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{err}\n{stdout}");
    let first_error = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(first_error.contains(hint), "{first_error}");
    assert_eq!(stdout.matches("not run:").count(), 1, "{stdout}");
    assert!(
        stdout.lines().filter(|l| l.contains(" error ")).count() <= 3,
        "no row per requirement: {stdout}"
    );
}

#[test]
fn an_unreachable_target_is_named_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reports = tmpdir("env-down");
    let out = run(
        &[
            "run",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--reports",
            reports.to_str().unwrap(),
        ],
        "agent1:pw-unreachable",
    );
    check_once(&out, "check --target");
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn a_wrong_password_is_named_once() {
    let srv = serve(&[]);
    let reports = tmpdir("env-401");
    let out = run(
        &[
            "run",
            "--target",
            &srv.url,
            "--reports",
            reports.to_str().unwrap(),
        ],
        "agent1:not-the-password",
    );
    check_once(&out, "check GWS_AGENTS");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("not-the-password"), "{err}");
    let _ = std::fs::remove_dir_all(&reports);
}
