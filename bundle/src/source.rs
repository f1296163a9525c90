//! A submission's source as the referee sees it: the folder it builds the runner from,
//! identified by a digest the referee computes itself, and shipped in the bundle so a
//! verifier can read the code that ran and check it is the code that was digested.
//!
//! The digest is a deterministic walk: every regular file under the folder (`target/`
//! at the top and any `.git` left out), sorted by relative path, written as one manifest
//! line `MODE SHA256 PATH` (MODE `755` for an executable file, else `644`, as git
//! records it). The manifest's own sha256 is the source digest, and the bundle keeps the
//! manifest beside the copy (`source/<digest>.files`), so a changed file is named, not
//! just detected.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::consistency::Problem;
use crate::layout;

/// The files a submission must have at its top (a command submission: its manifest,
/// [`crate::command::MANIFEST`], instead).
pub const REQUIRED: [&str; 2] = ["Cargo.toml", "Cargo.lock"];
/// The most files a submission may have (a training recipe is a handful).
pub const MAX_FILES: usize = 10_000;
/// The most bytes a submission's files may hold together.
pub const MAX_BYTES: u64 = 64 << 20;

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Refused { path: PathBuf, message: String },
    #[error(
        "{dir}: no {file}: a submission is a Cargo crate with its lock file (run `cargo generate-lockfile` in it), so the referee builds exactly the versions it names; or a command submission, with speedcert.toml"
    )]
    Missing { dir: PathBuf, file: &'static str },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.to_owned(),
        source,
    }
}

fn refused(path: &Path, message: impl Into<String>) -> SourceError {
    SourceError::Refused {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// One file of a source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Relative path with `/` separators.
    pub path: String,
    /// `0o755` or `0o644`.
    pub mode: u32,
    pub sha256: String,
}

/// A digested source folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTree {
    /// Sorted by path.
    pub files: Vec<SourceFile>,
}

impl SourceTree {
    /// Digests the folder `dir`. Symlinks and special files are refused (a link could
    /// point at anything on the building machine); so are names that are not UTF-8 or
    /// hold a newline, since the manifest is text.
    pub fn walk(dir: &Path) -> Result<Self, SourceError> {
        // A command submission is a folder with its manifest; any other is a crate.
        let command = dir.join(crate::command::MANIFEST).is_file();
        for file in REQUIRED.into_iter().filter(|_| !command) {
            if !dir.join(file).is_file() {
                return Err(SourceError::Missing {
                    dir: dir.to_owned(),
                    file,
                });
            }
        }
        Self::walk_any(dir)
    }

