//! Checking the figures authors state against the same statistics of their logs,
//! within the precision each figure is written with.

use serde::{Deserialize, Serialize};
use speedcert_stats::{Alternative, Comparison, Summary, one_sample_t, welch_t};

use crate::claims::{ClaimBlock, Quantity, Stated};
use crate::matching::BlockMatch;
use crate::options::Options;
use crate::paths::strip_record;
use crate::sample::Sample;

/// One stated figure checked against the logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// File and line of the statement.
    pub source: String,
    pub line: usize,
    /// Label of the sample the claim was matched to.
    pub sample: String,
    pub quantity: Quantity,
    /// As written.
    pub stated: String,
    /// In canonical units (ms for times).
    pub stated_value: f64,
    /// Canonical units per unit of `stated` (1000 for seconds): for printing ours
    /// the way the author wrote theirs.
    pub scale: f64,
    /// Our value from the logs; `None` when it cannot be computed.
    pub ours: Option<f64>,
    /// The same statistic computed from the author's own listed values, when the
    /// claim lists them: separates "different runs" from "different arithmetic".
    pub from_listed: Option<f64>,
    /// Allowed |ours − stated|.
    pub tolerance: f64,
    /// `None` when there was nothing to compare with (`ours` is `None`).
    pub agrees: Option<bool>,
    pub note: String,
}

impl ClaimCheck {
    /// `value` (in canonical units, like `ours`) in the unit and style of the stated
    /// figure: see [`format_like`].
    pub fn shown(&self, value: f64) -> String {
        format_like(value / self.scale, &self.stated)
    }
}

/// A claim block that matched no sample of runs, so nothing could be checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UncheckedClaim {
    pub source: String,
    pub line: usize,
    pub reason: String,
}

/// What a record's samples give to check claims against.
pub(crate) struct ClaimContext<'a> {
    pub(crate) samples: &'a [Sample],
    pub(crate) candidate: Option<usize>,
    pub(crate) baseline: Option<usize>,
    pub(crate) time_comparison: Option<&'a Comparison>,
    pub(crate) options: &'a Options,
}

/// Every claim of a record, checked.
pub(crate) struct Checked {
    pub(crate) claims: Vec<ClaimCheck>,
    pub(crate) unchecked: Vec<UncheckedClaim>,
    /// Set when the record's evidence claim lists runs that have no logs in the
    /// folder (and no other evidence claim matches the logs).
    pub(crate) claims_without_logs: Option<String>,
}

/// Checks every block: against the sample it is tied to, or, where it is tied to
/// none (`Err` with the reason), against its own listed values.
pub(crate) fn check_claims(
    blocks: &[ClaimBlock],
    tied: Vec<Result<(BlockMatch, usize), String>>,
    record: &str,
    ctx: &ClaimContext<'_>,
) -> Checked {
    let mut claims = Vec::new();
    let mut unchecked = Vec::new();
    // A claim of loss evidence (a p-value over listed runs) none of whose runs
    // has a log, unless another such claim of the record does match its logs.
    let mut claims_without_logs: Option<String> = None;
    let mut primary_matched = false;
    for (block, tie) in blocks.iter().zip(tied) {
        let primary = block.stated.iter().any(|s| s.quantity == Quantity::LossP)
            && (block.losses.is_some() || block.times_ms.is_some());
        let reason = match tie {
            Ok((m, t)) => {
                claims.extend(check_block(block, &m, t, ctx));
                primary_matched |= primary;
                continue;
            }
            Err(reason) => reason,
        };
        claims.extend(check_listed_only(block, record, ctx.options.target_loss));
        let listed = block
            .losses
            .as_ref()
            .map_or(0, Vec::len)
            .max(block.times_ms.as_ref().map_or(0, Vec::len));
        if primary && claims_without_logs.is_none() {
            let p = block
                .stated
                .iter()
                .find(|s| s.quantity == Quantity::LossP)
                .map_or(String::new(), |s| format!(" (p = {})", s.text));
            claims_without_logs = Some(format!(
                "{}:{} claims {listed} runs{p}, but the folder's logs are not those runs",
                strip_record(&block.source, record),
                block.line
            ));
        }
        unchecked.push(UncheckedClaim {
            source: block.source.clone(),
            line: block.line,
            reason,
        });
    }
    if primary_matched {
        claims_without_logs = None;
    }
    Checked {
        claims,
        unchecked,
        claims_without_logs,
    }
}

