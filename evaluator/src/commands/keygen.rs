//! `speedcert keygen`: a new ed25519 key for signing bundles. All work is in
//! `speedcert_attest::generate_key`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::code;
use super::exit::SUCCESS;

/// Arguments of `speedcert keygen`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write the private key (PKCS#8 v1 PEM as openssl writes it, mode 0600). The
    /// public key (SPKI PEM) goes beside it: `key.pem` -> `key.pub.pem`. Existing files
    /// are never overwritten.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        // A fresh folder for keys is private to its owner.
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(parent)
            .with_context(|| format!("{}: cannot create the folder", parent.display()))?;
    }
    let key = speedcert_attest::generate_key(&args.out)?;
    println!("key id       {}", key.key_id);
    println!(
        "private key  {}  (mode 0600: keep it secret)",
        key.private_path.display()
    );
    println!(
        "public key   {}  (publish it: copy it into records/keys/)",
        key.public_path.display()
    );
    Ok(code(SUCCESS))
}
