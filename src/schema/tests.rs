use super::*;
use serde_json::json;

const HDR: &str = r#""$schema":"https://json-schema.org/draft/2020-12/schema""#;

fn src(name: &str, body: &str) -> (String, String) {
    (
        format!("schemas/{name}.schema.json"),
        format!(r#"{{{HDR},"$id":"{ID_BASE}{name}.schema.json",{body}}}"#),
    )
}

fn load_err(files: Vec<(String, String)>) -> SchemaError {
    Schemas::from_sources(files).expect_err("must not load")
}

#[test]
fn embedded_loads_and_has_the_names_the_crate_uses() {
    let s = Schemas::embedded().unwrap();
    for n in [
        "complete-request",
        "response",
        "response-success",
        "response-error",
        "notification",
        "bayeux-message",
        "provider-state-request",
        "provider-state-inspect",
    ] {
        assert!(s.names().contains(&n), "missing {n}");
    }
}

#[test]
fn embedded_holds_every_file_of_the_schemas_dir() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let from_dir = Schemas::load_dir(&dir).unwrap();
    assert_eq!(from_dir.names(), Schemas::embedded().unwrap().names());
    for n in from_dir.names() {
        assert_eq!(
            from_dir.document(n),
            Schemas::embedded().unwrap().document(n),
            "{n}: embedded copy differs from the file"
        );
    }
}

#[test]
fn every_file_has_the_expected_id() {
    let s = Schemas::embedded().unwrap();
    for n in s.names() {
        assert_eq!(
            s.document(n).unwrap()["$id"],
            json!(format!("{ID_BASE}{n}.schema.json"))
        );
    }
}

#[test]
fn complete_request_rules_of_spec_1_2() {
    let s = Schemas::embedded().unwrap();
    let ok = |v: serde_json::Value| s.validate("complete-request", &v).is_ok();
    assert!(ok(json!({"operationName":"Complete"})));
    assert!(ok(
        json!({"operationName":"Complete","queueName":"PostProcessingQueue","saveLAR":true,
                      "text":"bye","messageType":"Text","treatAs":"System"})
    ));
    assert!(!ok(json!({"operationName":"Complete","treatAs":"System"})));
    assert!(!ok(
        json!({"operationName":"Complete","messageType":"Text"})
    ));
    assert!(!ok(
        json!({"operationName":"Complete","text":"x","treatAs":"Loud"})
    ));
    assert!(!ok(json!({"operationName":"Complete","queueName":""})));
    assert!(!ok(json!({"operationName":"Complete","saveLAR":"true"})));
    assert!(!ok(json!({"operationName":"Complete","text":5})));
    assert!(!ok(json!({"operationName":"Complete","extra":1})));
    assert!(!ok(json!({"operationName":"Accept"})));
    assert!(!ok(json!({})));
}

#[test]
fn responses_success_and_error_are_exact() {
    let s = Schemas::embedded().unwrap();
    let r = |v: serde_json::Value| s.validate("response", &v).is_ok();
    assert!(r(json!({"statusCode":0})));
    assert!(r(json!({"statusCode":0,"referenceId":17})));
    assert!(r(json!({"statusCode":6,"statusMessage":"not found"})));
    assert!(!r(json!({"statusCode":0,"statusMessage":"ok"})));
    assert!(!r(json!({"statusCode":2})));
    assert!(!r(json!({"statusCode":2,"statusMessage":"x","chat":{}})));
    assert!(!r(json!({"statusCode":0,"referenceId":"17"})));
    assert!(!r(json!({"status":0})));
    assert!(!r(json!({"statusCode":-1,"statusMessage":"x"})));
}

#[test]
fn notification_optional_fields_per_facts_10() {
    let s = Schemas::embedded().unwrap();
    let chat = json!({"id":"c1","state":"Completed","uri":"http://h/api/v2/chats/c1"});
    let n = json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange","chat":chat});
    assert!(s.validate("notification", &n).is_ok());
    let bad_state = json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange",
        "chat":{"id":"c1","state":"Done","uri":"http://h/api/v2/chats/c1"}});
    let issues = s.validate("notification", &bad_state).unwrap_err();
    assert!(
        issues.iter().any(|i| i.instance_path == "/chat/state"),
        "{issues:#?}"
    );
    let log = json!({"messageType":"MessageLogUpdated","notificationType":"NewMessages",
        "chatUri":"http://h/api/v2/chats/c1",
        "messages":[{"index":1,"type":"Text","text":"hi","visibility":"All",
                     "from":{"nickname":"A","type":"Agent","participantId":"p"}}]});
    assert!(s.validate("notification", &log).is_ok());
}

#[test]
fn unknown_name_is_an_issue_and_an_error_listing_names() {
    let s = Schemas::embedded().unwrap();
    let issues = s.validate("nope", &json!({})).unwrap_err();
    assert!(issues[0].message.contains("unknown schema"), "{issues:?}");
    let e = s.valid_strategy("nope").unwrap_err();
    assert!(e.to_string().contains("complete-request"), "{e}");
}

#[test]
fn displays() {
    let i = Issue {
        instance_path: "/treatAs".into(),
        schema_path: "/properties/treatAs/enum".into(),
        message: "bad".into(),
    };
    assert_eq!(i.to_string(), "/treatAs: bad (/properties/treatAs/enum)");
    let e = SchemaError::new("schemas/x.schema.json", "/properties/foo", "what");
    assert_eq!(
        e.to_string(),
        "schemas/x.schema.json: /properties/foo: what"
    );
}

