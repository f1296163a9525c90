//! Build script: embeds where this binary came from (see `src/provenance.rs`).
//!
//! It sets, through `cargo:rustc-env`:
//! - `SPEEDCERT_GIT_REV`: `$SPEEDCERT_GIT_REV` when set and non-empty (the Nix flake passes
//!   `self.rev` or `self.dirtyRev`); else `git rev-parse HEAD` of the git repository whose top
//!   level is this workspace, with `-dirty` appended when `git status --porcelain` is non-empty;
//!   else `unknown` (no git, no commit yet, or a source tree without `.git`).
//! - `SPEEDCERT_CARGO_LOCK_SHA256`: hex SHA-256 of the workspace `Cargo.lock`, or `unknown`.
//! - `SPEEDCERT_SOURCE_NAR_HASH`: `$SPEEDCERT_SOURCE_NAR_HASH` (the flake's `self.narHash`) or
//!   empty, which `Provenance` reads as `None`.
//! - `SPEEDCERT_BUILD_PROFILE`, `SPEEDCERT_BUILD_TARGET`: cargo's profile and target triple.
//!
//! Reproducibility: no clock, no host name, no absolute path reaches the binary; the same
//! sources, lock file and variables give the same values. Only std is used (the SHA-256 below
//! is checked against the FIPS 180-2 test vectors in `self_test`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const ENV_GIT_REV: &str = "SPEEDCERT_GIT_REV";
const ENV_NAR_HASH: &str = "SPEEDCERT_SOURCE_NAR_HASH";

fn main() {
    self_test();

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={ENV_GIT_REV}");
    println!("cargo:rerun-if-env-changed={ENV_NAR_HASH}");

    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace_root = workspace_root(&manifest_dir);

    // Cargo.lock digest.
    let lock_path = workspace_root.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock_sha256 = match fs::read(&lock_path) {
        Ok(bytes) => to_hex(&sha256(&bytes)),
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
    let dirty = git(workspace_root, &["status", "--porcelain"]).map(|s| !s.trim().is_empty());
    Some(match dirty {
        Some(true) => format!("{rev}-dirty"),
        Some(false) => rev,
        // Status unreadable: say so rather than claim a clean tree.
        None => format!("{rev}-dirty"),
    })
}

fn watch(path: &Path) {
    // A missing file (e.g. a ref that only lives in packed-refs) makes cargo rerun every build,
    // so only existing paths are watched.
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// SHA-256 (FIPS 180-4), std only.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];

    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());

    let mut w = [0u32; 64];
    for block in message.chunks_exact(64) {
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (state, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *state = state.wrapping_add(v);
        }
    }

    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// FIPS 180-2 appendix B vectors: a wrong digest must fail the build, never be embedded.
fn self_test() {
    let vectors: [(&[u8], &str); 3] = [
        (
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
    ];
    for (input, expected) in vectors {
        assert_eq!(
            to_hex(&sha256(input)),
            expected,
            "build.rs SHA-256 self-test failed"
        );
    }
}
