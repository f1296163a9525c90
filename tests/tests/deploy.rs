//! The scheduler files in deploy/ call `speedcert nightly` with flags the binary really
//! has, on schedules their tools accept: a renamed flag must break this test, not a
//! night in production.

mod common;
use common::*;
use std::path::PathBuf;

fn deploy(path: &str) -> (PathBuf, String) {
    let p = workspace().join("deploy").join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (p, text)
}

/// The `--flags` that follow `speedcert nightly` on `line`.
fn nightly_flags(line: &str) -> Vec<String> {
    let (_, rest) = line
        .split_once("speedcert nightly")
        .or_else(|| line.split_once("\" nightly"))
        .unwrap_or_else(|| panic!("no `speedcert nightly` in: {line}"));
    rest.split_whitespace()
        .take_while(|w| !w.starts_with(">>") && *w != "||" && *w != "&&")
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_owned())
        .collect()
}

fn nightly_help() -> String {
    let mut c = speedcert();
    c.args(["nightly", "--help"]);
    let out = run(c);
    assert!(out.status.success());
    stdout(&out)
}

fn schedule_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains('='))
        .collect()
}

#[test]
fn every_deploy_file_uses_real_nightly_flags() {
    let help = nightly_help();
    let mut lines = Vec::new();
    for f in [
        "cron/speedcert-nightly.crontab",
        "slurm/speedcert-nightly.scrontab",
    ] {
        let (p, text) = deploy(f);
        let sched = schedule_lines(&text);
        assert_eq!(
            sched.len(),
            1,
            "{}: one schedule line expected",
            p.display()
        );
        let fields: Vec<&str> = sched[0].split_whitespace().collect();
        for (i, field) in fields[..5].iter().enumerate() {
            assert!(
                field
                    .chars()
                    .all(|c| c.is_ascii_digit() || "*/,-".contains(c)),
                "{}: time field {i} `{field}` is not a cron field",
                p.display()
            );
        }
        lines.push(sched[0].to_owned());
    }
    let (_, unit) = deploy("systemd/speedcert-nightly.service");
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    lines.push(exec.to_owned());
    for line in &lines {
        let flags = nightly_flags(line);
        assert!(flags.contains(&"--key".to_owned()), "{line}");
        for f in flags {
            assert!(
                help.contains(&f),
                "`{f}` is not a flag of `speedcert nightly`: {line}"
            );
        }
    }
    // The environment file sets every variable the unit uses.
    let (_, env) = deploy("systemd/nightly.env");
    for var in [
        "SPEEDCERT_HOME",
        "SPEEDCERT_BIN",
        "SPEEDCERT_KEY",
        "SPEEDCERT_RUNS",
        "SPEEDCERT_RECORDS",
    ] {
        assert!(exec.contains(var), "{var} unused by ExecStart");
        assert!(
            env.contains(&format!("{var}=")),
            "{var} missing from nightly.env"
        );
    }
}

#[test]
fn systemd_accepts_the_unit_and_timer() {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(workspace().join("deploy/systemd/speedcert-nightly.service"))
        .arg(workspace().join("deploy/systemd/speedcert-nightly.timer"))
        .output()
    else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
}
