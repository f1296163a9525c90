//! The runner: a `speedcert` binary with one submission registered, generated and built
//! by the referee from a copy of the submission's source.
//!
//! The build reuses what is already compiled: the runner's workspace is a mirror of the
//! referee's ([`mirror_referee`] says why) with the runner and the submission as two more
//! members, built into the referee's target folder, so burn and the harness come out of
//! that folder's cache and only the submission and the runner compile. `--locked
//! --offline`: the lock is settled once from the referee's ([`settle_lock`]) and then
//! built exactly; nothing is downloaded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use speedcert_bundle::plan::RunnerBuild;
use speedcert_bundle::source::SourceTree;

use super::{Manifest, OutsideError, io};

/// Where the runners are built, and how.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// Cargo's target folder, shared with the referee's own build when there is one.
    pub target_dir: PathBuf,
    /// The Cargo profile (`dev` for a referee built by `cargo build`, `release` else).
    pub profile: String,
    /// speedcert's own source: the harness the runner links, the SDK, the lock file.
    pub referee_source: PathBuf,
}

/// Overrides the target folder runners are built in.
pub const TARGET_DIR_ENV: &str = "SPEEDCERT_RUNNER_TARGET_DIR";
/// Overrides where speedcert's source is (a binary built elsewhere than its source).
pub const SOURCE_ENV: &str = "SPEEDCERT_SOURCE";

impl BuildSettings {
    /// The settings for runners of this binary: its own target folder and profile when it
    /// was built by Cargo (so its compiled dependencies are reused), else a cache folder
    /// and the release profile.
    pub fn for_this_binary() -> Result<Self, OutsideError> {
        let exe = std::env::current_exe().map_err(io(Path::new("<current executable>")))?;
        // Found at run time, not compiled in: a path in the binary would make it differ
        // with the folder it was built in. A binary Cargo built in a checkout lives under
        // it (<checkout>/target/<profile>/speedcert).
        let referee_source = std::env::var_os(SOURCE_ENV)
            .map(PathBuf::from)
            .or_else(|| {
                exe.ancestors()
                    .find(|d| {
                        d.join("sdk/Cargo.toml").is_file()
                            && d.join("evaluator/Cargo.toml").is_file()
                    })
                    .map(Path::to_path_buf)
            })
            .unwrap_or_else(|| PathBuf::from("."));
        for needed in [
            "Cargo.lock",
            "Cargo.toml",
            "sdk/Cargo.toml",
            "evaluator/Cargo.toml",
        ] {
            if !referee_source.join(needed).is_file() {
                return Err(OutsideError::Referee(format!(
                    "speedcert builds a submission against its own source, and {} has no {needed}; set {SOURCE_ENV} to the speedcert source this binary was built from",
                    referee_source.display()
                )));
            }
        }
        let referee_source = referee_source.canonicalize().map_err(io(&referee_source))?;
        let cargo_built = cargo_target_of(&exe);
        let (target_dir, profile) = match (std::env::var_os(TARGET_DIR_ENV), cargo_built) {
            (Some(dir), Some((_, profile))) => (PathBuf::from(dir), profile),
            (Some(dir), None) => (PathBuf::from(dir), "release".to_owned()),
            (None, Some(found)) => found,
            (None, None) => (cache_dir().join("target"), "release".to_owned()),
        };
        Ok(Self {
            target_dir,
            profile,
            referee_source,
        })
    }

    fn profile_dir(&self) -> &str {
        if self.profile == "dev" {
            "debug"
        } else {
            &self.profile
        }
    }

    /// The folder a source digest's runner is generated and kept in.
    pub fn work_dir(&self, digest: &str) -> PathBuf {
        self.target_dir.join("speedcert-runners").join(digest)
    }

    /// Where the runner of a source digest is kept once built.
    fn runner_exe(&self, digest: &str) -> PathBuf {
        self.work_dir(digest).join(runner_name(digest))
    }
}

