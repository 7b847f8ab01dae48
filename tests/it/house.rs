//! The house's one arrow direction (ARCHITECTURE.md): each top-level module of `src/`
//! imports only modules of a lower floor, so the import graph is a DAG and the embedded
//! server stays an independent implementation (it imports `spec` alone). The command
//! line is the binary's: no library module uses clap.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The floors, bottom first. A module may import only modules of a lower floor.
const FLOORS: &[&[&str]] = &[
    &["spec", "schema"],
    &["history", "server"],
    &["model", "client"],
    &["check"],
    &["report"],
    &["apidocs", "cases"],
    &["runner"],
    &["observe"],
    &["certify"],
];

/// Imports against the arrow that are still in the code, each to be removed (issue 23,
/// "rooms that form a DAG"). The list may only shrink: an entry that is no longer in the
/// code fails the test too, so that it is struck off when it is fixed.
const KNOWN_UPWARD: &[(&str, &str)] = &[];

fn floor(m: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&m))
}

/// `text` without its comments (line and block), strings left as they are: a path in a
/// string is rare, and a false import only makes this test stricter.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('/') {
        out.push_str(&rest[..i]);
        let r = &rest[i..];
        if r.starts_with("//") {
            rest = r.find('\n').map_or("", |j| &r[j..]);
        } else if r.starts_with("/*") {
            rest = r.find("*/").map_or("", |j| &r[j + 2..]);
        } else {
            out.push('/');
            rest = &r[1..];
        }
    }
    out.push_str(rest);
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module → the top-level modules it names as `crate::…`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        // `cli` is the binary's (src/main.rs says `mod cli;`), above every floor.
        if module == "lib" || module == "main" || module == "cli" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        let deps = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // e.g. `gws_conform::crate::`: not a crate path
            }
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                deps.insert(name);
            }
        }
    }
    graph
}

#[test]
fn every_module_imports_only_lower_floors() {
    let graph = imports();
    let mut wrong = Vec::new();
    for (m, deps) in &graph {
        let Some(fm) = floor(m) else {
            wrong.push(format!("{m} has no floor in FLOORS (and ARCHITECTURE.md)"));
            continue;
        };
        for d in deps {
            match floor(d) {
                Some(fd) if fd < fm => {}
                // `crate::exit` and the like: items of lib.rs, not modules of src/.
                None if !graph.contains_key(d) => {}
                _ if KNOWN_UPWARD.contains(&(m.as_str(), d.as_str())) => {}
                _ => wrong.push(format!(
                    "{m} (floor {fm}) imports {d} (floor {:?}); see ARCHITECTURE.md",
                    floor(d)
                )),
            }
        }
    }
    for (m, d) in KNOWN_UPWARD {
        if !graph.get(*m).is_some_and(|deps| deps.contains(*d)) {
            wrong.push(format!(
                "{m} no longer imports {d}: strike ({m:?}, {d:?}) off KNOWN_UPWARD"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the arrow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_embedded_server_imports_spec_alone() {
    let graph = imports();
    let deps = graph.get("server").expect("src/server exists");
    // `crate::exit` and the like are items of lib.rs, not modules.
    let others: Vec<&String> = deps
        .iter()
        .filter(|d| *d != "spec" && graph.contains_key(*d))
        .collect();
    assert!(
        others.is_empty(),
        "the embedded server must be an independent implementation; it imports {others:?}"
    );
}

#[test]
fn no_library_module_uses_clap() {
    // The command line lives in the binary: src/main.rs and src/cli/ (issue 23). The
    // library's modules take plain settings and return values and typed errors.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut using = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        if rel == Path::new("main.rs") || rel.starts_with("cli") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        let uses = code.match_indices("clap").any(|(i, _)| {
            let before = code[..i].chars().next_back();
            let after = code[i + 4..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        });
        if uses {
            using.push(rel.display().to_string());
        }
    }
    assert!(
        using.is_empty(),
        "library modules using clap (the command line belongs in src/cli/): {using:?}"
    );
}
