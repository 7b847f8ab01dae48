//! A certificate bundle: one folder of evidence files and `attestation.dsse.json`, a
//! DSSE envelope over an in-toto Statement v1 whose subjects are every other file of
//! the folder with its sha256.

use super::dsse::{self, Envelope, EnvelopeError};
use super::keys::{PublicKey, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file of the bundle that holds the signed attestation.
pub(crate) const ATTESTATION: &str = "attestation.dsse.json";

/// The in-toto Statement type, v1.
pub(crate) const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// One subject: a file of the bundle and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The path inside the bundle, `/`-separated.
    pub name: String,
    /// `{"sha256": hex}`.
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InTotoStatement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// The files attested.
    pub subject: Vec<Subject>,
    /// What the predicate is.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: Value,
}

/// Why a bundle could not be written or was not verified.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The attestation is not a DSSE envelope.
    #[error("{ATTESTATION}: not a DSSE envelope: {0}")]
    NotEnvelope(String),
    /// The envelope did not verify.
    #[error("{ATTESTATION}: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The payload is not an in-toto Statement v1.
    #[error("{ATTESTATION}: the payload is not an in-toto Statement v1: {0}")]
    NotStatement(String),
    /// An archive of a bundle that cannot be one (or cannot be written).
    #[error("{path}: {error}")]
    Archive {
        /// The archive (or the file that could not go in it).
        path: String,
        /// What is wrong.
        error: String,
    },
    /// The files do not match the subjects.
    #[error("the bundle's files do not match the attestation: {}", .0.join("; "))]
    Files(Vec<String>),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Every file under `dir` but the attestation, as (bundle path, file path), sorted.
fn files(dir: &Path) -> Result<Vec<(String, PathBuf)>, BundleError> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), BundleError> {
        for e in std::fs::read_dir(d).map_err(io(d))? {
            let p = e.map_err(io(d))?.path();
            let meta = std::fs::symlink_metadata(&p).map_err(io(&p))?;
            if meta.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p.strip_prefix(root).expect("under the root");
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if name != ATTESTATION {
                    out.push((name, p));
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The subjects of `dir`: every file but the attestation, with its sha256.
pub(crate) fn subjects(dir: &Path) -> Result<Vec<Subject>, BundleError> {
    files(dir)?
        .into_iter()
        .map(|(name, path)| {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            Ok(Subject {
                name,
                digest: BTreeMap::from([("sha256".to_string(), super::sha256_hex(&bytes))]),
            })
        })
        .collect()
}

/// Signs `dir`: writes [`ATTESTATION`], a DSSE envelope over an in-toto Statement of
/// every file of `dir` with `predicate` of `predicate_type`. Returns the Statement.
pub fn sign(
    dir: &Path,
    predicate_type: &str,
    predicate: Value,
    key: &SigningKey,
) -> Result<InTotoStatement, BundleError> {
    let statement = InTotoStatement {
        type_: STATEMENT_TYPE.to_string(),
        subject: subjects(dir)?,
        predicate_type: predicate_type.to_string(),
        predicate,
    };
    let payload = serde_json::to_vec(&statement).expect("a statement serialises");
    let env = Envelope::sign(dsse::IN_TOTO, &payload, key);
    let path = dir.join(ATTESTATION);
    let text = serde_json::to_string_pretty(&env).expect("an envelope serialises");
    std::fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(statement)
}

/// Verifies `dir` with `key`: the envelope's signature, then that its Statement's
/// subjects are exactly the files of `dir` (none missing, none extra, every digest
/// equal). Returns the Statement.
pub fn verify(dir: &Path, key: &PublicKey) -> Result<InTotoStatement, BundleError> {
    let path = dir.join(ATTESTATION);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let env: Envelope =
        serde_json::from_str(&text).map_err(|e| BundleError::NotEnvelope(e.to_string()))?;
    let payload = env.verify(dsse::IN_TOTO, key)?;
    let st: InTotoStatement =
        serde_json::from_slice(&payload).map_err(|e| BundleError::NotStatement(e.to_string()))?;
    if st.type_ != STATEMENT_TYPE {
        return Err(BundleError::NotStatement(format!(
            "_type is {:?}, not {STATEMENT_TYPE:?}",
            st.type_
        )));
    }
    let claimed: BTreeMap<&str, Option<&String>> = st
        .subject
        .iter()
        .map(|s| (s.name.as_str(), s.digest.get("sha256")))
        .collect();
    let found = subjects(dir)?;
    let mut problems = Vec::new();
    for s in &found {
        match claimed.get(s.name.as_str()) {
            None => problems.push(format!("{}: a file the attestation does not list", s.name)),
            Some(d) if *d != s.digest.get("sha256") => problems.push(format!(
                "{}: its sha256 is not the attested one (the file changed)",
                s.name
            )),
            Some(_) => {}
        }
    }
    for name in claimed.keys() {
        if !found.iter().any(|s| s.name == *name) {
            problems.push(format!("{name}: attested, but missing from the bundle"));
        }
    }
    if problems.is_empty() {
        Ok(st)
    } else {
        Err(BundleError::Files(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> (tempdir::Dir, SigningKey) {
        let d = tempdir::Dir::new();
        std::fs::write(d.path().join("report.json"), b"{\"v\":1}").unwrap();
        std::fs::create_dir(d.path().join("cases")).unwrap();
        std::fs::write(d.path().join("cases/a.ndjson"), b"{}\n").unwrap();
        let k = SigningKey::generate().unwrap();
        sign(
            d.path(),
            "https://example/p",
            serde_json::json!({"x": 1}),
            &k,
        )
        .unwrap();
        (d, k)
    }

    mod tempdir {
        /// A folder under the system's temporary folder, removed on drop.
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "gws-bundle-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn a_signed_bundle_verifies_with_every_file_a_subject() {
        let (d, k) = bundle();
        let st = verify(d.path(), &k.public()).unwrap();
        let names: Vec<_> = st.subject.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cases/a.ndjson", "report.json"]);
        assert_eq!(st.predicate["x"], 1);
    }

    #[test]
    fn a_changed_added_or_removed_file_is_named() {
        let (d, k) = bundle();
        std::fs::write(d.path().join("report.json"), b"{\"v\":2}").unwrap();
        std::fs::write(d.path().join("extra.txt"), b"x").unwrap();
        std::fs::remove_file(d.path().join("cases/a.ndjson")).unwrap();
        let e = verify(d.path(), &k.public()).unwrap_err().to_string();
        assert!(
            e.contains("report.json: its sha256 is not the attested one"),
            "{e}"
        );
        assert!(
            e.contains("extra.txt: a file the attestation does not list"),
            "{e}"
        );
        assert!(e.contains("cases/a.ndjson: attested, but missing"), "{e}");
    }

    #[test]
    fn another_key_or_an_edited_attestation_is_refused() {
        let (d, _) = bundle();
        let stranger = SigningKey::generate().unwrap();
        let e = verify(d.path(), &stranger.public()).unwrap_err();
        assert!(
            matches!(e, BundleError::Envelope(EnvelopeError::NotSigned { .. })),
            "{e}"
        );
        // re-signed by another key: refused with the original key's public half
        let (d2, k2) = bundle();
        sign(
            d2.path(),
            "https://example/p",
            serde_json::json!({"x": 2}),
            &stranger,
        )
        .unwrap();
        assert!(verify(d2.path(), &k2.public()).is_err());
        std::fs::write(d2.path().join(ATTESTATION), b"not json").unwrap();
        assert!(matches!(
            verify(d2.path(), &stranger.public()),
            Err(BundleError::NotEnvelope(_))
        ));
    }
}