/// The target folder and profile of a binary Cargo built (`<target>/<profile dir>/NAME`),
/// known by the folders Cargo keeps beside it. Not by `CACHEDIR.TAG`: Cargo writes that
/// only into a target folder it created itself, and CI creates its own beforehand (a
/// runner then went to a cold release build in ~/.cache, 20 minutes on 2 cores).
fn cargo_target_of(exe: &Path) -> Option<(PathBuf, String)> {
    let profile_dir = exe.parent()?;
    let target = profile_dir.parent()?;
    let cargo_made = [".fingerprint", "deps", "build"]
        .iter()
        .all(|d| profile_dir.join(d).is_dir());
    if !cargo_made {
        return None;
    }
    let profile = match profile_dir.file_name()?.to_str()? {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    };
    Some((target.to_owned(), profile))
}

/// The runner's package and binary name: one per source digest, so runners of different
/// sources never overwrite each other in the shared target folder.
fn runner_name(digest: &str) -> String {
    format!("speedcert-runner-{}", digest.get(..16).unwrap_or(digest))
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("speedcert")
}

/// A built runner.
#[derive(Debug, Clone)]
pub struct Runner {
    pub exe: PathBuf,
    pub build: RunnerBuild,
}

/// Builds the runner for the submission whose source is the folder `source` (the
/// submitter's folder, or the copy shipped in a bundle). `log` receives the compiler's
/// output as it comes (for a progress display); a failed build returns it in the error.
///
/// With `fresh`, the runner's copy of the source is written anew, so the submission and
/// the runner compile again (what `verify --rebuild` asks); else only files that differ
/// are written, and building the same source twice is Cargo's no-op.
pub fn build(
    source: &Path,
    settings: &BuildSettings,
    fresh: bool,
    log: &mut dyn FnMut(&str),
) -> Result<Runner, OutsideError> {
    let tree = SourceTree::walk(source)?;
    let work = settings.work_dir(&tree.digest());
    let Workspace {
        manifest,
        digest,
        bin,
    } = generate(source, &tree, &settings.referee_source, &work, fresh)?;
    let runner_dir = work.join(RUNNER_DIR);
    let lock = work.join("Cargo.lock");
    let cargo_toml = work.join("Cargo.toml");
    cargo(
        source,
        "cargo build",
        Command::new("cargo")
            .args([
                "build",
                "--locked",
                "--offline",
                "--profile",
                &settings.profile,
            ])
            .args(["--package", &bin, "--manifest-path"])
            .arg(&cargo_toml)
            .current_dir(&work)
            .env("CARGO_TARGET_DIR", &settings.target_dir)
            .stdout(Stdio::null()),
        log,
    )?;
    let built = settings.target_dir.join(settings.profile_dir()).join(&bin);
    let exe = settings.runner_exe(&digest);
    let staged = work.join(format!(".{bin}.new"));
    std::fs::copy(&built, &staged).map_err(io(&built))?;
    std::fs::rename(&staged, &exe).map_err(io(&exe))?;
    // The runner registers the submission when it starts: a name that does not match
    // the manifest, or one a built-in has, stops it here rather than in every run.
    let started = Command::new(&exe)
        .arg("--version")
        .output()
        .map_err(io(&exe))?;
    if !started.status.success() {
        return Err(OutsideError::Build {
            dir: source.to_owned(),
            what: "the runner does not start".into(),
            output: String::from_utf8_lossy(&started.stderr).into_owned(),
        });
    }
    let sha = |p: &Path| {
        speedcert_fsio::sha256_file(p).map_err(|e| {
            let (path, source) = e.into_parts();
            OutsideError::Io { path, source }
        })
    };
    let rustc = Command::new("rustc")
        .arg("-V")
        .current_dir(&runner_dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    Ok(Runner {
        build: RunnerBuild {
            submission: manifest.name.clone(),
            source_sha256: digest,
            runner_sha256: sha(&exe)?,
            cargo_lock_sha256: sha(&lock)?,
            rustc,
            speedcert_revision: crate::provenance::GIT_REVISION.to_owned(),
            profile: settings.profile.clone(),
        },
        exe,
    })
}

/// A runner's workspace, written by [`generate`].
#[derive(Debug, Clone)]
pub struct Workspace {
    pub manifest: Manifest,
    /// The source digest of the submission.
    pub digest: String,
    /// The runner's package and binary name.
    pub bin: String,
}

/// The file of a generated workspace that names the runner's package, for a build that
/// does not compute the digest itself (nix/runner.nix).
pub const PACKAGE_FILE: &str = "runner-package";

/// Writes into `work` the runner's workspace for the submission in `source` (whose walked
/// files are `tree`, so a caller that needs the digest first walks once): a mirror of
/// the referee's source ([`mirror_referee`]), a copy of the submission and the generated
/// runner crate as two more members, and the lock settled offline from the referee's.
/// With `fresh`, the copy of the source is written anew. `cargo build --locked --offline
/// --package <bin>` in `work` then builds the runner ([`build`] does, and so does the
/// flake's runner function).
pub fn generate(
    source: &Path,
    tree: &SourceTree,
    referee_source: &Path,
    work: &Path,
    fresh: bool,
) -> Result<Workspace, OutsideError> {
    let manifest = Manifest::read(source)?;
    let digest = tree.digest();
    let bin = runner_name(&digest);
    mirror_referee(work, referee_source)?;
    let copy = work.join(SUBMISSION_DIR);
    if fresh && copy.exists() {
        std::fs::remove_dir_all(&copy).map_err(io(&copy))?;
    }
    sync_copy(tree, source, &copy)?;
    let runner_dir = work.join(RUNNER_DIR);
    std::fs::create_dir_all(&runner_dir).map_err(io(&runner_dir))?;
    write(
        &runner_dir.join("Cargo.toml"),
        &runner_manifest(&bin, &manifest),
    )?;
    write(
        &runner_dir.join("main.rs"),
        &runner_main(&manifest, &digest),
    )?;
    write(
        &work.join("Cargo.toml"),
        &workspace_manifest(referee_source, &bin, &manifest)?,
    )?;
    write(&work.join(PACKAGE_FILE), &bin)?;
    settle_lock(
        source,
        referee_source,
        &work.join("Cargo.toml"),
        "the runner's lock file",
    )?;
    Ok(Workspace {
        manifest,
        digest,
        bin,
    })
}

/// The runner for `build`, whose source is shipped in `bundle`: the one already built
/// when its digest is the recorded one, else rebuilt from the shipped source, which must
/// then give the recorded binary (the build is reproducible: same source, lock,
/// toolchain and paths give the same bytes).
pub fn for_bundle(
    bundle: &Path,
    build: &RunnerBuild,
    settings: &BuildSettings,
) -> Result<PathBuf, OutsideError> {
    let exe = settings.runner_exe(&build.source_sha256);
    if speedcert_fsio::sha256_file(&exe).is_ok_and(|s| s == build.runner_sha256) {
        return Ok(exe);
    }
    let source = speedcert_bundle::layout::source_dir(bundle, &build.source_sha256);
    let rebuilt = self::build(&source, settings, false, &mut |_| {})?;
    if let Some(why) = rebuilt_differs(build, &rebuilt.build) {
        return Err(OutsideError::Referee(format!(
            "{}: {why}",
            source.display()
        )));
    }
    Ok(rebuilt.exe)
}

/// Why a runner `rebuilt` from the shipped source is not the `recorded` one, if it is not:
/// the digests, with the tools each was built with.
pub fn rebuilt_differs(recorded: &RunnerBuild, rebuilt: &RunnerBuild) -> Option<String> {
    (rebuilt.runner_sha256 != recorded.runner_sha256).then(|| {
        format!(
            "the runner of {} rebuilt from the shipped source has sha256 {}, the plan's {} (built with {}, profile {}, speedcert {}; here {}, {}, {})",
            recorded.submission,
            rebuilt.runner_sha256,
            recorded.runner_sha256,
            recorded.rustc,
            recorded.profile,
            recorded.speedcert_revision,
            rebuilt.rustc,
            rebuilt.profile,
            rebuilt.speedcert_revision
        )
    })
}

/// Writes `text` unless the file already holds it (an unchanged file keeps its time, so
/// Cargo does not rebuild what did not change).
fn write(path: &Path, text: &str) -> Result<(), OutsideError> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(io(path))
}

