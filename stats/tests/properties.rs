//! Property tests: p-values are probabilities, and the one-sided t-tests are
//! antisymmetric (swapping the samples, or flipping the alternative, turns p into
//! 1 − p).

use proptest::prelude::*;
use speedcert_stats::{
    Alternative, BootstrapConfig, StatsError, bootstrap_mean_difference, mann_whitney_u,
    one_sample_t, welch_t,
};

fn is_prob(p: f64) -> bool {
    (0.0..=1.0).contains(&p)
}

fn is_zero_variance(e: &StatsError) -> bool {
    matches!(e, StatsError::ZeroVariance { .. })
}

fn sample() -> impl Strategy<Value = Vec<f64>> {
    // Times-like values with a few repeated ones, so ties happen.
    prop::collection::vec(
        prop_oneof![(-1000.0f64..1000.0), (0u8..5).prop_map(f64::from)],
        2..25,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn p_values_are_probabilities(a in sample(), b in sample(), target in -10.0f64..10.0) {
        for alt in [Alternative::Less, Alternative::Greater, Alternative::TwoSided] {
            match welch_t(&a, &b, alt) {
                Ok(r) => prop_assert!(is_prob(r.p), "welch p {}", r.p),
                Err(e) => prop_assert!(is_zero_variance(&e), "{e}"),
            }
            match one_sample_t(&a, target, alt) {
                Ok(r) => prop_assert!(is_prob(r.p), "t p {}", r.p),
                Err(e) => prop_assert!(is_zero_variance(&e), "{e}"),
            }
            let r = mann_whitney_u(&a, &b, alt).unwrap();
            prop_assert!(is_prob(r.p), "mwu p {}", r.p);
        }
    }

    #[test]
    fn swapping_samples_flips_one_sided_welch(a in sample(), b in sample()) {
        if let (Ok(ab), Ok(ba)) = (
            welch_t(&a, &b, Alternative::Less),
            welch_t(&b, &a, Alternative::Less),
        ) {
            prop_assert!((ab.p + ba.p - 1.0).abs() < 1e-12, "{} + {}", ab.p, ba.p);
            prop_assert!((ab.t + ba.t).abs() <= 1e-12 * ab.t.abs().max(1.0));
            prop_assert!((ab.df - ba.df).abs() <= 1e-9 * ab.df);
        }
    }

    #[test]
    fn one_sample_tails_sum_to_one(a in sample(), target in -10.0f64..10.0) {
        if let (Ok(less), Ok(greater)) = (
            one_sample_t(&a, target, Alternative::Less),
            one_sample_t(&a, target, Alternative::Greater),
        ) {
            prop_assert!((less.p + greater.p - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn mann_whitney_u_statistics_sum_to_n1_n2(a in sample(), b in sample()) {
        let ab = mann_whitney_u(&a, &b, Alternative::TwoSided).unwrap();
        let ba = mann_whitney_u(&b, &a, Alternative::TwoSided).unwrap();
        prop_assert!((ab.u + ba.u - (a.len() * b.len()) as f64).abs() < 1e-9);
        prop_assert!((ab.p - ba.p).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_is_reproducible_and_ordered(a in sample(), b in sample(), seed in any::<u64>()) {
        let c = BootstrapConfig { resamples: 200, level: 0.9, seed };
        let x = bootstrap_mean_difference(&a, &b, &c).unwrap();
        let y = bootstrap_mean_difference(&a, &b, &c).unwrap();
        prop_assert_eq!(&x, &y);
        prop_assert!(x.difference.lower <= x.difference.upper);
    }
}

#[test]
fn nan_never_becomes_a_p_value() {
    let a = [1.0, f64::NAN, 2.0];
    let b = [1.0, 2.0, 3.0];
    assert!(welch_t(&a, &b, Alternative::Less).is_err());
    assert!(one_sample_t(&a, 0.0, Alternative::Less).is_err());
    assert!(mann_whitney_u(&a, &b, Alternative::Less).is_err());
    assert!(bootstrap_mean_difference(&a, &b, &BootstrapConfig::default()).is_err());
}

#[test]
fn bootstrap_ci_agrees_with_normal_theory_for_large_samples() {
    // Deterministic pseudo-normal samples: the bootstrap percentile interval of a
    // difference of means should be close to mean ± 1.96 · se for n = 200.
    let gen_sample = |offset: f64, k: u64| -> Vec<f64> {
        (0..200u64)
            .map(|i| {
                let u = ((i * 7919 + k) % 1000) as f64 / 1000.0 + 0.0005;
                offset + (u - 0.5) * 12f64.sqrt()
            })
            .collect()
    };
    let a = gen_sample(0.0, 3);
    let b = gen_sample(0.3, 11);
    let r = bootstrap_mean_difference(&a, &b, &BootstrapConfig::default()).unwrap();
    let t = welch_t(&a, &b, Alternative::TwoSided).unwrap();
    let half = 1.96 * t.standard_error;
    assert!(
        (r.difference.lower - (t.estimate - half)).abs() < 0.15 * half,
        "{r:?}"
    );
    assert!(
        (r.difference.upper - (t.estimate + half)).abs() < 0.15 * half,
        "{r:?}"
    );
}
