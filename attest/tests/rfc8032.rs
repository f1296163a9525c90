//! RFC 8032 §7.1 Ed25519 test vectors, pushed through speedcert's own key files: the
//! secret key is encoded as PKCS#8 PEM (ed25519-dalek's encoder), loaded with
//! `Signer::load`, and must reproduce the RFC's public key and signature byte for byte;
//! the public key goes through SPKI PEM and `TrustedKey::load` and must verify it.

mod common;

use std::fs;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256, Sha512};
use speedcert_attest::{KeyId, Signer, TrustStore, TrustedKey};

struct Vector {
    name: &'static str,
    secret: &'static str,
    public: &'static str,
    message: Vec<u8>,
    signature: &'static str,
}

fn vectors() -> Vec<Vector> {
    vec![
        Vector {
            name: "TEST 1",
            secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: vec![],
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        },
        Vector {
            name: "TEST 2",
            secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: vec![0x72],
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        },
        Vector {
            name: "TEST 3",
            secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: vec![0xaf, 0x82],
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        },
        // The 64-byte message of TEST SHA(abc) is SHA-512("abc"), computed here.
        Vector {
            name: "TEST SHA(abc)",
            secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            message: Sha512::digest(b"abc").to_vec(),
            signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        },
    ]
}

#[test]
fn sha_abc_message_is_the_rfc_one() {
    assert_eq!(
        hex::encode(Sha512::digest(b"abc")),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
}

#[test]
fn rfc8032_vectors_through_pem_key_files() {
    let dir = tempfile::tempdir().unwrap();
    for (i, v) in vectors().iter().enumerate() {
        let secret: [u8; 32] = hex::decode(v.secret).unwrap().try_into().unwrap();
        let public: [u8; 32] = hex::decode(v.public).unwrap().try_into().unwrap();
        let expected_sig: [u8; 64] = hex::decode(v.signature).unwrap().try_into().unwrap();

        // Private key: PKCS#8 PEM written with mode 0600, loaded by speedcert.
        let private_path = dir.path().join(format!("v{i}.pem"));
        let pem = SigningKey::from_bytes(&secret)
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{}",
            v.name
        );
        fs::write(&private_path, pem.as_bytes()).unwrap();
        common::chmod(&private_path, 0o600);
        let signer = Signer::load(&private_path).unwrap();
        assert_eq!(
            signer.verifying_key().to_bytes(),
            public,
            "{}: public key",
            v.name
        );
        let sig = signer.sign(&v.message);
        assert_eq!(hex::encode(sig), v.signature, "{}: signature", v.name);
        assert_eq!(sig, expected_sig);

        // Key id: sha256 of the raw 32 public-key bytes.
        assert_eq!(
            signer.key_id().as_str(),
            hex::encode(Sha256::digest(public)),
            "{}",
            v.name
        );

        // Public key: SPKI PEM, loaded as a trusted key, verifies the RFC's signature.
        let public_path = dir.path().join(format!("v{i}.pub.pem"));
        let pem = VerifyingKey::from_bytes(&public)
            .unwrap()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        fs::write(&public_path, pem).unwrap();
        let trusted = TrustedKey::load(&public_path).unwrap();
        assert_eq!(trusted.verifying_key().to_bytes(), public);
        assert_eq!(trusted.key_id(), signer.key_id());
        assert!(
            trusted.verify(&v.message, &expected_sig),
            "{}: verify",
            v.name
        );

        // And a wrong message or a flipped signature bit does not verify.
        let mut other = v.message.clone();
        other.push(0);
        assert!(!trusted.verify(&other, &expected_sig), "{}", v.name);
        let mut bad = expected_sig;
        bad[10] ^= 1;
        assert!(!trusted.verify(&v.message, &bad), "{}", v.name);
    }

    // The same public keys loaded as a trust-store folder.
    for i in 0..4 {
        fs::remove_file(dir.path().join(format!("v{i}.pem"))).unwrap();
    }
    let store = TrustStore::load(dir.path()).unwrap();
    assert_eq!(store.len(), 4);
    for v in vectors() {
        let public: [u8; 32] = hex::decode(v.public).unwrap().try_into().unwrap();
        let id = KeyId::of(&VerifyingKey::from_bytes(&public).unwrap());
        assert!(
            store.get(&id).is_some(),
            "{} missing from the store",
            v.name
        );
    }
}
