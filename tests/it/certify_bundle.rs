//! A certificate bundle checked by a verifier nobody here wrote (`scripts/verify-bundle.py`:
//! securesystemslib for the DSSE signature, in-toto-attestation for the Statement v1).
//! `.ci/run` installs them into its validators venv; elsewhere the test skips, saying
//! so, unless `CI` is set (then a missing verifier fails: CI must not skip silently).

use gws_conform::certify::{bundle, keys::SigningKey};
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
    bundle::sign(
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
