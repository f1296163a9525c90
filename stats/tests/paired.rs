//! The paired t-test, the sign-flip test and power/MDE against scipy 1.17.1, with the
//! reference values hard-coded (the Rust tests need no Python). Each block gives the
//! Python that produced its numbers; `import numpy as np, scipy.stats as st` is
//! assumed.

use proptest::prelude::*;
use speedcert_stats::{
    Alternative, SignFlipConfig, SignFlipMethod, StatsError, noncentral_t_sf, paired_mde,
    paired_power, paired_t, sign_flip, welch_mde, welch_power, welch_t,
};

#[track_caller]
fn close(what: &str, ours: f64, theirs: f64, rel: f64) {
    let ok = ours == theirs || (ours - theirs).abs() <= rel * ours.abs().max(theirs.abs());
    assert!(ok, "{what}: ours {ours:e}, scipy {theirs:e}");
}

const ALTS: [Alternative; 3] = [
    Alternative::Less,
    Alternative::Greater,
    Alternative::TwoSided,
];

// Five pairs of run times in seconds, candidate first in each pair.
const C5: [f64; 5] = [79.536, 79.740, 79.614, 79.958, 79.593];
const B5: [f64; 5] = [80.610, 80.410, 80.478, 80.920, 80.747];
// Ten pairs in ms with a small, noisy gain and a strong within-pair correlation.
const C10: [f64; 10] = [
    80412.0, 80533.0, 80391.0, 80777.0, 80610.0, 80455.0, 80502.0, 80688.0, 80590.0, 80431.0,
];
const B10: [f64; 10] = [
    80455.0, 80519.0, 80460.0, 80802.0, 80689.0, 80443.0, 80570.0, 80701.0, 80588.0, 80507.0,
];

/// Per alternative (less, greater, two-sided): t, p from
/// `r = st.ttest_rel(c, b, alternative=alt); r.statistic, r.pvalue` (df is 4 / 9);
/// then `ci = st.ttest_rel(c, b).confidence_interval(0.95); ci.low, ci.high` and
/// `st.pearsonr(c, b).statistic`.
struct TtestRef {
    t: f64,
    p: [f64; 3],
    ci: (f64, f64),
    r: f64,
}

const REF5: TtestRef = TtestRef {
    t: -11.181386116320832,
    p: [
        0.00018210773935484794,
        0.9998178922606451,
        0.0003642154787096959,
    ],
    ci: (-1.179402875538117, -0.7101971244618788),
    r: 0.5053236923686762,
};
const REF10: TtestRef = TtestRef {
    t: -2.9290041636402413,
    p: [
        0.008392084778235036,
        0.991607915221765,
        0.016784169556470073,
    ],
    ci: (-61.14537766294687, -7.854622337053129),
    r: 0.9558734679546403,
};

#[test]
fn paired_t_matches_scipy_ttest_rel() {
    for (name, c, b, r) in [
        ("5 pairs", &C5[..], &B5[..], &REF5),
        ("10 pairs", &C10[..], &B10[..], &REF10),
    ] {
        for (alt, p) in ALTS.iter().zip(r.p) {
            let ours = paired_t(c, b, *alt).unwrap();
            close(&format!("{name} {} t", alt.as_str()), ours.t, r.t, 1e-12);
            close(&format!("{name} {} p", alt.as_str()), ours.p, p, 1e-9);
            assert_eq!(ours.df, (c.len() - 1) as f64);
            assert_eq!(ours.n, c.len());
            close(&format!("{name} ci low"), ours.ci.lower, r.ci.0, 1e-9);
            close(&format!("{name} ci high"), ours.ci.upper, r.ci.1, 1e-9);
            assert_eq!(ours.ci.level, 0.95);
            close(&format!("{name} r"), ours.correlation.unwrap(), r.r, 1e-12);
            let pct = 100.0 * ours.mean_difference / ours.baseline_mean;
            assert_eq!(ours.percent_change, Some(pct));
        }
    }
}

/// `st.permutation_test((c, b), lambda x, y, axis: np.mean(x - y, axis=axis),
/// permutation_type="samples", n_resamples=np.inf, alternative=alt).pvalue`
/// A named case: candidate, baseline, and scipy's p for less, greater, two-sided.
type SignFlipCase<'a> = (&'a str, &'a [f64], &'a [f64], [f64; 3]);

#[test]
fn sign_flip_matches_scipy_permutation_test() {
    let cases: [SignFlipCase; 2] = [
        ("5 pairs", &C5, &B5, [0.03125, 1.0, 0.0625]),
        (
            "10 pairs",
            &C10,
            &B10,
            [0.0146484375, 0.986328125, 0.029296875],
        ),
    ];
    for (name, c, b, ps) in cases {
        for (alt, p) in ALTS.iter().zip(ps) {
            let ours = sign_flip(c, b, *alt, &SignFlipConfig::default()).unwrap();
            assert_eq!(ours.p, p, "{name} {}", alt.as_str());
            let total = 1u64 << c.len();
            assert_eq!(ours.method, SignFlipMethod::Exact { assignments: total });
        }
    }
}

