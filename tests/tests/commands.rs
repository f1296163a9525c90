//! Command submissions (issue 19): a script with `speedcert.toml`, run as a child process
//! whose clock and loss come from its own log in the speedrun's format. The submission
//! is tests/submissions/command-bigram, a pure-Python bigram model (about 0.1 s a run);
//! its slower variant sleeps 5 ms in each of its 60 timed steps (about 300 ms a run, 15x
//! its training time), so no verdict here is luck.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn command_track() -> String {
    workspace()
        .join("tests/tracks/command-tiny.toml")
        .display()
        .to_string()
}

/// A copy of the bigram submission in `dir/name`, its manifest naming it `name` and
/// running `train.py` with `flags`.
fn bigram(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let to = dir.join(name);
    let from = workspace().join("tests/submissions/command-bigram");
    std::fs::create_dir_all(&to).unwrap();
    for file in ["train.py", "README.md"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
    let manifest = std::fs::read_to_string(from.join("speedcert.toml")).unwrap();
    let argv: Vec<String> = ["python3", "train.py"]
        .iter()
        .chain(flags)
        .map(|a| format!("{a:?}"))
        .collect();
    let manifest = manifest
        .replace("name = \"bigram\"", &format!("name = {name:?}"))
        .replace(
            "command = [\"python3\", \"train.py\"]",
            &format!("command = [{}]", argv.join(", ")),
        );
    assert!(manifest.contains(&format!("name = {name:?}")), "{manifest}");
    std::fs::write(to.join("speedcert.toml"), manifest).unwrap();
    to
}

fn certify(submission: &Path, key: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = speedcert();
    c.args(["certify", "--track", &command_track(), "--submission"])
        .arg(submission)
        .args(["--runs", "3", "--key"])
        .arg(key)
        .arg("--out")
        .arg(out)
        .args(extra);
    run(c)
}

#[test]
fn a_command_submission_is_certified_against_its_slower_self_verified_and_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    let fast = bigram(dir.path(), "bigram", &[]);
    let slow = bigram(dir.path(), "bigram-slow", &["--slow-ms", "5"]);
    let records = dir.path().join("records");
    let bundle = records.join("bundles/command-tiny/1-bigram");
    let out = certify(
        &fast,
        &key,
        &bundle,
        &["--baseline", slow.to_str().unwrap()],
    );
    let report = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected a new record:\n{report}"
    );
    assert!(report.contains("Verdict: new record"), "{report}");
    assert!(
        report.contains("self-reported: clock and loss from the submission's log"),
        "{report}"
    );
    assert!(report.contains("n/a  causality"), "{report}");

    // The JSON: labelled, the command's log checked, the harness's checks not run.
    let s = json(&bundle.join("summary.json"));
    assert_eq!(s["schema"], "speedcert/summary/v4");
    assert_eq!(s["clock"], "self-reported");
    assert_eq!(s["verdict"], "new record");
    assert!(s["loss"]["p_value"].as_f64().unwrap() < 0.01, "{s}");
    assert!(s["time"]["change_pct"].as_f64().unwrap() < -50.0, "{s}");
    let checks = s["checks"].as_array().unwrap();
    let check = |name: &str| checks.iter().find(|c| c["name"] == name);
    assert_eq!(check("command_log").unwrap()["passed"], true, "{s}");
    for name in [
        "causality",
        "heldout_validation",
        "timing_ownership",
        "step_log",
    ] {
        assert!(check(name).is_none(), "{name} cannot run on a command: {s}");
        assert!(
            s["not_run"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["name"] == name),
            "{name} is not listed as not run: {s}"
        );
    }
    let plan = json(&bundle.join("plan.json"));
    assert_eq!(plan["commands"].as_array().unwrap().len(), 2, "{plan}");
    assert!(plan.get("language_seed").is_none(), "{plan}");
    for k in 0..6 {
        let run_dir = bundle.join(format!("runs/run-{k:03}"));
        let r = json(&run_dir.join("run.json"));
        assert_eq!(r["status"], "ok", "{r}");
        let wall = r["command"]["wall_time_ms"].as_f64().unwrap();
        assert!(r["train_time_ms"].as_f64().unwrap() <= wall, "{r}");
        assert!(
            r["command"]["versions"]
                .as_str()
                .unwrap()
                .starts_with("python 3"),
            "{r}"
        );
        let log = std::fs::read_to_string(run_dir.join("train.log")).unwrap();
        assert!(log.contains("step:60/60 val_loss:"), "{log}");
        // Fenced, with the loopback a command's processes meet over, so no
        // landlock-network.
        let fences: Vec<&str> = r["fences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        for fence in ["network-namespace", "landlock-filesystem", "seccomp"] {
            assert!(fences.contains(&fence), "{fence}: {r}");
        }
        assert!(!fences.contains(&"landlock-network"), "{r}");
    }
    // The source that ran is in the bundle, both of them.
    let source = bundle.join("source");
    let shipped: Vec<_> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !n.to_string_lossy().ends_with(".files"))
        .collect();
    assert_eq!(shipped.len(), 2, "{shipped:?}");

    let ok = verify(&bundle, &public);
    let text = stdout(&ok);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("warn clock") && l.contains("self-reported")),
        "{text}"
    );

    // The markdown to paste into a pull request says it too.
    let mut c = speedcert();
    c.arg("export").arg(&bundle).args(["--format", "markdown"]);
    let md = run(c);
    let md = stdout(&md);
    assert!(md.contains("For the pull request"), "{md}");
    assert!(md.contains("one-sided t-test mean < 1.55"), "{md}");
    assert!(md.contains("clock: **self-reported**"), "{md}");

    // The records table and the site carry the label.
    std::fs::create_dir_all(records.join("keys")).unwrap();
    std::fs::copy(&public, records.join("keys/certifier.pub.pem")).unwrap();
    let mut c = speedcert();
    c.args(["records", "rebuild", "--json", "--dir"])
        .arg(&records);
    let rebuilt = run(c);
    assert_eq!(rebuilt.status.code(), Some(0), "{}", stderr(&rebuilt));
    let csv = std::fs::read_to_string(records.join("records.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",clock"), "{csv}");
    assert!(
        csv.lines().nth(1).unwrap().ends_with(",self-reported"),
        "{csv}"
    );
    let mut c = speedcert();
    c.args(["records", "site", "--dir"])
        .arg(&records)
        .arg("--out")
        .arg(dir.path().join("site"));
    assert!(run(c).status.success());
    let html = std::fs::read_to_string(dir.path().join("site/index.html")).unwrap();
    assert!(html.contains("bigram [self-reported]"), "{html}");

    // A log edited after its run, re-signed by the trusted key, is refused by name.
    let forged = dir.path().join("forged");
    copy_dir(&bundle, &forged);
    let log = forged.join("runs/run-000/train.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replace("step:60/60 val_loss:1.", "step:60/60 val_loss:0."),
    )
    .unwrap();
    resign(&forged, &key);
    refused(
        &verify(&forged, &public),
        "runs/run-000/train.log",
        "changed after the run",
    );

    // run.json's time edited to beat the log: the recomputed command_log check disagrees.
    let forged = dir.path().join("forged-time");
    copy_dir(&bundle, &forged);
    let path = forged.join("runs/run-000/run.json");
    let mut r = json(&path);
    r["train_time_ms"] = 1.0.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    resign(&forged, &key);
    let out = verify(&forged, &public);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));

    // What gpu.csv says is recomputed, not taken from run.json: the GPUs a command run
    // trained on (which the gpu_count pin trusts) and whether it was throttled.
    for (name, field, value, words) in [
        // One device on a CPU run is within what the machine has; only gpu.csv says no.
        ("forged-devices", "devices", 1.into(), "GPU(s) at work"),
        (
            "forged-throttled",
            "throttled",
            true.into(),
            "throttled is true",
        ),
    ] {
        let forged = dir.path().join(name);
        copy_dir(&bundle, &forged);
        let path = forged.join("runs/run-001/run.json");
        let mut r = json(&path);
        r[field] = value;
        std::fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
        resign(&forged, &key);
        refused(&verify(&forged, &public), "runs/run-001/run.json", words);
    }
}

