//! DSSE: the PAE byte string, envelope signing and multi-signature verification.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use speedcert_attest::dsse::{Envelope, Signature, decode_base64};
use speedcert_attest::pae;

#[test]
fn pae_of_the_spec_example() {
    // protocol.md, "Test Vectors".
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
}

#[test]
fn pae_edge_cases() {
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    // Lengths count bytes, not characters; the body is copied raw, spaces and all.
    assert_eq!(pae("é", b"a b"), "DSSEv1 2 é 3 a b".as_bytes().to_vec());
    let body = vec![0u8; 1000];
    let p = pae("application/vnd.in-toto+json", &body);
    assert!(p.starts_with(b"DSSEv1 28 application/vnd.in-toto+json 1000 "));
    assert_eq!(
        p.len(),
        "DSSEv1 28 application/vnd.in-toto+json 1000 ".len() + 1000
    );
}

#[test]
fn sign_and_verify_with_threshold_of_distinct_keys() {
    let (a, b, c) = (common::signer(1), common::signer(2), common::signer(3));
    let body = br#"{"hello":"world"}"#;
    let env = Envelope::sign("application/vnd.in-toto+json", body, &[a, b]);
    assert_eq!(env.signatures.len(), 2);
    assert_eq!(decode_base64(&env.payload).unwrap(), body);
    let (a, b) = (common::signer(1), common::signer(2));
    assert_eq!(
        env.signatures[0].keyid.as_deref(),
        Some(a.key_id().as_str())
    );

    let trust = common::trust(&[&a, &b, &c]);
    let v = env.verify(body, &trust);
    assert_eq!(v.accepted.len(), 2);
    assert!(v.meets(1) && v.meets(2) && !v.meets(3) && !v.meets(0));

    // The signature covers the PAE: changing the type or the body breaks it.
    let mut retyped = env.clone();
    retyped.payload_type = "application/json".into();
    assert_eq!(retyped.verify(body, &trust).accepted.len(), 0);
    assert_eq!(
        env.verify(b"{\"hello\":\"World\"}", &trust).accepted.len(),
        0
    );

    // Two signatures by the same key count once.
    let mut twice = env.clone();
    twice.signatures[1] = twice.signatures[0].clone();
    let v = twice.verify(body, &trust);
    assert_eq!(v.accepted.len(), 1);
    assert!(!v.meets(2));
}

#[test]
fn key_id_is_a_hint_only() {
    let a = common::signer(1);
    let body = b"x";
    let mut env = Envelope::sign("t", body, &[common::signer(1)]);
    let trust = common::trust(&[&a]);
    // A wrong or missing key id still verifies: the key is found by trying.
    env.signatures[0].keyid = Some("00".repeat(32));
    assert_eq!(env.verify(body, &trust).accepted.len(), 1);
    env.signatures[0].keyid = None;
    assert_eq!(env.verify(body, &trust).accepted.len(), 1);
    // The right key id on a signature by another key does not make it valid.
    let other = Envelope::sign("t", body, &[common::signer(9)]);
    let forged = Signature {
        keyid: Some(a.key_id().to_string()),
        sig: other.signatures[0].sig.clone(),
    };
    env.signatures = vec![forged];
    let v = env.verify(body, &trust);
    assert_eq!(v.accepted.len(), 0);
    assert!(
        v.results[0]
            .problem
            .as_ref()
            .unwrap()
            .contains("does not verify with trusted key")
    );
}

#[test]
fn verifiers_accept_url_safe_and_unpadded_base64() {
    let a = common::signer(1);
    let body = b"\xfb\xff\xfe binary-ish payload";
    let env = Envelope::sign("t", body, &[common::signer(1)]);
    let sig = STANDARD.decode(&env.signatures[0].sig).unwrap();
    let url = Envelope {
        payload: URL_SAFE_NO_PAD.encode(body),
        payload_type: "t".into(),
        signatures: vec![Signature {
            keyid: None,
            sig: URL_SAFE_NO_PAD.encode(&sig),
        }],
    };
    let decoded = url.decode_payload().unwrap();
    assert_eq!(decoded, body);
    assert_eq!(
        url.verify(&decoded, &common::trust(&[&a])).accepted.len(),
        1
    );
}

#[test]
fn envelope_json_field_names_follow_the_spec() {
    let env = Envelope::sign("t", b"x", &[common::signer(1)]);
    let v = serde_json::to_value(&env).unwrap();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<_> = obj.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["payload", "payloadType", "signatures"]);
    let sig = v["signatures"][0].as_object().unwrap();
    assert!(sig.contains_key("keyid") && sig.contains_key("sig"));
    // Unknown fields are tolerated on read.
    let with_extra = r#"{"payload":"eA==","payloadType":"t","signatures":[],"extra":1}"#;
    let parsed: Envelope = serde_json::from_str(with_extra).unwrap();
    assert_eq!(parsed.decode_payload().unwrap(), b"x");
}