/// Checks every figure of one block against sample `t` (the listed runs, when they
/// single out part of a folder).
fn check_block(
    block: &ClaimBlock,
    m: &BlockMatch,
    t: usize,
    ctx: &ClaimContext<'_>,
) -> Vec<ClaimCheck> {
    let sample = &ctx.samples[t];
    let folder_sample = &ctx.samples[m.sample];
    let mut checks = Vec::new();
    let note_lists = if m.listed > 0 {
        let missing = m.listed - m.runs.len();
        let unlisted = folder_sample.n() - m.runs.len();
        let mut parts = Vec::new();
        if missing > 0 {
            parts.push(format!(
                "{missing} of the {} listed runs have no log in {}",
                m.listed, folder_sample.label
            ));
        }
        if unlisted > 0 && missing == 0 {
            parts.push(format!(
                "the {} listed runs are {} of the {} logs in {}",
                m.listed,
                m.runs.len(),
                folder_sample.n(),
                folder_sample.label
            ));
        } else if unlisted > 0 {
            parts.push(format!(
                "{unlisted} of its {} logs are not listed",
                folder_sample.n()
            ));
        }
        parts.extend(m.mismatches.iter().cloned());
        parts.join("; ")
    } else {
        String::new()
    };

    // The number of runs: stated outright, or implied by a list.
    let mut runs_claims: Vec<(String, f64, usize)> = block
        .stated
        .iter()
        .filter(|s| s.quantity == Quantity::Runs)
        .map(|s| (s.text.clone(), s.value, s.line))
        .collect();
    if m.listed > 0 && runs_claims.is_empty() {
        runs_claims.push((format!("{} listed", m.listed), m.listed as f64, block.line));
    }
    for (text, value, line) in runs_claims {
        // With a list, every listed run must have a log; without, the sample's size
        // must match.
        let ours = if m.listed > 0 {
            m.runs.len() - m.mismatches.len()
        } else {
            sample.n()
        } as f64;
        checks.push(ClaimCheck {
            source: block.source.clone(),
            line,
            sample: sample.label.clone(),
            quantity: Quantity::Runs,
            stated: text,
            stated_value: value,
            scale: 1.0,
            ours: Some(ours),
            from_listed: (m.listed > 0).then_some(m.listed as f64),
            tolerance: 0.0,
            agrees: Some(ours == value),
            note: note_lists.clone(),
        });
    }

    let listed_l = block.losses.as_deref().unwrap_or(&[]);
    let listed_t = block.times_ms.as_deref().unwrap_or(&[]);
    let (our_l, our_t) = (sample.losses(), sample.times());
    let target = ctx.options.target_loss;
    for s in block.stated.iter().filter(|s| s.quantity != Quantity::Runs) {
        let (ours, from_listed, tolerance, note) = match s.quantity {
            Quantity::TimeWelchP => {
                let cmp = (Some(t) == ctx.candidate)
                    .then_some(ctx.time_comparison)
                    .flatten();
                let tol = tolerance_for(s, None);
                let (o, n) = welch_claim(
                    s.value,
                    tol,
                    cmp.map(|c| (c.welch_less.p, c.welch_two_sided.p)),
                );
                (o, None, tol, n)
            }
            Quantity::LossWelchP => {
                let pair = match (Some(t) == ctx.candidate, ctx.baseline) {
                    (true, Some(b)) => {
                        let b = ctx.samples[b].losses();
                        welch_t(&our_l, &b, Alternative::Less)
                            .ok()
                            .zip(welch_t(&our_l, &b, Alternative::TwoSided).ok())
                    }
                    _ => None,
                };
                let tol = tolerance_for(s, None);
                let (o, n) = welch_claim(s.value, tol, pair.map(|(l, t)| (l.p, t.p)));
                (o, None, tol, n)
            }
            q => {
                let ours = stat_of(q, &our_l, &our_t, target);
                let from_listed = stat_of(q, listed_l, listed_t, target);
                let scale = if is_time(q) {
                    mean(&our_t)
                } else {
                    mean(&our_l)
                };
                let tol = tolerance_for(s, scale);
                // Only when nothing else explains the figure: an sd that the author's
                // own list (ddof 1) reproduces differs from ours for another reason.
                let unexplained = ours.is_some_and(|o| !agrees_with(s, o, tol))
                    && from_listed.is_none_or(|f| !agrees_with(s, f, tol));
                match population_sd(q, &our_l, &our_t)
                    .filter(|&pop| unexplained && agrees_with(s, pop, tol))
                {
                    Some(pop) => (Some(pop), from_listed, tol, POPULATION_SD_NOTE.into()),
                    None => (ours, from_listed, tol, String::new()),
                }
            }
        };
        let agrees = ours.map(|o| agrees_with(s, o, tolerance));
        let note = match (ours, agrees) {
            (None, _) if note.is_empty() => "no value from the logs to compare".to_string(),
            (_, Some(false)) if !note_lists.is_empty() => [note, note_lists.clone()]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
            _ => note,
        };
        checks.push(ClaimCheck {
            source: block.source.clone(),
            line: s.line,
            sample: sample.label.clone(),
            quantity: s.quantity,
            stated: s.text.clone(),
            stated_value: s.value,
            scale: s.scale,
            ours,
            from_listed,
            tolerance,
            agrees,
            note,
        });
    }
    checks
}

