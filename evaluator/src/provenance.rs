//! Where this binary came from, embedded at build time by `evaluator/build.rs`.
//!
//! `speedcert env`, env.json and every run.json carry it, so two certifiers can tell whether
//! they ran the same bits: same `git_revision`, same `cargo_lock_sha256` and, for binaries
//! built by the flake, the same `source_nar_hash` (the flake's `self.narHash`).
//!
//! The values are fixed at compile time; nothing here reads the clock, the host or the disk.

use serde::{Deserialize, Serialize};

/// Git revision the binary was built from: a 40-hex commit, that commit with `-dirty`, or
/// [`UNKNOWN`].
pub const GIT_REVISION: &str = env!("SPEEDCERT_GIT_REV");
/// Hex SHA-256 of the workspace Cargo.lock at build time, or [`UNKNOWN`].
pub const CARGO_LOCK_SHA256: &str = env!("SPEEDCERT_CARGO_LOCK_SHA256");
/// The flake source's narHash (`sha256-…` SRI string); empty when not built by Nix.
const SOURCE_NAR_HASH: &str = env!("SPEEDCERT_SOURCE_NAR_HASH");
/// Cargo profile family: `release` or `debug`.
pub const PROFILE: &str = env!("SPEEDCERT_BUILD_PROFILE");
/// Target triple, e.g. `x86_64-unknown-linux-gnu`.
pub const TARGET: &str = env!("SPEEDCERT_BUILD_TARGET");

/// The value build.rs embeds when it could not read a field.
pub const UNKNOWN: &str = "unknown";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// Crate version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Commit, commit + `-dirty`, or `unknown`.
    pub git_revision: String,
    /// Hex SHA-256 of Cargo.lock, or `unknown`.
    pub cargo_lock_sha256: String,
    /// The flake's source narHash when built by Nix, else `None`.
    pub source_nar_hash: Option<String>,
    /// `release` or `debug`.
    pub profile: String,
    /// Target triple.
    pub target: String,
}

impl Provenance {
    /// The provenance of the running binary.
    pub fn current() -> Self {
        Provenance {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: GIT_REVISION.to_string(),
            cargo_lock_sha256: CARGO_LOCK_SHA256.to_string(),
            source_nar_hash: (!SOURCE_NAR_HASH.is_empty()).then(|| SOURCE_NAR_HASH.to_string()),
            profile: PROFILE.to_string(),
            target: TARGET.to_string(),
        }
    }

    /// The git revision, or `None` when it is `unknown` (env.json writes unreadable fields as
    /// `null`, never guessed).
    pub fn git_revision_opt(&self) -> Option<&str> {
        known(&self.git_revision)
    }

    /// The Cargo.lock digest, or `None` when it is `unknown`.
    pub fn cargo_lock_sha256_opt(&self) -> Option<&str> {
        known(&self.cargo_lock_sha256)
    }

    /// True when the tree had uncommitted changes (or an unreadable status) at build time.
    pub fn is_dirty(&self) -> bool {
        self.git_revision.ends_with("-dirty")
    }

    /// True when the binary was built by the Nix flake (it then carries the source narHash).
    pub fn built_by_nix(&self) -> bool {
        self.source_nar_hash.is_some()
    }

    /// True when a certifier can trace the binary to a committed source: a known, clean
    /// revision and a known lock digest.
    pub fn is_traceable(&self) -> bool {
        self.git_revision_opt().is_some()
            && !self.is_dirty()
            && self.cargo_lock_sha256_opt().is_some()
    }

    /// One line for `speedcert --version` and logs, e.g.
    /// `0.1.0 (rev 1a2b3c4d5e6f, Cargo.lock 9f86d081884c, release, x86_64-unknown-linux-gnu)`.
    pub fn summary(&self) -> String {
        let mut parts = vec![
            format!("rev {}", short(&self.git_revision, 12)),
            format!("Cargo.lock {}", short(&self.cargo_lock_sha256, 12)),
        ];
        if let Some(nar) = &self.source_nar_hash {
            parts.push(format!("nar {nar}"));
        }
        parts.push(self.profile.clone());
        parts.push(self.target.clone());
        format!("{} ({})", self.version, parts.join(", "))
    }
}

