//! `gws-conform serve` as a process: base URL on the first stdout line, serves, stops on
//! SIGTERM; bad flags exit 2 with a clear message.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gws-conform"))
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    // A bad entry is named by its position (and user), never echoed: it may be a password.
    let out = bin()
        .args(["serve", "--agents", "alice:pw,s3cret-pw"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--agents") && err.contains("entry 2"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    let out = bin()
        .args(["serve", "--agents", "alice:"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("alice") && err.contains("empty password"),
        "{err}"
    );
    let out = bin().args(["serve", "--fault", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope") && err.contains("non-json-500"),
        "{err}"
    );
    let out = bin()
        .args(["serve"])
        .env("GWS_SERVE_FAULT", "also-nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["serve", "--bind", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
}

#[test]
fn list_faults_prints_the_catalogue() {
    let out = bin().args(["serve", "--list-faults"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), gws_conform::server::faults().len());
    assert!(text.contains("complete-status-late\tCMP-02\t"));
}

#[test]
fn serve_prints_base_url_first_and_stops_on_sigterm() {
    let mut child = bin()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--agents",
            "u1:p1",
            "--no-csrf",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = rt.block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{base}/api/v2/me"))
            .basic_auth("u1", Some("p1"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"userName\":\"u1\""), "{body}");
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Await the exit event; the bound only keeps a broken server from hanging the test.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let st = child.wait();
        let _ = tx.send((st, child));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok((st, _)) => assert_eq!(st.unwrap().code(), Some(0)),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("serve did not stop on SIGTERM");
        }
    }
}
