//! `gws-conform observe --har`: judging recorded sessions offline, with the order of
//! events taken from the entries' intervals (fixtures/har, made by generate.py).

use gws_conform::check::{CheckConfig, Verdict};
use gws_conform::observe;
use gws_conform::report::RunReport;
use gws_conform::spec::ReqId;
use std::path::Path;

fn judge(name: &str) -> observe::Observation {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/har")
        .join(name);
    observe::judge_har(
        &p,
        CheckConfig::default(),
        1 << 30,
        gws_conform::client::ProvisioningKind::CustomerApi,
    )
    .unwrap()
}

fn row(r: &RunReport, id: ReqId) -> (Verdict, String) {
    let q = r.requirements.iter().find(|q| q.id == id.as_str()).unwrap();
    (q.verdict, q.reason.clone())
}

#[test]
fn text_after_completed_in_a_later_connect_is_a_cmp04_fail() {
    let o = judge("cmp04-reordered.har");
    assert_eq!(row(&o.report, ReqId::Cmp04).0, Verdict::Fail);
    assert_eq!(row(&o.report, ReqId::Cmp01).0, Verdict::Pass);
    assert_eq!(row(&o.report, ReqId::Cmp02).0, Verdict::Pass);
    assert!(
        o.lines
            .iter()
            .any(|l| l.starts_with("VIOLATION CMP-04 chat X1: expected ")),
        "{:?}",
        o.lines
    );
    assert_eq!(o.report.cases.len(), 1);
    assert_eq!(o.report.target, "http://gws.example");
}

#[test]
fn overlapping_connects_make_the_order_indeterminate_never_a_fail() {
    let o = judge("cmp04-overlap.har");
    let (v, reason) = row(&o.report, ReqId::Cmp04);
    assert_eq!(v, Verdict::Skip, "{reason}");
    assert!(reason.starts_with("indeterminate"), "{reason}");
    assert!(
        o.report
            .requirements
            .iter()
            .all(|q| q.verdict != Verdict::Fail),
        "{:?}",
        o.report.requirements
    );
    assert!(o.lines.is_empty(), "{:?}", o.lines);
    assert_eq!(row(&o.report, ReqId::Cmp01).0, Verdict::Pass);
}

#[test]
fn a_har_that_is_not_json_is_refused_with_its_name_and_position() {
    let dir = std::env::temp_dir().join(format!("gws-observe-har-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("broken.har");
    std::fs::write(&p, "{\"log\": [").unwrap();
    let e = observe::judge_har(
        &p,
        CheckConfig::default(),
        1 << 30,
        gws_conform::client::ProvisioningKind::CustomerApi,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("broken.har") && e.contains("line 1"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