fn known(value: &str) -> Option<&str> {
    (!value.is_empty() && value != UNKNOWN).then_some(value)
}

/// The first `n` characters of a hex revision, keeping a `-dirty` suffix visible.
fn short(value: &str, n: usize) -> String {
    let (base, suffix) = match value.strip_suffix("-dirty") {
        Some(base) => (base, "-dirty"),
        None => (value, ""),
    };
    if base.len() > n && base.is_ascii() {
        format!("{}{}", &base[..n], suffix)
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_hex(s: &str, len: usize) -> bool {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    #[test]
    fn current_is_well_formed() {
        let p = Provenance::current();
        assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
        assert!(
            p.cargo_lock_sha256 == UNKNOWN || is_hex(&p.cargo_lock_sha256, 64),
            "{p:?}"
        );
        let rev = p
            .git_revision
            .strip_suffix("-dirty")
            .unwrap_or(&p.git_revision);
        assert!(
            !rev.is_empty() && !rev.contains(char::is_whitespace),
            "{p:?}"
        );
        assert!(p.profile == "release" || p.profile == "debug", "{p:?}");
        assert!(!p.target.is_empty(), "{p:?}");
        if let Some(nar) = &p.source_nar_hash {
            assert!(!nar.is_empty());
        }
    }

    #[test]
    fn lock_digest_matches_the_workspace_lock() {
        // The tests run from a checkout whose Cargo.lock is the one build.rs hashed (cargo
        // reruns build.rs when it changes).
        let p = Provenance::current();
        let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        if let (Some(embedded), Ok(bytes)) = (p.cargo_lock_sha256_opt(), std::fs::read(&lock)) {
            use sha2::{Digest, Sha256};
            assert_eq!(embedded, hex::encode(Sha256::digest(&bytes)));
        }
    }

    #[test]
    fn json_round_trip_and_null_nar_hash() {
        let p = Provenance {
            version: "0.1.0".into(),
            git_revision: UNKNOWN.into(),
            cargo_lock_sha256: "ab".repeat(32),
            source_nar_hash: None,
            profile: "release".into(),
            target: "x86_64-unknown-linux-gnu".into(),
        };
        let json = serde_json::to_value(&p).unwrap();
        assert!(json["source_nar_hash"].is_null());
        let back: Provenance = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
        assert_eq!(p.git_revision_opt(), None);
        assert!(!p.is_traceable());
        assert!(!p.built_by_nix());
    }

    #[test]
    fn tolerates_unknown_fields() {
        let json = r#"{"version":"0.1.0","git_revision":"abc","cargo_lock_sha256":"unknown",
            "source_nar_hash":"sha256-AAAA","profile":"release","target":"t","future":1}"#;
        let p: Provenance = serde_json::from_str(json).unwrap();
        assert!(p.built_by_nix());
        assert_eq!(p.cargo_lock_sha256_opt(), None);
    }

    #[test]
    fn summary_shortens_and_keeps_dirty() {
        let p = Provenance {
            version: "0.1.0".into(),
            git_revision: format!("{}-dirty", "a".repeat(40)),
            cargo_lock_sha256: "b".repeat(64),
            source_nar_hash: Some("sha256-xyz=".into()),
            profile: "release".into(),
            target: "x86_64-unknown-linux-gnu".into(),
        };
        assert!(p.is_dirty());
        assert!(!p.is_traceable());
        assert_eq!(
            p.summary(),
            "0.1.0 (rev aaaaaaaaaaaa-dirty, Cargo.lock bbbbbbbbbbbb, nar sha256-xyz=, release, \
             x86_64-unknown-linux-gnu)"
        );
    }
}
