//! Samples: a record's finished runs, grouped so that only runs of one folder, role,
//! printed script, step count and GPU count are pooled, with each sample's
//! statistics and the software and hardware its logs show.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use speedcert_stats::{Alternative, Summary, TTest, one_sample_t};

use crate::logfile::LogEntry;
use crate::options::Options;
use crate::parse::RunLog;
use crate::problem::{LogProblem, ProblemKind, problem_of};
use crate::tracks::Objective;

/// Whether a sample holds the record's new runs or a rerun of what it beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Candidate,
    Baseline,
}

impl Role {
    /// As serialised: "candidate", "baseline".
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Baseline => "baseline",
        }
    }
}

/// Words that mark a folder or file as a baseline rerun ("original_timing.txt" is
/// track 2's rerun of the unmodified script).
pub const BASELINE_WORDS: [&str; 8] = [
    "baseline",
    "comparison",
    "control",
    "master",
    "original",
    "prior",
    "previous",
    "reference",
];

/// One finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Path relative to the records folder.
    pub file: String,
    pub log: RunLog,
}

/// Software and hardware seen in a sample's logs, each value with its run count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub gpus: BTreeMap<String, usize>,
    pub torch: BTreeMap<String, usize>,
    pub cuda: BTreeMap<String, usize>,
    pub python: BTreeMap<String, usize>,
    pub triton: BTreeMap<String, usize>,
    pub driver: BTreeMap<String, usize>,
    /// Distinct printed training scripts among the runs.
    pub scripts: usize,
}

/// Runs of one record that belong together: same folder, same role, same printed
/// script, same number of steps and GPUs. Runs of different scripts (ablations,
/// other optimizers) are never pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// "this_pr (1390 steps, 8 GPUs)", "logs/baseline* (1490 steps, 8 GPUs)".
    pub label: String,
    /// Folder inside the record ("" for the record folder itself).
    pub folder: String,
    pub role: Role,
    pub total_steps: Option<u32>,
    pub gpu_count: Option<u32>,
    /// Fingerprint of the printed training script shared by its runs.
    pub script: Option<String>,
    /// Set when the sample is the subset of a folder's runs that a claim lists
    /// ("README.md:12"): the runs the authors say their figures come from.
    pub listed_in: Option<String>,
    pub runs: Vec<Run>,
    pub loss: Option<Summary>,
    /// One-sided one-sample t-test, H1: mean loss < target.
    pub loss_test: Option<TTest>,
    /// Why `loss_test` is missing (one run, zero variance).
    pub loss_test_error: Option<String>,
    /// Train times in ms of the runs that have one.
    pub time_ms: Option<Summary>,
    pub environment: Environment,
}

impl Sample {
    pub fn n(&self) -> usize {
        self.runs.len()
    }

    /// Final validation losses of its runs.
    pub(crate) fn losses(&self) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.log.final_val_loss)
            .collect()
    }

    /// Train times (ms) of the runs that have one.
    pub(crate) fn times(&self) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.log.train_time_ms)
            .collect()
    }
}

/// A record's logs turned into samples.
pub(crate) struct Formed {
    pub(crate) samples: Vec<Sample>,
    /// Files (or trials) that are not finished runs, and copies of runs counted
    /// elsewhere.
    pub(crate) problems: Vec<LogProblem>,
    /// (copy, the log counted instead) for each log left out as a copy.
    pub(crate) duplicates: Vec<(String, String)>,
}

/// Groups a record's finished runs into samples by folder (`seed_N/` folders
/// merged), role, printed script, scheduled steps (on a track competing on steps:
/// the final step) and GPU count. Each trial of a file holding several is a run of
/// its own; unreadable files, unfinished runs and copies become problems.
pub(crate) fn form_samples(logs: Vec<LogEntry>, objective: Objective, options: &Options) -> Formed {
    let mut problems = Vec::new();
    let mut duplicates: Vec<(String, String)> = Vec::new();
    // (folder, role, baseline word in the file name, script, steps, gpus) -> runs
    type Key = (
        String,
        Role,
        Option<String>,
        Option<String>,
        Option<u32>,
        Option<u32>,
    );
    let mut groups: BTreeMap<Key, Vec<Run>> = BTreeMap::new();
    for entry in logs {
        let file = entry.file;
        let parsed = match entry.parsed {
            Ok(ok) => ok,
            Err(e) => {
                problems.push(LogProblem {
                    file,
                    kind: ProblemKind::Unreadable,
                    detail: e,
                });
                continue;
            }
        };
        // Each trial of a file that holds several is a run of its own, named
        // "FILE (trial K/N)" in samples and problems.
        let n_trials = parsed.trials.len() + 1;
        let mut file_runs: Vec<(String, RunLog)> = Vec::with_capacity(n_trials);
        let trials = parsed.trials.into_iter().chain(std::iter::once(parsed.log));
        for (k, log) in trials.enumerate() {
            let run_file = if n_trials > 1 {
                format!("{file} (trial {}/{n_trials})", k + 1)
            } else {
                file.clone()
            };
            if let Some((kind, detail)) = problem_of(&log, parsed.bytes) {
                problems.push(LogProblem {
                    file: run_file.clone(),
                    kind,
                    detail,
                });
                if kind.excludes_run() {
                    continue;
                }
            }
            file_runs.push((run_file, log));
        }
        if file_runs.is_empty() {
            continue;
        }
        if let Some(first) = entry.duplicate_of {
            problems.push(LogProblem {
                file: file.clone(),
                kind: ProblemKind::Duplicate,
                detail: format!("the same run as {first}, which is counted instead"),
            });
            duplicates.push((file, first));
            continue;
        }
        // A lone log's record folder is the records folder: `inner` is its name.
        let inner = entry.inner;
        let (folder, file_base) = inner.rsplit_once('/').unwrap_or(("", &inner));
        let folder = without_seed_folder(folder);
        let (role, file_word) = role_of(folder, file_base);
        for (file, log) in file_runs {
            let steps = match objective {
                Objective::TrainTime => log.total_steps,
                Objective::Steps => log.final_step(),
            };
            let key = (
                folder.to_string(),
                role,
                file_word.clone(),
                log.code_fingerprint.clone(),
                steps,
                log.gpu_count,
            );
            groups.entry(key).or_default().push(Run { file, log });
        }
    }

    // Name the script in a sample's label only where its folder holds several.
    let mut scripts_per_folder: BTreeMap<(String, Role, Option<String>), BTreeSet<Option<String>>> =
        BTreeMap::new();
    for (folder, role, word, script, _, _) in groups.keys() {
        scripts_per_folder
            .entry((folder.clone(), *role, word.clone()))
            .or_default()
            .insert(script.clone());
    }
    let samples: Vec<Sample> = groups
        .into_iter()
        .map(|((folder, role, word, script, steps, gpus), runs)| {
            let several = scripts_per_folder[&(folder.clone(), role, word.clone())].len() > 1;
            let shown_script = several.then_some(script.as_deref()).flatten();
            let label = sample_label(&folder, word.as_deref(), shown_script, steps, gpus);
            let mut sample = build_sample(label, folder, role, steps, gpus, runs, None, options);
            sample.script = script;
            sample
        })
        .collect();
    Formed {
        samples,
        problems,
        duplicates,
    }
}

