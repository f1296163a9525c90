//! DSSE v1: the JSON envelope, the pre-authentication encoding, signing and
//! threshold verification.
//!
//! Spec: <https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md> and
//! <https://github.com/secure-systems-lab/dsse/blob/v1.0.2/envelope.md>.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, engine::general_purpose::STANDARD};
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::keys::{KeyId, Signer, TrustStore, TrustedKey, short_hex};

/// `payloadType` of an envelope carrying an in-toto Statement (in-toto envelope.md).
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The largest envelope file a verifier reads (64 MiB). DSSE sets no limit; a statement
/// takes ~220 bytes of base64 per subject, so [`crate::MAX_SUBJECTS`] subjects and a
/// predicate with a line per run fit several times over. Larger files are refused
/// without being read past the cap.
pub const MAX_ENVELOPE_BYTES: u64 = 64 << 20;

/// The most signatures a verifier checks in one envelope. DSSE sets no limit, and each
/// signature costs up to one ed25519 verification per trusted key; a bundle is signed by
/// a few certifiers (the threshold is at most the trust store's size), so 64 leaves room
/// for any real co-signing while bounding the work. An envelope with more is refused
/// whole (speedcert never writes one), its extra signatures skipped unparsed.
pub const MAX_SIGNATURES: usize = 64;

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

/// Why [`Envelope::from_json`] refused an envelope file.
#[derive(Debug)]
pub enum ReadError {
    /// Not JSON, or not shaped like an envelope.
    Json(serde_json::Error),
    /// It lists more than [`MAX_SIGNATURES`] signatures.
    TooManySignatures { found: usize },
}

/// The envelope as a verifier parses it: signatures past [`MAX_SIGNATURES`] are counted
/// and skipped, never allocated.
#[derive(Deserialize)]
struct CappedEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    #[serde(default)]
    signatures: CappedSignatures,
}

#[derive(Default)]
struct CappedSignatures {
    kept: Vec<Signature>,
    found: usize,
}

impl<'de> Deserialize<'de> for CappedSignatures {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> Visitor<'de> for Count {
            type Value = CappedSignatures;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of signatures")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut list = CappedSignatures::default();
                loop {
                    let more = if list.kept.len() < MAX_SIGNATURES {
                        seq.next_element::<Signature>()?
                            .map(|s| list.kept.push(s))
                            .is_some()
                    } else {
                        seq.next_element::<IgnoredAny>()?.is_some()
                    };
                    if !more {
                        return Ok(list);
                    }
                    list.found += 1;
                }
            }
        }
        d.deserialize_seq(Count)
    }
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
    /// Parse an envelope file as a verifier must: refusing one with more than
    /// [`MAX_SIGNATURES`] signatures before any is checked.
    pub fn from_json(raw: &[u8]) -> Result<Self, ReadError> {
        let capped: CappedEnvelope = serde_json::from_slice(raw).map_err(ReadError::Json)?;
        if capped.signatures.found > MAX_SIGNATURES {
            return Err(ReadError::TooManySignatures {
                found: capped.signatures.found,
            });
        }
        Ok(Envelope {
            payload: capped.payload,
            payload_type: capped.payload_type,
            signatures: capped.signatures.kept,
        })
    }

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
            let (problem, rejection) = match outcome.as_ref().err() {
                Some((problem, why)) => (Some(problem.clone()), Some(why.clone())),
                None => (None, None),
            };
            results.push(SignatureResult {
                index: i + 1,
                keyid: s.keyid.clone(),
                verified_by: outcome.as_ref().ok().map(|k| k.key_id().clone()),
                key_source: outcome
                    .as_ref()
                    .ok()
                    .map(|k| k.source().display().to_string()),
                problem,
                rejection,
            });
        }
        let rejected = group_rejected(&results, trust);
        SignatureVerification {
            results,
            accepted,
            rejected,
        }
    }
}

/// Why no trusted key accepted a signature; signatures sharing one are reported together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// `sig` is not base64, or not 64 bytes.
    Malformed,
    /// The key id names this trusted key, which does not verify it: something signed
    /// was altered.
    Altered(KeyId),
    /// No trusted key verifies it.
    Untrusted,
}