/// Makes `copy` hold exactly the files of `tree` from `source` (the top Cargo.toml as a
/// workspace member, [`member_manifest`]), writing only what differs and removing what
/// the source no longer has.
fn sync_copy(tree: &SourceTree, source: &Path, copy: &Path) -> Result<(), OutsideError> {
    tree.copy_with(source, copy, |f, bytes| -> Result<Vec<u8>, OutsideError> {
        if f.path != "Cargo.toml" {
            return Ok(bytes);
        }
        let src = source.join(&f.path);
        Ok(member_manifest(&String::from_utf8_lossy(&bytes), &src)?.into_bytes())
    })?;
    let wanted: std::collections::BTreeSet<&str> =
        tree.files.iter().map(|f| f.path.as_str()).collect();
    if let Ok(present) = SourceTree::walk(copy) {
        for f in present
            .files
            .iter()
            .filter(|f| !wanted.contains(f.path.as_str()))
        {
            let stale = copy.join(&f.path);
            std::fs::remove_file(&stale).map_err(io(&stale))?;
        }
    }
    Ok(())
}

/// Copies speedcert's Cargo.lock beside `manifest` and lets Cargo settle it offline for
/// that workspace (adding its new path packages, dropping what it does not use), so it
/// builds on exactly the versions speedcert builds with. `source` names the submission in
/// an error.
pub(super) fn settle_lock(
    source: &Path,
    referee: &Path,
    manifest: &Path,
    what: &str,
) -> Result<(), OutsideError> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let lock = dir.join("Cargo.lock");
    std::fs::copy(referee.join("Cargo.lock"), &lock).map_err(io(&lock))?;
    let mut metadata = Command::new("cargo");
    metadata.args(["metadata", "--offline", "--format-version", "1"]);
    // Without a platform cargo reads the manifest of every platform's crates
    // (android_system_properties, windows-*), which a build here never downloaded.
    if let Some(host) = host_triple(dir) {
        metadata.args(["--filter-platform", &host]);
    }
    cargo(
        source,
        &format!("settling {what}"),
        metadata
            .arg("--manifest-path")
            .arg(manifest)
            .current_dir(dir)
            .stdout(Stdio::null()),
        &mut |_| {},
    )
}

