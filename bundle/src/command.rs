//! Command submissions: a training script (the speedrun's `train_gpt.py`, say) that the
//! referee runs as a child process and whose training time, steps and validation loss are
//! read from the script's own log. The clock and the loss are the submission's, so a
//! command certification says so ([`Clock::SelfReported`]); what the referee can hold them
//! to is here: the log is complete, every step is in it in order, and the training time
//! it reports fits inside the process's wall time the referee measured.
//!
//! The log is parsed by `speedcert_audit::parse_log`, the parser the audit of published
//! speedrun logs uses, so certification and audit read a log the same way.

use serde::{Deserialize, Serialize};

use speedcert_track::DeviceKind;

use crate::gpu::GpuLog;
use crate::run::RunRecord;

/// A command submission's manifest, at the top of its folder.
pub const MANIFEST: &str = "speedcert.toml";

/// Whose clock and loss a certification's figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Clock {
    /// speedcert's harness timed training, drew every batch and computed the loss.
    #[default]
    Harness,
    /// The submission's log reported them; the referee measured only the wall time.
    SelfReported,
}

impl Clock {
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::Harness => "harness",
            Clock::SelfReported => "self-reported",
        }
    }

    /// How reports and the site label it, in a few words.
    pub fn label(self) -> &'static str {
        match self {
            Clock::Harness => "clock and loss owned by the harness",
            Clock::SelfReported => "self-reported: clock and loss from the submission's log",
        }
    }
}

impl std::fmt::Display for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The log formats a command submission can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// modded-nanogpt's `train_gpt.py` (`step:N/M val_loss:... train_time:...ms`), the
    /// format the speedrun's records have used since 2024.
    ModdedNanogpt,
}

impl LogFormat {
    pub const NAMES: [&'static str; 1] = ["modded-nanogpt"];

    pub fn parse(name: &str) -> Option<Self> {
        (name == "modded-nanogpt").then_some(LogFormat::ModdedNanogpt)
    }
}

/// plan.json `commands[]`: a command submission as it will be run. Its source is shipped
/// under `source_sha256` like a built runner's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// The submission's name (its manifest's).
    pub submission: String,
    /// [`crate::source::SourceTree::digest`] of the folder: the submission's identity.
    pub source_sha256: String,
    /// argv, run in a fresh copy of the source.
    pub command: Vec<String>,
    /// Where the run writes its log, relative to its working folder (a glob matching one
    /// file), or `stdout`.
    pub log: String,
    pub log_format: LogFormat,
    /// argv printing the software versions to pin (torch, CUDA, driver), run before each
    /// run's clock; its output is kept in run.json.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Absolute folders the fenced run may read besides the system folders (its data, its
    /// Python environment): sealed in the plan, so the bundle says what the run could see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
}

/// run.json `command`: what the referee itself measured of one command run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRun {
    /// From spawning the process to its exit, on the referee's clock: the bound on the
    /// training time the log may report.
    pub wall_time_ms: f64,
    /// The process's exit code (`None` when killed by a signal).
    pub exit_code: Option<i32>,
    /// sha256 of `train.log`, the log as the run left it.
    pub log_sha256: String,
    /// What the manifest's versions command printed before the run (trimmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<String>,
}

/// run.json `devices` of a command run: on CUDA, the GPUs its gpu.csv shows at work
/// ([`GpuLog::busy_gpus`]), since torchrun, not the referee, put a process on each; none
/// (one device) on CPU or where no GPU was sampled. certify writes it and verify
/// recomputes it, so an 8-GPU run meets an 8-GPU track's `gpu_count` pin only when
/// eight GPUs worked.
pub fn trained_devices(device: DeviceKind, gpu: &GpuLog) -> Option<u32> {
    match (device, gpu.busy_gpus()) {
        (DeviceKind::Cuda, n) if n > 0 => Some(n),
        _ => None,
    }
}

/// What a command run's log says, once it has passed every check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogFigures {
    /// The scheduled and logged training steps (N of `step:N/N`).
    pub steps: usize,
    pub final_val_loss: f64,
    /// train_time at the final validation.
    pub train_time_ms: f64,
    /// train_time at the first validation at or below the target.
    pub time_to_target_ms: Option<f64>,
}

/// Reads a command run's log and holds it to what the referee can check: a finished run
/// (validation at step N of N, the line whole and finite), every training step's line
/// present and in order with time never going back, one run (no restart appended), and a
/// final training time no longer than the process's wall time. `Err` says what failed.
pub fn read_log(text: &str, wall_time_ms: f64, target: f64) -> Result<LogFigures, String> {
    let log = speedcert_audit::parse_log(text);
    if log.format != Some(speedcert_audit::LogFormat::TrainGpt) {
        return Err(
            "the log has no `step:N/M` lines: it is not in the modded-nanogpt format".into(),
        );
    }
    if log.restarts > 0 {
        return Err(format!(
            "the log holds {} runs (step 0 after later steps): one run writes one log",
            log.restarts + 1
        ));
    }
    if let Some(defect) = &log.sequence_defect {
        return Err(format!("lines missing or out of order: {defect}"));
    }
    if let Some(defect) = log.last_val_defect {
        let line = log.last_val_line.as_deref().unwrap_or("");
        return Err(match defect {
            speedcert_audit::LineDefect::CutOff => {
                format!("the log is truncated: its last validation line `{line}` is cut off")
            }
            speedcert_audit::LineDefect::NonFinite => {
                format!("the final validation loss is not finite: `{line}`")
            }
        });
    }
    let total = log.total_steps.unwrap_or(0);
    let (Some(loss), true) = (log.final_val_loss, log.is_complete()) else {
        return Err(format!(
            "the log ends at step {} of {total} without the final validation (truncated, or the run stopped early)",
            log.last_step.unwrap_or(0)
        ));
    };
    if log.train_lines != total {
        return Err(format!(
            "{} training-step lines for {total} steps",
            log.train_lines
        ));
    }
    let Some(time) = log.train_time_ms else {
        return Err("the final validation line has no train_time".into());
    };
    if time > wall_time_ms {
        return Err(format!(
            "the log reports {time:.0} ms of training, more than the {wall_time_ms:.0} ms the whole process ran on the referee's clock"
        ));
    }
    Ok(LogFigures {
        steps: total as usize,
        final_val_loss: loss,
        train_time_ms: time,
        time_to_target_ms: log
            .val_points
            .iter()
            .find(|v| v.val_loss <= target)
            .and_then(|v| v.train_time_ms),
    })
}

