//! Property tests of the schema generators: valid instances validate, invalid ones fail for
//! exactly the rule they name, shrinking reaches minimal examples, and the generators reach
//! every optional field and every breakable rule (distributions from a fixed seed).

use std::collections::{BTreeMap, BTreeSet};

use gws_conform::schema::{Invalid, Issue, RuleKind, Schemas, issue_matches_rule};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use serde_json::{Value, json};

fn schemas() -> &'static Schemas {
    Schemas::embedded().expect("embedded schemas load")
}

fn runner(cases: u32, seed: u8) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// Draws `n` values (no shrinking) from a fixed seed.
fn sample<T: std::fmt::Debug>(s: &impl Strategy<Value = T>, n: usize, seed: u8) -> Vec<T> {
    let mut r = runner(1, seed);
    (0..n)
        .map(|_| {
            s.new_tree(&mut r)
                .expect("strategy produces a value")
                .current()
        })
        .collect()
}

fn is_combinator_noise(i: &Issue) -> bool {
    i.message.starts_with("branch ")
        || i.schema_path.ends_with("/oneOf")
        || i.schema_path.ends_with("/anyOf")
}

/// Checks one invalid instance: it fails, one issue names its rule, and (outside
/// oneOf/anyOf, where the other branches fail too) every issue is that rule.
fn check_invalid(name: &str, inv: &Invalid) -> Result<(), String> {
    let issues = match schemas().validate(name, &inv.value) {
        Ok(()) => {
            return Err(format!(
                "{name}: {} accepted although it breaks {}",
                inv.value, inv.rule
            ));
        }
        Err(i) => i,
    };
    if !issues.iter().any(|i| issue_matches_rule(i, &inv.rule)) {
        return Err(format!(
            "{name}: {} breaks {} but the validator says {issues:#?}",
            inv.value, inv.rule
        ));
    }
    let combinator = issues.iter().any(is_combinator_noise);
    if !combinator {
        let others: Vec<&Issue> = issues
            .iter()
            .filter(|i| !issue_matches_rule(i, &inv.rule))
            .collect();
        if !others.is_empty() {
            return Err(format!(
                "{name}: {} should break only {} but also breaks {others:#?}",
                inv.value, inv.rule
            ));
        }
    }
    Ok(())
}

/// The schemas the generators compile (the report schema is validation-only).
fn generated_names() -> Vec<&'static str> {
    schemas()
        .names()
        .into_iter()
        .filter(|n| !gws_conform::schema::VALIDATION_ONLY.contains(n))
        .collect()
}

