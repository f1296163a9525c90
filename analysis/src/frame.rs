//! The table work on polars: per-bundle statistics from run rows, the record chain
//! with improvements, and per-track counts. Shared by `rebuild`, `show` and the
//! benchmark (bench/records/), so the benchmark times the code that ships.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::{Result, polars_ctx};
use crate::frontier::{self, Point};
use crate::table::RunRow;

/// A bundle that may join a track's record chain.
#[derive(Debug, Clone)]
pub struct ChainInput {
    pub track: String,
    pub created_at: String,
    pub bundle: String,
    pub time_mean_ms: Option<f64>,
}

/// A link of a record chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainRow {
    /// Index of the [`ChainInput`] this row came from.
    pub input_index: usize,
    pub track: String,
    pub created_at: String,
    pub bundle: String,
    /// 1-based position in the track's chain.
    pub number: u32,
    pub improvement_ms: Option<f64>,
    pub improvement_pct: Option<f64>,
}

fn str_col(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let c = df
        .column(name)
        .map_err(polars_ctx("reading a text column"))?;
    let ca = c.str().map_err(polars_ctx("reading a text column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

fn f64_col(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(polars_ctx("reading a number column"))?;
    let ca = c.f64().map_err(polars_ctx("reading a number column"))?;
    Ok(ca.iter().collect())
}

fn u32_col(df: &DataFrame, name: &str) -> Result<Vec<Option<u32>>> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::UInt32))
        .map_err(polars_ctx("reading an integer column"))?;
    let ca = c.u32().map_err(polars_ctx("reading an integer column"))?;
    Ok(ca.iter().collect())
}

/// Adds `prev_mean_ms`, `improvement_ms` and `improvement_pct` to a frame sorted into
/// chain order: the previous record's mean minus this one, within each track.
fn with_improvement(lf: LazyFrame, mean: &str) -> Result<LazyFrame> {
    let prev = col(mean)
        .shift(lit(1))
        .over([col("track")])
        .map_err(polars_ctx("previous record per track"))?
        .alias("prev_mean_ms");
    Ok(lf.with_column(prev).with_columns([
        (col("prev_mean_ms") - col(mean)).alias("improvement_ms"),
        ((col("prev_mean_ms") - col(mean)) / col("prev_mean_ms") * lit(100.0))
            .alias("improvement_pct"),
    ]))
}

