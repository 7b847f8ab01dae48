//! Ed25519 key pairs for signing certificates, as PEM files.
//!
//! The private key is PKCS#8 v1 (`-----BEGIN PRIVATE KEY-----`, RFC 8410), the public
//! key a SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`), so `openssl pkey` and any
//! other tool read them. The crypto is aws-lc-rs, which rustls already brings.

use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// What can go wrong reading or using a key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The text is not PEM with the expected label.
    #[error("not a PEM `{label}` block (expected -----BEGIN {label}-----)")]
    NotPem {
        /// The label looked for.
        label: &'static str,
    },
    /// The base64 inside the PEM block does not decode.
    #[error("the PEM `{label}` block is not valid base64")]
    BadBase64 {
        /// The label of the block.
        label: &'static str,
    },
    /// The DER is not an Ed25519 key.
    #[error("not an Ed25519 {what} key")]
    NotEd25519 {
        /// "private" or "public".
        what: &'static str,
    },
    /// The system's random source failed.
    #[error("the system's random source failed")]
    Random,
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE, the
/// algorithm id 1.3.101.112, and a BIT STRING of 33 bytes (the unused-bits byte, then
/// the 32-byte key).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A signing key (private).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the private half
        write!(f, "SigningKey({})", self.public().fingerprint())
    }
}

/// A verifying key (public): the raw 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    raw: [u8; 32],
}

/// Wraps DER in a PEM block with `label`, lines of 64 characters.
fn pem(label: &str, der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside the first PEM block labelled `label`.
fn unpem(text: &str, label: &'static str) -> Result<Vec<u8>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).ok_or(KeyError::NotPem { label })? + begin.len();
    let stop = text[start..].find(&end).ok_or(KeyError::NotPem { label })? + start;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(body).map_err(|_| KeyError::BadBase64 { label })
}

impl SigningKey {
    /// A fresh key from the system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let doc = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| KeyError::Random)?;
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref())
            .map_err(|_| KeyError::NotEd25519 { what: "private" })?;
        Ok(SigningKey { pair })
    }

    /// Reads a PKCS#8 `PRIVATE KEY` PEM block.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let der = unpem(text, "PRIVATE KEY")?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| KeyError::NotEd25519 { what: "private" })?;
        Ok(SigningKey { pair })
    }

    /// The key as a PKCS#8 v1 `PRIVATE KEY` PEM block.
    pub fn to_pem(&self) -> String {
        let doc = self
            .pair
            .to_pkcs8v1()
            .expect("an Ed25519 key always serialises");
        pem("PRIVATE KEY", doc.as_ref())
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey { raw }
    }

    /// The Ed25519 signature of `msg` (64 bytes).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }
}

impl PublicKey {
    /// Reads a SubjectPublicKeyInfo `PUBLIC KEY` PEM block.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let der = unpem(text, "PUBLIC KEY")?;
        if der.len() != SPKI_PREFIX.len() + 32 || der[..SPKI_PREFIX.len()] != SPKI_PREFIX {
            return Err(KeyError::NotEd25519 { what: "public" });
        }
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&der[SPKI_PREFIX.len()..]);
        Ok(PublicKey { raw })
    }

    /// The key as a SubjectPublicKeyInfo `PUBLIC KEY` PEM block.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.raw);
        pem("PUBLIC KEY", &der)
    }

    /// The raw 32 bytes, lower-case hex (securesystemslib's `keyval.public`).
    pub fn hex(&self) -> String {
        super::hex(&self.raw)
    }

    /// The key's id and fingerprint: `SHA256:` and the hex sha256 of the raw key.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", super::sha256_hex(&self.raw))
    }

    /// Whether `sig` is this key's signature of `msg`.
    pub fn verifies(&self, msg: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.raw)
            .verify(msg, sig)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_its_pem_and_signs_what_its_public_half_verifies() {
        let k = SigningKey::generate().unwrap();
        let k2 = SigningKey::from_pem(&k.to_pem()).unwrap();
        let p = PublicKey::from_pem(&k.public().to_pem()).unwrap();
        assert_eq!(p, k.public());
        assert_eq!(k2.public(), k.public());
        let sig = k2.sign(b"hello");
        assert!(p.verifies(b"hello", &sig));
        assert!(!p.verifies(b"hellO", &sig));
        let other = SigningKey::generate().unwrap().public();
        assert!(!other.verifies(b"hello", &sig));
    }

    #[test]
    fn the_pem_forms_are_the_standard_ones() {
        let k = SigningKey::generate().unwrap();
        let pub_pem = k.public().to_pem();
        assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
        assert!(
            k.to_pem()
                .starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI")
        );
        assert!(format!("{k:?}").starts_with("SigningKey(SHA256:"));
        assert!(!format!("{k:?}").contains("PRIVATE"));
    }

    #[test]
    fn wrong_pem_is_named() {
        let k = SigningKey::generate().unwrap();
        assert_eq!(
            PublicKey::from_pem(&k.to_pem()),
            Err(KeyError::NotPem {
                label: "PUBLIC KEY"
            })
        );
        assert_eq!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n")
                .unwrap_err(),
            KeyError::BadBase64 {
                label: "PRIVATE KEY"
            }
        );
        let rsa_like = pem("PUBLIC KEY", &[0x30, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(
            PublicKey::from_pem(&rsa_like),
            Err(KeyError::NotEd25519 { what: "public" })
        );
    }
}
