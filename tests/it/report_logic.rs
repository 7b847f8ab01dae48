//! The folding rules (requirement_table), baselines, shard merging and transcripts.

use crate::report_support;
use gws_conform::spec::ReqId;

use gws_conform::check::{Finding, Verdict};
use gws_conform::report::{self, Overall};
use report_support::*;
use std::path::Path;

fn fail(req: ReqId) -> Finding {
    Finding::fail(req, "broken", witness("x", "y", vec![]))
}

#[test]
fn every_catalogue_id_appears_and_unexercised_ones_skip() {
    let (rows, overall) = report::requirement_table(
        &[case(
            "a",
            vec![Finding::pass(ReqId::Cmp01, "ok")],
            None,
            vec![],
        )],
        false,
    );
    assert_eq!(rows.len(), gws_conform::spec::CATALOGUE.len());
    for (row, req) in rows.iter().zip(gws_conform::spec::CATALOGUE) {
        assert_eq!(row.id, req.id.as_str());
        assert_eq!(row.level, req.level);
    }
    assert_eq!(rows[0].verdict, Verdict::Pass);
    assert_eq!(rows[1].verdict, Verdict::Skip);
    assert_eq!(rows[1].reason, "not exercised");
    assert_eq!(overall, Overall::Conformant, "skips never block");
}

#[test]
fn must_fail_blocks_should_fail_blocks_only_when_strict() {
    let must = vec![case("a", vec![fail(ReqId::Cmp02)], None, vec![])];
    assert_eq!(
        report::requirement_table(&must, false).1,
        Overall::NotConformant
    );
    let should = vec![case(
        "a",
        vec![Finding::pass(ReqId::Cmp01, "ok"), fail(ReqId::Cmp04)],
        None,
        vec![],
    )];
    let (rows, o) = report::requirement_table(&should, false);
    assert_eq!(o, Overall::Conformant);
    assert_eq!(rows[3].verdict, Verdict::Fail);
    assert_eq!(rows[3].failing_cases, vec!["a".to_string()]);
    assert_eq!(
        report::requirement_table(&should, true).1,
        Overall::NotConformant
    );
}

#[test]
fn errors_on_a_must_make_the_run_an_error_unless_something_failed() {
    let e = vec![case(
        "a",
        vec![Finding::error(ReqId::Cmp05, "provisioning failed")],
        None,
        vec![],
    )];
    assert_eq!(report::requirement_table(&e, false).1, Overall::Error);
    let should_err = vec![case(
        "a",
        vec![
            Finding::error(ReqId::Cmp04, "x"),
            Finding::pass(ReqId::Cmp01, "ok"),
        ],
        None,
        vec![],
    )];
    assert_eq!(
        report::requirement_table(&should_err, false).1,
        Overall::Conformant
    );
    let both = vec![
        case("a", vec![Finding::error(ReqId::Cmp05, "x")], None, vec![]),
        case("b", vec![fail(ReqId::Cmp01)], None, vec![]),
    ];
    assert_eq!(
        report::requirement_table(&both, false).1,
        Overall::NotConformant
    );
    assert_eq!(
        report::requirement_table(&[], false).1,
        Overall::Error,
        "no case ran"
    );
}

#[test]
fn counts_and_reasons_fold_per_case() {
    let cases = vec![
        case(
            "a",
            vec![
                Finding::pass(ReqId::Cmp01, "ok"),
                Finding::pass(ReqId::Cmp01, "ok again"),
            ],
            None,
            vec![],
        ),
        case(
            "b",
            vec![
                Finding::pass(ReqId::Cmp01, "ok"),
                Finding::fail(ReqId::Cmp01, "HTTP 500", witness("200", "500", vec![])),
            ],
            None,
            vec![],
        ),
        case("c", vec![Finding::skip(ReqId::Cmp01, "n/a")], None, vec![]),
    ];
    let (rows, _) = report::requirement_table(&cases, false);
    let r = &rows[0];
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!((r.counts.pass, r.counts.fail, r.counts.skip), (1, 1, 1));
    assert_eq!(r.reason, "HTTP 500 (case b)");
    assert_eq!(r.failing_cases, vec!["b".to_string()]);
}

const TODAY: (i32, u32, u32) = (2026, 11, 25);

fn baseline(text: &str) -> Result<report::Baseline, report::ReportError> {
    report::parse_baseline(Path::new("ci/baseline.toml"), text)
}

