//! Command submissions: a folder with a training script and `speedcert.toml`, run as a
//! child process in a fresh copy of the source the bundle ships. The referee owns the
//! process (its working folder, seed, timeout, wall clock and GPU telemetry) but not the
//! training loop, so the run's training time, steps and validation loss are read from the
//! script's log ([`speedcert_bundle::command::read_log`]) and the bundle says they were
//! self-reported.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use speedcert_bundle::command::{CommandRun, CommandSpec, LogFormat, MANIFEST};
use speedcert_bundle::source::SourceTree;

use super::OutsideError;
use crate::commands::fenced::exit;
use crate::fence::{self, Network};

/// `speedcert.toml`'s one table.
const TABLE: &str = "[submission]";
/// How long the manifest's versions command may take.
const VERSIONS_TIMEOUT: Duration = Duration::from_secs(60);
/// The most of the versions command's output kept in run.json.
const VERSIONS_MAX_BYTES: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    submission: Manifest,
}

/// `speedcert.toml` `[submission]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub tracks: Vec<String>,
    pub command: Vec<String>,
    pub log: String,
    pub log_format: String,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub read: Vec<String>,
}

/// A command submission folder, read and digested for a certification.
#[derive(Debug, Clone)]
pub struct CommandFolder {
    pub dir: PathBuf,
    pub spec: CommandSpec,
}

/// True when `dir` is a command submission (it has `speedcert.toml`).
pub fn is_command(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

impl Manifest {
    /// Reads `dir/speedcert.toml`. Every error names the file and the field.
    pub fn read(dir: &Path) -> Result<Self, OutsideError> {
        let path = dir.join(MANIFEST);
        let bad = |message: String| OutsideError::Manifest {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(super::io(&path))?;
        let file: File = toml::from_str(&text).map_err(|e| bad(e.message().to_owned()))?;
        let m = file.submission;
        if !super::manifest::valid_name(&m.name) {
            return Err(bad(format!(
                "{TABLE} name: {:?} must be 1 to 64 lowercase letters, digits and dashes, starting with a letter or digit",
                m.name
            )));
        }
        if m.tracks.is_empty() {
            return Err(bad(format!(
                "{TABLE} tracks: empty; name the tracks it is for"
            )));
        }
        if m.command.first().is_none_or(|c| c.is_empty()) {
            return Err(bad(format!(
                "{TABLE} command: empty; give the argv, e.g. [\"torchrun\", \"--standalone\", \"--nproc_per_node=8\", \"train_gpt.py\"]"
            )));
        }
        if m.log != "stdout"
            && (m.log.is_empty()
                || Path::new(&m.log).is_absolute()
                || Path::new(&m.log)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir)))
        {
            return Err(bad(format!(
                "{TABLE} log: {:?} must be \"stdout\" or a path inside the working folder (like \"logs/*.txt\")",
                m.log
            )));
        }
        if glob::Pattern::new(&m.log).is_err() {
            return Err(bad(format!(
                "{TABLE} log: {:?} is not a glob pattern",
                m.log
            )));
        }
        for dir in &m.read {
            if !Path::new(dir).is_absolute() || !Path::new(dir).is_dir() {
                return Err(bad(format!(
                    "{TABLE} read: {dir:?} must be an absolute path to a folder on this machine (the run may read it, fenced)"
                )));
            }
        }
        if LogFormat::parse(&m.log_format).is_none() {
            return Err(bad(format!(
                "{TABLE} log_format: {:?} is not one of {:?}",
                m.log_format,
                LogFormat::NAMES
            )));
        }
        Ok(m)
    }
}

