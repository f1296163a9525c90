//! speedcert-attest: signed bundles anyone can verify offline.
//!
//! A bundle folder is attested by an in-toto Statement v1 (one subject per file, with
//! its SHA-256) inside a DSSE envelope signed with ed25519, stored in the folder as
//! `attestation.dsse.json`. This crate knows nothing of training: the predicate is an
//! opaque JSON object supplied by the caller.
//!
//! - [`keys`]: key generation, PEM files, key ids, the trust store;
//! - [`statement`]: the Statement and the bundle walk;
//! - [`dsse`]: envelope, PAE, signing, threshold verification;
//! - [`sign_bundle`] / [`verify_bundle`]: the high-level API, returning a
//!   [`VerifyReport`] of named checks.
//!
//! A verifier reads files others wrote, so what it reads is capped: [`MAX_ENVELOPE_BYTES`],
//! [`MAX_SIGNATURES`], [`MAX_SUBJECTS`], [`MAX_KEY_FILE_BYTES`].
//!
//! Specs: DSSE <https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md>,
//! in-toto Statement <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>,
//! Ed25519 RFC 8032, key files RFC 8410.

mod bundle;
pub mod digest;
pub mod dsse;
mod error;
pub mod keys;
mod report;
pub mod statement;

pub use bundle::{SignedBundle, cosign_bundle, sign_bundle, verify_bundle};
pub use dsse::{Envelope, MAX_ENVELOPE_BYTES, MAX_SIGNATURES, PAYLOAD_TYPE, pae};
pub use error::{Error, Result};
pub use keys::{
    GeneratedKey, KeyId, MAX_KEY_FILE_BYTES, Signer, TrustStore, TrustedKey, generate_key,
    public_key_path,
};
pub use report::{Check, Outcome, SignedBy, VerifyReport, check};
pub use statement::{ENVELOPE_FILE, MAX_SUBJECTS, PREDICATE_TYPE, STATEMENT_TYPE, Statement};
