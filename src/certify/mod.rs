//! Certificates a vendor can publish and anyone can re-check (issue 24): keys, DSSE
//! envelopes and in-toto Statements over a bundle of recorded evidence.

mod archive;
mod bundle;
mod contradict;
mod dsse;
mod grade;
mod html;
mod keys;
mod policy;
mod predicate;
mod rejudge;
mod run;
mod statement;

// The face the binary and the tests use. The other public types of these modules
// (errors, the Statement's parts, the rows and contradictions of a Predicate) are
// reached through the values that carry them.
pub use archive::{extract_archive, write_archive};
pub use bundle::{sign as sign_bundle, verify as verify_bundle};
pub use grade::{Row, Witness};
pub use keys::{PublicKey, SigningKey};
pub use policy::Policy;
pub use predicate::{Predicate, catalogue_digest};
pub use rejudge::rejudge;
pub use run::{CertRun, Written, certify, exit_code, judge, mode_name, run_dir, write_bundle};
pub use statement::{Mode, Statement};

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
