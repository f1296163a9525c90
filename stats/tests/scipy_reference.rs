//! Compares every statistic with scipy's answer in fixtures/scipy_reference.json
//! (written by fixtures/make_fixtures.py) to 1e-9 relative.

use serde_json::Value;
use speedcert_stats::{
    Alternative, MannWhitneyMethod, Summary, effect_size, mann_whitney_u, mann_whitney_u_with,
    one_sample_t, quantile_sorted, welch_t,
};

const REL: f64 = 1e-9;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scipy_reference.json");
    let text = std::fs::read_to_string(path).expect("read scipy_reference.json");
    serde_json::from_str(&text).expect("parse scipy_reference.json")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[track_caller]
fn close(what: &str, ours: f64, theirs: f64) {
    let scale = ours.abs().max(theirs.abs());
    let ok =
        ours == theirs || (ours - theirs).abs() <= REL * scale || (ours - theirs).abs() < 1e-300;
    assert!(ok, "{what}: ours {ours:e}, scipy {theirs:e}");
}

fn alt(name: &str) -> Alternative {
    match name {
        "less" => Alternative::Less,
        "greater" => Alternative::Greater,
        "two-sided" => Alternative::TwoSided,
        other => panic!("unknown alternative {other}"),
    }
}

fn cases() -> Vec<Value> {
    reference()["cases"].as_array().unwrap().clone()
}

#[test]
fn summaries_match_numpy() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        for (key, sample) in [("summary_a", "a"), ("summary_b", "b")] {
            let s = Summary::of(&floats(&c[sample])).unwrap();
            let r = &c[key];
            assert_eq!(s.n as u64, r["n"].as_u64().unwrap());
            close(
                &format!("{name} {key} mean"),
                s.mean,
                r["mean"].as_f64().unwrap(),
            );
            close(
                &format!("{name} {key} median"),
                s.median,
                r["median"].as_f64().unwrap(),
            );
            assert_eq!(s.min, r["min"].as_f64().unwrap());
            assert_eq!(s.max, r["max"].as_f64().unwrap());
            match (s.sd, r["sd"].as_f64()) {
                (Some(ours), Some(theirs)) => close(&format!("{name} {key} sd"), ours, theirs),
                (None, None) => {}
                other => panic!("{name} {key} sd: {other:?}"),
            }
        }
    }
}

#[test]
fn one_sample_t_matches_scipy() {
    let mut checked = 0;
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let Some(tests) = c["one_sample"].as_object() else {
            continue;
        };
        let a = floats(&c["a"]);
        let target = c["target"].as_f64().unwrap();
        for (alt_name, r) in tests {
            let ours = one_sample_t(&a, target, alt(alt_name)).unwrap();
            close(
                &format!("{name} t {alt_name}"),
                ours.t,
                r["t"].as_f64().unwrap(),
            );
            close(
                &format!("{name} df {alt_name}"),
                ours.df,
                r["df"].as_f64().unwrap(),
            );
            close(
                &format!("{name} p {alt_name}"),
                ours.p,
                r["p"].as_f64().unwrap(),
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} checks");
}

#[test]
fn welch_matches_scipy() {
    let mut checked = 0;
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let Some(tests) = c["welch"].as_object() else {
            continue;
        };
        let (a, b) = (floats(&c["a"]), floats(&c["b"]));
        for (alt_name, r) in tests {
            let ours = welch_t(&a, &b, alt(alt_name)).unwrap();
            close(
                &format!("{name} t {alt_name}"),
                ours.t,
                r["t"].as_f64().unwrap(),
            );
            close(
                &format!("{name} df {alt_name}"),
                ours.df,
                r["df"].as_f64().unwrap(),
            );
            close(
                &format!("{name} p {alt_name}"),
                ours.p,
                r["p"].as_f64().unwrap(),
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} checks");
}

#[test]
fn effect_size_matches_closed_form() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let Some(r) = c.get("effect") else { continue };
        let e = effect_size(&floats(&c["a"]), &floats(&c["b"])).unwrap();
        close(
            &format!("{name} d"),
            e.cohen_d,
            r["cohen_d"].as_f64().unwrap(),
        );
        close(
            &format!("{name} g"),
            e.hedges_g,
            r["hedges_g"].as_f64().unwrap(),
        );
        close(
            &format!("{name} sp"),
            e.pooled_sd,
            r["pooled_sd"].as_f64().unwrap(),
        );
    }
}

#[test]
fn mann_whitney_matches_scipy_auto_and_asymptotic() {
    let mut checked = 0;
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let (a, b) = (floats(&c["a"]), floats(&c["b"]));
        for (method, tests) in c["mann_whitney"].as_object().unwrap() {
            for (alt_name, r) in tests.as_object().unwrap() {
                let ours = match method.as_str() {
                    "auto" => mann_whitney_u(&a, &b, alt(alt_name)).unwrap(),
                    "asymptotic" => {
                        mann_whitney_u_with(&a, &b, alt(alt_name), MannWhitneyMethod::Asymptotic)
                            .unwrap()
                    }
                    other => panic!("unknown method {other}"),
                };
                let what = format!("{name} {method} {alt_name}");
                close(&format!("{what} U"), ours.u, r["u"].as_f64().unwrap());
                close(&format!("{what} p"), ours.p, r["p"].as_f64().unwrap());
                checked += 1;
            }
        }
    }
    assert!(checked >= 80, "only {checked} checks");
}

#[test]
fn percentiles_match_numpy() {
    for c in cases() {
        let mut a = floats(&c["a"]);
        a.sort_by(f64::total_cmp);
        let r = &c["percentiles_a"];
        for (q, v) in floats(&r["q"]).into_iter().zip(floats(&r["value"])) {
            close(
                &format!("{} q{q}", c["name"]),
                quantile_sorted(&a, q / 100.0),
                v,
            );
        }
    }
}

#[test]
fn reference_records_scipy_version() {
    let r = reference();
    assert!(r["scipy"].as_str().unwrap().starts_with('1'));
}
