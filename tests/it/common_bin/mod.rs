//! Helpers for the tests that drive the `gws-conform` binary as a user does: temporary
//! folders, a `serve` child on a free port, the run folder a run wrote.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_gws-conform");

/// A fresh, empty temporary folder for this test process.
///
/// Each name may be asked for once per test process: two tests sharing a folder delete
/// each other's files when they run in parallel, so a second ask panics naming it.
pub fn tmpdir(name: &str) -> PathBuf {
    static NAMES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    {
        let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            !names.iter().any(|n| n == name),
            "two tests share tmpdir({name:?}): give each its own name"
        );
        names.push(name.to_string());
    }
    let d = std::env::temp_dir().join(format!("gws-conform-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `gws-conform serve` child on a free port; killed on drop.
pub struct Served {
    child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gws-conform serve ARGS` and reads its base URL from the first stdout line.
pub fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "the first line is the URL: {url:?}"
    );
    Served { child, url }
}

/// The one run folder under `reports`.
pub fn run_dir(reports: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one run folder in {}", reports.display());
    dirs.pop().unwrap()
}
