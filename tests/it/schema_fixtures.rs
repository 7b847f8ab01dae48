//! The seed's published samples: as published (byte-for-byte) and corrected.

use std::path::PathBuf;

use gws_conform::schema::{Schemas, parse_strict};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/doc-samples")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn published_excerpts_are_byte_for_byte_from_the_seed() {
    let seed = read("seed-gws-chat-complete.txt");
    for f in [
        "complete-request.published.txt",
        "complete-request-queue.published.txt",
        "complete-response.published.txt",
        "complete-notification.published.txt",
    ] {
        assert!(seed.contains(&read(f)), "{f} is not an excerpt of the seed");
    }
}

#[test]
fn published_complete_notification_is_refused_with_line_and_column() {
    let err = parse_strict(&read("complete-notification.published.txt")).unwrap_err();
    assert_eq!((err.line, err.column), (8, 9), "{err}");
    assert_eq!(err.message, "trailing comma");
    assert_eq!(err.to_string(), "8:9: not valid JSON: trailing comma");
}

#[test]
fn published_first_request_is_not_json_either() {
    // The PDF export put the request line and a code fence into the body.
    let err = parse_strict(&read("complete-request.published.txt")).unwrap_err();
    assert_eq!(err.line, 1, "{err}");
}

#[test]
fn corrected_samples_validate() {
    let s = Schemas::embedded().unwrap();
    let cases = [
        ("complete-request.json", "complete-request"),
        ("complete-request-queue.json", "complete-request"),
        ("complete-request-queue.published.txt", "complete-request"),
        ("complete-response.json", "response"),
        ("complete-response.json", "response-success"),
        ("complete-response.published.txt", "response"),
        ("complete-notification.json", "notification"),
        (
            "complete-notification.envelope.json",
            "bayeux-chat-delivery",
        ),
        ("complete-notification.envelope.json", "bayeux-message"),
    ];
    for (file, schema) in cases {
        let v = parse_strict(&read(file)).unwrap_or_else(|e| panic!("{file}:{e}"));
        if let Err(issues) = s.validate(schema, &v) {
            panic!("{file} against {schema}: {issues:#?}");
        }
    }
}

#[test]
fn corrected_notification_is_the_published_one_minus_the_comma() {
    let published = read("complete-notification.published.txt");
    let fixed = published.replacen(
        "0000Na9B26EF002X\",\n        }",
        "0000Na9B26EF002X\"\n        }",
        1,
    );
    assert_ne!(fixed, published);
    let a = parse_strict(&fixed).unwrap();
    let b = parse_strict(&read("complete-notification.json")).unwrap();
    assert_eq!(a, b);
    let env = parse_strict(&read("complete-notification.envelope.json")).unwrap();
    assert_eq!(env["data"], b);
}