/// Reads, checks and digests the command submission `dir` for `track`: its manifest must
/// name the track and a name no built-in submission has.
pub fn read_folder(
    dir: &Path,
    track: &str,
    builtin: &[&str],
) -> Result<CommandFolder, OutsideError> {
    let m = Manifest::read(dir)?;
    let path = dir.join(MANIFEST);
    if builtin.contains(&m.name.as_str()) {
        return Err(OutsideError::Manifest {
            path,
            message: format!(
                "{TABLE} name = {:?} is a built-in submission's name; a submission cannot take it",
                m.name
            ),
        });
    }
    if !m.tracks.iter().any(|t| t == track) {
        return Err(OutsideError::Manifest {
            path,
            message: format!(
                "{TABLE} tracks = {:?} does not name track `{track}`: a submission is certified only on the tracks it is written for",
                m.tracks
            ),
        });
    }
    let tree = SourceTree::walk(dir)?;
    let mut read = m.read;
    for program in [m.command.first(), m.versions.first()]
        .into_iter()
        .flatten()
    {
        if let Some(prefix) = installation(program)
            && !read.contains(&prefix)
        {
            read.push(prefix);
        }
    }
    Ok(CommandFolder {
        dir: dir.to_owned(),
        spec: CommandSpec {
            submission: m.name,
            source_sha256: tree.digest(),
            command: m.command,
            log: m.log,
            log_format: LogFormat::parse(&m.log_format).expect("checked by Manifest::read"),
            versions: m.versions,
            read,
        },
    })
}

/// The installation a command's program comes from, which its fenced run must read (a
/// virtual environment, conda, pyenv): the parent of the folder holding `program`
/// (found on `PATH` unless it is an absolute path), or that folder alone when the parent
/// is `/` or the home folder (whose other files stay closed). `None` for a program in the
/// submission's own folder or under the system folders the fence opens anyway.
fn installation(program: &str) -> Option<String> {
    let path = if Path::new(program).is_absolute() {
        PathBuf::from(program)
    } else if program.contains('/') {
        return None;
    } else {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())?
    };
    let folder = path.parent()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let prefix = match folder.parent() {
        Some(p) if p != Path::new("/") && Some(p) != home.as_deref() => p,
        _ => folder,
    };
    let system = fence::SYSTEM_READ
        .iter()
        .any(|s| prefix.starts_with(s) || Path::new(s).starts_with(prefix));
    (!system).then(|| prefix.display().to_string())
}

/// What one command run left: the referee's measurements, its log's text, why it
/// failed if it did, and the fences it ran in (run.json `fences`).
pub struct Outcome {
    pub command: CommandRun,
    pub log: Vec<u8>,
    pub failure: Option<String>,
    pub fences: Vec<String>,
}

/// The environment a command run gets: which slot it is, so it can seed itself.
pub struct RunEnv<'a> {
    pub seed: u64,
    pub run_index: usize,
    pub role: &'a str,
}

