use super::*;
use serde_json::json;

fn openapi() -> Value {
    openapi::document(Schemas::embedded().unwrap()).unwrap()
}

fn asyncapi() -> Value {
    asyncapi::document(Schemas::embedded().unwrap()).unwrap()
}

fn all_refs_resolve(doc: &Value) {
    let mut refs = Vec::new();
    refs_in(doc, &mut refs);
    assert!(refs.len() > 20, "few refs: {refs:?}");
    for r in refs {
        assert!(r.starts_with("#/"), "non-local $ref {r}");
        assert!(resolve(doc, &r).is_some(), "$ref {r} does not resolve");
    }
}

#[test]
fn openapi_paths_present() {
    let d = openapi();
    assert_eq!(d["openapi"], "3.1.0");
    for p in openapi::PATHS {
        assert!(d["paths"].get(*p).is_some(), "missing path {p}");
    }
    assert_eq!(d["paths"].as_object().unwrap().len(), openapi::PATHS.len());
    let op = &d["paths"]["/api/v2/me/chats/{id}"]["post"];
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(schema["discriminator"]["propertyName"], "operationName");
    assert_eq!(
        schema["discriminator"]["mapping"]["Complete"],
        "#/components/schemas/complete-request"
    );
    assert_eq!(schema["oneOf"].as_array().unwrap().len(), 5);
    // SPEC §6.3: the 200 answer is success or error body.
    let ok = &op["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"];
    assert_eq!(
        ok,
        &json!([{"$ref": "#/components/schemas/response-success"}, {"$ref": "#/components/schemas/response-error"}])
    );
    assert!(op["responses"].get("401").is_some() && op["responses"].get("403").is_some());
    assert_eq!(
        op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/response-error"
    );
    let sec = &d["components"]["securitySchemes"];
    assert_eq!(sec["basicAuth"]["scheme"], "basic");
    assert_eq!(sec["csrfToken"]["in"], "header");
}

#[test]
fn openapi_refs_resolve() {
    all_refs_resolve(&openapi());
}

#[test]
fn asyncapi_refs_resolve_and_messages_present() {
    let d = asyncapi();
    all_refs_resolve(&d);
    assert_eq!(d["asyncapi"], "3.0.0");
    assert_eq!(d["channels"]["chats"]["address"], "/v2/me/chats");
    assert_eq!(d["servers"]["gws"]["pathname"], "/api/v2/notifications");
    for (name, _) in asyncapi::NOTIFICATIONS {
        assert!(d["components"]["messages"].get(*name).is_some(), "{name}");
    }
    // Every notification kind of notification.schema.json has a message.
    let schemas = Schemas::embedded().unwrap();
    let kinds = schemas.document("notification").unwrap()["oneOf"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(kinds, asyncapi::NOTIFICATIONS.len());
    // Draft-07 dialect: no 2020-12-only keyword left.
    let text = d.to_string();
    assert!(!text.contains("dependentRequired") && !text.contains("$defs"));
}

/// Maps an exported `$ref` back to the form written in `schemas/` (seen from `current`).
fn unrewrite(v: &Value, current: &str) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    if k == "$ref" {
                        let c = x.as_str().unwrap().strip_prefix(COMPONENTS).unwrap();
                        let back = match c.split_once('.') {
                            Some((f, d)) if f == current => format!("#/$defs/{d}"),
                            Some((f, d)) => format!("{f}.schema.json#/$defs/{d}"),
                            None => format!("{c}.schema.json"),
                        };
                        (k.clone(), Value::String(back))
                    } else {
                        (k.clone(), unrewrite(x, current))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| unrewrite(x, current)).collect()),
        other => other.clone(),
    }
}

#[test]
fn complete_request_is_the_schema_file() {
    let d = openapi();
    let exported = &d["components"]["schemas"]["complete-request"];
    let file: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/complete-request.schema.json"
    )))
    .unwrap();
    let mut back = unrewrite(exported, "complete-request");
    back["$schema"] = file["$schema"].clone();
    back["$id"] = file["$id"].clone();
    assert_eq!(back, file);
    // And every definition it references is the one in common.schema.json.
    let common: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/common.schema.json"
    )))
    .unwrap();
    assert_eq!(
        d["components"]["schemas"]["common.treatAs"],
        common["$defs"]["treatAs"]
    );
}

#[test]
fn component_names() {
    assert_eq!(
        component_of("x", "common.schema.json#/$defs/text").unwrap(),
        "common.text"
    );
    assert_eq!(
        component_of("notification", "#/$defs/chat").unwrap(),
        "notification.chat"
    );
    assert_eq!(
        component_of("notification.chat", "#/$defs/message").unwrap(),
        "notification.message"
    );
    assert_eq!(
        component_of("x", "response-error.schema.json").unwrap(),
        "response-error"
    );
    let e = component_of("x", "https://example.com/a.json").unwrap_err();
    assert!(
        e.0.contains("schema x") && e.0.contains("example.com"),
        "{e}"
    );
    assert!(component_of("x", "common.schema.json#/properties/a").is_err());
}
