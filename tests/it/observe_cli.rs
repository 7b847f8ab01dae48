//! `gws-conform observe` from the command line: offline over a HAR fixture, usage
//! errors, and the warning for a non-loopback listen address.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gws-conform"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gws-observe-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn har_mode_prints_the_violation_and_writes_a_replayable_case() {
    let dir = temp_dir("har");
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/har/cmp04-reordered.har");
    let out = bin()
        .args(["observe", "--har"])
        .arg(&har)
        .arg("--reports")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("VIOLATION CMP-04 chat X1: expected ")),
        "{stdout}"
    );
    // CMP-04 is a SHOULD: not blocking, as in `run`.
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let run = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(run.join("cases/chat-X1.json").is_file());
    assert!(run.join("cases/chat-X1.sh").is_file());
    assert!(stdout.contains("gws-conform replay "), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn observe_needs_an_upstream_or_a_har() {
    let out = bin().args(["observe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args([
            "observe",
            "--upstream",
            "not a url",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--upstream"));
}

#[test]
fn a_non_loopback_listen_address_is_warned_about() {
    let dir = temp_dir("warn");
    let out = bin()
        .args([
            "observe",
            "--upstream",
            "http://127.0.0.1:9",
            "--listen",
            "0.0.0.0:0",
            "--duration",
            "200ms",
            "--reports",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: observe listens on 0.0.0.0"),
        "{stderr}"
    );
    // Nothing observed: no verdict can be given (harness exit code).
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
