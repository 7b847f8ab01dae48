//! The CI recipes under `docs/` use only flags and `GWS_*` variables that exist: the YAML
//! files are parsed, every `gws-conform run|merge` command line and every `GWS_*` name is
//! checked against the built binary's `--help` (the clap command is the source of truth).

use std::collections::BTreeSet;
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;

const FILES: &[&str] = &[
    "github-actions.yml",
    "gitlab-ci.yml",
    "k8s-indexed-job.yaml",
];

fn help(sub: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gws-conform"))
        .args([sub, "--help"])
        .output()
        .expect("run gws-conform");
    assert!(out.status.success(), "{sub} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Long flags (`--name`) of a help text.
fn flags_of(help: &str) -> BTreeSet<String> {
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--"))
        .map(|w| w.split(['=', '<']).next().unwrap().to_string())
        .collect()
}

/// `GWS_*` names in a text.
fn gws_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("GWS_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// Every string (keys and values) of a YAML value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Mapping(m) => {
            for (k, x) in m {
                strings(k, out);
                strings(x, out);
            }
        }
        Value::Tagged(t) => strings(&t.value, out),
        _ => {}
    }
}

/// (subcommand, flags) of every `gws-conform SUB …` in a command string.
fn invocations(s: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for line in s.lines() {
        let mut words = line.split_whitespace().peekable();
        while let Some(w) = words.next() {
            if w.ends_with("gws-conform") && !w.contains("--") {
                let Some(sub) = words.next() else { break };
                let mut flags = Vec::new();
                for x in words.by_ref() {
                    if x == "||" || x == "&&" || x == ";" {
                        break;
                    }
                    if x.starts_with("--") {
                        flags.push(x.split('=').next().unwrap().to_string());
                    }
                }
                out.push((sub.to_string(), flags));
            }
        }
    }
    out
}

/// Unknown flags and variables in `texts` given the known ones.
fn unknown(
    texts: &[String],
    run: &BTreeSet<String>,
    merge: &BTreeSet<String>,
    envs: &BTreeSet<String>,
) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut seen = 0;
    for t in texts {
        for (sub, flags) in invocations(t) {
            let known = match sub.as_str() {
                "run" => run,
                "merge" => merge,
                other => {
                    bad.push(format!("subcommand {other}"));
                    continue;
                }
            };
            for f in flags {
                seen += 1;
                if !known.contains(&f) {
                    bad.push(format!("{sub} {f}"));
                }
            }
        }
        for g in gws_names(t) {
            seen += 1;
            if !envs.contains(&g) {
                bad.push(g);
            }
        }
    }
    (bad, seen)
}

#[test]
fn ci_recipes_use_real_flags_and_variables() {
    let run_help = help("run");
    let run = flags_of(&run_help);
    let merge = flags_of(&help("merge"));
    let envs = gws_names(&run_help);
    assert!(
        run.contains("--shard") && merge.contains("--out"),
        "{run:?} {merge:?}"
    );
    assert!(
        envs.contains("GWS_SHARD") && envs.contains("GWS_TARGET"),
        "{envs:?}"
    );

    // The checker finds what it should (a made-up flag and variable are caught).
    let probe = vec![
        "gws-conform run --no-such-flag --shard 1/2".to_string(),
        "GWS_NOPE".to_string(),
    ];
    let (bad, _) = unknown(&probe, &run, &merge, &envs);
    assert_eq!(
        bad,
        vec!["run --no-such-flag".to_string(), "GWS_NOPE".to_string()]
    );

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for f in FILES {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{f}: {e}"));
        let mut texts = Vec::new();
        let mut docs = 0;
        for d in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = Value::deserialize(d).unwrap_or_else(|e| panic!("{f}: not YAML: {e}"));
            strings(&v, &mut texts);
            docs += 1;
        }
        assert!(docs >= 1, "{f}: no document");
        let invoked: Vec<_> = texts.iter().flat_map(|t| invocations(t)).collect();
        assert!(
            invoked.iter().any(|(s, _)| s == "run"),
            "{f}: no gws-conform run"
        );
        assert!(
            invoked.iter().any(|(s, _)| s == "merge"),
            "{f}: no gws-conform merge"
        );
        let (bad, seen) = unknown(&texts, &run, &merge, &envs);
        assert!(seen > 0, "{f}: nothing checked");
        assert!(bad.is_empty(), "{f}: unknown to gws-conform: {bad:?}");
    }
}