/// The platform the toolchain of `dir` builds for (`rustc -vV`'s `host:`).
fn host_triple(dir: &Path) -> Option<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .current_dir(dir)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
}

/// Prefixes of the variables Cargo sets for the crate it builds, runs or tests.
const CRATE_CONTEXT: [&str; 11] = [
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_MAKEFLAGS",
];

/// Runs a cargo command, sending its stderr to `log` line by line and returning it whole
/// in the error when the command fails.
fn cargo(
    source: &Path,
    what: &str,
    cmd: &mut Command,
    log: &mut dyn FnMut(&str),
) -> Result<(), OutsideError> {
    // Variables Cargo sets for a crate being built or tested (speedcert may itself run
    // under `cargo test`) are not configuration: build scripts that watch one (ring
    // watches CARGO_MANIFEST_DIR) would see it change and rebuild everything above them.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if CRATE_CONTEXT.iter().any(|p| name.starts_with(p))
            || matches!(&*name, "CARGO" | "OUT_DIR")
        {
            cmd.env_remove(&*name);
        }
    }
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(Path::new("cargo")))?;
    let mut output = String::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log(&line);
            output.push_str(&line);
            output.push('\n');
        }
    }
    let status = child.wait().map_err(io(Path::new("cargo")))?;
    if status.success() {
        Ok(())
    } else {
        Err(OutsideError::Build {
            dir: source.to_owned(),
            what: what.to_owned(),
            output,
        })
    }
}