/// 24 pairs: beyond the exact range, so Monte Carlo. Data from
/// `rng = np.random.default_rng(21); m = rng.normal(0, 300, 24).round();
/// c = 80000 + m - 20 + rng.normal(0, 60, 24).round();
/// b = 80000 + m + rng.normal(0, 60, 24).round()`. The exact one-sided p, 0.18255454301834106,
/// comes from enumerating all 2^24 sign assignments in numpy (meet in the middle:
/// sums of the first 12 against the sorted sums of the last 12, counting
/// sum ≤ observed + 1e-12·Σ|d|); `st.ttest_rel(c, b, alternative="less").pvalue` is
/// 0.1793842793526486 and `st.ttest_ind(c, b, equal_var=False,
/// alternative="less").pvalue` 0.46139777541213056.
#[test]
fn monte_carlo_sign_flip_is_close_to_exact() {
    let c = [
        80079.0, 80487.0, 79451.0, 80581.0, 79920.0, 79768.0, 79769.0, 79603.0, 79842.0, 80291.0,
        80186.0, 80161.0, 79496.0, 79468.0, 80460.0, 80235.0, 80646.0, 80402.0, 79653.0, 80417.0,
        80107.0, 80027.0, 79652.0, 79975.0,
    ];
    let b = [
        80113.0, 80441.0, 79448.0, 80586.0, 80071.0, 79687.0, 79829.0, 79572.0, 79889.0, 80240.0,
        80182.0, 80128.0, 79449.0, 79534.0, 80424.0, 80253.0, 80695.0, 80419.0, 79689.0, 80387.0,
        80188.0, 80037.0, 79723.0, 79939.0,
    ];
    let cfg = SignFlipConfig::default();
    let r = sign_flip(&c, &b, Alternative::Less, &cfg).unwrap();
    assert_eq!(
        r.method,
        SignFlipMethod::MonteCarlo {
            resamples: cfg.resamples as u64,
            seed: cfg.seed
        }
    );
    // Monte-Carlo sd at p = 0.18 with 100 000 draws: 0.0012.
    assert!((r.p - 0.18255454301834106).abs() < 0.005, "{}", r.p);
    close(
        "24 pairs paired p",
        paired_t(&c, &b, Alternative::Less).unwrap().p,
        0.1793842793526486,
        1e-9,
    );
    close(
        "24 pairs welch p",
        welch_t(&c, &b, Alternative::Less).unwrap().p,
        0.46139777541213056,
        1e-9,
    );
}

/// `st.nct.sf(x, df, nc)`; x given as `st.t.isf(alpha, df)` is that critical value.
#[test]
fn noncentral_t_sf_matches_scipy_nct() {
    let cases = [
        (3.746947387979196, 4.0, 3.0, 0.3861057734643376), // t.isf(0.01, 4)
        (2.8214379250258093, 9.0, 2.5, 0.42166965541674867), // t.isf(0.01, 9)
        (1.7291328115213687, 19.0, 1.0, 0.24814802474889694), // t.isf(0.05, 19)
        (318.3, 1.0, 37.0, 0.0925392209573211),
        (1.65, 1000.0, 3.0, 0.9114108809985335),
        (-2.0, 3.0, -1.0, 0.7436298684076654),
        (2.5, 1.5, 2.0, 0.4949024858108467),
        (30.0, 2.0, 50.0, 0.9375087357273484),
        (0.0, 7.0, 0.3, 0.6179114221889526),
        (5.0, 1.0, 3.0, 0.4437623589772785),
        (2.0, 50.5, -3.0, 4.854064276414802e-07),
        (-1.0, 1.0, -8.0, 1.541725784085705e-08),
    ];
    for (x, df, nc, want) in cases {
        close(
            &format!("nct.sf({x}, {df}, {nc})"),
            noncentral_t_sf(x, df, nc),
            want,
            1e-10,
        );
    }
}

/// `c = st.t.isf(alpha, n - 1); nc = brentq(lambda nc: st.nct.sf(c, n - 1, nc) -
/// power, 0, 100, xtol=1e-14, rtol=1e-15)`; the MDE for sd 1 is nc / √n.
#[test]
fn mde_and_power_match_scipy() {
    for (n, alpha, power, mde) in [
        (5, 0.01, 0.8, 2.1803324124021306),
        (10, 0.01, 0.8, 1.185280394179673),
        (20, 0.05, 0.9, 0.6791519965206331),
        (2, 0.05, 0.8, 5.792801491690297),
    ] {
        close(
            &format!("paired_mde n {n}"),
            paired_mde(1.0, n, alpha, power).unwrap(),
            mde,
            1e-9,
        );
        // Scales with the sd.
        close(
            &format!("paired_mde n {n} sd 40"),
            paired_mde(40.0, n, alpha, power).unwrap(),
            40.0 * mde,
            1e-9,
        );
    }
    // st.nct.sf(st.t.isf(0.01, 9), 9, 1.5 * np.sqrt(10))
    close(
        "paired_power",
        paired_power(1.5, 1.0, 10, 0.01).unwrap(),
        0.9515383065862413,
        1e-10,
    );
    // Welch, sd 2 over 5 runs against sd 3 over 7: va, vb = 4/5, 9/7;
    // df = (va + vb)**2 / (va**2/4 + vb**2/6) = 9.98875351452671, se = √(va + vb);
    // MDE = brentq as above with that df, times se; power = st.nct.sf(st.t.isf(0.01,
    // df), df, 4 / se).
    close(
        "welch_mde",
        welch_mde(2.0, 5, 3.0, 7, 0.01, 0.8).unwrap(),
        5.315039516782612,
        1e-9,
    );
    close(
        "welch_power",
        welch_power(4.0, 2.0, 5, 3.0, 7, 0.01).unwrap(),
        0.5272672784494696,
        1e-10,
    );
}

