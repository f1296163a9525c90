//! Fetch against a real HTTP server on 127.0.0.1: clean, cut mid-file, range ignored,
//! corrupted, 404, transient 503s, trust on first use, and verification before a run.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{Behavior, Route, Server, routes};
use speedcert_data::fetch::{
    FetchError, FetchOptions, FetchOutcome, ShardSource, fetch, part_path,
};
use speedcert_data::lock::{DataLock, DigestSource, VerifyError, verify_dir};
use speedcert_data::shard::{encode_shard, read_shard};

fn shard_bytes(seed: u16, n: usize) -> Vec<u8> {
    let tokens: Vec<u16> = (0..n)
        .map(|i| (i as u16).wrapping_mul(31).wrapping_add(seed) % 50257)
        .collect();
    encode_shard(&tokens)
}

fn sha(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn opts() -> FetchOptions {
    FetchOptions {
        jobs: 2,
        max_retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        progress: false,
    }
}

fn normal(body: &[u8]) -> Route {
    Route {
        body: body.to_vec(),
        behavior: Behavior::Normal,
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn clean_fetch_pins_and_tofu_then_nothing_to_do() {
    let a = shard_bytes(1, 5000);
    let b = shard_bytes(2, 7000);
    let c = shard_bytes(3, 3000);
    let server = Server::start(routes(vec![
        ("a.bin", normal(&a)),
        ("b.bin", normal(&b)),
        ("c.bin", normal(&c)),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![
        ShardSource::new("a.bin", Some(sha(&a))),
        ShardSource::new("b.bin", Some(sha(&b).to_uppercase())),
        ShardSource::new("c.bin", None),
    ];
    let report = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap();
    assert_eq!(report.shards.len(), 3);
    for (s, body) in report.shards.iter().zip([&a, &b, &c]) {
        assert_eq!(fs::read(&s.path).unwrap(), *body);
        assert_eq!(s.sha256, sha(body));
        assert_eq!(
            s.outcome,
            FetchOutcome::Downloaded {
                requests: 1,
                range_requests: 0
            }
        );
    }
    assert_eq!(report.shards[0].digest, DigestSource::Pinned);
    assert!(report.shards[2].digest.is_tofu());
    assert_eq!(
        names_in(dir.path()),
        ["a.bin", "b.bin", "c.bin", "speedcert-data.lock.json"]
    );
    let lock = DataLock::load(dir.path()).unwrap();
    assert_eq!(
        lock.shards.keys().collect::<Vec<_>>(),
        ["c.bin"],
        "only unpinned shards are locked"
    );
    assert_eq!(lock.shards["c.bin"].sha256, sha(&c));
    assert_eq!(lock.shards["c.bin"].bytes, c.len() as u64);
    assert!(lock.shards["c.bin"].source_url.ends_with("/files/c.bin"));

    // Everything is in place: a second fetch makes no request.
    let before = server.requests().len();
    let again = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap();
    assert!(
        again
            .shards
            .iter()
            .all(|s| s.outcome == FetchOutcome::AlreadyPresent)
    );
    assert_eq!(server.requests().len(), before);

    let verified = verify_dir(dir.path(), &shards, &lock).unwrap();
    assert_eq!(verified.len(), 3);
    assert!(!verified[0].digest.is_tofu() && verified[2].digest.is_tofu());
    assert_eq!(verified[1].info.tokens, 7000);
}

#[test]
fn a_cut_connection_resumes_with_a_range_request() {
    let a = shard_bytes(4, 40_000);
    let half = a.len() / 2;
    let server = Server::start(routes(vec![(
        "a.bin",
        Route {
            body: a.clone(),
            behavior: Behavior::CutFirstAt(half),
        },
    )]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![ShardSource::new("a.bin", Some(sha(&a)))];
    let report = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap();
    assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), a);
    assert_eq!(report.shards[0].sha256, sha(&a));
    let seen = server.requests_for("a.bin");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].range, None);
    assert_eq!(
        seen[1].range.as_deref(),
        Some(format!("bytes={half}-").as_str())
    );
    assert_eq!(seen[1].status, 206);
    assert_eq!(
        report.shards[0].outcome,
        FetchOutcome::Downloaded {
            requests: 2,
            range_requests: 1
        }
    );
    assert!(!part_path(dir.path(), "a.bin").exists());
}

#[test]
fn a_server_that_ignores_ranges_is_restarted_from_zero() {
    let a = shard_bytes(5, 20_000);
    let server = Server::start(routes(vec![(
        "a.bin",
        Route {
            body: a.clone(),
            behavior: Behavior::CutFirstAtIgnoringRange(a.len() / 3),
        },
    )]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![ShardSource::new("a.bin", Some(sha(&a)))];
    fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap();
    assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), a);
    let seen = server.requests_for("a.bin");
    assert_eq!(seen.len(), 2);
    assert!(seen[1].range.is_some(), "the client asked to resume");
    assert_eq!(seen[1].status, 200, "the server sent everything again");
}

#[test]
fn a_corrupted_byte_is_refused_and_nothing_is_left() {
    let a = shard_bytes(6, 10_000);
    let server = Server::start(routes(vec![(
        "a.bin",
        Route {
            body: a.clone(),
            behavior: Behavior::Corrupt(5000),
        },
    )]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![ShardSource::new("a.bin", Some(sha(&a)))];
    let err = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap_err();
    match &err {
        FetchError::DigestMismatch { path, expected, .. } => {
            assert!(path.ends_with("a.bin"));
            assert_eq!(*expected, sha(&a));
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("a.bin") && msg.contains("the track pins"),
        "{msg}"
    );
    assert_eq!(
        names_in(dir.path()),
        Vec::<String>::new(),
        "no final file, no part"
    );
}

#[test]
fn not_found_fails_at_once_without_retries() {
    let server = Server::start(routes(vec![]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![ShardSource::new("missing.bin", None)];
    let err = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap_err();
    assert!(
        matches!(&err, FetchError::Http { status: 404, name, .. } if name == "missing.bin"),
        "{err}"
    );
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");
    assert_eq!(names_in(dir.path()), Vec::<String>::new());
}

#[test]
fn transient_server_errors_are_retried_then_given_up() {
    let a = shard_bytes(7, 1000);
    let server = Server::start(routes(vec![
        (
            "flaky.bin",
            Route {
                body: a.clone(),
                behavior: Behavior::FailFirst {
                    status: 503,
                    times: 2,
                },
            },
        ),
        (
            "down.bin",
            Route {
                body: a.clone(),
                behavior: Behavior::FailFirst {
                    status: 500,
                    times: 100,
                },
            },
        ),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let ok = vec![ShardSource::new("flaky.bin", Some(sha(&a)))];
    fetch(&server.base_url(), &ok, dir.path(), &opts()).unwrap();
    assert_eq!(server.requests_for("flaky.bin").len(), 3);

    let down = vec![ShardSource::new("down.bin", Some(sha(&a)))];
    let err = fetch(&server.base_url(), &down, dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, FetchError::GaveUp { .. }), "{err}");
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    // max_retries = 3: the first attempt and three retries.
    assert_eq!(server.requests_for("down.bin").len(), 4);
    assert!(!dir.path().join("down.bin").exists());
}

#[test]
fn failures_of_several_shards_are_all_reported_and_the_others_complete() {
    let a = shard_bytes(8, 1000);
    let server = Server::start(routes(vec![("a.bin", normal(&a))]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![
        ShardSource::new("x.bin", None),
        ShardSource::new("a.bin", None),
        ShardSource::new("y.bin", None),
    ];
    let err = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("2 of 3 shards failed"), "{msg}");
    assert!(msg.contains("x.bin") && msg.contains("y.bin"), "{msg}");
    assert!(dir.path().join("a.bin").exists());
}

#[test]
fn a_download_that_is_not_a_shard_is_not_trusted() {
    let server = Server::start(routes(vec![(
        "a.bin",
        normal(b"<html>rate limited</html>"),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![ShardSource::new("a.bin", None)];
    let err = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, FetchError::NotAShard { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("shorter than the 1024-byte header"),
        "{err}"
    );
    assert_eq!(
        names_in(dir.path()),
        Vec::<String>::new(),
        "no file, no lock"
    );
}

#[test]
fn tofu_digests_are_enforced_on_later_fetches_and_runs() {
    let a = shard_bytes(9, 4000);
    let server = Server::start(routes(vec![("a.bin", normal(&a))]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![ShardSource::new("a.bin", None)];
    fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap();
    let lock = DataLock::load(dir.path()).unwrap();
    assert_eq!(lock.shards["a.bin"].sha256, sha(&a));
    let ok = verify_dir(dir.path(), &shards, &lock).unwrap();
    assert!(ok[0].digest.is_tofu());

    // Tamper with one token of the local file: verification names it.
    let path = dir.path().join("a.bin");
    let mut bytes = fs::read(&path).unwrap();
    bytes[2000] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let err = verify_dir(dir.path(), &shards, &lock).unwrap_err();
    assert!(matches!(err, VerifyError::DigestMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("a.bin") && msg.contains("trusted on first use"),
        "{msg}"
    );
    assert!(msg.contains(&sha(&a)), "{msg}");

    // The upstream file changes: a fresh fetch is held to the first digest.
    fs::remove_file(&path).unwrap();
    server.set_route("a.bin", normal(&shard_bytes(10, 4000)));
    let err = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, FetchError::DigestMismatch { .. }), "{err}");
    assert!(!path.exists() && !part_path(dir.path(), "a.bin").exists());
    assert_eq!(
        DataLock::load(dir.path()).unwrap(),
        lock,
        "the lock is unchanged"
    );
}

#[test]
fn verify_names_missing_and_unverifiable_shards() {
    let dir = tempfile::tempdir().unwrap();
    let a = shard_bytes(11, 100);
    fs::write(dir.path().join("a.bin"), &a).unwrap();
    let shards = vec![
        ShardSource::new("a.bin", None),
        ShardSource::new("gone.bin", Some(sha(&a))),
    ];
    let err = verify_dir(dir.path(), &shards, &DataLock::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("2 of 2 shards failed verification"),
        "{msg}"
    );
    assert!(msg.contains("gone.bin: missing"), "{msg}");
    assert!(msg.contains("a.bin: no pinned sha256"), "{msg}");
}

#[test]
fn an_existing_file_with_the_wrong_digest_is_left_alone() {
    let a = shard_bytes(12, 100);
    let other = shard_bytes(13, 100);
    let server = Server::start(routes(vec![("a.bin", normal(&a))]));
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.bin"), &other).unwrap();
    let shards = vec![ShardSource::new("a.bin", Some(sha(&a)))];
    let err = fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, FetchError::ExistingMismatch { .. }), "{err}");
    assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), other);
    assert!(server.requests().is_empty());
}

#[test]
fn a_leftover_part_is_resumed_and_a_stale_one_is_replaced() {
    let a = shard_bytes(14, 8000);
    let server = Server::start(routes(vec![("a.bin", normal(&a))]));
    let dir = tempfile::tempdir().unwrap();
    let shards = vec![ShardSource::new("a.bin", Some(sha(&a)))];

    // A good prefix from an interrupted earlier run: one range request finishes it.
    fs::write(part_path(dir.path(), "a.bin"), &a[..3000]).unwrap();
    fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap();
    assert_eq!(read_shard(&dir.path().join("a.bin")).unwrap().len(), 8000);
    assert_eq!(
        server.requests_for("a.bin")[0].range.as_deref(),
        Some("bytes=3000-")
    );

    // A damaged prefix: the digest fails after the resume, so it starts over once.
    fs::remove_file(dir.path().join("a.bin")).unwrap();
    let mut bad = a[..3000].to_vec();
    bad[1500] ^= 1;
    fs::write(part_path(dir.path(), "a.bin"), &bad).unwrap();
    fetch(&server.base_url(), &shards, dir.path(), &opts()).unwrap();
    assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), a);
    let seen = server.requests_for("a.bin");
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].range, None, "the second try starts from zero");
}