/// The runner's workspace folder holds the submission's copy here.
const SUBMISSION_DIR: &str = "submission";
/// ... and the generated runner crate here.
const RUNNER_DIR: &str = "runner";

/// Makes `work` a mirror of the referee's workspace: a link to every top-level entry of
/// its source (crates, vendored patches, toolchain file), but not its Cargo.toml, lock
/// or build outputs. Cargo identifies a path package by its path relative to the
/// workspace root, so the referee's crates keep their identity here and every artifact
/// already in the target folder (burn, the harness) is reused, not rebuilt.
fn mirror_referee(work: &Path, referee: &Path) -> Result<(), OutsideError> {
    std::fs::create_dir_all(work).map_err(io(work))?;
    let entries = std::fs::read_dir(referee).map_err(io(referee))?;
    for entry in entries {
        let entry = entry.map_err(io(referee))?;
        let name = entry.file_name();
        let skip = matches!(
            name.to_str(),
            Some("Cargo.toml" | "Cargo.lock" | "target" | ".git" | SUBMISSION_DIR | RUNNER_DIR)
        ) || name.to_string_lossy().starts_with("speedcert-runner");
        if skip {
            continue;
        }
        let link = work.join(&name);
        match std::fs::read_link(&link) {
            Ok(to) if to == entry.path() => continue,
            Ok(_) => std::fs::remove_file(&link).map_err(io(&link))?,
            Err(_) => {}
        }
        std::os::unix::fs::symlink(entry.path(), &link).map_err(io(&link))?;
    }
    Ok(())
}

/// The submission's copy as a member of the runner's workspace: its `speedcert-sdk`
/// dependency is the referee's (a second copy of the SDK would be a different crate to
/// the compiler), and its own `[workspace]`, profiles and patches give way to the
/// referee's. The shipped source keeps the submitter's Cargo.toml as written.
fn member_manifest(text: &str, path: &Path) -> Result<String, OutsideError> {
    let mut doc: toml::Table = text.parse().map_err(|e| OutsideError::Manifest {
        path: path.to_owned(),
        message: format!("not TOML: {e}"),
    })?;
    for table in ["workspace", "profile", "patch"] {
        doc.remove(table);
    }
    let deps = doc
        .get_mut("dependencies")
        .and_then(|d| d.as_table_mut())
        .filter(|d| d.contains_key("speedcert-sdk"))
        .ok_or_else(|| OutsideError::Manifest {
            path: path.to_owned(),
            message: "[dependencies] speedcert-sdk: missing; a submission implements the contract of speedcert-sdk".into(),
        })?;
    let mut sdk = toml::Table::new();
    sdk.insert("workspace".into(), true.into());
    deps.insert("speedcert-sdk".into(), toml::Value::Table(sdk));
    Ok(doc.to_string())
}