/// The point of pairing: when both runs of a pair share a large machine-state term
/// (here ±1.2 s, against a 40 ms gain and ±10 ms of run noise), the paired test
/// removes it and Welch cannot.
#[test]
fn pairing_removes_shared_machine_state() {
    let state = [
        0.0, 900.0, -700.0, 400.0, -1200.0, 300.0, 1100.0, -500.0, 200.0, -300.0,
    ];
    let noise_c = [3.0, -8.0, 5.0, 9.0, -2.0, -6.0, 1.0, 7.0, -4.0, -10.0];
    let noise_b = [-5.0, 2.0, 8.0, -9.0, 4.0, 6.0, -3.0, -1.0, 10.0, -7.0];
    let c: Vec<f64> = (0..10)
        .map(|i| 80_000.0 + state[i] - 40.0 + noise_c[i])
        .collect();
    let b: Vec<f64> = (0..10).map(|i| 80_000.0 + state[i] + noise_b[i]).collect();
    let paired = paired_t(&c, &b, Alternative::Less).unwrap();
    let welch = welch_t(&c, &b, Alternative::Less).unwrap();
    assert!(paired.p < 1e-6, "paired p {}", paired.p);
    assert!(welch.p > 0.4, "welch p {}", welch.p);
    assert!(paired.correlation.unwrap() > 0.99);
    let flip = sign_flip(&c, &b, Alternative::Less, &SignFlipConfig::default()).unwrap();
    assert_eq!(flip.p, 1.0 / 1024.0);
}

#[test]
fn unequal_lengths_name_both_counts() {
    let e = paired_t(&C5, &B10, Alternative::Less).unwrap_err();
    assert!(matches!(e, StatsError::InvalidParameter { .. }));
    assert_eq!(
        e.to_string(),
        "invalid parameter `baseline`: paired_t pairs runs one to one, but candidate has 5 \
         values and baseline 10"
    );
}

/// Dyadic values (multiples of 1/64 below 2^30), so that adding a per-pair offset and
/// subtracting it again is exact and the p-values must agree bit for bit.
fn dyadic() -> impl Strategy<Value = f64> {
    (-(1i64 << 30)..(1i64 << 30)).prop_map(|v| v as f64 / 64.0)
}

fn pairs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    (2usize..16).prop_flat_map(|n| {
        (
            prop::collection::vec(dyadic(), n),
            prop::collection::vec(dyadic(), n),
            prop::collection::vec(dyadic(), n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn paired_p_ignores_a_common_term_per_pair((c, b, k) in pairs()) {
        let shift = |x: &[f64]| x.iter().zip(&k).map(|(v, o)| v + o).collect::<Vec<_>>();
        let (c2, b2) = (shift(&c), shift(&b));
        for alt in ALTS {
            match (paired_t(&c, &b, alt), paired_t(&c2, &b2, alt)) {
                (Ok(x), Ok(y)) => {
                    prop_assert_eq!(x.p, y.p);
                    prop_assert_eq!(x.t, y.t);
                }
                (Err(x), Err(y)) => prop_assert_eq!(x, y),
                other => prop_assert!(false, "{other:?}"),
            }
            let cfg = SignFlipConfig::default();
            let x = sign_flip(&c, &b, alt, &cfg).unwrap();
            let y = sign_flip(&c2, &b2, alt, &cfg).unwrap();
            prop_assert_eq!(x.p, y.p);
            prop_assert!(x.p >= x.min_p && x.p <= 1.0);
        }
    }

    #[test]
    fn swapping_arms_turns_one_sided_p_into_one_minus_p(
        (c, b) in (2usize..30).prop_flat_map(|n| (
            prop::collection::vec(70_000.0f64..90_000.0, n),
            prop::collection::vec(70_000.0f64..90_000.0, n),
        ))
    ) {
        if let (Ok(cb), Ok(bc)) = (
            paired_t(&c, &b, Alternative::Less),
            paired_t(&b, &c, Alternative::Less),
        ) {
            prop_assert!((cb.p + bc.p - 1.0).abs() < 1e-12, "{} + {}", cb.p, bc.p);
            prop_assert!((cb.t + bc.t).abs() <= 1e-12 * cb.t.abs().max(1.0));
            let two = paired_t(&c, &b, Alternative::TwoSided).unwrap();
            prop_assert!((two.p - 2.0 * cb.p.min(bc.p)).abs() < 1e-12);
        }
    }
}
