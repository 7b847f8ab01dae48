//! Saved histories under `fixtures/histories/` are judged again from disk: each
//! `NAME.json` is a `History`, and `NAME.expect.json` maps requirement ids to the folded
//! verdict the checker must reach. The histories are written by the scenario builders
//! below; `GWS_WRITE_FIXTURES=1 cargo test --test check_fixtures` rewrites them, and
//! without it the test fails if a committed file no longer matches its builder.

use crate::check_common;
use gws_conform::spec::ReqId;

use check_common::*;
use gws_conform::check::build::{HistoryBuilder, new_messages, status_change};
use gws_conform::history::{AuthVariant, Body, ChatRef, History};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/histories")
}

fn scenarios() -> Vec<(&'static str, History)> {
    let mut out = vec![];

    let mut b = chatting(&[
        ReqId::Cmp01,
        ReqId::Cmp02,
        ReqId::Cmp03,
        ReqId::Cmp04,
        ReqId::Cmp05,
        ReqId::Cmp06,
    ]);
    complete_ok(
        &mut b,
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"Thank you, goodbye"}),
    );
    b.inspect(
        "c1",
        Some(json!({"customerSessionEnded":true,"queue":null,
                    "customerTranscript":[{"type":"Text","text":"Thank you, goodbye","from":"Agent"}]})),
    );
    b.settle();
    out.push(("complete-with-text-conforming", b.build()));

    let mut b = chatting(&[ReqId::Cmp02]);
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Complete"}));
    b.respond(r, 200, ok());
    b.settle_deadline(5000);
    out.push(("complete-no-completed-notification", b.build()));

    let mut b = HistoryBuilder::new();
    b.case("invited", &[ReqId::Cmp12, ReqId::Cmp17])
        .session("agent1", true);
    b.offer("c1", "agent1", "X1");
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Complete"}));
    b.respond(r, 200, err(2));
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Accept"}));
    b.respond(r, 200, ok());
    b.notify("agent1", status_change("X1", "Chatting"));
    b.settle();
    out.push(("complete-on-invited-refused", b.build()));

    let mut b = chatting(&[ReqId::Cmp21]);
    b.session("agent2", false);
    let r = b.post_with(
        ChatRef::Alias("c1".into()),
        true,
        AuthVariant::Normal,
        "agent2",
        "X1",
        Body::Json(json!({"operationName":"Complete"})),
    );
    b.respond(r, 200, ok());
    b.notify("agent1", status_change("X1", "Completed"));
    b.notify("agent1", new_messages("X1", "left", "Client"));
    b.settle();
    out.push(("other-agent-complete-accepted", b.build()));
    out
}

fn expectations() -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        (
            "complete-with-text-conforming",
            json!({"CMP-01":"pass","CMP-02":"pass","CMP-03":"pass","CMP-04":"pass",
                   "CMP-05":"pass","CMP-06":"pass","CMP-19":"pass","NTF-01":"pass"}),
        ),
        (
            "complete-no-completed-notification",
            json!({"CMP-01":"pass","CMP-02":"fail"}),
        ),
        (
            "complete-on-invited-refused",
            json!({"CMP-12":"pass","CMP-17":"pass","CMP-18":"pass"}),
        ),
        ("other-agent-complete-accepted", json!({"CMP-21":"fail"})),
    ])
}

#[test]
fn fixtures_match_their_builders() {
    let write = std::env::var_os("GWS_WRITE_FIXTURES").is_some();
    let expect = expectations();
    for (name, h) in scenarios() {
        let text = serde_json::to_string_pretty(&h).unwrap() + "\n";
        let exp = serde_json::to_string_pretty(&expect[name]).unwrap() + "\n";
        let hp = dir().join(format!("{name}.json"));
        let ep = dir().join(format!("{name}.expect.json"));
        if write {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&hp, &text).unwrap();
            std::fs::write(&ep, &exp).unwrap();
        }
        let on_disk = std::fs::read_to_string(&hp)
            .unwrap_or_else(|e| panic!("{}: {e} (GWS_WRITE_FIXTURES=1 writes it)", hp.display()));
        assert_eq!(on_disk, text, "{} differs from its builder", hp.display());
    }
}

#[test]
fn saved_histories_are_judged_as_expected() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") || name.ends_with(".expect.json") {
            continue;
        }
        let h: History = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ep = path.with_file_name(name.replace(".json", ".expect.json"));
        let exp: BTreeMap<ReqId, String> =
            serde_json::from_str(&std::fs::read_to_string(&ep).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", ep.display()));
        let fs = run(&h);
        for (req, want) in exp {
            let got = verdict(&fs, req);
            assert_eq!(got.as_str(), want, "{}: {req}: {fs:#?}", path.display());
        }
        n += 1;
    }
    assert!(n >= 4, "expected at least 4 saved histories, found {n}");
}
