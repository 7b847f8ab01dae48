use super::*;
use serde_json::json;

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
fn complete_request_rules() {
    let s = Schemas::embedded().unwrap();
    assert!(s.validate("complete-request", &json!({"operationName":"Complete"})).is_ok());
    let e = s
        .validate("complete-request", &json!({"operationName":"Complete","treatAs":"System"}))
        .unwrap_err();
    println!("{e:#?}");
}