fn verify_one(
    s: &Signature,
    message: &[u8],
    trust: &TrustStore,
) -> Result<TrustedKey, (String, Rejection)> {
    let label = match &s.keyid {
        Some(id) if !id.is_empty() => format!("key id {}", short_hex(id)),
        _ => "no key id".to_string(),
    };
    let raw = decode_base64(&s.sig)
        .map_err(|e| (format!("sig is not base64 ({e})"), Rejection::Malformed))?;
    let sig: [u8; 64] = raw.as_slice().try_into().map_err(|_| {
        (
            format!(
                "sig is {} bytes, an ed25519 signature is 64 ({label})",
                raw.len()
            ),
            Rejection::Malformed,
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
        Some(k) => (
            format!(
                "does not verify with trusted key {} ({}): the payload, payloadType or signature was altered",
                k.key_id().short(),
                k.source().display()
            ),
            Rejection::Altered(k.key_id().clone()),
        ),
        None => (
            format!(
                "{label} is not in the trust store, and the signature verifies with none of its {} key(s)",
                trust.len()
            ),
            Rejection::Untrusted,
        ),
    })
}

/// One line per reason, not per signature, so an envelope padded with junk signatures
/// cannot bury the report. A reason shared by one signature keeps its own message.
fn group_rejected(results: &[SignatureResult], trust: &TrustStore) -> Vec<RejectedGroup> {
    let mut groups: Vec<(&Rejection, Vec<&SignatureResult>)> = Vec::new();
    for r in results {
        let Some(why) = &r.rejection else { continue };
        match groups.iter_mut().find(|(w, _)| *w == why) {
            Some((_, members)) => members.push(r),
            None => groups.push((why, vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(why, members)| {
            let n = members.len();
            let first = members[0];
            let detail = if n == 1 {
                first.problem.clone().unwrap_or_default()
            } else {
                match why {
                    Rejection::Malformed => format!(
                        "{n} signatures are not 64-byte ed25519 signatures in base64 (#{}: {})",
                        first.index,
                        first.problem.as_deref().unwrap_or_default()
                    ),
                    Rejection::Altered(id) => format!(
                        "{n} signatures do not verify with trusted key {} ({}): the payload, payloadType or signatures were altered",
                        id.short(),
                        trust
                            .get(id)
                            .map(|k| k.source().display().to_string())
                            .unwrap_or_default()
                    ),
                    Rejection::Untrusted => format!(
                        "{n} signatures by keys not in the trust store ({}), and none verifies with any of its {} key(s)",
                        key_ids_in(&members),
                        trust.len()
                    ),
                }
            };
            RejectedGroup {
                indexes: members.iter().map(|r| r.index).collect(),
                detail,
            }
        })
        .collect()
}

/// "key ids 1a2b…, 3c4d… and 5 more, and 2 with none": the distinct ids, three at most.
fn key_ids_in(members: &[&SignatureResult]) -> String {
    let mut ids: Vec<&str> = Vec::new();
    let mut without = 0;
    for r in members {
        match r.keyid.as_deref() {
            Some(id) if !id.is_empty() => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => without += 1,
        }
    }
    let mut parts = Vec::new();
    if !ids.is_empty() {
        let shown: Vec<String> = ids.iter().take(3).map(|id| short_hex(id)).collect();
        let mut s = format!("key ids {}", shown.join(", "));
        if ids.len() > 3 {
            s.push_str(&format!(" and {} more", ids.len() - 3));
        }
        parts.push(s);
    }
    if without > 0 {
        parts.push(format!("{without} with no key id"));
    }
    parts.join(", ")
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
    pub rejection: Option<Rejection>,
}

/// Signatures rejected for one reason (see [`SignatureVerification::rejected`]).
#[derive(Debug, Clone, Serialize)]
pub struct RejectedGroup {
    /// 1-based positions in `signatures`, ascending.
    pub indexes: Vec<usize>,
    pub detail: String,
}

impl RejectedGroup {
    /// The positions as runs: `2`, `2-64`, `2, 5-7`.
    pub fn positions(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.indexes.len() {
            let start = self.indexes[i];
            let mut end = start;
            while i + 1 < self.indexes.len() && self.indexes[i + 1] == end + 1 {
                i += 1;
                end += 1;
            }
            out.push(if end == start {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
            i += 1;
        }
        out.join(", ")
    }
}

/// Outcome of checking all signatures of an envelope.
#[derive(Debug, Clone)]
pub struct SignatureVerification {
    pub results: Vec<SignatureResult>,
    /// Distinct trusted keys with a valid signature, in signature order.
    pub accepted: Vec<TrustedKey>,
    /// Signatures no trusted key accepted, one group per reason, by first position.
    pub rejected: Vec<RejectedGroup>,
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
    fn positions_read_as_runs() {
        let g = |indexes: Vec<usize>| RejectedGroup {
            indexes,
            detail: String::new(),
        };
        assert_eq!(g(vec![2]).positions(), "2");
        assert_eq!(g((2..=64).collect()).positions(), "2-64");
        assert_eq!(g(vec![2, 5, 6, 7, 9]).positions(), "2, 5-7, 9");
    }

    #[test]
    fn signatures_past_the_cap_are_refused_unparsed() {
        let sig = r#"{"sig":"AA=="}"#;
        let env = |n: usize| {
            format!(
                r#"{{"payload":"eA==","payloadType":"t","signatures":[{}]}}"#,
                vec![sig; n].join(",")
            )
        };
        let ok = Envelope::from_json(env(MAX_SIGNATURES).as_bytes()).unwrap();
        assert_eq!(ok.signatures.len(), MAX_SIGNATURES);
        match Envelope::from_json(env(MAX_SIGNATURES + 1).as_bytes()) {
            Err(ReadError::TooManySignatures { found }) => assert_eq!(found, MAX_SIGNATURES + 1),
            other => panic!("{other:?}"),
        }
        // Past the cap an element is skipped, but it must still be JSON.
        let bad = env(MAX_SIGNATURES).replace("]}", ",{]}");
        assert!(matches!(
            Envelope::from_json(bad.as_bytes()),
            Err(ReadError::Json(_))
        ));
        let missing = Envelope::from_json(br#"{"payload":"eA==","payloadType":"t"}"#).unwrap();
        assert!(missing.signatures.is_empty());
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