/// Runs `spec` once in a fresh copy of `source` (the bundle's shipped copy): the versions
/// command first, untimed, then the command on the referee's wall clock, killed at
/// `timeout`. Both run fenced ([`fenced`]): they may write only the working folder and a
/// fresh `TMPDIR`, read only the system folders, the working folder and the manifest's
/// `read` folders, and reach no network but the loopback. Its stdout and stderr go to
/// `stdout`/`stderr`. The log is found in the working folder (a file the source did not
/// have) or is the stdout.
pub fn run(
    spec: &CommandSpec,
    source: &Path,
    env: &RunEnv<'_>,
    timeout: Duration,
    stdout: &Path,
    stderr: &Path,
) -> Result<Outcome, OutsideError> {
    let work = tempfile::Builder::new()
        .prefix("speedcert-command-")
        .tempdir()
        .map_err(super::io(&std::env::temp_dir()))?;
    let tmp = tempfile::Builder::new()
        .prefix("speedcert-command-tmp-")
        .tempdir()
        .map_err(super::io(&std::env::temp_dir()))?;
    let tree = SourceTree::walk(source)?;
    tree.copy(source, work.path())?;
    let fence_in = |argv: &[String]| fenced(argv, &spec.read, work.path(), tmp.path());
    let versions = (!spec.versions.is_empty()).then(|| versions(fence_in(&spec.versions)));
    let out = std::fs::File::create(stdout).map_err(super::io(stdout))?;
    let err = std::fs::File::create(stderr).map_err(super::io(stderr))?;
    let started = Instant::now();
    // Its own process group, so a timeout kills torchrun's workers too, not only torchrun.
    let spawned = fence_in(&spec.command)
        .process_group(0)
        .env("SPEEDCERT_SEED", env.seed.to_string())
        .env("SPEEDCERT_RUN_INDEX", env.run_index.to_string())
        .env("SPEEDCERT_ROLE", env.role)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Ok(Outcome {
                command: CommandRun {
                    wall_time_ms: 0.0,
                    exit_code: None,
                    log_sha256: speedcert_fsio::sha256_bytes(b""),
                    versions,
                },
                log: Vec::new(),
                failure: Some(format!("could not start `{}`: {e}", spec.command[0])),
                fences: Vec::new(),
            });
        }
    };
    let mut observed = None;
    let status = loop {
        if observed.is_none() {
            observed = fence::observe(child.id(), Network::Loopback);
        }
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() > timeout => {
                kill_group(&mut child);
                break Err(format!(
                    "killed after the track's run timeout of {} s",
                    timeout.as_secs()
                ));
            }
            Ok(None) if observed.is_none() => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(format!("could not wait for the command: {e}")),
        }
    };
    let wall_time_ms = started.elapsed().as_secs_f64() * 1e3;
    let (log, missing) = find_log(spec, &tree, work.path(), stdout);
    let exit_code = status.as_ref().ok().and_then(|s| s.code());
    let fenced_exit = |code: u8| exit_code == Some(i32::from(code));
    // What the referee saw from outside, not what the command says.
    let fences = observed.unwrap_or_default();
    let failure = match status {
        Err(why) => Some(why),
        Ok(_) if fenced_exit(exit::FENCE_FAILED) || fenced_exit(exit::NOT_STARTED) => {
            Some(format!(
                "the command did not run (exit {}): {}",
                exit_code.unwrap_or_default(),
                last_line(stderr)
            ))
        }
        Ok(s) if !s.success() => Some(format!(
            "the command exited with {s}; see {}",
            speedcert_bundle::layout::STDERR
        )),
        Ok(_) => missing,
    };
    Ok(Outcome {
        command: CommandRun {
            wall_time_ms,
            exit_code,
            log_sha256: speedcert_fsio::sha256_bytes(&log),
            versions,
        },
        log,
        failure,
        fences,
    })
}

/// `argv` fenced ([`fence::wrap`], with the loopback up): it can read the system
/// folders, `read` and `work`, write `work` and `tmp` (its `TMPDIR`), and reach nothing
/// outside the machine's loopback of its own namespace.
fn fenced(argv: &[String], read: &[String], work: &Path, tmp: &Path) -> Command {
    let spec = fence::FenceSpec {
        read: read.iter().map(PathBuf::from).collect(),
        write: vec![work.to_path_buf(), tmp.to_path_buf()],
        network: Network::Loopback,
    };
    let mut c = fence::wrap(&spec, argv[0].as_ref());
    c.args(&argv[1..]).current_dir(work).env("TMPDIR", tmp);
    c
}

/// The last non-empty line of the file at `path` (the fence's or exec's own message).
fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("see stderr.log")
        .to_owned()
}

/// SIGKILL to the child's whole process group (it leads its own), then reap it.
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is
        // shared with it.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The run's log: the one new file in the working folder matching the manifest's `log`
