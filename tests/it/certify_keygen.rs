//! `gws-conform keygen`, through the binary: a key pair that signs what its public half
//! verifies, a private file only its owner can read, and no silent overwrite.

use crate::common_bin::{BIN, tmpdir};
use gws_conform::certify::{PublicKey, SigningKey};
use std::process::Command;

#[test]
fn keygen_writes_a_pair_that_signs_and_verifies_and_never_overwrites_silently() {
    let d = tmpdir("keygen");
    let out = d.join("keys");
    let o = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let key = SigningKey::from_pem(&std::fs::read_to_string(out.join("gws-conform.key")).unwrap())
        .unwrap();
    let public =
        PublicKey::from_pem(&std::fs::read_to_string(out.join("gws-conform.pub")).unwrap())
            .unwrap();
    assert_eq!(key.public(), public);
    assert!(public.verifies(b"m", &key.sign(b"m")));
    assert!(stdout.contains(&public.fingerprint()), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.join("gws-conform.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the private key is readable by others: {mode:o}"
        );
    }

    // a second keygen into the same folder is refused, and the pair is unchanged
    let o = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    let again = PublicKey::from_pem(&std::fs::read_to_string(out.join("gws-conform.pub")).unwrap())
        .unwrap();
    assert_eq!(again, public);

    // --force replaces it
    let o = Command::new(BIN)
        .args(["keygen", "--force", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let replaced =
        PublicKey::from_pem(&std::fs::read_to_string(out.join("gws-conform.pub")).unwrap())
            .unwrap();
    assert_ne!(replaced, public);
    let _ = std::fs::remove_dir_all(&d);
}
