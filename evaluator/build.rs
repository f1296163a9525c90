//! Build script: embeds where this binary came from (see `src/provenance.rs`).
//!
//! It sets, through `cargo:rustc-env`:
//! - `SPEEDCERT_GIT_REV`: `$SPEEDCERT_GIT_REV` when set and non-empty (the Nix flake passes
//!   `self.rev` or `self.dirtyRev`); else `git rev-parse HEAD` of the git repository whose top
//!   level is this workspace, with `-dirty` appended when `git status --porcelain` is non-empty;
//!   else `unknown` (no git, no commit yet, or a source tree without `.git`). The script
//!   reruns when the git index or HEAD moves and when a source of the crates this binary
//!   is built from changes (an edit that is never `git add`ed leaves the index alone, and
//!   the flag must follow the sources the binary was compiled from).
//! - `SPEEDCERT_CARGO_LOCK_SHA256`: hex SHA-256 of the workspace `Cargo.lock`, or `unknown`.
//! - `SPEEDCERT_SOURCE_NAR_HASH`: `$SPEEDCERT_SOURCE_NAR_HASH` (the flake's `self.narHash`) or
//!   empty, which `Provenance` reads as `None`.
//! - `SPEEDCERT_BUILD_PROFILE`, `SPEEDCERT_BUILD_TARGET`: cargo's profile and target triple.
//!
//! Reproducibility: no clock, no host name, no absolute path reaches the binary; the same
//! sources, lock file and variables give the same values.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const ENV_GIT_REV: &str = "SPEEDCERT_GIT_REV";
const ENV_NAR_HASH: &str = "SPEEDCERT_SOURCE_NAR_HASH";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={ENV_GIT_REV}");
    println!("cargo:rerun-if-env-changed={ENV_NAR_HASH}");

    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    // Through symlinks: a submission's runner builds this crate from a mirror of the
    // workspace (evaluator/src/outside/runner.rs) and must embed the same provenance.
    let manifest_dir = fs::canonicalize(&manifest_dir).unwrap_or(manifest_dir);
    let workspace_root = workspace_root(&manifest_dir);

    // Cargo.lock digest.
    let lock_path = workspace_root.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock_sha256 = match fs::read(&lock_path) {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
        Err(_) => "unknown".to_string(),
    };

    // Git revision.
    let git_rev = match non_empty_env(ENV_GIT_REV) {
        Some(rev) => sanitize(&rev),
        None => git_revision(&workspace_root).unwrap_or_else(|| "unknown".to_string()),
    };

    // Nix source narHash (empty when not built by the flake).
    let nar_hash = non_empty_env(ENV_NAR_HASH)
        .map(|h| sanitize(&h))
        .unwrap_or_default();

    let profile = env::var("PROFILE").unwrap_or_else(|_| "unknown".to_string());
    let target = env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());

    println!("cargo:rustc-env=SPEEDCERT_GIT_REV={git_rev}");
    println!("cargo:rustc-env=SPEEDCERT_CARGO_LOCK_SHA256={lock_sha256}");
    println!("cargo:rustc-env=SPEEDCERT_SOURCE_NAR_HASH={nar_hash}");
    println!("cargo:rustc-env=SPEEDCERT_BUILD_PROFILE={profile}");
    println!("cargo:rustc-env=SPEEDCERT_BUILD_TARGET={target}");
}

fn non_empty_env(name: &str) -> Option<String> {
    env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Keeps a value printable on one `cargo:` line: no control characters or whitespace.
fn sanitize(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .collect()
}

/// The nearest ancestor of the crate (itself included) that holds a Cargo.lock.
fn workspace_root(manifest_dir: &Path) -> PathBuf {
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

fn git(workspace_root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(workspace_root)
        // Never take a lock or rewrite the index from a build script.
        .arg("--no-optional-locks")
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&output.stdout)
            .trim_end_matches(['\n', '\r'])
            .to_string(),
    )
}

/// `git rev-parse HEAD` (+ `-dirty`) of the repository whose top level is the workspace root;
/// `None` when there is no git, no such repository, or no commit yet.
fn git_revision(workspace_root: &Path) -> Option<String> {
    let toplevel = git(workspace_root, &["rev-parse", "--show-toplevel"])?;
    // A source copy inside some other repository must not report that repository's commit.
    let same = match (
        fs::canonicalize(&toplevel),
        fs::canonicalize(workspace_root),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return None;
    }

    // Rerun when HEAD moves, a branch is committed to, or the index changes.
    if let Some(git_dir) = git(workspace_root, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        let common_dir = git(workspace_root, &["rev-parse", "--git-common-dir"])
            .map(|d| {
                let d = PathBuf::from(d);
                if d.is_absolute() {
                    d
                } else {
                    workspace_root.join(d)
                }
            })
            .unwrap_or_else(|| git_dir.clone());
        watch(&git_dir.join("HEAD"));
        watch(&git_dir.join("index"));
        watch(&common_dir.join("packed-refs"));
        if let Ok(head) = fs::read_to_string(git_dir.join("HEAD"))
            && let Some(reference) = head.trim().strip_prefix("ref: ")
        {
            let ref_path = common_dir.join(reference);
            if ref_path.exists() {
                watch(&ref_path);
            } else if let Some(parent) = ref_path.parent() {
                // Unborn branch (no commit yet): its ref file appears in this folder.
                watch(parent);
            }
        }
    }

    let rev = git(
        workspace_root,
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )?;
    if rev.is_empty() {
        return None;
    }
    watch_sources(workspace_root);
    let dirty = git(workspace_root, &["status", "--porcelain"]).map(|s| !s.trim().is_empty());
    Some(match dirty {
        Some(true) => format!("{rev}-dirty"),
        Some(false) => rev,
        // Status unreadable: say so rather than claim a clean tree.
        None => format!("{rev}-dirty"),
    })
}

/// Watches the sources of the workspace's path crates (`[workspace.dependencies]` entries
/// with a `path`: the crates a speedcert binary is built from, not tests/ or docs/) and
/// the vendored crates, so that editing one reruns this script and refreshes `-dirty`.
fn watch_sources(workspace_root: &Path) {
    let manifest = workspace_root.join("Cargo.toml");
    let Ok(text) = fs::read_to_string(&manifest) else {
        return;
    };
    let Ok(value) = text.parse::<toml::Table>() else {
        return;
    };
    let crates = value
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table())
        .into_iter()
        .flat_map(|d| d.values())
        .filter_map(|dep| dep.get("path").and_then(|p| p.as_str()));
    for dir in crates {
        let dir = workspace_root.join(dir);
        watch(&dir.join("src"));
        watch(&dir.join("Cargo.toml"));
    }
    watch(&workspace_root.join("vendor"));
}

fn watch(path: &Path) {
    // A missing file (e.g. a ref that only lives in packed-refs) makes cargo rerun every build,
    // so only existing paths are watched.
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