/// Why a finished command run's run.json is not what its log gives, if it is not (the
/// `command_log` check and verify read the log again rather than trust run.json).
pub fn log_problem(r: &RunRecord, text: &str, target: f64) -> Option<String> {
    let Some(c) = &r.command else {
        return Some("run.json has no `command` section".into());
    };
    let figures = match read_log(text, c.wall_time_ms, target) {
        Ok(f) => f,
        Err(e) => return Some(e),
    };
    use crate::checks::{same, same_opt};
    let mut out = Vec::new();
    if figures.steps != r.steps {
        out.push(format!("steps {} (the log has {})", r.steps, figures.steps));
    }
    if !same(figures.train_time_ms, r.train_time_ms) {
        out.push(format!(
            "train_time_ms {} (the log has {})",
            r.train_time_ms, figures.train_time_ms
        ));
    }
    if !r
        .final_val_loss
        .is_some_and(|l| same(l, figures.final_val_loss))
    {
        out.push(format!(
            "final_val_loss {:?} (the log has {})",
            r.final_val_loss, figures.final_val_loss
        ));
    }
    if !same_opt(figures.time_to_target_ms, r.time_to_target_ms) {
        out.push(format!(
            "time_to_target_ms {:?} (the log has {:?})",
            r.time_to_target_ms, figures.time_to_target_ms
        ));
    }
    (!out.is_empty()).then(|| format!("run.json says {}", out.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_run_trained_on_the_gpus_that_worked() {
        use crate::gpu::{GpuLog, GpuSample, ThrottleReasons, tests::sample};
        let busy = |gpu: u32, util: u32| GpuSample {
            gpu,
            util_gpu_pct: Some(util),
            ..sample(0.0, ThrottleReasons(0))
        };
        // torchrun on eight GPUs of an eight-GPU node: every one at work.
        let eight = GpuLog {
            samples: (0..8).map(|g| busy(g, 99)).collect(),
        };
        assert_eq!(trained_devices(DeviceKind::Cuda, &eight), Some(8));
        // One process on GPU 0 of the same node: one device, not eight.
        let one = GpuLog {
            samples: (0..8)
                .map(|g| busy(g, if g == 0 { 99 } else { 0 }))
                .collect(),
        };
        assert_eq!(trained_devices(DeviceKind::Cuda, &one), Some(1));
        // No telemetry, or a CPU run: the one device run.json's default says.
        assert_eq!(trained_devices(DeviceKind::Cuda, &GpuLog::default()), None);
        assert_eq!(trained_devices(DeviceKind::Cpu, &eight), None);
    }

    fn log(steps: u32, ms_per_step: u32, loss: f64) -> String {
        let mut s = String::from("Running Python 3.11.2\n====\n");
        s += &format!("step:0/{steps} val_loss:2.7726 train_time:0ms step_avg:0.00ms\n");
        for k in 1..=steps {
            s += &format!(
                "step:{k}/{steps} train_time:{}ms step_avg:{ms_per_step}.00ms\n",
                k * ms_per_step
            );
        }
        s += &format!(
            "step:{steps}/{steps} val_loss:{loss:.4} train_time:{}ms step_avg:{ms_per_step}.00ms\n",
            steps * ms_per_step
        );
        s
    }

    #[test]
    fn a_whole_log_gives_its_figures_and_a_bad_one_says_why() {
        let good = log(6, 10, 2.1);
        let f = read_log(&good, 100.0, 2.5).unwrap();
        assert_eq!(
            (
                f.steps,
                f.final_val_loss,
                f.train_time_ms,
                f.time_to_target_ms
            ),
            (6, 2.1, 60.0, Some(60.0))
        );
        for (text, wall, says) in [
            (good.clone(), 59.0, "more than the 59 ms"),
            (
                good.replace("step:3/6 train_time:30ms step_avg:10.00ms\n", ""),
                100.0,
                "steps 3 to 3 are missing",
            ),
            (good[..good.len() - 12].to_owned(), 100.0, "truncated"),
            (
                good.split("step:4/6").next().unwrap().to_owned(),
                100.0,
                "ends at step 3 of 6",
            ),
            (format!("{good}{good}"), 100.0, "2 runs"),
            ("hello\n".into(), 100.0, "not in the modded-nanogpt format"),
        ] {
            let e = read_log(&text, wall, 2.5).unwrap_err();
            assert!(e.contains(says), "{says}: {e}");
        }
    }
}