#[test]
fn baseline_waives_a_failure_and_flags_an_unused_waiver() {
    let mut r = report_of(cases(), true); // strict: the CMP-04 SHOULD failure blocks too
    assert_eq!(r.overall, Overall::NotConformant);
    let b = baseline(
        "[[waive]]\nid = \"CMP-02\"\nreason = \"vendor bug 17\"\nexpires = \"2027-01-31\"\n\n[[waive]]\nid = \"CMP-04\"\nreason = \"ordering fix pending\"\n\n[[waive]]\nid = \"CMP-01\"\nreason = \"old\"\n",
    )
    .unwrap();
    report::apply_baseline(&mut r, &b, TODAY);
    assert_eq!(verdict_of(&r, "CMP-02"), Verdict::Waived);
    assert_eq!(verdict_of(&r, "CMP-04"), Verdict::Waived);
    let cmp02 = r.requirements.iter().find(|q| q.id == "CMP-02").unwrap();
    assert!(
        cmp02.reason.starts_with("waived: vendor bug 17"),
        "{}",
        cmp02.reason
    );
    let cmp01 = r.requirements.iter().find(|q| q.id == "CMP-01").unwrap();
    assert!(cmp01.waiver_unused && cmp01.verdict == Verdict::Pass);
    // CMP-05 still errors: a waiver does not hide a harness error.
    assert_eq!(r.overall, Overall::Error);
    assert_eq!(r.exit_code, 3);
    assert_eq!(r.config.baseline.as_deref(), Some("ci/baseline.toml"));
    // Applying it again changes nothing.
    let once = r.clone();
    report::apply_baseline(&mut r, &b, TODAY);
    assert_eq!(r, once);

    // Without the erroring case, the waived run is conformant.
    let mut r = report_of(
        cases().into_iter().filter(|c| c.id != "error-1").collect(),
        false,
    );
    assert_eq!(r.overall, Overall::NotConformant);
    report::apply_baseline(&mut r, &b, TODAY);
    assert_eq!(r.overall, Overall::Conformant);
    assert_eq!(r.exit_code, 0);
}

#[test]
fn an_expired_waiver_does_not_waive_and_fails_the_run() {
    let mut r = report_of(
        cases().into_iter().filter(|c| c.id != "error-1").collect(),
        false,
    );
    let b =
        baseline("[[waive]]\nid = \"CMP-02\"\nreason = \"vendor bug 17\"\nexpires = 2026-11-24\n")
            .unwrap();
    report::apply_baseline(&mut r, &b, TODAY);
    assert_eq!(verdict_of(&r, "CMP-02"), Verdict::Fail);
    assert_eq!(r.overall, Overall::NotConformant);
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("CMP-02") && e.contains("expired on 2026-11-24")),
        "{:?}",
        r.errors
    );
    // The last day still counts.
    let mut r = report_of(
        cases().into_iter().filter(|c| c.id != "error-1").collect(),
        false,
    );
    let b = baseline(
        "[[waive]]\nid = \"CMP-02\"\nreason = \"vendor bug 17\"\nexpires = \"2026-11-25\"\n",
    )
    .unwrap();
    report::apply_baseline(&mut r, &b, TODAY);
    assert_eq!(verdict_of(&r, "CMP-02"), Verdict::Waived);
    // An expired waiver of a passing requirement still fails the run (it must be cleaned up).
    let mut r = report_of(
        vec![case(
            "a",
            vec![Finding::pass(ReqId::Cmp01, "ok")],
            None,
            vec![],
        )],
        false,
    );
    let b =
        baseline("[[waive]]\nid = \"CMP-01\"\nreason = \"x\"\nexpires = \"2020-01-01\"\n").unwrap();
    report::apply_baseline(&mut r, &b, TODAY);
    assert_eq!(r.overall, Overall::NotConformant);
}

#[test]
fn bad_baselines_are_named_by_file_entry_and_field() {
    let cases = [
        (
            "[[waive]]\nid = \"CMP-99\"\nreason = \"x\"\n",
            &["ci/baseline.toml", "waive[1]", "`id`", "CMP-99"][..],
        ),
        (
            "[[waive]]\nid = \"CMP-01\"\nreason = \"x\"\n[[waive]]\nid = \"CMP-02\"\n",
            &["waive[2] (CMP-02)", "`reason`"],
        ),
        (
            "[[waive]]\nid = \"CMP-01\"\nreason = \"  \"\n",
            &["`reason`", "empty"],
        ),
        (
            "[[waive]]\nid = \"CMP-01\"\nreason = \"x\"\nexpires = \"2027-02-30\"\n",
            &["waive[1] (CMP-01)", "`expires`", "2027-02-30"],
        ),
        (
            "[[waive]]\nid = \"CMP-01\"\nreason = \"x\"\nexpires = 20270101\n",
            &["`expires`"],
        ),
        (
            "[[waive]]\nid = \"CMP-01\"\nreason = \"x\"\nexpire = \"2027-01-01\"\n",
            &["unknown field `expire`"],
        ),
        ("[[waive]]\nreason = \"x\"\n", &["`id` is missing"]),
        (
            "[[waive]]\nid = \"CMP-01\"\nreason = \"x\"\n[[waive]]\nid = \"CMP-01\"\nreason = \"y\"\n",
            &["waived twice"],
        ),
        (
            "[[waiver]]\nid = \"CMP-01\"\n",
            &["unknown field `waiver`, expected `waive`"],
        ),
        (
            "[[waive]]\nid = \"CMP-01\nreason = \"x\"\n",
            &["ci/baseline.toml: line 2"],
        ),
    ];
    for (text, needles) in cases {
        let e = baseline(text).unwrap_err().to_string();
        for n in needles {
            assert!(e.contains(n), "error {e:?} lacks {n:?} for\n{text}");
        }
    }
    let e = report::load_baseline(Path::new("/nonexistent/baseline.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/baseline.toml"), "{e}");
    assert!(baseline("").unwrap().waivers.is_empty());
}