#[test]
fn broken_json_names_file_line_and_column() {
    let e = load_err(vec![(
        "schemas/x.schema.json".into(),
        "{\n  \"type\": \"object\",\n}".into(),
    )]);
    assert_eq!(e.file, "schemas/x.schema.json");
    assert!(e.message.contains("line 3 column 1"), "{e}");
}

#[test]
fn wrong_or_missing_id_is_refused() {
    let e = load_err(vec![(
        "schemas/x.schema.json".into(),
        format!(r#"{{{HDR},"$id":"https://elsewhere/x.json"}}"#),
    )]);
    assert_eq!(e.pointer, "/$id");
    let e = load_err(vec![("schemas/x.schema.json".into(), format!("{{{HDR}}}"))]);
    assert!(e.message.contains("missing \"$id\""), "{e}");
}

#[test]
fn unsupported_keyword_names_file_and_pointer() {
    let e = load_err(vec![src(
        "x",
        r#""type":"object","properties":{"foo":{"type":"string","uniqueItems":true}}"#,
    )]);
    assert_eq!(e.file, "schemas/x.schema.json");
    assert_eq!(e.pointer, "/properties/foo/uniqueItems");
    assert!(e.message.contains("not supported"), "{e}");
    // Even in an unreferenced $defs entry.
    let e = load_err(vec![src(
        "y",
        r#""$defs":{"a":{"type":"string","not":{}}}"#,
    )]);
    assert_eq!(e.pointer, "/$defs/a/not");
    // Unsupported format and pattern too.
    let e = load_err(vec![src("z", r#""type":"string","format":"email""#)]);
    assert_eq!(e.pointer, "/format");
    let e = load_err(vec![src("w", r#""type":"string","pattern":"^(a|b)$""#)]);
    assert_eq!(e.pointer, "/pattern");
}

#[test]
fn unresolvable_refs_name_the_pointer_and_never_fetch() {
    let e = load_err(vec![src(
        "x",
        r##""type":"object","properties":{"a":{"$ref":"other.schema.json#/$defs/a"}}"##,
    )]);
    assert_eq!(e.pointer, "/properties/a/$ref");
    assert!(e.message.contains("no schema other.schema.json"), "{e}");
    let e = load_err(vec![src(
        "x",
        r##""type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}"##,
    )]);
    assert_eq!(e.pointer, "/properties/a/$ref");
    let e = load_err(vec![src(
        "x",
        r##""type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}"##,
    )]);
    assert_eq!(e.pointer, "/properties/a/$ref");
}

#[test]
fn recursive_ref_is_refused() {
    let e = load_err(vec![src(
        "x",
        r##""$ref":"#/$defs/a","$defs":{"a":{"type":"object","properties":{"b":{"$ref":"#/$defs/a"}}}}"##,
    )]);
    assert!(e.message.contains("recursive"), "{e}");
}

#[test]
fn all_of_is_merged_for_generation() {
    use proptest::strategy::{Strategy, ValueTree};
    let s = Schemas::from_sources(vec![src(
        "x",
        r##""allOf":[{"$ref":"#/$defs/a"},{"type":"object","properties":{"b":{"type":"integer","minimum":2}},"required":["b"]}],
            "$defs":{"a":{"type":"object","properties":{"a":{"const":1}},"required":["a"]}}"##,
    )])
    .unwrap();
    let st = s.valid_strategy("x").unwrap();
    let mut r = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..50 {
        let v = st.new_tree(&mut r).unwrap().current();
        assert!(s.validate("x", &v).is_ok(), "{v}");
        assert_eq!(v["a"], 1);
    }
    let inv = s.invalid_strategy("x").unwrap();
    for _ in 0..50 {
        let i = inv.new_tree(&mut r).unwrap().current();
        let issues = s.validate("x", &i.value).unwrap_err();
        assert!(issues_match_rule(&issues, &i.rule), "{i:?} {issues:?}");
    }
}

#[test]
fn formats_are_validated() {
    let s = Schemas::from_sources(vec![src("x", r#""type":"string","format":"uri""#)]).unwrap();
    assert!(s.validate("x", &json!("http://h/a")).is_ok());
    assert!(s.validate("x", &json!("not a uri")).is_err());
}

#[test]
fn additional_properties_schema_generates_maps_and_breaks_their_values() {
    use proptest::strategy::{Strategy, ValueTree};
    let s = Schemas::from_sources(vec![src(
        "m",
        r#""type":"object","additionalProperties":{"type":"integer","minimum":0}"#,
    )])
    .unwrap();
    let mut r = proptest::test_runner::TestRunner::deterministic();
    let st = s.valid_strategy("m").unwrap();
    let mut non_empty = 0;
    for _ in 0..100 {
        let v = st.new_tree(&mut r).unwrap().current();
        assert!(s.validate("m", &v).is_ok(), "{v}");
        non_empty += usize::from(!v.as_object().unwrap().is_empty());
    }
    assert!(non_empty > 0);
    let inv = s.invalid_strategy("m").unwrap();
    let mut kinds = BTreeSet::new();
    for _ in 0..200 {
        let i = inv.new_tree(&mut r).unwrap().current();
        let issues = s.validate("m", &i.value).unwrap_err();
        assert!(issues_match_rule(&issues, &i.rule), "{i:?} {issues:?}");
        kinds.insert(i.rule.kind);
    }
    assert_eq!(kinds, s.breakable_rules("m").unwrap());
    assert!(kinds.contains(&RuleKind::BelowMinimum));
}
