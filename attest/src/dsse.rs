//! DSSE v1: the JSON envelope, the pre-authentication encoding, signing and
//! threshold verification.
//!
//! Spec: <https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md> and
//! <https://github.com/secure-systems-lab/dsse/blob/v1.0.2/envelope.md>.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyId, Signer, TrustStore, TrustedKey, short_hex};

/// `payloadType` of an envelope carrying an in-toto Statement (in-toto envelope.md).
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The JSON envelope (envelope.md, "Standard JSON envelope").
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Base64 of SERIALIZED_BODY.
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// "Empty fields may be omitted": a missing list reads as no signatures.
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

/// One signature (envelope.md). `keyid` is an unauthenticated hint.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// Base64 of the 64-byte ed25519 signature over the PAE.
    pub sig: String,
}

/// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, where LEN is
/// the decimal byte length with no leading zeros (protocol.md, "Signature Definition").
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let t = payload_type.as_bytes();
    let mut out = Vec::with_capacity(32 + t.len() + body.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(t.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(t);
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

/// Base64 as DSSE requires verifiers to accept it: standard or URL-safe alphabet
/// (protocol.md), with or without padding.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&alphabet::STANDARD, lenient);
    let url_safe = GeneralPurpose::new(&alphabet::URL_SAFE, lenient);
    standard
        .decode(s)
        .or_else(|e| url_safe.decode(s).map_err(|_| e))
}

impl Envelope {
    /// Sign `body` as `payload_type` with each signer (a signer listed twice signs once).
    pub fn sign(payload_type: &str, body: &[u8], signers: &[Signer]) -> Self {
        let mut env = Envelope {
            payload: STANDARD.encode(body),
            payload_type: payload_type.into(),
            signatures: Vec::new(),
        };
        env.add_signatures(body, signers);
        env
    }

    /// Append signatures by `signers` over this envelope's `body` (the decoded
    /// payload), skipping keys whose id already labels a signature.
    pub fn add_signatures(&mut self, body: &[u8], signers: &[Signer]) {
        let message = pae(&self.payload_type, body);
        for s in signers {
            let id = s.key_id().as_str();
            if self
                .signatures
                .iter()
                .any(|x| x.keyid.as_deref() == Some(id))
            {
                continue;
            }
            self.signatures.push(Signature {
                keyid: Some(id.to_string()),
                sig: STANDARD.encode(s.sign(&message)),
            });
        }
    }

    pub fn decode_payload(&self) -> Result<Vec<u8>, base64::DecodeError> {
        decode_base64(&self.payload)
    }

    /// Check every signature against `trust` (protocol.md, "Multi-signature
    /// Verification"). `body` is the decoded payload. The key id picks the key to try
    /// first, but since it is unauthenticated every trusted key is tried before a
    /// signature is declared bad.
    pub fn verify(&self, body: &[u8], trust: &TrustStore) -> SignatureVerification {
        let message = pae(&self.payload_type, body);
        let mut results = Vec::with_capacity(self.signatures.len());
        let mut accepted: Vec<TrustedKey> = Vec::new();
        for (i, s) in self.signatures.iter().enumerate() {
            let outcome = verify_one(s, &message, trust);
            if let Ok(key) = &outcome
                && !accepted.iter().any(|k| k.key_id() == key.key_id())
            {
                accepted.push(key.clone());
            }
            results.push(SignatureResult {
                index: i + 1,
                keyid: s.keyid.clone(),
                verified_by: outcome.as_ref().ok().map(|k| k.key_id().clone()),
                key_source: outcome
                    .as_ref()
                    .ok()
                    .map(|k| k.source().display().to_string()),
                problem: outcome.err(),
            });
        }
        SignatureVerification { results, accepted }
    }
}

fn verify_one(s: &Signature, message: &[u8], trust: &TrustStore) -> Result<TrustedKey, String> {
    let label = match &s.keyid {
        Some(id) if !id.is_empty() => format!("key id {}", short_hex(id)),
        _ => "no key id".to_string(),
    };
    let raw = decode_base64(&s.sig).map_err(|e| format!("sig is not base64 ({e})"))?;
    let sig: [u8; 64] = raw.as_slice().try_into().map_err(|_| {
        format!(
            "sig is {} bytes, an ed25519 signature is 64 ({label})",
            raw.len()
        )
    })?;
    let named = s.keyid.as_deref().and_then(|id| trust.get_str(id));
    if let Some(k) = named
        && k.verify(message, &sig)
    {
        return Ok(k.clone());
    }
    let others = trust
        .keys()
        .iter()
        .filter(|k| named.is_none_or(|n| n.key_id() != k.key_id()));
    for k in others {
        if k.verify(message, &sig) {
            return Ok(k.clone());
        }
    }
    Err(match named {
        Some(k) => format!(
            "does not verify with trusted key {} ({}): the payload, payloadType or signature was altered",
            k.key_id().short(),
            k.source().display()
        ),
        None => format!(
            "{label} is not in the trust store, and the signature verifies with none of its {} key(s)",
            trust.len()
        ),
    })
}

/// What [`Envelope::verify`] found for one signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureResult {
    /// 1-based position in `signatures`.
    pub index: usize,
    pub keyid: Option<String>,
    pub verified_by: Option<KeyId>,
    pub key_source: Option<String>,
    pub problem: Option<String>,
}

/// Outcome of checking all signatures of an envelope.
#[derive(Debug, Clone)]
pub struct SignatureVerification {
    pub results: Vec<SignatureResult>,
    /// Distinct trusted keys with a valid signature, in signature order.
    pub accepted: Vec<TrustedKey>,
}

impl SignatureVerification {
    /// Whether at least `threshold` distinct trusted keys signed.
    pub fn meets(&self, threshold: usize) -> bool {
        threshold >= 1 && self.accepted.len() >= threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn base64_either_alphabet_any_padding() {
        assert_eq!(decode_base64("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(decode_base64("aGVsbG8gd29ybGQ").unwrap(), b"hello world");
        assert_eq!(decode_base64("-_8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("+/8").unwrap(), [0xfb, 0xff]);
        assert!(decode_base64("not base64!").is_err());
    }
}
