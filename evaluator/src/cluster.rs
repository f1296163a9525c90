//! Slurm scale-out for `speedcert certify --slurm` (docs/slurm.md): the planned runs
//! become one sbatch job array (array index = slot index), and a job that depends on
//! it (`afterany`) collects and signs the bundle.
//!
//! The attestation signs every file in the bundle folder, so nothing of Slurm's may land
//! there: the job scripts, the job ids and every Slurm log go in a sibling folder,
//! `<BUNDLE>.slurm/`. The bundle itself ends up exactly as a local certification
//! leaves it. Jobs run on other machines, so every path in a script is absolute, and
//! the bundle, the key and the binary must be on a filesystem the nodes share.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use speedcert_bundle::io::{self as bundle, BundleError};

/// Appended to the bundle's path to name the folder of scripts and logs.
pub const LOG_DIR_SUFFIX: &str = ".slurm";
/// The array job's script, in the log folder.
pub const ARRAY_SCRIPT: &str = "array.sbatch";
/// The collect job's script, in the log folder.
pub const COLLECT_SCRIPT: &str = "collect.sbatch";
/// The submitted job ids, in the log folder.
pub const JOBS_FILE: &str = "jobs.json";
/// Added to the track's run timeout for an array task's `--time`: the task also starts
/// the binary, loads the plan and writes the run's files, and Slurm should only ever
/// kill a task that the run timeout failed to stop.
pub const TASK_TIME_MARGIN_S: u64 = 300;
/// `--time` of the collect job: it reads the runs, computes the statistics and signs.
pub const COLLECT_TIME_MIN: u64 = 15;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(
        "{path}: Slurm cannot take this path in an #SBATCH line ({what}); choose a bundle path without spaces, quotes or backslashes"
    )]
    UnsafePath { path: PathBuf, what: String },
    #[error("--sbatch-arg {arg:?}: {message}")]
    SbatchArg { arg: String, message: String },
    #[error("could not run `sbatch` for {script}: {source} (is Slurm installed and on PATH?)")]
    Spawn {
        script: PathBuf,
        source: std::io::Error,
    },
    #[error("sbatch rejected {script} ({status}):\n{stderr}")]
    Sbatch {
        script: PathBuf,
        status: String,
        stderr: String,
    },
    #[error(
        "sbatch --parsable printed {output:?} for {script}; expected `JOBID` or `JOBID;CLUSTER`"
    )]
    JobId { script: PathBuf, output: String },
    #[error(
        "{source}\nthe array job {array_job} is submitted but nothing will collect it: cancel it with `scancel {array_job}`, or run `{collect}` once it ends"
    )]
    CollectNotSubmitted {
        source: Box<ClusterError>,
        array_job: u64,
        collect: String,
    },
}

/// sbatch options from the command line.
#[derive(Debug, Clone, Default)]
pub struct SbatchOptions {
    pub partition: Option<String>,
    /// Generic resources per array task, e.g. `gpu:1` (the collect job needs none).
    pub gres: Option<String>,
    pub account: Option<String>,
    /// Per-task `--time` in minutes (default: the track's run timeout plus a margin).
    pub time_limit_min: Option<u64>,
    /// Further sbatch options, each written as an `#SBATCH` line of both scripts.
    pub extra: Vec<String>,
}

/// A job id as `sbatch --parsable` prints it: `JOBID` or `JOBID;CLUSTER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobId {
    pub id: u64,
    pub cluster: Option<String>,
}

/// Parses `sbatch --parsable` output (its first non-empty line).
pub fn parse_job_id(output: &str) -> Option<JobId> {
    let line = output.lines().map(str::trim).find(|l| !l.is_empty())?;
    let (id, cluster) = match line.split_once(';') {
        Some((id, cluster)) => (id, Some(cluster.trim().to_owned())),
        None => (line, None),
    };
    Some(JobId {
        id: id.trim().parse().ok()?,
        cluster: cluster.filter(|c| !c.is_empty()),
    })
}

/// What was submitted: jobs.json, and what `certify --slurm --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jobs {
    /// The array job; `None` when no run was left to do (`--resume` of finished runs).
    pub array_job: Option<u64>,
    pub collect_job: u64,
    /// The cluster sbatch named (`JOBID;CLUSTER`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub bundle: PathBuf,
    pub logs: PathBuf,
    /// Slot indices submitted as array tasks.
    pub tasks: Vec<usize>,
}

