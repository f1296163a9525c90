//! `speedcert verify`: is this bundle genuine? Signatures against trusted keys, every
//! file's digest, the file set; exit 0 genuine, 3 not genuine, 1 unreadable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use speedcert_attest::{TrustStore, VerifyReport};

use super::code;
use super::exit::{FAILED_VERDICT, SUCCESS};

/// Where trusted public keys are looked for when `--trust` is not given.
pub const DEFAULT_TRUST_DIR: &str = "records/keys";

/// Arguments of `speedcert verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle folder to verify.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// A trusted public key (SPKI PEM) or a folder of them (*.pem)
    /// [default: records/keys, if it exists].
    #[arg(long, value_name = "KEY_OR_DIR")]
    pub trust: Option<PathBuf>,
    /// How many distinct trusted keys must have signed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threshold: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let trust = load_trust(args.trust.as_deref())?;
    let report = verify(&args.bundle, &trust, args.threshold)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(code(if report.is_genuine() {
        SUCCESS
    } else {
        FAILED_VERDICT
    }))
}

/// The trust store from `--trust`, or from `records/keys` under the current folder.
pub fn load_trust(trust: Option<&Path>) -> anyhow::Result<TrustStore> {
    let path = match trust {
        Some(p) => p.to_path_buf(),
        None => {
            let dir = PathBuf::from(DEFAULT_TRUST_DIR);
            if !dir.is_dir() {
                bail!(
                    "no trusted keys: {DEFAULT_TRUST_DIR} does not exist in this folder; pass --trust KEY_OR_DIR"
                );
            }
            dir
        }
    };
    Ok(TrustStore::load(&path)?)
}

/// Everything `speedcert verify` checks, as one report (speedcert-bundle: the
/// attestation, then every figure recomputed by the rules of the bundle's schema).
/// `Err` only for unreadable input.
pub fn verify(bundle: &Path, trust: &TrustStore, threshold: usize) -> anyhow::Result<VerifyReport> {
    Ok(speedcert_bundle::verify_bundle(bundle, trust, threshold)?)
}
