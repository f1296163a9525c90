//! `speedcert sign`: sign an existing bundle folder, or co-sign a signed one. The
//! certifier signs through the same library call (`speedcert_attest::sign_bundle`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};
use speedcert_attest::{Signer, cosign_bundle, sign_bundle};

use super::code;
use super::exit::SUCCESS;

/// Arguments of `speedcert sign`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle folder to sign (at least one file); writes BUNDLE/attestation.dsse.json.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Private ed25519 key (PKCS#8 PEM, mode 0600: from speedcert keygen or openssl genpkey
    /// -algorithm ed25519). Repeat to sign with several keys.
    #[arg(long = "key", value_name = "KEY", required = true)]
    pub keys: Vec<PathBuf>,
    /// Add these signatures to the bundle's existing attestation instead of replacing
    /// it (a second certifier co-signing); refused if any file changed since signing.
    #[arg(long)]
    pub cosign: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let signers = args
        .keys
        .iter()
        .map(|k| Signer::load(k))
        .collect::<Result<Vec<_>, _>>()?;
    let signed = if args.cosign {
        cosign_bundle(&args.bundle, &signers)?
    } else {
        sign_bundle(&args.bundle, &signers, predicate_for(&args.bundle)?)?
    };
    println!(
        "signed {}: {} files, {} bytes -> {}",
        args.bundle.display(),
        signed.subjects,
        signed.bytes,
        signed.envelope.display()
    );
    for id in &signed.key_ids {
        println!("  key {id}");
    }
    Ok(code(SUCCESS))
}

/// The predicate `speedcert sign` attests: the typed predicate of the bundle's own
/// summary.json (and drift.json), the same shape `speedcert certify` signs, or `{}` when
/// the bundle has no summary.json. Other provenance (binary digest, version, host) is
/// already in env.json, a subject.
pub fn predicate_for(bundle: &Path) -> anyhow::Result<Value> {
    match speedcert_bundle::predicate::read_predicate(bundle)? {
        Some(p) => Ok(serde_json::to_value(p)?),
        None => Ok(json!({})),
    }
}