/// Orders record bundles per track by certification time (then bundle path, so equal
/// timestamps still order the same way everywhere) and computes each record's
/// improvement over the previous one.
pub fn record_chain(inputs: impl IntoIterator<Item = ChainInput>) -> Result<Vec<ChainRow>> {
    let inputs: Vec<ChainInput> = inputs.into_iter().collect();
    let n = inputs.len();
    let df = DataFrame::new(
        n,
        vec![
            Column::new("idx".into(), (0..n as u32).collect::<Vec<_>>()),
            Column::new(
                "track".into(),
                inputs.iter().map(|i| i.track.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "created_at".into(),
                inputs
                    .iter()
                    .map(|i| i.created_at.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "bundle".into(),
                inputs.iter().map(|i| i.bundle.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "time_mean_ms".into(),
                inputs.iter().map(|i| i.time_mean_ms).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(polars_ctx("record chain input"))?;
    let out = with_improvement(
        df.lazy().sort(
            ["track", "created_at", "bundle"],
            SortMultipleOptions::default(),
        ),
        "time_mean_ms",
    )?
    .collect()
    .map_err(polars_ctx("record chain"))?;
    let idx = u32_col(&out, "idx")?;
    let imp = f64_col(&out, "improvement_ms")?;
    let pct = f64_col(&out, "improvement_pct")?;
    let mut number_in_track: BTreeMap<String, u32> = BTreeMap::new();
    Ok(idx
        .into_iter()
        .zip(imp)
        .zip(pct)
        .map(|((i, imp), pct)| {
            let i = i.unwrap_or(0) as usize;
            let inp = &inputs[i];
            let number = number_in_track.entry(inp.track.clone()).or_insert(0);
            *number += 1;
            ChainRow {
                input_index: i,
                track: inp.track.clone(),
                created_at: inp.created_at.clone(),
                bundle: inp.bundle.clone(),
                number: *number,
                improvement_ms: imp.filter(|v| v.is_finite()),
                improvement_pct: pct.filter(|v| v.is_finite()),
            }
        })
        .collect())
}

/// runs.csv rows as a polars frame (same column names).
pub fn runs_frame(rows: &[RunRow]) -> Result<DataFrame> {
    let s = |f: fn(&RunRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("track".into(), s(|r| &r.track)),
            Column::new("submission".into(), s(|r| &r.submission)),
            Column::new("role".into(), s(|r| &r.role)),
            Column::new("bundle".into(), s(|r| &r.bundle)),
            Column::new(
                "run_index".into(),
                rows.iter().map(|r| r.run_index).collect::<Vec<_>>(),
            ),
            Column::new("status".into(), s(|r| &r.status)),
            Column::new(
                "train_time_ms".into(),
                rows.iter().map(|r| r.train_time_ms).collect::<Vec<_>>(),
            ),
            Column::new(
                "final_val_loss".into(),
                rows.iter().map(|r| r.final_val_loss).collect::<Vec<_>>(),
            ),
            Column::new("date".into(), s(|r| &r.date)),
            Column::new(
                "official".into(),
                rows.iter().map(|r| r.official).collect::<Vec<_>>(),
            ),
            Column::new("verdict".into(), s(|r| &r.verdict)),
        ],
    )
    .map_err(polars_ctx("runs frame"))
}

/// Statistics of the candidate runs of each bundle, recomputed from runs.csv: what a
/// reader can check against the certified summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BundleStats {
    pub track: String,
    pub bundle: String,
    pub submission: String,
    pub verdict: String,
    pub date: String,
    /// Candidate runs that finished.
    pub n: u32,
    /// Candidate runs that failed.
    pub failed: u32,
    pub time_mean_ms: Option<f64>,
    pub time_sd_ms: Option<f64>,
    pub time_min_ms: Option<f64>,
    pub loss_mean: Option<f64>,
}

/// Group-by (track, bundle) over candidate runs, sorted by (track, date, bundle).
pub fn bundle_stats_frame(runs: DataFrame) -> Result<DataFrame> {
    let ok = col("status").eq(lit("ok"));
    runs.lazy()
        .filter(col("role").eq(lit("candidate")))
        .group_by([col("track"), col("bundle")])
        .agg([
            col("submission").first().alias("submission"),
            col("verdict").first().alias("verdict"),
            col("date").max().alias("date"),
            ok.clone().sum().cast(DataType::UInt32).alias("n"),
            ok.clone()
                .not()
                .sum()
                .cast(DataType::UInt32)
                .alias("failed"),
            col("train_time_ms")
                .filter(ok.clone())
                .mean()
                .alias("time_mean_ms"),
            col("train_time_ms")
                .filter(ok.clone())
                .std(1)
                .alias("time_sd_ms"),
            col("train_time_ms")
                .filter(ok.clone())
                .min()
                .alias("time_min_ms"),
            col("final_val_loss").filter(ok).mean().alias("loss_mean"),
        ])
        .sort(["track", "date", "bundle"], SortMultipleOptions::default())
        .collect()
        .map_err(polars_ctx("bundle statistics"))
}

/// [`bundle_stats_frame`] as rows.
pub fn bundle_stats(runs: &[RunRow]) -> Result<Vec<BundleStats>> {
    let df = bundle_stats_frame(runs_frame(runs)?)?;
    let track = str_col(&df, "track")?;
    let bundle = str_col(&df, "bundle")?;
    let submission = str_col(&df, "submission")?;
    let verdict = str_col(&df, "verdict")?;
    let date = str_col(&df, "date")?;
    let n = u32_col(&df, "n")?;
    let failed = u32_col(&df, "failed")?;
    let mean = f64_col(&df, "time_mean_ms")?;
    let sd = f64_col(&df, "time_sd_ms")?;
    let min = f64_col(&df, "time_min_ms")?;
    let loss = f64_col(&df, "loss_mean")?;
    Ok((0..df.height())
        .map(|i| BundleStats {
            track: track[i].clone(),
            bundle: bundle[i].clone(),
            submission: submission[i].clone(),
            verdict: verdict[i].clone(),
            date: date[i].clone(),
            n: n[i].unwrap_or(0),
            failed: failed[i].unwrap_or(0),
            time_mean_ms: mean[i],
            time_sd_ms: sd[i],
            time_min_ms: min[i],
            loss_mean: loss[i],
        })
        .collect())
}

/// The record chain recomputed from run rows alone (bundles whose verdict is "new
/// record", per track by date, improvement from the runs' own means). `rebuild` takes
/// the certified means from summary.json instead; the benchmark times this variant
/// because it is the heavier table work (group-by over every run, then the window).
pub fn chain_from_runs(runs: &[RunRow]) -> Result<DataFrame> {
    let stats = bundle_stats_frame(runs_frame(runs)?)?;
    with_improvement(
        stats
            .lazy()
            .filter(col("verdict").eq(lit(crate::bundle::VERDICT_NEW_RECORD)))
            .sort(["track", "date", "bundle"], SortMultipleOptions::default()),
        "time_mean_ms",
    )?
    .collect()
    .map_err(polars_ctx("record chain from runs"))
}

/// Which run a frontier point is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunTag {
    pub submission: String,
    pub bundle: String,
    pub run_index: u32,
    pub role: String,
}

/// Measured runs (status ok, finite time and loss) as frontier points, per track.
pub fn points_by_track(runs: &[RunRow]) -> BTreeMap<String, Vec<Point<RunTag>>> {
    let mut out: BTreeMap<String, Vec<Point<RunTag>>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.is_measured()) {
        out.entry(r.track.clone()).or_default().push(Point {
            time_ms: r.train_time_ms.unwrap_or(f64::NAN),
            loss: r.final_val_loss.unwrap_or(f64::NAN),
            tag: RunTag {
                submission: r.submission.clone(),
                bundle: r.bundle.clone(),
                run_index: r.run_index,
                role: r.role.clone(),
            },
        });
    }
    out
}

/// The Pareto set of every track.
pub fn frontier_by_track(runs: &[RunRow]) -> BTreeMap<String, Vec<Point<RunTag>>> {
    points_by_track(runs)
        .into_iter()
        .map(|(t, pts)| (t, frontier::pareto(&pts)))
        .collect()
}
