//! The shard format: round trips, range reads, and one test per kind of corrupt shard.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use speedcert_data::shard::{
    HEADER_BYTES, MAGIC, ShardError, ShardReader, check_vocab, encode_shard, header_bytes, inspect,
    read_header, read_shard, read_shard_in_vocab, sha256_file, shard_info, write_shard,
};

fn write_raw(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn write_then_read_round_trips(tokens in proptest::collection::vec(any::<u16>(), 0..5000)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train_000001.bin");
        let info = write_shard(&path, &tokens).unwrap();
        prop_assert_eq!(read_shard(&path).unwrap(), tokens.clone());
        prop_assert_eq!(info.tokens, tokens.len() as u64);
        prop_assert_eq!(info.bytes, fs::metadata(&path).unwrap().len());
        prop_assert_eq!(&info.sha256, &sha256_file(&path).unwrap());
        prop_assert_eq!(fs::read(&path).unwrap(), encode_shard(&tokens));
        prop_assert_eq!(shard_info(&path).unwrap(), info);
        // Only the shard: no temp file left beside it.
        prop_assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn range_reads_equal_slices(
        tokens in proptest::collection::vec(any::<u16>(), 1..3000),
        cuts in proptest::collection::vec((0usize..3000, 0usize..500), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.bin");
        write_shard(&path, &tokens).unwrap();
        let mut r = ShardReader::open(&path).unwrap();
        prop_assert_eq!(r.len(), tokens.len() as u64);
        for (start, len) in cuts {
            let start = start % tokens.len();
            let len = len.min(tokens.len() - start);
            prop_assert_eq!(r.read_range(start as u64, len as u64).unwrap(), &tokens[start..start + len]);
        }
    }
}

#[test]
fn the_header_is_the_speedrun_layout() {
    let h = header_bytes(7);
    assert_eq!(h.len(), 1024);
    assert_eq!(i32::from_le_bytes(h[0..4].try_into().unwrap()), 20240520);
    assert_eq!(i32::from_le_bytes(h[4..8].try_into().unwrap()), 1);
    assert_eq!(i32::from_le_bytes(h[8..12].try_into().unwrap()), 7);
    assert!(h[12..].iter().all(|&b| b == 0));
    let bytes = encode_shard(&[0x0102, 0xfffe]);
    assert_eq!(
        &bytes[1024..],
        &[0x02, 0x01, 0xfe, 0xff],
        "tokens are little-endian u16"
    );
}

#[test]
fn bad_magic_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = encode_shard(&[1, 2, 3]);
    b[0..4].copy_from_slice(&1234i32.to_le_bytes());
    let p = write_raw(dir.path(), "train_000001.bin", &b);
    let e = read_shard(&p).unwrap_err();
    assert!(matches!(e, ShardError::BadMagic { found: 1234, .. }), "{e}");
    assert!(
        e.to_string()
            .ends_with("train_000001.bin: bad magic 1234 (expected 20240520)"),
        "{e}"
    );
}

#[test]
fn wrong_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = encode_shard(&[1, 2, 3]);
    b[4..8].copy_from_slice(&2i32.to_le_bytes());
    let p = write_raw(dir.path(), "v.bin", &b);
    let e = read_shard(&p).unwrap_err();
    assert!(matches!(e, ShardError::BadVersion { found: 2, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("v.bin: unsupported version 2 (expected 1)"),
        "{e}"
    );
}

#[test]
fn truncated_body_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let b = encode_shard(&[1, 2, 3, 4, 5]);
    let p = write_raw(dir.path(), "t.bin", &b[..b.len() - 3]);
    let e = read_shard(&p).unwrap_err();
    assert!(
        matches!(
            e,
            ShardError::Truncated {
                expected: 5,
                actual_bytes: 7,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains(
            "t.bin: truncated: the header says 5 tokens (10 bytes) but only 7 bytes follow it"
        ),
        "{e}"
    );
}

#[test]
fn extra_bytes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = encode_shard(&[1, 2, 3]);
    b.extend_from_slice(&[9, 9, 9, 9]);
    let p = write_raw(dir.path(), "x.bin", &b);
    let e = read_shard(&p).unwrap_err();
    assert!(
        matches!(
            e,
            ShardError::TrailingBytes {
                extra: 4,
                expected: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("x.bin: 4 bytes after the 3 tokens"),
        "{e}"
    );
}

#[test]
fn a_file_shorter_than_the_header_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_raw(dir.path(), "h.bin", &header_bytes(0)[..100]);
    let e = read_header(&p).unwrap_err();
    assert!(matches!(e, ShardError::ShortHeader { len: 100, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("h.bin: file is 100 bytes, shorter than the 1024-byte header"),
        "{e}"
    );
    let empty = write_raw(dir.path(), "empty.bin", b"");
    assert!(matches!(
        read_shard(&empty),
        Err(ShardError::ShortHeader { len: 0, .. })
    ));
}

#[test]
fn a_negative_count_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = header_bytes(0).to_vec();
    b[8..12].copy_from_slice(&(-5i32).to_le_bytes());
    let p = write_raw(dir.path(), "n.bin", &b);
    assert!(matches!(
        read_shard(&p),
        Err(ShardError::NegativeCount { found: -5, .. })
    ));
}

#[test]
fn a_missing_file_is_named() {
    let e = read_shard(Path::new("/nonexistent/dir/s.bin")).unwrap_err();
    assert!(matches!(e, ShardError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/dir/s.bin"), "{e}");
}

#[test]
fn tokens_outside_the_vocabulary_are_named_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.bin");
    write_shard(&p, &[1, 50256, 50257, 3]).unwrap();
    assert_eq!(read_shard(&p).unwrap().len(), 4, "no vocabulary, no check");
    read_shard_in_vocab(&p, 50258).unwrap();
    let e = read_shard_in_vocab(&p, 50257).unwrap_err();
    assert!(
        matches!(
            e,
            ShardError::OutOfVocab {
                index: 2,
                token: 50257,
                vocab: 50257,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("token 50257 at position 2 is outside the vocabulary of 50257"),
        "{e}"
    );
    assert!(check_vocab(&p, &[0, 1], 2).is_ok());
}

#[test]
fn range_reads_past_the_end_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.bin");
    write_shard(&p, &[1, 2, 3]).unwrap();
    let mut r = ShardReader::open(&p).unwrap();
    let e = r.read_range(2, 2).unwrap_err();
    assert!(
        matches!(
            e,
            ShardError::OutOfRange {
                start: 2,
                end: 4,
                len: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(r.read_range(3, 0).unwrap(), Vec::<u16>::new());
}

#[test]
fn a_shard_truncated_after_opening_reads_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.bin");
    write_shard(&p, &(0..1000).collect::<Vec<u16>>()).unwrap();
    let mut r = ShardReader::open(&p).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(HEADER_BYTES + 100)
        .unwrap();
    let e = r.read_range(0, 1000).unwrap_err();
    assert!(matches!(e, ShardError::Truncated { .. }), "{e}");
}

#[test]
fn inspect_reports_header_digest_and_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("i.bin");
    let tokens = [50256u16, 1, 1, 2, 1, 50256, 7, 1];
    let info = write_shard(&p, &tokens).unwrap();
    let ins = inspect(&p, 2).unwrap();
    assert_eq!(ins.header.magic, MAGIC);
    assert_eq!(ins.header.tokens, 8);
    assert!(ins.header.reserved_nonzero.is_empty());
    assert_eq!(ins.info, info);
    let h = &ins.histogram;
    assert_eq!((h.total, h.distinct), (8, 4));
    assert_eq!((h.min_id, h.max_id), (Some(1), Some(50256)));
    assert_eq!(h.top.len(), 2);
    assert_eq!((h.top[0].token, h.top[0].count), (1, 4));
    assert_eq!((h.top[1].token, h.top[1].count), (50256, 2));
    assert!((h.top[0].share - 0.5).abs() < 1e-12);
    // H = -(.5 ln .5 + .25 ln .25 + 2 * .125 ln .125)
    let want = -(0.5f64 * 0.5f64.ln() + 0.25 * 0.25f64.ln() + 0.25 * 0.125f64.ln());
    assert!((h.unigram_entropy_nats - want).abs() < 1e-12);
    let text = ins.to_string();
    for needle in [
        "magic 20240520, version 1, tokens 8",
        &info.sha256,
        "4 distinct",
        "ids 1 … 50256",
        "50.00%",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let json = serde_json::to_value(&ins).unwrap();
    assert_eq!(json["histogram"]["distinct"], 4);
    assert_eq!(json["info"]["sha256"], info.sha256.as_str());

    let mut b = fs::read(&p).unwrap();
    b[12..16].copy_from_slice(&42i32.to_le_bytes());
    fs::write(&p, &b).unwrap();
    let ins = inspect(&p, 2).unwrap();
    assert_eq!(ins.header.reserved_nonzero, vec![(3, 42)]);
    assert!(ins.to_string().contains("[3]=42"));
}
