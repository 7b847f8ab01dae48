//! Embeds every `schemas/*.schema.json` into the binary: writes
//! `$OUT_DIR/embedded_schemas.rs` holding `pub static FILES: &[(&str, &str)]`
//! (file name, `include_str!` of the file), so a new schema file needs no code change.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = root.join("schemas");
    println!("cargo:rerun-if-changed=schemas");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".schema.json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// (file name, contents) of every embedded schema.\npub static FILES: &[(&str, &str)] = &[\n",
    );
    for n in &names {
        let path = dir.join(n);
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            out,
            "    ({n:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("write to string");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded_schemas.rs");
    std::fs::write(dest, out).expect("write embedded_schemas.rs");
    git_commit(&root);
}

/// `GWS_GIT_COMMIT`: the commit the binary is built from (with `-dirty` when the work
/// tree has changes), or `unknown (built outside git)`. A certificate names it.
fn git_commit(root: &std::path::Path) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            // rebuild when HEAD moves: HEAD itself, the branch it names, packed refs
            for p in ["HEAD", "packed-refs"] {
                if let Some(path) = git(&["rev-parse", "--git-path", p]) {
                    println!("cargo:rerun-if-changed={}", root.join(path).display());
                }
            }
            let branch = git(&["symbolic-ref", "-q", "HEAD"]);
            if let Some(path) = branch.and_then(|r| git(&["rev-parse", "--git-path", &r])) {
                println!("cargo:rerun-if-changed={}", root.join(path).display());
            }
            if dirty { format!("{c}-dirty") } else { c }
        }
        _ => "unknown (built outside git)".to_string(),
    };
    println!("cargo:rustc-env=GWS_GIT_COMMIT={commit}");
}