#[test]
fn dishonest_command_logs_fail_their_runs_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    for (name, flag, says) in [
        ("lie-time", "--lie-time", "more than the"),
        (
            "skip-training",
            "--skip-training",
            "the lines of steps 1 to 60 are missing",
        ),
        ("truncate", "--truncate", "ends at step"),
    ] {
        let sub = bigram(dir.path(), name, &[flag]);
        let bundle = dir.path().join(format!("bundle-{name}"));
        let out = certify(&sub, &key, &bundle, &["--baseline-runs", "0"]);
        let report = stdout(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: not refused\n{report}");
        let s = json(&bundle.join("summary.json"));
        assert_eq!(s["verdict"], "no valid runs", "{name}: {s}");
        let failures = s["runs"]["failures"].to_string();
        assert_eq!(s["runs"]["candidate_failed"], 3, "{name}: {s}");
        assert!(failures.contains(says), "{name}: {failures}");
        assert!(report.contains(says), "{name}: {report}");
        // Failed runs still verify: the refusal is the referee's, signed.
        let ok = verify(&bundle, &public);
        assert_eq!(ok.status.code(), Some(0), "{name}: {}", stdout(&ok));
    }
}

#[test]
fn a_command_is_never_timed_against_the_harness() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let fast = bigram(dir.path(), "bigram", &[]);
    let bundle = dir.path().join("mixed");
    let out = certify(&fast, &key, &bundle, &["--baseline", "reference"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let e = stderr(&out);
    assert!(e.contains("never compared"), "{e}");
    assert!(!bundle.exists(), "nothing is written for a refused plan");
}

/// What a command run tries from inside its fence (`speedcert fenced`, as certify runs
/// it): printed one line per attempt.
const SNOOP: &str = r#"
import os, socket, sys
secret, work = sys.argv[1], os.getcwd()
def attempt(name, f):
    try:
        f(); print(name, "done")
    except PermissionError:
        print(name, "refused")
    except OSError as e:
        print(name, "failed", e.errno)
attempt("read-secret", lambda: open(secret).read())
attempt("write-outside", lambda: open(os.path.join(os.path.dirname(secret), "planted"), "w").write("x"))
attempt("write-work", lambda: open(os.path.join(work, "out.txt"), "w").write("x"))
attempt("write-tmpdir", lambda: open(os.path.join(os.environ["TMPDIR"], "t"), "w").write("x"))
def internet():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(3)
    s.connect(("1.1.1.1", 53))
attempt("internet", internet)
def loopback():
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
    c = socket.create_connection(srv.getsockname(), timeout=3)
    a, _ = srv.accept(); c.sendall(b"ping"); assert a.recv(4) == b"ping"
attempt("loopback", loopback)
attempt("vsock", lambda: socket.socket(40, socket.SOCK_STREAM))
def new_namespace():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
attempt("new-namespace", new_namespace)
print("interfaces", ",".join(name for _, name in socket.if_nameindex()))
"#;

/// A command run is fenced (issue 19): run through `speedcert fenced` as certify runs it,
/// as this user and, when the tests run as root, as nobody, a script can write only its
/// working folder and TMPDIR, cannot read a secret beside them or reach the internet,
/// and still has a loopback for torchrun's workers to meet over.
#[test]
fn a_command_runs_fenced_with_only_its_folders_and_its_loopback() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let open = open_dir();
    let bin = open.path().join("speedcert");
    std::fs::copy(speedcert().get_program(), &bin).unwrap();
    let secret = open.path().join("secret.pem");
    std::fs::write(&secret, "the signing key").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    for uid in users() {
        let work = open.path().join(format!("work-{uid:?}"));
        let tmp = open.path().join(format!("tmp-{uid:?}"));
        for d in [&work, &tmp] {
            std::fs::create_dir(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let mut c = std::process::Command::new(&bin);
        c.args(["fenced", "--network", "loopback"])
            .arg("--write")
            .arg(&work)
            .arg("--write")
            .arg(&tmp)
            .args(["--", "python3", "-c", SNOOP])
            .arg(&secret)
            .current_dir(&work)
            .env("TMPDIR", &tmp);
        if let Some(uid) = uid {
            c.uid(uid).gid(uid);
        }
        let out = run(c);
        let text = stdout(&out);
        assert!(out.status.success(), "as {uid:?}: {text}{}", stderr(&out));
        for line in [
            "read-secret refused",
            "write-outside refused",
            "write-work done",
            "write-tmpdir done",
            "loopback done",
            "vsock refused",
            "new-namespace refused",
            "interfaces lo",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "as {uid:?}: no `{line}`:\n{text}"
            );
        }
        let internet = text.lines().find(|l| l.starts_with("internet ")).unwrap();
        assert_ne!(internet, "internet done", "as {uid:?}: {text}");
        assert!(!open.path().join("planted").exists());
    }
    // A fence that cannot be set runs nothing: a read folder that does not exist.
    let mut c = std::process::Command::new(&bin);
    c.args(["fenced", "--read", "/no/such/folder", "--", "touch"])
        .arg(open.path().join("ran"));
    let out = run(c);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not run"), "{}", stderr(&out));
    assert!(!open.path().join("ran").exists());
}
