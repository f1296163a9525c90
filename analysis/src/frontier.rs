//! The efficiency frontier: which runs are not beaten on both time and loss, and the
//! best loss a given time budget buys.
//!
//! A run is on the frontier (the Pareto set, both coordinates minimised) when no other
//! run is at least as fast and at least as good with one of the two strictly better.
//! Two runs with exactly equal time and loss do not dominate each other, so both stay.

use serde::Serialize;

/// A point to place on the frontier; `tag` says which run it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point<T> {
    pub time_ms: f64,
    pub loss: f64,
    pub tag: T,
}

/// Indices (into `points`) of the Pareto set, ordered by time ascending (hence loss
/// descending). Points with a non-finite coordinate are never on it.
///
/// O(n log n): sort by (time, loss), then sweep keeping each point whose loss is below
/// every loss seen at a strictly smaller time.
pub fn pareto_indices<T>(points: &[Point<T>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].time_ms.is_finite() && points[i].loss.is_finite())
        .collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&points[a], &points[b]);
        pa.time_ms
            .total_cmp(&pb.time_ms)
            .then(pa.loss.total_cmp(&pb.loss))
            .then(a.cmp(&b))
    });
    let mut keep = Vec::new();
    // Best (time, loss) kept so far; a later point survives only with a strictly lower
    // loss, or as an exact duplicate of the last kept point.
    let mut best: Option<(f64, f64)> = None;
    for i in order {
        let p = &points[i];
        let on = match best {
            None => true,
            Some((t, l)) => p.loss < l || (p.loss == l && p.time_ms == t),
        };
        if on {
            best = Some((p.time_ms, p.loss));
            keep.push(i);
        }
    }
    keep
}

/// The Pareto set itself (cloned), ordered by time.
pub fn pareto<T: Clone>(points: &[Point<T>]) -> Vec<Point<T>> {
    pareto_indices(points)
        .into_iter()
        .map(|i| points[i].clone())
        .collect()
}

/// Best loss attained within `budget_ms` on a frontier ordered by time (as returned by
/// [`pareto`]), with the point attaining it; `None` when nothing fits the budget.
pub fn best_within<T>(frontier: &[Point<T>], budget_ms: f64) -> Option<&Point<T>> {
    // Frontier losses fall as time grows, so the last point inside the budget is best.
    let fits = frontier.partition_point(|p| p.time_ms <= budget_ms);
    fits.checked_sub(1).map(|i| &frontier[i])
}

/// One budget of the step function "best loss per time budget".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStep<T> {
    pub budget_ms: f64,
    pub best_loss: Option<f64>,
    pub attained_by: Option<T>,
}

/// A grid of round budgets (1, 2, 5 × 10^k ms) covering the frontier's time span, so a
/// reader sees the step function at times a person would quote.
pub fn budget_grid<T>(frontier: &[Point<T>]) -> Vec<f64> {
    let (Some(first), Some(last)) = (frontier.first(), frontier.last()) else {
        return Vec::new();
    };
    let (lo, hi) = (first.time_ms, last.time_ms);
    if lo.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !hi.is_finite() {
        return vec![lo.max(0.0), hi];
    }
    let mut out = Vec::new();
    let mut decade = 10f64.powi(lo.log10().floor() as i32);
    while decade <= hi * 10.0 {
        for m in [1.0, 2.0, 5.0] {
            let b = m * decade;
            if b >= lo && b <= hi {
                out.push(b);
            }
        }
        decade *= 10.0;
    }
    // Always include the span's end: the budget at which the best loss was reached.
    if out.last().is_none_or(|&b| b < hi) {
        out.push(hi);
    }
    out
}

/// The step function evaluated at each budget.
pub fn best_per_budget<T: Clone>(frontier: &[Point<T>], budgets: &[f64]) -> Vec<BudgetStep<T>> {
    budgets
        .iter()
        .map(|&b| {
            let best = best_within(frontier, b);
            BudgetStep {
                budget_ms: b,
                best_loss: best.map(|p| p.loss),
                attained_by: best.map(|p| p.tag.clone()),
            }
        })
        .collect()
}