    /// [`SourceTree::walk`] without requiring a crate: for reading back a shipped copy,
    /// where a missing file is a problem to name, not a refusal.
    fn walk_any(dir: &Path) -> Result<Self, SourceError> {
        let mut files = Vec::new();
        let mut bytes = 0u64;
        let walker = walkdir::WalkDir::new(dir)
            .min_depth(1)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !skipped(e.path().strip_prefix(dir).unwrap_or(e.path())));
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(dir).to_path_buf();
                SourceError::Io {
                    source: e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
                    path,
                }
            })?;
            let path = entry.path();
            let ft = entry.file_type();
            if ft.is_dir() {
                continue;
            }
            if ft.is_symlink() {
                return Err(refused(
                    path,
                    "is a symbolic link: a submission's files must be regular files (copy what it points to)",
                ));
            }
            if !ft.is_file() {
                return Err(refused(path, "is not a regular file"));
            }
            let rel = relative(dir, path)?;
            let meta = entry.metadata().map_err(|e| SourceError::Io {
                path: path.to_owned(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("metadata")),
            })?;
            bytes += meta.len();
            if files.len() >= MAX_FILES || bytes > MAX_BYTES {
                return Err(refused(
                    dir,
                    format!(
                        "holds more than {MAX_FILES} files or {} MiB: a submission ships whole in every bundle; leave data and build outputs out",
                        MAX_BYTES >> 20
                    ),
                ));
            }
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let sha256 = speedcert_fsio::sha256_file(path).map_err(|e| {
                let (path, source) = e.into_parts();
                SourceError::Io { path, source }
            })?;
            files.push(SourceFile {
                path: rel,
                mode,
                sha256,
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self { files })
    }

    /// The manifest text: one `MODE SHA256 PATH` line per file.
    pub fn manifest(&self) -> String {
        self.files
            .iter()
            .map(|f| format!("{:o} {} {}\n", f.mode, f.sha256, f.path))
            .collect()
    }

    /// The source digest: the manifest's sha256.
    pub fn digest(&self) -> String {
        speedcert_fsio::sha256_bytes(self.manifest().as_bytes())
    }

    /// Parses a manifest written by [`SourceTree::manifest`].
    pub fn parse_manifest(text: &str) -> Result<Self, String> {
        let mut files = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut parts = line.splitn(3, ' ');
            let (Some(mode), Some(sha256), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("line {}: not `MODE SHA256 PATH`", n + 1));
            };
            let mode = match mode {
                "644" => 0o644,
                "755" => 0o755,
                other => return Err(format!("line {}: mode {other} is not 644 or 755", n + 1)),
            };
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("line {}: {sha256:?} is not a sha256", n + 1));
            }
            if !safe_relative(path) {
                return Err(format!(
                    "line {}: {path:?} is not a relative path inside the source",
                    n + 1
                ));
            }
            files.push(SourceFile {
                path: path.to_owned(),
                mode,
                sha256: sha256.to_owned(),
            });
        }
        if !files.windows(2).all(|w| w[0].path < w[1].path) {
            return Err("paths are not sorted and unique".into());
        }
        Ok(Self { files })
    }

    /// Copies the files of this tree from `from` into the new folder `to`, checking
    /// each against its digest as it goes (a file edited since the walk is refused).
    pub fn copy(&self, from: &Path, to: &Path) -> Result<(), SourceError> {
        self.copy_with(from, to, |_, bytes| Ok(bytes))
    }

    /// [`Self::copy`], with `edit` applied to each file's checked bytes before they are
    /// written, into a folder that may already hold an earlier copy: a file whose bytes
    /// are already there is left alone, so it keeps its time and Cargo rebuilds nothing
    /// for it (the runner's copy of a submission is refreshed this way).
    pub fn copy_with<E: From<SourceError>>(
        &self,
        from: &Path,
        to: &Path,
        mut edit: impl FnMut(&SourceFile, Vec<u8>) -> Result<Vec<u8>, E>,
    ) -> Result<(), E> {
        for f in &self.files {
            let src = from.join(&f.path);
            let dst = to.join(&f.path);
            let bytes = std::fs::read(&src).map_err(io(&src))?;
            if speedcert_fsio::sha256_bytes(&bytes) != f.sha256 {
                return Err(refused(
                    &src,
                    "changed while the submission was being copied; try again",
                )
                .into());
            }
            let bytes = edit(f, bytes)?;
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            if !std::fs::read(&dst).is_ok_and(|old| old == bytes) {
                std::fs::write(&dst, &bytes).map_err(io(&dst))?;
            }
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(f.mode))
                .map_err(io(&dst))?;
        }
        Ok(())
    }
}

/// `target/` at the top (build outputs) and `.git` anywhere (history, not source).
fn skipped(rel: &Path) -> bool {
    rel == Path::new("target") || rel.file_name().is_some_and(|n| n == ".git")
}

fn relative(dir: &Path, path: &Path) -> Result<String, SourceError> {
    let rel = path
        .strip_prefix(dir)
        .expect("walkdir yields paths under its root");
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    match parts {
        Some(parts) if parts.iter().all(|p| !p.contains(['\n', '\r'])) => Ok(parts.join("/")),
        _ => Err(refused(
            path,
            "has a name that is not UTF-8 or holds a line break; rename it",
        )),
    }
}