/// Checks a block whose listed runs have no logs against its own lists: the
/// author's arithmetic, at least, can be redone.
fn check_listed_only(block: &ClaimBlock, record: &str, target: f64) -> Vec<ClaimCheck> {
    let listed_l = block.losses.as_deref().unwrap_or(&[]);
    let listed_t = block.times_ms.as_deref().unwrap_or(&[]);
    let label = format!(
        "values listed at {}:{} (no logs)",
        strip_record(&block.source, record),
        block.line
    );
    block
        .stated
        .iter()
        .filter_map(|s| {
            let q = s.quantity;
            if matches!(
                q,
                Quantity::Runs | Quantity::TimeWelchP | Quantity::LossWelchP
            ) {
                return None;
            }
            let sample_value = stat_of(q, listed_l, listed_t, target)?;
            let scale = if is_time(q) {
                mean(listed_t)
            } else {
                mean(listed_l)
            };
            let tolerance = tolerance_for(s, scale);
            let population = population_sd(q, listed_l, listed_t).filter(|&pop| {
                !agrees_with(s, sample_value, tolerance) && agrees_with(s, pop, tolerance)
            });
            let value = population.unwrap_or(sample_value);
            let agrees = agrees_with(s, value, tolerance);
            Some(ClaimCheck {
                source: block.source.clone(),
                line: s.line,
                sample: label.clone(),
                quantity: q,
                stated: s.text.clone(),
                stated_value: s.value,
                scale: s.scale,
                ours: Some(value),
                from_listed: Some(value),
                tolerance,
                agrees: Some(agrees),
                note: if population.is_some() {
                    format!("follows from the listed values; {POPULATION_SD_NOTE}")
                } else if agrees {
                    "follows from the listed values".into()
                } else {
                    "does not follow from the listed values".into()
                },
            })
        })
        .collect()
}

/// A stated figure agrees when ours is within its tolerance, or, for a stated
/// bound, below it.
fn agrees_with(s: &Stated, ours: f64, tolerance: f64) -> bool {
    if s.upper_bound {
        ours < s.value
    } else {
        (ours - s.value).abs() <= tolerance
    }
}

fn is_time(q: Quantity) -> bool {
    matches!(
        q,
        Quantity::TimeMean | Quantity::TimeSd | Quantity::TimeMedian
    )
}

fn mean(values: &[f64]) -> Option<f64> {
    Summary::of(values).ok().map(|s| s.mean)
}

/// Said of a stated sd that is the population sd (`np.std`'s default, ddof 0) of the
/// runs rather than the sample sd (ddof 1) we compute: a convention, not an error.
const POPULATION_SD_NOTE: &str = "the population sd (ddof 0) of these runs, not the sample sd";

