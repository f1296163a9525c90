//! A shard track end to end (issue 18): `data prepare` tokenizes text into shards and a
//! track that trains as written, the track is cut to a seconds-long model, its training
//! shards are left unpinned and recorded by `data fetch` (trust on first use), and
//! `certify` and `verify` pass, with the first-use digests marked in every run.json and
//! in verify's output; the held-out slice is read from a shard no run trains on, at the
//! offset each run's held-out seed gives. The corpus is this repository's docs/ (about
//! 18,000 GPT-2 tokens).

mod common;
use common::*;
use std::path::Path;

/// `text` with `from` replaced by `to`, which must occur exactly once.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} in:\n{text}");
    text.replacen(from, to, 1)
}

/// The train shard that becomes the track's held-out shard (data.heldout), as the last
/// public train shard is on the FineWeb tracks: full-sized (4096 tokens) in this corpus.
const HELDOUT: &str = "docs_train_000003.bin";

/// prepare's track, cut to a one-layer model and 30 steps (its data and validation kept
/// as written), its training shards unpinned, and one of them moved to data.heldout.
fn small_track(prepared: &str) -> String {
    let mut t = prepared.to_owned();
    for (from, to) in [
        ("n_layer = 4", "n_layer = 1"),
        ("n_head = 4", "n_head = 2"),
        ("d_model = 256", "d_model = 32"),
        ("seq_len = 256", "seq_len = 64"),
        ("batch_size = 16", "batch_size = 4"),
        ("steps = 1000", "steps = 30"),
        ("warmup_steps = 50", "warmup_steps = 5"),
        ("every_steps = 100", "every_steps = 30"),
        // A 50,304-token vocabulary starts at ln(50304) = 10.8; 30 steps reach about 8.4.
        ("val_loss = 5.0", "val_loss = 9.5"),
    ] {
        t = replace_once(&t, from, to);
    }
    t = replace_once(
        &t,
        "source = \"shards\"",
        &format!("source = \"shards\"\nheldout = {{ name = \"{HELDOUT}\" }}"),
    );
    // Unpin the training shards: `data fetch` records them in the data lock instead.
    t.lines()
        .filter(|l| !(l.contains(HELDOUT) && l.contains("sha256")))
        .map(|l| {
            if l.contains("_train_")
                && let Some(start) = l.find(", sha256 = \"")
            {
                let end = l[start + 12..].find('"').unwrap() + start + 13;
                format!("{}{}", &l[..start], &l[end..])
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_prepared_shard_track_certifies_and_verifies_with_its_first_use_digests_marked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut c = speedcert();
    c.args(["data", "prepare", "--input"])
        .arg(workspace().join("docs"))
        .arg("--out")
        .arg(&data)
        .args([
            "--name",
            "docs",
            "--val-tokens",
            "1024",
            "--heldout-tokens",
            "1024",
            "--shard-tokens",
            "4096",
            "--quiet",
        ]);
    let out = run(c);
    assert!(out.status.success(), "{}", stderr(&out));
    let prepared = std::fs::read_to_string(data.join("track.toml")).unwrap();
    let track = dir.path().join("docs-small.toml");
    std::fs::write(&track, small_track(&prepared)).unwrap();
    let unpinned = std::fs::read_to_string(&track)
        .unwrap()
        .lines()
        .filter(|l| l.contains("_train_") && !l.contains("sha256"))
        .count();
    assert!(
        unpinned >= 2,
        "{}",
        std::fs::read_to_string(&track).unwrap()
    );

    // Unpinned shards with no lock entry are refused before a run starts.
    let (key, public) = keygen(dir.path());
    let certify = |out: &Path| {
        let mut c = speedcert();
        c.arg("certify")
            .arg("--track")
            .arg(&track)
            .args([
                "--submission",
                "reference",
                "--runs",
                "3",
                "--baseline-runs",
                "0",
            ])
            .arg("--key")
            .arg(&key)
            .arg("--out")
            .arg(out);
        run(c)
    };
    let refused_run = certify(&dir.path().join("no-lock"));
    let report = stdout(&refused_run) + &stderr(&refused_run);
    assert!(report.contains("no pinned sha256"), "{report}");

    // `data fetch` finds them on disk and records their digests (nothing is downloaded:
    // the base URL is a closed port).
    let mut c = speedcert();
    c.args([
        "data",
        "fetch",
        "--quiet",
        "--base-url",
        "http://127.0.0.1:9/",
        "--track",
    ])
    .arg(&track);
    let fetched = run(c);
    assert!(fetched.status.success(), "{}", stderr(&fetched));
    assert!(data.join("speedcert-data.lock.json").is_file());

    let bundle = dir.path().join("bundle");
    let out = certify(&bundle);
    let report = stdout(&out);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{report}");
    let s = json(&bundle.join("summary.json"));
    assert_eq!(s["runs"]["candidate_failed"], 0, "{s}");
    assert!(s["loss"]["p_value"].as_f64().unwrap() < 0.01, "{s}");
    for k in 0..3 {
        let r = json(&bundle.join(format!("runs/run-{k:03}/run.json")));
        assert_eq!(r["status"], "ok", "{r}");
        assert!(r["heldout_val_loss"].as_f64().is_some(), "{r}");
        let shards = r["data"].as_array().unwrap();
        let origin = |name: &str| {
            shards
                .iter()
                .filter(|d| d["name"].as_str().unwrap().contains(name))
                .map(|d| d["digest"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(origin("_val_"), ["pinned"], "{r}");
        let train = origin("_train_");
        assert_eq!(train.len(), unpinned, "{r}");
        assert!(train.iter().all(|o| o == "first_use"), "{r}");
        // The held-out slice: 1024 tokens (and one more target) of the held-out shard at
        // the offset the run's held-out seed gives among 4096 - 1025 + 1 places.
        let w = &r["heldout_window"];
        assert_eq!(w["shard"], HELDOUT, "{r}");
        assert_eq!(w["shard_tokens"], 4096, "{r}");
        let seed = r["heldout_seed"].as_u64().unwrap();
        assert_eq!(w["offset"].as_u64(), Some(seed % 3072), "{r}");
    }
    let ok = verify(&bundle, &public);
    let text = stdout(&ok);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("warn data")
            && l.contains("trusted on first use")
            && l.contains("docs_train_000001.bin")),
        "{text}"
    );

    // A held-out window moved off the place its seed gives is refused, even re-signed.
    let forged = dir.path().join("forged-heldout");
    copy_dir(&bundle, &forged);
    let path = forged.join("runs/run-002/run.json");
    let mut r = json(&path);
    let moved = r["heldout_window"]["offset"].as_u64().unwrap() + 1;
    r["heldout_window"]["offset"] = moved.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    resign(&forged, &key);
    refused(
        &verify(&forged, &public),
        "runs/run-002/run.json",
        "heldout_window.offset",
    );

    // Runs that read different bytes under one name contradict each other, and a pinned
    // shard must carry the pin: both are refused by name, even re-signed.
    for (k, shard, sha, says) in [
        (
            1,
            "docs_train_000001.bin",
            "0".repeat(64),
            "the runs read different data",
        ),
        (
            0,
            "docs_val_000000.bin",
            "f".repeat(64),
            "but track.toml pins",
        ),
    ] {
        let forged = dir.path().join(format!("forged-{k}"));
        copy_dir(&bundle, &forged);
        let path = forged.join(format!("runs/run-{k:03}/run.json"));
        let mut r = json(&path);
        for d in r["data"].as_array_mut().unwrap() {
            if d["name"] == shard {
                d["sha256"] = sha.clone().into();
            }
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
        resign(&forged, &key);
        refused(
            &verify(&forged, &public),
            &format!("runs/run-{k:03}/run.json"),
            says,
        );
    }
}
