//! The frontier on hand-made points whose Pareto set is known, and the best loss
//! attained within a budget (the records frontier) against its brute-force definition.

use speedcert_analysis::curves::{Budget, CurveRow, best_by_budget};
use speedcert_analysis::frontier::{
    Point, best_per_budget, best_within, budget_grid, pareto, pareto_indices,
};

fn pts(v: &[(f64, f64)]) -> Vec<Point<usize>> {
    v.iter()
        .enumerate()
        .map(|(i, &(t, l))| Point {
            time_ms: t,
            loss: l,
            tag: i,
        })
        .collect()
}

#[test]
fn pareto_set_of_hand_made_points() {
    // index: (time, loss)
    let p = pts(&[
        (100.0, 3.50),          // 0 on: fastest
        (120.0, 3.40),          // 1 on
        (130.0, 3.45),          // 2 dominated by 1
        (150.0, 3.30),          // 3 on
        (150.0, 3.35),          // 4 dominated by 3 (same time, worse loss)
        (200.0, 3.30),          // 5 dominated by 3 (same loss, slower)
        (210.0, 3.20),          // 6 on
        (90.0, 3.90),           // 7 on: even faster, worse loss
        (300.0, 3.25),          // 8 dominated by 6
        (f64::NAN, 1.0),        // 9 never: not measured
        (400.0, f64::INFINITY), // 10 never
    ]);
    let idx = pareto_indices(&p);
    assert_eq!(idx, vec![7, 0, 1, 3, 6]);
    let f = pareto(&p);
    // Ordered by time, losses strictly falling.
    assert!(
        f.windows(2)
            .all(|w| w[0].time_ms < w[1].time_ms && w[0].loss > w[1].loss)
    );
}

#[test]
fn brute_force_agrees_on_a_grid() {
    // Deterministic pseudo-random points; compare with the O(n²) definition.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::new();
    for _ in 0..400 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = (x % 50) as f64;
        let l = ((x >> 20) % 40) as f64 / 10.0;
        v.push((t, l));
    }
    let p = pts(&v);
    let mut expected: Vec<usize> = (0..p.len())
        .filter(|&i| {
            !p.iter().any(|q| {
                q.time_ms <= p[i].time_ms
                    && q.loss <= p[i].loss
                    && (q.time_ms < p[i].time_ms || q.loss < p[i].loss)
            })
        })
        .collect();
    let mut got = pareto_indices(&p);
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn exact_duplicates_both_stay() {
    let p = pts(&[(10.0, 2.0), (10.0, 2.0), (20.0, 1.0)]);
    assert_eq!(pareto_indices(&p), vec![0, 1, 2]);
}

#[test]
fn best_loss_per_budget_is_a_step_function() {
    let f = pareto(&pts(&[(100.0, 3.5), (150.0, 3.3), (210.0, 3.2)]));
    assert!(best_within(&f, 99.9).is_none());
    assert_eq!(best_within(&f, 100.0).map(|p| p.loss), Some(3.5));
    assert_eq!(best_within(&f, 149.0).map(|p| p.loss), Some(3.5));
    assert_eq!(best_within(&f, 150.0).map(|p| p.loss), Some(3.3));
    assert_eq!(best_within(&f, 1e9).map(|p| p.tag), Some(2));
    let grid = budget_grid(&f);
    assert_eq!(grid, vec![100.0, 200.0, 210.0]);
    let steps = best_per_budget(&f, &grid);
    let losses: Vec<Option<f64>> = steps.iter().map(|s| s.best_loss).collect();
    assert_eq!(losses, vec![Some(3.5), Some(3.3), Some(3.2)]);
}

#[test]
fn empty_input_gives_empty_frontier() {
    let p: Vec<Point<usize>> = Vec::new();
    assert!(pareto(&p).is_empty());
    assert!(budget_grid(&p).is_empty());
}

/// Deterministic pseudo-random validation points of a few runs, with ties in time,
/// tokens and loss.
fn curve_rows() -> Vec<CurveRow> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..300)
        .map(|i| {
            let r = next();
            CurveRow {
                track: "t".into(),
                submission: format!("s{}", i % 5),
                bundle: format!("b{}", i % 3),
                run_index: (i % 5) as u32,
                step: i as u64,
                tokens: (r % 40) * 512,
                train_time_ms: ((r >> 8) % 60) as f64 * 12.5,
                val_loss: 2.0 + ((r >> 20) % 30) as f64 / 20.0,
            }
        })
        .collect()
}

#[test]
fn best_loss_within_a_budget_agrees_with_brute_force() {
    let rows = curve_rows();
    let refs: Vec<&CurveRow> = rows.iter().collect();
    for axis in [Budget::Time, Budget::Tokens] {
        let x = |r: &CurveRow| match axis {
            Budget::Time => r.train_time_ms,
            Budget::Tokens => r.tokens as f64,
        };
        let steps = best_by_budget(&refs, axis);
        // Breakpoints: exactly the budgets at which the best attained loss falls.
        let mut budgets: Vec<f64> = rows.iter().map(x).collect();
        budgets.sort_by(f64::total_cmp);
        budgets.dedup();
        let best_within = |b: f64| {
            rows.iter()
                .filter(|r| x(r) <= b)
                .map(|r| r.val_loss)
                .fold(f64::INFINITY, f64::min)
        };
        let mut expected = Vec::new();
        let mut best = f64::INFINITY;
        for b in budgets {
            let l = best_within(b);
            if l < best {
                best = l;
                expected.push((b, l));
            }
        }
        let got: Vec<(f64, f64)> = steps.iter().map(|s| (s.budget, s.loss)).collect();
        assert_eq!(got, expected, "{axis:?}");
        // Each names a validation that attains it.
        for s in &steps {
            assert!(rows.iter().any(|r| r.bundle == s.bundle
                && r.run_index == s.run_index
                && r.step == s.step
                && r.submission == s.submission
                && x(r) == s.budget
                && r.val_loss == s.loss));
        }
    }
    assert!(best_by_budget(&[], Budget::Time).is_empty());
}