/// `idea_x/seed_3` → `idea_x`: one folder per seed is one sample, split only for
/// storage (track 3's trustlight keeps each seed's stdout in `seed_N/`).
fn without_seed_folder(folder: &str) -> &str {
    let (parent, last) = folder.rsplit_once('/').unwrap_or(("", folder));
    let digits = last
        .strip_prefix("seed")
        .map(|d| d.trim_start_matches(['_', '-']));
    match digits {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => parent,
        _ => folder,
    }
}

/// Baseline if the folder or (in the record folder itself) the file name says so.
fn role_of(folder: &str, file: &str) -> (Role, Option<String>) {
    let f = folder.to_ascii_lowercase();
    if BASELINE_WORDS.iter().any(|w| f.contains(w)) {
        return (Role::Baseline, None);
    }
    let n = file.to_ascii_lowercase();
    match BASELINE_WORDS.iter().find(|w| n.contains(*w)) {
        Some(w) => (Role::Baseline, Some((*w).to_string())),
        None => (Role::Candidate, None),
    }
}

fn sample_label(
    folder: &str,
    file_word: Option<&str>,
    script: Option<&str>,
    total_steps: Option<u32>,
    gpu_count: Option<u32>,
) -> String {
    let mut name = if folder.is_empty() {
        ".".to_string()
    } else {
        folder.to_string()
    };
    if let Some(w) = file_word {
        name.push_str(&format!("/{w}*"));
    }
    if let Some(s) = script {
        name.push_str(&format!(", script {}", &s[..s.len().min(8)]));
    }
    let steps = total_steps.map_or("? steps".into(), |s| format!("{s} steps"));
    let gpus = gpu_count.map_or("? GPUs".into(), |g| {
        format!("{g} GPU{}", if g == 1 { "" } else { "s" })
    });
    format!("{name} ({steps}, {gpus})")
}

/// A sample of `runs` with its statistics: loss and time summaries, the one-sided
/// t-test of the loss against the target, and the environment its logs show.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_sample(
    label: String,
    folder: String,
    role: Role,
    total_steps: Option<u32>,
    gpu_count: Option<u32>,
    runs: Vec<Run>,
    listed_in: Option<String>,
    options: &Options,
) -> Sample {
    let mut sample = Sample {
        label,
        folder,
        role,
        total_steps,
        gpu_count,
        script: None,
        listed_in,
        runs,
        loss: None,
        loss_test: None,
        loss_test_error: None,
        time_ms: None,
        environment: Environment::default(),
    };
    let losses = sample.losses();
    sample.loss = Summary::of(&losses).ok();
    match one_sample_t(&losses, options.target_loss, Alternative::Less) {
        Ok(t) => sample.loss_test = Some(t),
        Err(e) => sample.loss_test_error = Some(e.to_string()),
    }
    sample.time_ms = Summary::of(&sample.times()).ok();
    let mut env = Environment::default();
    let mut scripts = BTreeSet::new();
    for run in &sample.runs {
        let l = &run.log;
        let count = |map: &mut BTreeMap<String, usize>, v: Option<String>| {
            *map.entry(v.unwrap_or_else(|| "?".into())).or_default() += 1;
        };
        let gpu = match (&l.gpu_count, &l.gpu_name) {
            (Some(c), Some(n)) => Some(format!("{c}x {n}")),
            _ => None,
        };
        count(&mut env.gpus, gpu);
        count(&mut env.torch, l.torch_version.clone());
        count(&mut env.cuda, l.cuda_version.clone());
        count(&mut env.python, l.python_version.clone());
        count(&mut env.triton, l.triton_version.clone());
        count(&mut env.driver, l.driver_version.clone());
        if let Some(f) = &l.code_fingerprint {
            scripts.insert(f.clone());
        }
    }
    env.scripts = scripts.len();
    sample.environment = env;
    sample
}
