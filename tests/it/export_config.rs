//! `gws-conform.toml`, `--config`, `GWS_CONFIG` and `completions`, through the binary.
//! Precedence is read from `run --help`, which shows each variable's current value.

use std::path::Path;
use std::process::{Command, Output};

fn gws(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gws-conform"));
    c.current_dir(dir)
        .args(args)
        .env_remove("GWS_CONFIG")
        .env_remove("GWS_CASES");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run gws-conform")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gws-export-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn file_then_env_then_flag() {
    let d = tempdir("prec");
    std::fs::write(d.join("gws-conform.toml"), "cases = 3\nseed = 9\n").unwrap();
    // File over default.
    let h = text(&gws(&d, &["run", "--help"], &[]));
    assert!(h.contains("GWS_CASES=3") && h.contains("GWS_SEED=9"), "{h}");
    assert!(
        h.contains("Precedence: flag > environment > file > default"),
        "{h}"
    );
    // Environment over file.
    let h = text(&gws(&d, &["run", "--help"], &[("GWS_CASES", "7")]));
    assert!(
        h.contains("GWS_CASES=7") && !h.contains("GWS_CASES=3"),
        "{h}"
    );
    // --config FILE over ./gws-conform.toml, and GWS_CONFIG.
    std::fs::write(d.join("other.toml"), "cases = 5\n").unwrap();
    let h = text(&gws(&d, &["--config", "other.toml", "run", "--help"], &[]));
    assert!(h.contains("GWS_CASES=5"), "{h}");
    let h = text(&gws(
        &d,
        &["run", "--help"],
        &[("GWS_CONFIG", "other.toml")],
    ));
    assert!(h.contains("GWS_CASES=5"), "{h}");
    // Flag over environment and file: the flag's (bad) value is the one parsed.
    let o = gws(&d, &["run", "--cases", "x"], &[("GWS_CASES", "7")]);
    let _ = std::fs::remove_dir_all(&d);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("invalid value 'x'"), "{}", text(&o));
}

#[test]
fn unknown_key_and_secrets_are_usage_errors() {
    let d = tempdir("bad");
    std::fs::write(d.join("bad.toml"), "tagret = \"x\"\n").unwrap();
    let o = gws(&d, &["--config", "bad.toml", "run"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(t.contains("bad.toml") && t.contains("\"tagret\""), "{t}");
    std::fs::write(d.join("gws-conform.toml"), "agent = \"u:secret-pw\"\n").unwrap();
    let o = gws(&d, &["run"], &[]);
    let t = text(&o);
    let _ = std::fs::remove_dir_all(&d);
    assert_eq!(o.status.code(), Some(2));
    assert!(t.contains("GWS_AGENTS") && !t.contains("secret-pw"), "{t}");
}

#[test]
fn completions_for_each_shell() {
    let d = std::env::temp_dir();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef gws-conform"),
        ("fish", "complete -c gws-conform"),
    ] {
        let o = gws(&d, &["completions", shell], &[]);
        assert!(o.status.success(), "{shell}");
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(t.contains(marker) && t.contains("export"), "{shell}: {t}");
    }
    assert_eq!(
        gws(&d, &["completions", "tcsh"], &[]).status.code(),
        Some(2)
    );
}