/// (files the source shipped do not count), or the stdout. The second value says why
/// there is none.
fn find_log(
    spec: &CommandSpec,
    tree: &SourceTree,
    work: &Path,
    stdout: &Path,
) -> (Vec<u8>, Option<String>) {
    if spec.log == "stdout" {
        return (std::fs::read(stdout).unwrap_or_default(), None);
    }
    let pattern = work.join(&spec.log);
    let found: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
        .map(|paths| {
            paths
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .filter(|p| {
                    let rel = p.strip_prefix(work).unwrap_or(p).to_string_lossy();
                    !tree.files.iter().any(|f| f.path == rel)
                })
                .collect()
        })
        .unwrap_or_default();
    match found.as_slice() {
        [one] => (std::fs::read(one).unwrap_or_default(), None),
        [] => (
            Vec::new(),
            Some(format!(
                "the command wrote no log matching {:?} in its working folder",
                spec.log
            )),
        ),
        many => (
            Vec::new(),
            Some(format!(
                "the command wrote {} logs matching {:?}; one run writes one",
                many.len(),
                spec.log
            )),
        ),
    }
}

/// Output of the manifest's versions command (`command`, fenced), trimmed and bounded,
/// or what went wrong.
fn versions(mut command: Command) -> String {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("could not run the versions command: {e}"),
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > VERSIONS_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return format!(
                    "the versions command did not finish in {} s",
                    VERSIONS_TIMEOUT.as_secs()
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return format!("could not wait for the versions command: {e}"),
        }
    }
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut text);
    }
    let mut text = text.trim().to_owned();
    if text.len() > VERSIONS_MAX_BYTES {
        let cut = (0..=VERSIONS_MAX_BYTES)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, body: &str) {
        std::fs::write(dir.join(MANIFEST), body).unwrap();
    }

    const GOOD: &str = "[submission]\nname = \"bigram\"\ntracks = [\"t\"]\ncommand = [\"python3\", \"train.py\"]\nlog = \"logs/*.txt\"\nlog_format = \"modded-nanogpt\"\n";

    #[test]
    fn reads_the_manifest_and_names_the_field_that_is_wrong() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), GOOD);
        let f = read_folder(d.path(), "t", &["reference"]).unwrap();
        assert_eq!(f.spec.submission, "bigram");
        assert_eq!(f.spec.log_format, LogFormat::ModdedNanogpt);
        let e = read_folder(d.path(), "other", &[]).unwrap_err().to_string();
        assert!(e.contains("speedcert.toml") && e.contains("tracks"), "{e}");
        for (body, says) in [
            (
                GOOD.replace("name = \"bigram\"", "name = \"reference\""),
                "built-in",
            ),
            (
                GOOD.replace("name = \"bigram\"", "name = \"Big Ram\""),
                "name",
            ),
            (GOOD.replace("[\"python3\", \"train.py\"]", "[]"), "command"),
            (GOOD.replace("logs/*.txt", "../x.txt"), "log"),
            (GOOD.replace("modded-nanogpt", "llm.c"), "log_format"),
            (format!("{GOOD}colour = 1\n"), "colour"),
            (format!("{GOOD}read = [\"data\"]\n"), "read"),
            (format!("{GOOD}read = [\"/no/such/folder\"]\n"), "read"),
            (
                GOOD.replace("log_format = \"modded-nanogpt\"\n", ""),
                "log_format",
            ),
        ] {
            write(d.path(), &body);
            let e = read_folder(d.path(), "t", &["reference"])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("speedcert.toml") && e.contains(says),
                "{says}: {e}"
            );
        }
    }

    /// The fenced run may read the installation its program comes from (a virtual
    /// environment's root), but never `/`, the home folder or a system folder through it.
    #[test]
    fn a_programs_installation_is_the_parent_of_its_folder() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("python"), "").unwrap();
        assert_eq!(
            installation(&bin.join("python").display().to_string()),
            Some(d.path().join("venv").display().to_string())
        );
        assert_eq!(installation("/usr/bin/sh"), None);
        assert_eq!(installation("/bin/sh"), None);
        assert_eq!(installation("./train.sh"), None);
        assert_eq!(installation("no-such-program-anywhere"), None);
    }
}
