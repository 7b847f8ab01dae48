//! `gws-conform validate`, run as a binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gws-conform"))
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("schema_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    // From a directory without schemas/: the embedded ones must be used.
    let out = bin()
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn valid_files_exit_zero() {
    let d = tmp("valid");
    let a = write(
        &d,
        "a.json",
        r#"{"operationName":"Complete","text":"bye","treatAs":"System"}"#,
    );
    let (code, out, _) = run(&[
        "validate",
        "--schema",
        "complete-request",
        a.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("a.json: valid"), "{out}");
}

#[test]
fn invalid_file_prints_path_message_and_schema_path_and_exits_one() {
    let d = tmp("invalid");
    let ok = write(&d, "ok.json", r#"{"operationName":"Complete"}"#);
    let bad = write(
        &d,
        "bad.json",
        r#"{"operationName":"Complete","treatAs":"Loud"}"#,
    );
    let (code, out, _) = run(&[
        "validate",
        "--schema",
        "complete-request",
        ok.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    let bad_s = bad.display().to_string();
    assert!(
        out.contains(&format!(
            "{bad_s}: /treatAs: \"Loud\" is not one of \"Normal\" or \"System\" (/properties/treatAs/$ref/enum)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{bad_s}: /: \"text\" is a required property (/dependentRequired)"
        )),
        "{out}"
    );
}

#[test]
fn not_json_gives_line_and_column() {
    let d = tmp("notjson");
    let f = write(&d, "n.json", "{\n  \"operationName\": \"Complete\",\n}\n");
    let (code, out, _) = run(&[
        "validate",
        "--schema",
        "complete-request",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        format!("{}:3:1: not valid JSON: trailing comma", f.display())
    );
}

#[test]
fn published_notification_sample_is_reported_not_json() {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/doc-samples/complete-notification.published.txt");
    let (code, out, _) = run(&["validate", "--schema", "notification", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains(":8:9: not valid JSON: trailing comma"),
        "{out}"
    );
}

#[test]
fn unreadable_file_is_named_and_is_a_usage_error() {
    let d = tmp("unreadable");
    let missing = d.join("missing.json");
    let (code, _, err) = run(&[
        "validate",
        "--schema",
        "response",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{}: cannot read", missing.display())),
        "{err}"
    );
}

#[test]
fn unknown_schema_lists_the_names() {
    let d = tmp("unknown");
    let f = write(&d, "a.json", "{}");
    let (code, _, err) = run(&["validate", "--schema", "complete", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown schema \"complete\""), "{err}");
    assert!(
        err.contains("complete-request") && err.contains("notification"),
        "{err}"
    );
}

#[test]
fn schemas_dir_is_used_and_its_errors_name_file_and_pointer() {
    let d = tmp("dir");
    let schemas = d.join("s");
    std::fs::create_dir_all(&schemas).unwrap();
    write(
        &schemas,
        "thing.schema.json",
        r#"{"$schema":"https://json-schema.org/draft/2020-12/schema",
            "$id":"https://gws-conform.local/schemas/thing.schema.json",
            "type":"object","properties":{"n":{"type":"integer","maximum":3}}}"#,
    );
    let f = write(&d, "a.json", r#"{"n":4}"#);
    let (code, out, err) = run(&[
        "validate",
        "--schemas-dir",
        schemas.to_str().unwrap(),
        "--schema",
        "thing",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(": /n: 4 is greater than the maximum of 3 (/properties/n/maximum)"),
        "{out}"
    );

    write(
        &schemas,
        "broken.schema.json",
        r#"{"$schema":"https://json-schema.org/draft/2020-12/schema",
            "$id":"https://gws-conform.local/schemas/broken.schema.json",
            "type":"object","properties":{"foo":{"type":"string","uniqueItems":true}}}"#,
    );
    let (code, _, err) = run(&[
        "validate",
        "--schemas-dir",
        schemas.to_str().unwrap(),
        "--schema",
        "thing",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("broken.schema.json: /properties/foo/uniqueItems: keyword `uniqueItems` is not supported"),
        "{err}"
    );
}

#[test]
fn usage_without_files_exits_two() {
    let (code, _, _) = run(&["validate", "--schema", "response"]);
    assert_eq!(code, 2);
}