impl Jobs {
    /// The job ids, comma-separated, as squeue and sacct take them.
    pub fn id_list(&self) -> String {
        self.array_job
            .iter()
            .chain(std::iter::once(&self.collect_job))
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `<BUNDLE>.slurm`: beside the bundle, never in it.
pub fn log_dir(bundle: &Path) -> PathBuf {
    let mut name: OsString = bundle.components().as_path().as_os_str().to_owned();
    name.push(LOG_DIR_SUFFIX);
    PathBuf::from(name)
}

/// The log of array task `index`.
pub fn task_log(logs: &Path, index: usize) -> PathBuf {
    logs.join(format!("task-{index}.out"))
}

/// Why a planned run has no run.json when the bundle is collected: names the Slurm task
/// log when the bundle was run with `--slurm` (its log folder exists).
pub fn missing_run_reason(bundle: &Path, index: usize) -> String {
    let logs = log_dir(bundle);
    if logs.is_dir() {
        format!(
            "no run.json: the Slurm array task failed, was cancelled or lost its node; see {}",
            task_log(&logs, index).display()
        )
    } else {
        "no run.json: the run never finished (its process or job was stopped or lost) before `certify --collect`".to_owned()
    }
}

/// Array tasks of this bundle's array job (from jobs.json) that Slurm still lists as
/// pending or running: collecting then would sign a bundle that a late run still writes
/// into. Empty when there is no jobs.json, or squeue is absent or no longer knows the job.
pub fn unfinished_tasks(bundle: &Path) -> Vec<String> {
    let Ok(jobs) = bundle::read_json::<Jobs>(&log_dir(bundle).join(JOBS_FILE)) else {
        return Vec::new();
    };
    let Some(array) = jobs.array_job else {
        return Vec::new();
    };
    let Ok(out) = Command::new("squeue")
        .args(["-h", "-r", "-t", "PD,R,CF,S,RQ,RS", "-o", "%i"])
        .arg(format!("--jobs={array}"))
        .stdin(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Per-task `--time` in minutes: the explicit limit, else the run timeout plus
/// [`TASK_TIME_MARGIN_S`], rounded up.
pub fn task_time_limit_min(run_timeout_s: u64, options: &SbatchOptions) -> u64 {
    options
        .time_limit_min
        .unwrap_or_else(|| (run_timeout_s + TASK_TIME_MARGIN_S).div_ceil(60))
        .max(1)
}

/// `0-5`, or `1,3-4` for the slots `--resume` left: the shortest `--array` list.
pub fn array_spec(tasks: &[usize]) -> String {
    let mut sorted = tasks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Quotes a word for /bin/sh.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A path as an #SBATCH option value. sbatch splits those lines on blanks and reads
/// `%` as a file-name pattern, so blanks, quotes and backslashes are refused and `%`
/// is escaped (when `pattern` is true) as `%%`.
fn sbatch_path(path: &Path, pattern: bool) -> Result<String, ClusterError> {
    let text = path.to_str().ok_or_else(|| ClusterError::UnsafePath {
        path: path.to_owned(),
        what: "it is not UTF-8".into(),
    })?;
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "\"'\\".contains(*c))
    {
        return Err(ClusterError::UnsafePath {
            path: path.to_owned(),
            what: format!("it contains {c:?}"),
        });
    }
    Ok(if pattern {
        text.replace('%', "%%")
    } else {
        text.to_owned()
    })
}

fn check_extra(extra: &[String]) -> Result<(), ClusterError> {
    for arg in extra {
        let message = if !arg.starts_with('-') {
            "an sbatch option starts with `-` (write --sbatch-arg=--exclusive)"
        } else if arg.contains(['\n', '\r']) {
            "it contains a line break"
        } else if arg.starts_with("--array") || arg.starts_with("--dependency") {
            "speedcert sets --array and --dependency itself"
        } else {
            continue;
        };
        return Err(ClusterError::SbatchArg {
            arg: arg.clone(),
            message: message.into(),
        });
    }
    Ok(())
}

/// What to submit, all paths absolute.
pub struct Submission<'a> {
    /// The `speedcert` binary the jobs run (the running one: same digest as env.json).
    pub exe: &'a Path,
    pub bundle: &'a Path,
    /// Signing keys: the array tasks seal their runs with them, the collect job signs.
    pub keys: &'a [PathBuf],
    /// The attempt ledger the certification started in: the collect job appends its
    /// `finished` line, as a local certification does when it ends.
    pub ledger: Option<&'a Path>,
    /// Slot indices to run, one array task each.
    pub tasks: &'a [usize],
    /// The track's `certification.run_timeout_s`.
    pub run_timeout_s: u64,
    pub options: &'a SbatchOptions,
    /// Submit the collect job with `sbatch --wait`: return when the bundle is signed.
    pub wait: bool,
}

impl Submission<'_> {
    fn logs(&self) -> PathBuf {
        log_dir(self.bundle)
    }

    fn header(&self, name: &str, output: &str, time_min: u64) -> Result<String, ClusterError> {
        let logs = self.logs();
        let mut s = String::from("#!/bin/sh\n");
        s += &format!(
            "# Written by `speedcert certify --slurm` for {}.\n",
            self.bundle.display()
        );
        s += &format!(
            "#SBATCH --job-name=speedcert-{name}-{}\n",
            self.bundle
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
                .unwrap_or("bundle")
        );
        s += "#SBATCH --ntasks=1\n";
        s += &format!("#SBATCH --time={time_min}\n");
        // `output` is a file-name pattern (%a, %j); only the folder is escaped.
        s += &format!("#SBATCH --output={}/{output}\n", sbatch_path(&logs, true)?);
        s += &format!("#SBATCH --chdir={}\n", sbatch_path(&logs, false)?);
        if let Some(p) = &self.options.partition {
            s += &format!("#SBATCH --partition={p}\n");
        }
        if let Some(a) = &self.options.account {
            s += &format!("#SBATCH --account={a}\n");
        }
        for arg in &self.options.extra {
            s += &format!("#SBATCH {arg}\n");
        }
        Ok(s)
    }

    /// array.sbatch: task K runs slot K with `certify --run-slot K`.
    pub fn array_script(&self) -> Result<String, ClusterError> {
        let time = task_time_limit_min(self.run_timeout_s, self.options);
        let mut s = self.header("run", "task-%a.out", time)?;
        s += &format!("#SBATCH --array={}\n", array_spec(self.tasks));
        if let Some(g) = &self.options.gres {
            s += &format!("#SBATCH --gres={g}\n");
        }
        s += "echo \"speedcert: array task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname)\"\n";
        s += &format!(
            "exec {} certify --run-slot \"$SLURM_ARRAY_TASK_ID\" --out {}{}\n",
            sh_quote(&self.exe.to_string_lossy()),
            sh_quote(&self.bundle.to_string_lossy()),
            self.key_args()
        );
        Ok(s)
    }

    /// The command the collect job runs, as a shell line.
    pub fn collect_command(&self) -> String {
        let mut s = format!(
            "{} certify --collect {}",
            sh_quote(&self.exe.to_string_lossy()),
            sh_quote(&self.bundle.to_string_lossy())
        );
        s += &self.key_args();
        if let Some(ledger) = self.ledger {
            s += &format!(" --ledger {}", sh_quote(&ledger.to_string_lossy()));
        }
        s
    }

    /// ` --key K` for each signing key, quoted.
    fn key_args(&self) -> String {
        self.keys
            .iter()
            .map(|k| format!(" --key {}", sh_quote(&k.to_string_lossy())))
            .collect()
    }

    /// collect.sbatch: collects, computes the statistics and signs.
    pub fn collect_script(&self) -> Result<String, ClusterError> {
        let mut s = self.header("collect", "collect-%j.out", COLLECT_TIME_MIN)?;
        s += "echo \"speedcert: collect job $SLURM_JOB_ID on $(hostname)\"\n";
        s += &format!("exec {}\n", self.collect_command());
        Ok(s)
    }

    /// Writes the scripts into the log folder and submits them; `submitted` sees the
    /// job ids (already in jobs.json) before a `--wait` begins. With `wait`, returns the
    /// exit status of `sbatch --wait`, which is the collect job's.
    pub fn submit(
        &self,
        submitted: &mut dyn FnMut(&Jobs),
    ) -> Result<(Jobs, Option<i32>), ClusterError> {
        check_extra(&self.options.extra)?;
        let logs = self.logs();
        std::fs::create_dir_all(&logs).map_err(bundle::io(&logs))?;
        let collect_path = logs.join(COLLECT_SCRIPT);
        let collect_text = self.collect_script()?;
        let array = if self.tasks.is_empty() {
            None
        } else {
            let path = logs.join(ARRAY_SCRIPT);
            bundle::write_bytes(&path, self.array_script()?.as_bytes())?;
            Some(sbatch(&path, &[])?)
        };
        bundle::write_bytes(&collect_path, collect_text.as_bytes())?;
        let mut args = Vec::new();
        if let Some(a) = &array {
            args.push(format!("--dependency=afterany:{}", a.id));
        }
        let jobs = |collect: &JobId| Jobs {
            array_job: array.as_ref().map(|a| a.id),
            collect_job: collect.id,
            cluster: collect.cluster.clone(),
            bundle: self.bundle.to_owned(),
            logs: logs.clone(),
            tasks: self.tasks.to_vec(),
        };
        let not_collected = |e: ClusterError| match &array {
            Some(a) => ClusterError::CollectNotSubmitted {
                source: Box::new(e),
                array_job: a.id,
                collect: self.collect_command(),
            },
            None => e,
        };
        let jobs_path = logs.join(JOBS_FILE);
        if self.wait {
            let mut result = None;
            let status = sbatch_wait(&collect_path, &args, &mut |id| {
                let j = jobs(id);
                if let Err(e) = bundle::write_json(&jobs_path, &j) {
                    result = Some(Err(e));
                    return;
                }
                submitted(&j);
                result = Some(Ok(j));
            })
            .map_err(not_collected)?;
            let j = result.expect("sbatch_wait reports the job id")?;
            Ok((j, Some(status)))
        } else {
            let id = sbatch(&collect_path, &args).map_err(not_collected)?;
            let j = jobs(&id);
            bundle::write_json(&jobs_path, &j)?;
            submitted(&j);
            Ok((j, None))
        }
    }
}

/// sbatch's stderr, quoted under an error line.
fn indent(stderr: &str) -> String {
    let lines: Vec<String> = stderr.trim().lines().map(|l| format!("  | {l}")).collect();
    if lines.is_empty() {
        "  | (sbatch printed nothing on stderr)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// `sbatch --parsable ARGS SCRIPT`: the job id, or an error quoting sbatch.
pub fn sbatch(script: &Path, args: &[String]) -> Result<JobId, ClusterError> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ClusterError::Spawn {
            script: script.to_owned(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(ClusterError::Sbatch {
            script: script.to_owned(),
            status: out.status.to_string(),
            stderr: indent(&String::from_utf8_lossy(&out.stderr)),
        });
    }
    parse_job_id(&stdout).ok_or_else(|| ClusterError::JobId {
        script: script.to_owned(),
        output: stdout.into_owned(),
    })
}

/// `sbatch --parsable --wait ARGS SCRIPT`: calls `submitted` with the job id as soon as
/// sbatch prints it, then waits for the job; returns sbatch's exit code, which is the
/// job's.
pub fn sbatch_wait(
    script: &Path,
    args: &[String],
    submitted: &mut dyn FnMut(&JobId),
) -> Result<i32, ClusterError> {
    let spawn_err = |source| ClusterError::Spawn {
        script: script.to_owned(),
        source,
    };
    let mut child = Command::new("sbatch")
        .args(["--parsable", "--wait"])
        .args(args)
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    let _ = stdout.read_line(&mut first);
    let id = parse_job_id(&first);
    if let Some(id) = &id {
        submitted(id);
    }
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let status = child.wait().map_err(spawn_err)?;
    let stderr = stderr_reader.join().unwrap_or_default();
    match (id, status.code()) {
        (Some(_), Some(code)) => Ok(code),
        (None, _) if !status.success() => Err(ClusterError::Sbatch {
            script: script.to_owned(),
            status: status.to_string(),
            stderr: indent(&stderr),
        }),
        (None, _) => Err(ClusterError::JobId {
            script: script.to_owned(),
            output: first + &rest,
        }),
        (Some(_), None) => Err(ClusterError::Sbatch {
            script: script.to_owned(),
            status: format!("sbatch --wait {status}"),
            stderr: indent(&stderr),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_parse_with_and_without_a_cluster() {
        assert_eq!(
            parse_job_id("1234\n"),
            Some(JobId {
                id: 1234,
                cluster: None
            })
        );
        assert_eq!(
            parse_job_id("77;gpu-cluster\n"),
            Some(JobId {
                id: 77,
                cluster: Some("gpu-cluster".into())
            })
        );
        assert_eq!(parse_job_id(""), None);
        assert_eq!(parse_job_id("Submitted batch job 5"), None);
    }

    #[test]
    fn array_specs_are_ranges() {
        assert_eq!(array_spec(&[0, 1, 2, 3, 4, 5]), "0-5");
        assert_eq!(array_spec(&[4, 1, 3]), "1,3-4");
        assert_eq!(array_spec(&[2]), "2");
    }

    #[test]
    fn the_log_folder_is_beside_the_bundle() {
        assert_eq!(log_dir(Path::new("/a/b")), Path::new("/a/b.slurm"));
        assert_eq!(log_dir(Path::new("/a/b/")), Path::new("/a/b.slurm"));
    }

    #[test]
    fn task_time_is_the_run_timeout_plus_a_margin() {
        let mut o = SbatchOptions::default();
        assert_eq!(task_time_limit_min(120, &o), 7);
        assert_eq!(task_time_limit_min(3600, &o), 65);
        o.time_limit_min = Some(30);
        assert_eq!(task_time_limit_min(3600, &o), 30);
    }

    fn submission<'a>(options: &'a SbatchOptions, keys: &'a [PathBuf]) -> Submission<'a> {
        Submission {
            exe: Path::new("/opt/speedcert/bin/speedcert"),
            bundle: Path::new("/shared/b%1"),
            keys,
            ledger: Some(Path::new("/shared/records/ledger.jsonl")),
            tasks: &[0, 1, 2],
            run_timeout_s: 600,
            options,
            wait: false,
        }
    }

    #[test]
    fn scripts_carry_the_options_and_absolute_paths() {
        let options = SbatchOptions {
            partition: Some("h100".into()),
            gres: Some("gpu:1".into()),
            account: Some("lab".into()),
            time_limit_min: None,
            extra: vec!["--exclusive".into()],
        };
        let keys = [PathBuf::from("/keys/it's.pem")];
        let s = submission(&options, &keys);
        let array = s.array_script().unwrap();
        for line in [
            "#SBATCH --array=0-2",
            "#SBATCH --time=15",
            "#SBATCH --output=/shared/b%%1.slurm/task-%a.out",
            "#SBATCH --partition=h100",
            "#SBATCH --account=lab",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --exclusive",
            "exec /opt/speedcert/bin/speedcert certify --run-slot \"$SLURM_ARRAY_TASK_ID\" --out '/shared/b%1' --key '/keys/it'\\''s.pem'",
        ] {
            assert!(array.lines().any(|l| l == line), "{line}\n{array}");
        }
        let collect = s.collect_script().unwrap();
        assert!(!collect.contains("--gres"), "{collect}");
        assert!(collect.contains("#SBATCH --time=15\n"));
        assert!(collect.contains("#SBATCH --output=/shared/b%%1.slurm/collect-%j.out"));
        assert!(
            collect.contains("--collect '/shared/b%1' --key '/keys/it'\\''s.pem' --ledger /shared/records/ledger.jsonl"),
            "{collect}"
        );
    }

    #[test]
    fn unsafe_paths_and_arguments_are_refused() {
        let options = SbatchOptions::default();
        let mut s = submission(&options, &[]);
        s.bundle = Path::new("/my bundles/b");
        let e = s.array_script().unwrap_err().to_string();
        assert!(
            e.contains("/my bundles/b.slurm") && e.contains("' '"),
            "{e}"
        );
        for bad in ["exclusive", "--array=0-9", "--x\n#SBATCH --y"] {
            assert!(check_extra(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(check_extra(&["--qos=high".to_owned()]).is_ok());
    }
}
