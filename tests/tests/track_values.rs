//! Track values no run can train with are refused when the track is loaded, naming the
//! file and the field (issue 20, case 6), instead of panicking in the harness or
//! training to a NaN loss.

mod common;
use common::*;

/// The test track with `from` replaced by `to`, written to a temp dir, run with
/// `speedcert run`: it must exit 1, naming the file and `field`, without a panic.
fn refused(from: &str, to: &str, field: &str) {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-values.toml");
    let original = std::fs::read_to_string(test_track()).unwrap();
    let text = original.replacen(from, to, 1);
    assert_ne!(text, original, "test-tiny.toml no longer contains {from:?}");
    std::fs::write(&bad, text).unwrap();
    let mut c = speedcert();
    c.args(["run", "--seed", "1", "--track"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("run"));
    let out = run(c);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains(&format!("field `{field}`")))
        .unwrap_or_else(|| panic!("no line names `{field}`: {err}"));
    assert!(line.contains(&bad.display().to_string()), "{line}");
    assert!(
        !dir.path().join("run/run.json").exists(),
        "a run was made with a refused track"
    );
}

#[test]
fn validation_tokens_of_2_pow_64_minus_1_are_refused_not_a_panic() {
    refused(
        "\ntokens = 8192\n",
        "\ntokens = 18446744073709551615\n",
        "validation.tokens",
    );
}

#[test]
fn a_heldout_slice_shorter_than_one_sequence_is_refused() {
    refused(
        "heldout_tokens = 8192",
        "heldout_tokens = 5",
        "validation.heldout_tokens",
    );
}

#[test]
fn beta1_of_5_is_refused() {
    refused(
        "[reference]\n",
        "[reference]\nbeta1 = 5\n",
        "reference.beta1",
    );
}

#[test]
fn beta2_of_minus_3_is_refused() {
    refused(
        "[reference]\n",
        "[reference]\nbeta2 = -3\n",
        "reference.beta2",
    );
}

#[test]
fn rope_theta_of_minus_1_is_refused() {
    refused(
        "[model]\n",
        "[model]\nrope_theta = -1\n",
        "model.rope_theta",
    );
}

#[test]
fn weight_decay_of_minus_100_is_refused() {
    refused(
        "[reference]\n",
        "[reference]\nweight_decay = -100\n",
        "reference.weight_decay",
    );
}

#[test]
fn several_bad_values_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(test_track())
        .unwrap()
        .replacen("[reference]\n", "[reference]\nbeta1 = 5\nbeta2 = -3\n", 1)
        .replacen("[model]\n", "[model]\nrope_theta = -1\n", 1);
    std::fs::write(&bad, text).unwrap();
    let mut c = speedcert();
    c.args(["run", "--track"]).arg(&bad);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for field in ["reference.beta1", "reference.beta2", "model.rope_theta"] {
        assert!(err.contains(&format!("field `{field}`")), "{field}: {err}");
    }
}