/// The population sd (ddof 0) of the runs, for an sd figure: some authors print
/// `np.std`, whose default divides by n.
fn population_sd(q: Quantity, losses: &[f64], times: &[f64]) -> Option<f64> {
    let values = match q {
        Quantity::LossSd => losses,
        Quantity::TimeSd => times,
        _ => return None,
    };
    let n = values.len() as f64;
    let sd = Summary::of(values).ok()?.sd?;
    Some(sd * ((n - 1.0) / n).sqrt())
}

/// A statistic of per-run losses and times (ms), as the claims state them.
fn stat_of(q: Quantity, losses: &[f64], times: &[f64], target: f64) -> Option<f64> {
    match q {
        Quantity::LossMean => Summary::of(losses).ok().map(|x| x.mean),
        Quantity::LossSd => Summary::of(losses).ok().and_then(|x| x.sd),
        Quantity::LossP => one_sample_t(losses, target, Alternative::Less)
            .ok()
            .map(|t| t.p),
        Quantity::TimeMean => Summary::of(times).ok().map(|x| x.mean),
        Quantity::TimeSd => Summary::of(times).ok().and_then(|x| x.sd),
        Quantity::TimeMedian => Summary::of(times).ok().map(|x| x.median),
        Quantity::Runs | Quantity::TimeWelchP | Quantity::LossWelchP => None,
    }
}

/// How far a recomputed figure may be from a stated one: half a unit in the last
/// written digit ("0.0083" allows 0.00005), plus 1e-9 relative, plus, for means,
/// sds and medians, four float32 ulps of the sample mean — the speedrun prints them
/// with `torch.std_mean` on float32 tensors, whose sd of values near 140 s is only
/// good to about 1e-5 s.
fn tolerance_for(s: &Stated, sample_mean: Option<f64>) -> f64 {
    let base = s.half_unit + 1e-9 * s.value.abs();
    match s.quantity {
        Quantity::LossP | Quantity::TimeWelchP | Quantity::LossWelchP | Quantity::Runs => base,
        _ => base + 4.0 * f64::from(f32::EPSILON) * sample_mean.unwrap_or(0.0).abs(),
    }
}

/// A Welch p-value claim states no side: it agrees if it is our one-sided or our
/// two-sided value; `ours` is whichever is closer.
fn welch_claim(stated: f64, tolerance: f64, ours: Option<(f64, f64)>) -> (Option<f64>, String) {
    let Some((one, two)) = ours else {
        return (
            None,
            "no same-hardware baseline sample to recompute it from".into(),
        );
    };
    let (value, side) = if (one - stated).abs() <= (two - stated).abs() {
        (one, "one-sided")
    } else {
        (two, "two-sided")
    };
    let note = if (value - stated).abs() <= tolerance {
        format!("matches our {side} Welch p")
    } else {
        format!("ours: one-sided {one:.3e}, two-sided {two:.3e}")
    };
    (Some(value), note)
}

/// Our value printed the way the stated one is written, with two more digits:
/// "0.0045" → "0.004615", "4.9e-12" → "4.912e-12", "13" → "13".
///
/// ```
/// use speedcert_audit::check::format_like;
/// assert_eq!(format_like(0.0046153, "0.0045"), "0.004615");
/// assert_eq!(format_like(4.91234e-12, "4.9e-12"), "4.912e-12");
/// assert_eq!(format_like(13.0, "13"), "13");
/// ```
pub fn format_like(ours: f64, stated: &str) -> String {
    // "8 listed", "79.684923 s": the number is the first word.
    let stated = stated.split_whitespace().next().unwrap_or("");
    if let Some(at) = stated.find(['e', 'E']) {
        let decimals = stated[..at].split_once('.').map_or(0, |(_, f)| f.len());
        return format!("{ours:.*e}", decimals + 2);
    }
    match stated.split_once('.') {
        Some((_, frac)) => format!("{ours:.*}", frac.len() + 2),
        None if stated.bytes().all(|b| b.is_ascii_digit()) && ours.fract() == 0.0 => {
            format!("{ours:.0}")
        }
        None => format!("{ours:.2}"),
    }
}