/// A manifest path that stays inside its folder: relative, no `..`, no empty part.
fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Copies the submission at `dir` into the bundle at `bundle` (`source/<digest>/` and
/// its manifest) and returns the digest. Shipping the same source twice is a no-op.
pub fn ship(bundle: &Path, dir: &Path) -> Result<String, SourceError> {
    let tree = SourceTree::walk(dir)?;
    let digest = tree.digest();
    let manifest = layout::source_manifest(bundle, &digest);
    if manifest.is_file() {
        return Ok(digest);
    }
    let dest = layout::source_dir(bundle, &digest);
    let parent = dest.parent().expect("source/<digest> has a parent");
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staged = tempfile::Builder::new()
        .prefix(".source-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    tree.copy(dir, staged.path())?;
    std::fs::set_permissions(staged.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(io(staged.path()))?;
    std::fs::rename(staged.path(), &dest).map_err(io(&dest))?;
    speedcert_fsio::write_atomic(
        &manifest,
        tree.manifest().as_bytes(),
        speedcert_fsio::Mode::Public,
    )
    .map_err(|e| {
        let (path, source) = e.into_parts();
        SourceError::Io { path, source }
    })?;
    Ok(digest)
}

/// What is wrong with the source shipped under `digest` in `bundle`, one problem per
/// file: the manifest must hash to the digest, and the folder must hold exactly the
/// manifest's files with their digests and modes. Empty when it is the code digested.
pub fn shipped_problems(bundle: &Path, digest: &str) -> Vec<Problem> {
    let manifest_path = layout::source_manifest(bundle, digest);
    let name = |p: &Path| {
        p.strip_prefix(bundle)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let text = match std::fs::read_to_string(&manifest_path) {
        Ok(t) => t,
        Err(e) => {
            return vec![Problem {
                file: name(&manifest_path),
                message: format!(
                    "the runs name submission source {digest}, but its manifest cannot be read ({e}): the bundle does not ship the code that ran"
                ),
            }];
        }
    };
    if speedcert_fsio::sha256_bytes(text.as_bytes()) != digest {
        return vec![Problem {
            file: name(&manifest_path),
            message: format!("does not hash to the source digest {digest} the runs name"),
        }];
    }
    let shipped = match SourceTree::parse_manifest(&text) {
        Ok(t) => t,
        Err(e) => {
            return vec![Problem {
                file: name(&manifest_path),
                message: e,
            }];
        }
    };
    let dir = layout::source_dir(bundle, digest);
    let on_disk = match SourceTree::walk_any(&dir) {
        Ok(t) => t,
        Err(e) => {
            return vec![Problem {
                file: name(&dir),
                message: e.to_string(),
            }];
        }
    };
    let want: BTreeMap<&str, &SourceFile> =
        shipped.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let have: BTreeMap<&str, &SourceFile> =
        on_disk.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut problems = Vec::new();
    for (path, w) in &want {
        let file = name(&dir.join(path));
        match have.get(path) {
            None => problems.push(Problem {
                file,
                message: "is in the source manifest but missing from the shipped source".into(),
            }),
            Some(h) if h.sha256 != w.sha256 => problems.push(Problem {
                file,
                message: format!(
                    "does not match the source digest: sha256 {} here, {} when the submission was digested",
                    h.sha256, w.sha256
                ),
            }),
            Some(h) if h.mode != w.mode => problems.push(Problem {
                file,
                message: format!("mode {:o} here, {:o} when digested", h.mode, w.mode),
            }),
            Some(_) => {}
        }
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(Problem {
            file: name(&dir.join(path)),
            message: "is not in the source manifest: a file was added to the shipped source".into(),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_at(dir: &Path) {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        std::fs::write(dir.join("Cargo.lock"), "version = 4\n").unwrap();
        std::fs::write(dir.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
    }

    #[test]
    fn the_digest_covers_paths_contents_and_modes_but_not_build_outputs() {
        let a = tempfile::tempdir().unwrap();
        crate_at(a.path());
        let base = SourceTree::walk(a.path()).unwrap();
        assert_eq!(
            base.files
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>(),
            ["Cargo.lock", "Cargo.toml", "src/lib.rs"]
        );
        // Build outputs and history do not count.
        std::fs::create_dir_all(a.path().join("target/debug")).unwrap();
        std::fs::write(a.path().join("target/debug/x"), "bin").unwrap();
        std::fs::create_dir_all(a.path().join(".git")).unwrap();
        std::fs::write(a.path().join(".git/HEAD"), "ref").unwrap();
        assert_eq!(SourceTree::walk(a.path()).unwrap().digest(), base.digest());
        // A nested `target` folder is source.
        std::fs::create_dir_all(a.path().join("src/target")).unwrap();
        std::fs::write(a.path().join("src/target/m.rs"), "").unwrap();
        let nested = SourceTree::walk(a.path()).unwrap();
        assert_ne!(nested.digest(), base.digest());
        std::fs::remove_dir_all(a.path().join("src/target")).unwrap();
        // One byte, a mode bit, a name: each changes the digest.
        std::fs::write(a.path().join("src/lib.rs"), "pub fn g() {}\n").unwrap();
        let edited = SourceTree::walk(a.path()).unwrap();
        assert_ne!(edited.digest(), base.digest());
        std::fs::set_permissions(
            a.path().join("src/lib.rs"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_ne!(
            SourceTree::walk(a.path()).unwrap().digest(),
            edited.digest()
        );
        // The manifest round-trips.
        let text = base.manifest();
        assert_eq!(SourceTree::parse_manifest(&text).unwrap(), base);
    }

    #[test]
    fn a_folder_without_a_lock_file_or_with_a_symlink_is_refused() {
        let a = tempfile::tempdir().unwrap();
        crate_at(a.path());
        std::fs::remove_file(a.path().join("Cargo.lock")).unwrap();
        let e = SourceTree::walk(a.path()).unwrap_err().to_string();
        assert!(e.contains("no Cargo.lock"), "{e}");
        crate_at(a.path());
        std::os::unix::fs::symlink("/etc/passwd", a.path().join("src/p")).unwrap();
        let e = SourceTree::walk(a.path()).unwrap_err().to_string();
        assert!(e.contains("src/p") && e.contains("symbolic link"), "{e}");
    }

    #[test]
    fn shipped_source_names_the_file_that_changed_was_added_or_went_missing() {
        let a = tempfile::tempdir().unwrap();
        crate_at(a.path());
        let bundle = tempfile::tempdir().unwrap();
        let digest = ship(bundle.path(), a.path()).unwrap();
        assert_eq!(digest, SourceTree::walk(a.path()).unwrap().digest());
        assert!(shipped_problems(bundle.path(), &digest).is_empty());
        assert_eq!(ship(bundle.path(), a.path()).unwrap(), digest, "idempotent");

        let lib = layout::source_dir(bundle.path(), &digest).join("src/lib.rs");
        let mut bytes = std::fs::read(&lib).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&lib, bytes).unwrap();
        std::fs::write(
            layout::source_dir(bundle.path(), &digest).join("extra.rs"),
            "",
        )
        .unwrap();
        std::fs::remove_file(layout::source_dir(bundle.path(), &digest).join("Cargo.toml"))
            .unwrap();
        let problems = shipped_problems(bundle.path(), &digest);
        let files: Vec<&str> = problems.iter().map(|p| p.file.as_str()).collect();
        let root = format!("source/{digest}");
        assert_eq!(
            files,
            [
                format!("{root}/Cargo.toml"),
                format!("{root}/src/lib.rs"),
                format!("{root}/extra.rs")
            ]
        );
        assert!(
            problems[1]
                .message
                .contains("does not match the source digest")
        );

        // A manifest that was edited to match no longer hashes to the digest.
        std::fs::write(layout::source_manifest(bundle.path(), &digest), "").unwrap();
        let problems = shipped_problems(bundle.path(), &digest);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.contains("does not hash"),
            "{problems:?}"
        );
        assert!(!shipped_problems(bundle.path(), &"0".repeat(64)).is_empty());
    }

    #[test]
    fn a_manifest_cannot_point_outside_its_folder() {
        let sha = "a".repeat(64);
        for path in ["../x", "/etc/passwd", "a//b", "a/./b", ""] {
            let text = format!("644 {sha} {path}\n");
            assert!(SourceTree::parse_manifest(&text).is_err(), "{path:?}");
        }
    }
}

/// One place in a submission's source a reviewer should read: code the fence cannot
/// contain (`unsafe`, FFI, a build script or a proc-macro runs at build time) or that
/// reaches outside the training stream (files, network, processes, environment).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capability {
    /// `unsafe`, `ffi`, `build-script`, `proc-macro`, `std::fs`, `std::net`,
    /// `std::process` or `std::env`.
    pub kind: String,
    /// Path inside the source folder.
    pub file: String,
    /// 1-based line (0 for a whole file).
    pub line: usize,
}

/// The capability report of one submission built from a folder, as summary.json lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceCapabilities {
    pub submission: String,
    pub source_sha256: String,
    pub found: Vec<Capability>,
}

/// The reports of every runner build of `plan`, from the sources shipped in `bundle`
/// (a source that cannot be read reports nothing; the consistency checks name it).
pub fn plan_capabilities(bundle: &Path, plan: &crate::plan::Plan) -> Vec<SourceCapabilities> {
    plan.builds
        .iter()
        .map(|b| {
            let dir = layout::source_dir(bundle, &b.source_sha256);
            let found = SourceTree::walk_any(&dir)
                .map(|tree| capabilities(&dir, &tree))
                .unwrap_or_default();
            SourceCapabilities {
                submission: b.submission.clone(),
                source_sha256: b.source_sha256.clone(),
                found,
            }
        })
        .collect()
}

/// The capability report of the source folder `dir`: a text scan, so a reading list for
/// a reviewer, not a proof (a macro can spell any of these without the words).
pub fn capabilities(dir: &Path, tree: &SourceTree) -> Vec<Capability> {
    let mut found = Vec::new();
    let mut push = |kind: &str, file: &str, line: usize| {
        found.push(Capability {
            kind: kind.to_owned(),
            file: file.to_owned(),
            line,
        })
    };
    for f in &tree.files {
        let Ok(text) = std::fs::read_to_string(dir.join(&f.path)) else {
            continue;
        };
        if f.path == "build.rs" {
            push("build-script", &f.path, 0);
        }
        if f.path.ends_with("Cargo.toml") {
            for (n, line) in text.lines().enumerate() {
                let l: String = line
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                if l.starts_with("proc-macro=true") || l.starts_with("proc_macro=true") {
                    push("proc-macro", &f.path, n + 1);
                }
                if l.starts_with("build=") && !l.starts_with("build=false") {
                    push("build-script", &f.path, n + 1);
                }
            }
            continue;
        }
        if !f.path.ends_with(".rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let words = |w: &str| {
                code.match_indices(w).any(|(i, _)| {
                    let before = code[..i].chars().next_back();
                    let after = code[i + w.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            };
            if words("unsafe") {
                push("unsafe", &f.path, n + 1);
            }
            if code.contains("extern \"") || code.contains("#[link") {
                push("ffi", &f.path, n + 1);
            }
            for module in ["fs", "net", "process", "env"] {
                let direct = code.contains(&format!("std::{module}"));
                let grouped = code.contains("std::{") && {
                    let group = code.split("std::{").nth(1).unwrap_or("");
                    group
                        .split(['}', ','])
                        .any(|p| p.trim() == module || p.trim().starts_with(&format!("{module}::")))
                };
                if direct || grouped {
                    push(&format!("std::{module}"), &f.path, n + 1);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod capability_tests {
    use super::*;

    #[test]
    fn the_report_lists_what_a_reviewer_must_read_and_nothing_in_comments() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src")).unwrap();
        std::fs::write(
            d.path().join("Cargo.toml"),
            "[package]\nname = \"x\"\n[lib]\nproc-macro = true # yes\n",
        )
        .unwrap();
        std::fs::write(d.path().join("Cargo.lock"), "").unwrap();
        std::fs::write(d.path().join("build.rs"), "fn main() {}\n").unwrap();
        std::fs::write(
            d.path().join("src/lib.rs"),
            "// unsafe std::fs in a comment\nuse std::{fs, io};\npub fn f() { unsafe { g() } }\nunsafe extern \"C\" { fn g(); }\nfn h() { let _ = std::net::TcpStream::connect(\"x\"); let _ = std::env::var(\"A\"); }\nfn unsafely() {}\n",
        )
        .unwrap();
        let tree = SourceTree::walk(d.path()).unwrap();
        let got: Vec<(String, String, usize)> = capabilities(d.path(), &tree)
            .into_iter()
            .map(|c| (c.kind, c.file, c.line))
            .collect();
        let want: Vec<(String, String, usize)> = [
            ("proc-macro", "Cargo.toml", 4),
            ("build-script", "build.rs", 0),
            ("std::fs", "src/lib.rs", 2),
            ("unsafe", "src/lib.rs", 3),
            ("unsafe", "src/lib.rs", 4),
            ("ffi", "src/lib.rs", 4),
            ("std::net", "src/lib.rs", 5),
            ("std::env", "src/lib.rs", 5),
        ]
        .into_iter()
        .map(|(k, f, l)| (k.to_owned(), f.to_owned(), l))
        .collect();
        assert_eq!(got, want);
    }
}
