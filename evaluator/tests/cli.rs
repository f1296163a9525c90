//! The binary's own smoke tests (they also make cargo build it for tests/ to drive).

use std::process::Command;

fn speedcert() -> Command {
    Command::new(env!("CARGO_BIN_EXE_speedcert"))
}

#[test]
fn no_subcommand_is_bad_usage() {
    let out = speedcert().output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn help_lists_the_commands() {
    let out = speedcert().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "run", "certify", "verify", "export", "keygen", "sign", "records", "data", "audit",
    ] {
        assert!(text.contains(cmd), "help lacks {cmd}:\n{text}");
    }
}
