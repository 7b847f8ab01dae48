//! Certificates a vendor can publish and anyone can re-check (issue 24): keys, DSSE
//! envelopes and in-toto Statements over a bundle of recorded evidence.

pub mod bundle;
pub mod contradict;
pub(crate) mod dsse;
pub mod grade;
pub(crate) mod html;
pub mod keys;
pub mod policy;
pub mod predicate;
pub mod rejudge;
pub mod run;
pub mod statement;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of `bytes`, lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_is_the_known_digest() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