/// The workspace's Cargo.toml: the referee's own, with the runner and the submission as
/// two more members, both optimised as the referee's harness is (they instantiate burn's
/// generic code).
fn workspace_manifest(referee: &Path, bin: &str, m: &Manifest) -> Result<String, OutsideError> {
    let root_path = referee.join("Cargo.toml");
    let mut root = referee_manifest(referee)?;
    let bad = |what: &str| OutsideError::Referee(format!("{}: no {what}", root_path.display()));
    let workspace = root
        .get_mut("workspace")
        .and_then(|w| w.as_table_mut())
        .ok_or_else(|| bad("[workspace]"))?;
    if let Some(members) = workspace.get("members").and_then(|m| m.as_array()) {
        let taken = members
            .iter()
            .filter_map(|m| m.as_str())
            .filter_map(|dir| {
                std::fs::read_to_string(referee.join(dir).join("Cargo.toml"))
                    .ok()?
                    .parse::<toml::Table>()
                    .ok()?
                    .get("package")?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned)
            })
            .any(|name| name == m.package);
        if taken {
            return Err(OutsideError::Manifest {
                path: PathBuf::from("Cargo.toml"),
                message: format!(
                    "[package] name = {:?} is the name of one of speedcert's own crates; rename the package",
                    m.package
                ),
            });
        }
    }
    let members = workspace
        .entry("members")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let Some(list) = members.as_array_mut() {
        list.push(RUNNER_DIR.into());
        list.push(SUBMISSION_DIR.into());
    }
    let mut sdk = toml::Table::new();
    sdk.insert("path".into(), "sdk".into());
    if let Some(deps) = workspace
        .get_mut("dependencies")
        .and_then(|d| d.as_table_mut())
    {
        deps.entry("speedcert-sdk").or_insert(sdk.into());
    }
    let dev = root
        .entry("profile")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .ok_or_else(|| bad("[profile] table"))?
        .entry("dev")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .ok_or_else(|| bad("[profile.dev] table"))?
        .entry("package")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .ok_or_else(|| bad("[profile.dev.package] table"))?;
    for name in [bin, m.package.as_str()] {
        let mut t = toml::Table::new();
        t.insert("opt-level".into(), 3.into());
        // Incremental compilation's output depends on what was compiled before: off, so
        // the same source gives the same runner and `verify --rebuild` can compare.
        t.insert("incremental".into(), false.into());
        dev.insert(name.to_owned(), t.into());
    }
    Ok(format!(
        "# Generated by speedcert for submission `{}`: speedcert's workspace plus the runner\n# and the submission (see evaluator/src/outside/runner.rs).\n{}",
        m.name,
        toml::to_string(&root).map_err(|e| OutsideError::Referee(e.to_string()))?
    ))
}

/// The referee's workspace Cargo.toml, parsed.
pub(super) fn referee_manifest(referee: &Path) -> Result<toml::Table, OutsideError> {
    let path = referee.join("Cargo.toml");
    std::fs::read_to_string(&path)
        .map_err(io(&path))?
        .parse()
        .map_err(|e| OutsideError::Referee(format!("{}: {e}", path.display())))
}

/// The runner crate's Cargo.toml: the harness and the submission.
fn runner_manifest(bin: &str, m: &Manifest) -> String {
    format!(
        "[package]\nname = \"{bin}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [[bin]]\nname = \"{bin}\"\npath = \"main.rs\"\n\n\
         [dependencies]\nspeedcert = {{ path = \"../evaluator\" }}\n{} = {{ path = \"../{SUBMISSION_DIR}\" }}\n",
        m.package
    )
}

fn runner_main(m: &Manifest, digest: &str) -> String {
    format!(
        "//! Generated by speedcert for submission `{name}` (source sha256 {digest}): the\n\
         //! speedcert command line with that submission registered. Never written by hand.\n\n\
         fn main() -> std::process::ExitCode {{\n    \
             speedcert::cli::main_with(\n        \
                 speedcert::registry::Registry::builtin()\n            \
                     .with_folder({krate}::{family}, \"{name}\", \"{digest}\"),\n    \
             )\n\
         }}\n",
        name = m.name,
        krate = m.crate_ident(),
        family = m.family,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_target_folder_is_known_by_its_layout_not_by_cachedir_tag() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        for (dir, profile) in [("debug", "dev"), ("release", "release")] {
            let profile_dir = target.join(dir);
            for d in [".fingerprint", "deps", "build"] {
                std::fs::create_dir_all(profile_dir.join(d)).unwrap();
            }
            let exe = profile_dir.join("speedcert");
            std::fs::write(&exe, b"").unwrap();
            assert_eq!(
                cargo_target_of(&exe),
                Some((target.clone(), profile.to_owned()))
            );
        }
        // What CI has: a target folder made before Cargo ran, so without the tag.
        assert!(!target.join("CACHEDIR.TAG").exists());
        // A binary copied or installed elsewhere is not in a target folder.
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(bin.join("deps")).unwrap();
        std::fs::write(bin.join("speedcert"), b"").unwrap();
        assert_eq!(cargo_target_of(&bin.join("speedcert")), None);
    }
}