#[test]
fn merging_shards_equals_the_report_of_all_cases() {
    let all = cases();
    let mut full = report_of(all.clone(), false);
    full.cases.sort_by(|a, b| a.id.cmp(&b.id));
    let mut s1 = report_of(all[..2].to_vec(), false);
    s1.config.shard = Some("1/2".into());
    s1.duration_ms = 900;
    let mut s2 = report_of(all[2..].to_vec(), false);
    s2.config.shard = Some("2/2".into());
    assert_ne!(
        s1.overall, full.overall,
        "a shard alone does not see everything"
    );
    let merged = report::merge(vec![s2.clone(), s1.clone()]).unwrap();
    assert_eq!(merged.cases, full.cases);
    assert_eq!(merged.requirements, full.requirements);
    assert_eq!(merged.overall, full.overall);
    assert_eq!(merged.exit_code, full.exit_code);
    assert_eq!(merged.config.cases, full.config.cases);
    assert_eq!(merged.config.shard, None);
    assert_eq!(merged.duration_ms, 1500);

    let mut bad = s2.clone();
    bad.seed = 43;
    let e = report::merge(vec![s1.clone(), bad])
        .unwrap_err()
        .to_string();
    assert!(e.contains("seed 43") && e.contains("42"), "{e}");
    let mut bad = s2.clone();
    bad.target = "http://other:1".into();
    assert!(
        report::merge(vec![s1.clone(), bad])
            .unwrap_err()
            .to_string()
            .contains("target")
    );
    let mut overlap = s2.clone();
    overlap.cases.push(s1.cases[0].clone());
    let e = report::merge(vec![s1.clone(), overlap])
        .unwrap_err()
        .to_string();
    assert!(e.contains("overlap") && e.contains("pass-1"), "{e}");
    let mut same_shard = s2.clone();
    same_shard.config.shard = Some("1/2".into());
    assert!(report::merge(vec![s1.clone(), same_shard]).is_err());
    assert!(report::merge(vec![]).is_err());
}

#[test]
fn a_finding_with_an_unknown_id_is_refused_when_read() {
    let ok: Finding =
        serde_json::from_str(r#"{"req":"CMP-01","verdict":"pass","reason":"ok"}"#).unwrap();
    assert_eq!(ok.req, ReqId::Cmp01);
    let err = serde_json::from_str::<Finding>(r#"{"req":"CMP-99","verdict":"pass","reason":"?"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("CMP-99"), "{err}");
}

#[test]
fn merge_reads_shards_back_from_disk() {
    let dir = std::env::temp_dir().join(format!("gws-conform-report-{}-merge", std::process::id()));
    let all = cases();
    let s1 = report_of(all[..3].to_vec(), false);
    let s2 = report_of(all[3..].to_vec(), false);
    let scrub = gws_conform::history::redact::Scrubber::new();
    let p1 = report::write_json(&dir.join("1"), &s1, &scrub).unwrap();
    let p2 = report::write_json(&dir.join("2"), &s2, &scrub).unwrap();
    let merged = report::merge(vec![
        report::load_report(&p1).unwrap(),
        report::load_report(&p2).unwrap(),
    ])
    .unwrap();
    let mut full = report_of(all, false);
    full.cases.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(merged.requirements, full.requirements);
    assert_eq!(merged.cases, full.cases);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transcript_is_stable_under_volatile_values() {
    let a = complete_history("0000Na9B26EF002X", 55, "client-abc", 20, "bye");
    let b = complete_history("ZZZZ7777", 90210, "c2", 333, "bye");
    assert_ne!(a, b);
    let ta = report::transcript(&a);
    let tb = report::transcript(&b);
    assert_eq!(ta, tb);
    for volatile in [
        "0000Na9B26EF002X",
        "client-abc",
        "55",
        "127.0.0.1",
        "1700000020",
    ] {
        assert!(!ta.contains(volatile), "{volatile} leaked into\n{ta}");
    }
    // A real difference shows.
    let c = complete_history("0000Na9B26EF002X", 55, "client-abc", 20, "see you");
    assert_ne!(report::transcript(&c), ta);
    insta::assert_snapshot!("complete_with_text_transcript", ta);
}

#[test]
fn the_example_baseline_fixture_loads() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/baseline.example.toml");
    let b = report::load_baseline(&p).unwrap();
    let ids: Vec<&str> = b.waivers.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["CMP-04", "CMP-22"]);
    assert_eq!(b.waivers[0].expires, Some((2027, 1, 31)));
    assert_eq!(b.waivers[1].expires, None);
}
