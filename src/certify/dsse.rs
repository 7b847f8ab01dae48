//! DSSE envelopes (Dead Simple Signing Envelope, v1.0): a payload, its type, and
//! signatures over the pre-authentication encoding (PAE) of the two.
//! Spec: <https://github.com/secure-systems-lab/dsse/blob/master/protocol.md>.

use super::keys::{PublicKey, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

/// The payload type of an in-toto Statement.
pub(crate) const IN_TOTO: &str = "application/vnd.in-toto+json";

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Signature {
    /// Which key signed (its fingerprint, see [`PublicKey::fingerprint`]).
    pub keyid: String,
    /// The signature, base64 (standard alphabet, padded).
    pub sig: String,
}

/// A DSSE envelope as JSON (`payload` base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope {
    /// The payload, base64 (standard alphabet, padded).
    pub payload: String,
    /// What the payload is.
    pub payload_type: String,
    /// The signatures over PAE(payloadType, payload).
    pub signatures: Vec<Signature>,
}

/// Why an envelope was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The payload is not base64.
    #[error("the envelope's payload is not base64")]
    PayloadNotBase64,
    /// The payload type is not the expected one.
    #[error("the envelope's payloadType is {found:?}, not {expected:?}")]
    PayloadType {
        /// What the envelope says.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// No signature of the given key verifies.
    #[error("no signature by key {fingerprint} verifies (the envelope is signed by: {signed_by})")]
    NotSigned {
        /// The key's fingerprint.
        fingerprint: String,
        /// The keyids the envelope names.
        signed_by: String,
    },
}

/// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` of `payload_type` with `key`.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
        let sig = key.sign(&pae(payload_type, payload));
        Envelope {
            payload: B64.encode(payload),
            payload_type: payload_type.to_string(),
            signatures: vec![Signature {
                keyid: key.public().fingerprint(),
                sig: B64.encode(sig),
            }],
        }
    }

    /// The payload, once a signature of `key` over it verifies and its type is
    /// `payload_type`.
    pub fn verify(&self, payload_type: &str, key: &PublicKey) -> Result<Vec<u8>, EnvelopeError> {
        if self.payload_type != payload_type {
            return Err(EnvelopeError::PayloadType {
                found: self.payload_type.clone(),
                expected: payload_type.to_string(),
            });
        }
        let payload = B64
            .decode(&self.payload)
            .map_err(|_| EnvelopeError::PayloadNotBase64)?;
        let msg = pae(&self.payload_type, &payload);
        let ok = self
            .signatures
            .iter()
            .any(|s| B64.decode(&s.sig).is_ok_and(|sig| key.verifies(&msg, &sig)));
        if ok {
            Ok(payload)
        } else {
            Err(EnvelopeError::NotSigned {
                fingerprint: key.fingerprint(),
                signed_by: self
                    .signatures
                    .iter()
                    .map(|s| s.keyid.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_spec_s_example() {
        // protocol.md's test vector
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn a_signed_envelope_verifies_and_any_change_is_refused() {
        let k = SigningKey::generate().unwrap();
        let e = Envelope::sign(IN_TOTO, br#"{"a":1}"#, &k);
        assert_eq!(e.verify(IN_TOTO, &k.public()).unwrap(), br#"{"a":1}"#);

        let mut other_payload = e.clone();
        other_payload.payload = B64.encode(br#"{"a":2}"#);
        assert!(matches!(
            other_payload.verify(IN_TOTO, &k.public()),
            Err(EnvelopeError::NotSigned { .. })
        ));

        let mut other_type = e.clone();
        other_type.payload_type = "text/plain".into();
        assert!(matches!(
            other_type.verify(IN_TOTO, &k.public()),
            Err(EnvelopeError::PayloadType { .. })
        ));
        // the type is signed too: claiming the expected type over a text/plain signature fails
        let t = Envelope::sign("text/plain", br#"{"a":1}"#, &k);
        let mut relabelled = t.clone();
        relabelled.payload_type = IN_TOTO.into();
        assert!(relabelled.verify(IN_TOTO, &k.public()).is_err());

        let stranger = SigningKey::generate().unwrap();
        let err = e.verify(IN_TOTO, &stranger.public()).unwrap_err();
        assert!(err.to_string().contains(&k.public().fingerprint()), "{err}");
    }

    #[test]
    fn the_envelope_json_has_the_spec_s_field_names() {
        let k = SigningKey::generate().unwrap();
        let v = serde_json::to_value(Envelope::sign(IN_TOTO, b"{}", &k)).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["payload", "payloadType", "signatures"]);
        assert_eq!(v["signatures"][0].as_object().unwrap().len(), 2);
    }
}