#[test]
fn validation_only_schemas_refuse_generation_clearly() {
    for name in gws_conform::schema::VALIDATION_ONLY {
        let e = match schemas().valid_strategy(name) {
            Ok(_) => panic!("{name}: a generator for a validation-only schema"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("validation-only"), "{e}");
        assert!(
            schemas().names().contains(name),
            "{name} is still validated against"
        );
    }
}

#[test]
fn every_valid_instance_validates_for_every_schema() {
    for name in generated_names() {
        let s = schemas().valid_strategy(name).unwrap();
        runner(128, 1)
            .run(&s, |v| {
                if let Err(issues) = schemas().validate(name, &v) {
                    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
                    panic!("{name}: generated {v} is not valid: {text:#?}");
                }
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn every_invalid_instance_fails_for_the_rule_it_names_for_every_schema() {
    for name in generated_names() {
        let Ok(s) = schemas().invalid_strategy(name) else {
            // Only schemas without any rule (none today) have no invalid strategy.
            assert!(schemas().breakable_rules(name).unwrap().is_empty());
            continue;
        };
        runner(256, 2)
            .run(&s, |inv| {
                if let Err(e) = check_invalid(name, &inv) {
                    panic!("{e}");
                }
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn invalid_generators_reach_every_breakable_rule_of_every_schema() {
    let mut table = BTreeMap::new();
    for name in generated_names() {
        let expected = schemas().breakable_rules(name).unwrap();
        let Ok(s) = schemas().invalid_strategy(name) else {
            continue;
        };
        let reached: BTreeSet<RuleKind> = sample(&s, 3000, 3).iter().map(|i| i.rule.kind).collect();
        assert_eq!(reached, expected, "{name}: rule kinds reached vs breakable");
        table.insert(name, reached);
    }
    for (name, kinds) in table {
        println!("{name:40} {kinds:?}");
    }
}

#[test]
fn complete_request_generators_reach_every_optional_field_and_rule() {
    let s = schemas();
    let valid = sample(&s.valid_strategy("complete-request").unwrap(), 2000, 4);
    let mut fields: BTreeMap<String, usize> = BTreeMap::new();
    for v in &valid {
        for k in v.as_object().unwrap().keys() {
            *fields.entry(k.clone()).or_default() += 1;
        }
    }
    println!("complete-request valid, 2000 instances, field presence: {fields:?}");
    for f in [
        "operationName",
        "queueName",
        "saveLAR",
        "text",
        "messageType",
        "treatAs",
    ] {
        assert!(
            fields.get(f).copied().unwrap_or(0) > 100,
            "{f} rarely generated: {fields:?}"
        );
    }
    assert_eq!(fields["operationName"], 2000);
    // Both treatAs values and both saveLAR values occur.
    let treat: BTreeSet<String> = valid
        .iter()
        .filter_map(|v| v.get("treatAs"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(treat.len(), 2, "{treat:?}");
    let lar: BTreeSet<String> = valid
        .iter()
        .filter_map(|v| v.get("saveLAR"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(lar.len(), 2);

    let invalid = sample(&s.invalid_strategy("complete-request").unwrap(), 2000, 5);
    let mut kinds: BTreeMap<RuleKind, usize> = BTreeMap::new();
    let mut rules: BTreeMap<String, usize> = BTreeMap::new();
    for i in &invalid {
        *kinds.entry(i.rule.kind).or_default() += 1;
        *rules
            .entry(format!("{} {}", i.rule.instance_path, i.rule.keyword))
            .or_default() += 1;
    }
    println!("complete-request invalid, 2000 instances, by kind: {kinds:?}");
    println!("complete-request invalid, by rule: {rules:#?}");
    let expected: BTreeSet<RuleKind> = [
        RuleKind::WrongType,
        RuleKind::NotConst,
        RuleKind::NotInEnum,
        RuleKind::MissingRequired,
        RuleKind::BrokenDependentRequired,
        RuleKind::ExtraProperty,
        RuleKind::TooShort,
    ]
    .into();
    assert_eq!(kinds.keys().copied().collect::<BTreeSet<_>>(), expected);
    // Every rule of the schema is hit, each at its own path (CMP-09, CMP-10, CMP-11 cases).
    for r in [
        " type",
        " required",
        " additionalProperties",
        " dependentRequired",
        "/operationName const",
        "/queueName type",
        "/queueName minLength",
        "/saveLAR type",
        "/text type",
        "/messageType type",
        "/treatAs enum",
    ] {
        assert!(
            rules.contains_key(r.trim_start()) || rules.contains_key(r),
            "{r} never broken"
        );
    }
    // Both dependentRequired rules are broken, each alone.
    let dep: BTreeSet<&str> = invalid
        .iter()
        .filter(|i| i.rule.kind == RuleKind::BrokenDependentRequired)
        .map(|i| i.rule.detail.as_str())
        .collect();
    assert_eq!(
        dep,
        [
            "\"messageType\" without \"text\"",
            "\"treatAs\" without \"text\""
        ]
        .into()
    );
}

#[test]
fn a_forced_failure_shrinks_to_the_minimal_complete_request() {
    let s = schemas().valid_strategy("complete-request").unwrap();
    let result = runner(64, 6).run(&s, |_| {
        Err(proptest::test_runner::TestCaseError::fail("forced"))
    });
    match result {
        Err(TestError::Fail(_, minimal)) => {
            assert_eq!(minimal, json!({"operationName": "Complete"}));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_failure_needing_text_shrinks_to_short_ascii() {
    // Fails whenever text is present: the minimal case keeps only the one field needed.
    let s = schemas().valid_strategy("complete-request").unwrap();
    let result = runner(256, 7).run(&s, |v| {
        if v.get("text").is_some() {
            Err(proptest::test_runner::TestCaseError::fail("has text"))
        } else {
            Ok(())
        }
    });
    match result {
        Err(TestError::Fail(_, minimal)) => {
            assert_eq!(minimal, json!({"operationName": "Complete", "text": ""}));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn an_invalid_treat_as_shrinks_to_a_minimal_refusal_case() {
    let s = schemas().invalid_strategy("complete-request").unwrap();
    let result = runner(512, 8).run(&s, |inv| {
        if inv.rule.kind == RuleKind::NotInEnum {
            Err(proptest::test_runner::TestCaseError::fail(
                "treatAs out of enum",
            ))
        } else {
            Ok(())
        }
    });
    match result {
        Err(TestError::Fail(_, minimal)) => {
            assert_eq!(minimal.rule.instance_path, "/treatAs");
            assert_eq!(
                minimal.value,
                json!({"operationName": "Complete", "text": "", "treatAs": "Zza"})
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn notification_generators_cover_both_message_types() {
    let v = sample(&schemas().valid_strategy("notification").unwrap(), 500, 9);
    let kinds: BTreeSet<&str> = v
        .iter()
        .filter_map(|n| n.get("messageType").and_then(Value::as_str))
        .collect();
    assert_eq!(
        kinds,
        ["ChatStateChangeMessage", "MessageLogUpdated"].into()
    );
    let with_path = v.iter().filter(|n| n.get("chatPath").is_some()).count();
    let log = v
        .iter()
        .filter(|n| n["messageType"] == "MessageLogUpdated")
        .count();
    assert!(
        with_path > 0 && with_path < log,
        "chatPath must be optional: {with_path}/{log}"
    );
}
