//! GPT-2 preparation: ids equal an independent implementation's (fixture made by
//! fixtures/make_gpt2_fixture.mjs with js-tiktoken and gpt-tokenizer), parallel pieces
//! equal the whole, shards round-trip, and bad input is named.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde::Deserialize;
use speedcert_data::fetch::ShardSource;
use speedcert_data::gpt2::encode_reference;
use speedcert_data::lock::{DataLock, verify_dir};
use speedcert_data::prepare::{
    EOT, PrepareError, PrepareOptions, encode_document, gpt2_encode, prepare, split_for_parallel,
};
use speedcert_data::shard::read_shard;

#[derive(Deserialize)]
struct Fixture {
    implementations: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    text: String,
    ids: Vec<u16>,
}

fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2_fixture.json");
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn ids_equal_the_independent_javascript_implementations() {
    let f = fixture();
    assert_eq!(f.implementations.len(), 2);
    assert!(f.cases.len() >= 15);
    for c in &f.cases {
        assert_eq!(gpt2_encode(&c.text), c.ids, "case {}", c.name);
        assert_eq!(
            encode_reference(&c.text),
            c.ids,
            "tiktoken-rs, case {}",
            c.name
        );
    }
}

#[test]
fn parallel_pieces_give_the_same_ids_as_the_whole() {
    for c in fixture().cases {
        for target in [1, 16, 64, 1000] {
            let pieces = split_for_parallel(&c.text, target);
            let joined: Vec<u16> = pieces.iter().flat_map(|p| gpt2_encode(p)).collect();
            assert_eq!(joined, c.ids, "case {} cut every ~{target} bytes", c.name);
        }
        let doc = encode_document(&c.text);
        assert_eq!(doc[0], EOT);
        assert_eq!(&doc[1..], c.ids.as_slice());
    }
    let long = fixture()
        .cases
        .into_iter()
        .find(|c| c.name == "long_mixed")
        .unwrap();
    assert!(
        split_for_parallel(&long.text, 64).len() > 50,
        "the long case is really cut"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary text made of the characters that decide BPE piece boundaries.
    #[test]
    fn any_text_cut_into_pieces_encodes_like_the_whole(
        text in "[a-zA-Z0-9 \n\t\r.,'!?é東🙂\u{a0}_-]{0,400}",
        target in 1usize..64,
    ) {
        let whole = gpt2_encode(&text);
        let pieces = split_for_parallel(&text, target);
        prop_assert_eq!(pieces.concat(), text.clone());
        let joined: Vec<u16> = pieces.iter().flat_map(|p| gpt2_encode(p)).collect();
        prop_assert_eq!(joined, whole);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The fast pre-tokenizer equals tiktoken-rs's fancy-regex one on any text, with
    /// every kind of Unicode whitespace, letters, numbers, marks and symbols.
    #[test]
    fn the_fast_encoder_equals_tiktoken_rs(
        parts in proptest::collection::vec(
            prop_oneof![
                "[ \t\n\r\u{b}\u{c}\u{85}\u{a0}\u{1680}\u{2000}\u{2028}\u{3000}]{1,6}",
                "[a-zA-Z]{1,8}",
                "'(s|t|re|ve|m|ll|d|S|x)",
                "[0-9]{1,6}",
                "[.,;:!?()\\-_'\"#$%&*+/<=>@\\[\\]^`{|}~]{1,4}",
                "\\PC{1,4}",
                "[\u{300}-\u{36f}\u{2160}-\u{2188}\u{1f300}-\u{1f64f}\u{4e00}-\u{4e40}]{1,3}",
            ],
            0..40,
        ),
    ) {
        let text: String = parts.concat();
        prop_assert_eq!(gpt2_encode(&text), encode_reference(&text), "{:?}", text);
    }
}

fn write_corpus(dir: &Path) -> Vec<(PathBuf, String)> {
    // Files in a nested folder, named so that walk order is by file name.
    let f = fixture();
    let mut files = Vec::new();
    for (i, c) in f.cases.iter().enumerate() {
        let sub = dir.join(if i % 2 == 0 { "a" } else { "b" });
        fs::create_dir_all(&sub).unwrap();
        let p = sub.join(format!("{i:02}_{}.txt", c.name));
        fs::write(&p, &c.text).unwrap();
        files.push((p, c.text.clone()));
    }
    fs::write(dir.join("a/empty.txt"), "").unwrap();
    fs::write(dir.join(".hidden.txt"), "\u{0}never read").unwrap();
    files.sort();
    files
}

#[test]
fn prepared_shards_hold_every_document_in_order() {
    let src = tempfile::tempdir().unwrap();
    let files = write_corpus(src.path());
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("prepared");
    let mut opts = PrepareOptions::new(vec![src.path().to_owned()], out.clone());
    opts.name = "mini".into();
    opts.val_tokens = 700;
    opts.heldout_tokens = 300;
    opts.shard_tokens = 4000;
    opts.progress = false;
    let report = prepare(&opts).unwrap();

    let mut expected = Vec::new();
    for (_, text) in &files {
        expected.push(EOT);
        expected.extend(gpt2_encode(text));
    }
    assert_eq!(report.files, files.len());
    assert_eq!(report.skipped_empty, 1);
    assert_eq!(report.tokens, expected.len() as u64);
    assert_eq!(report.val.len(), 1);
    assert_eq!(
        report.val[0].tokens, 1002,
        "public + held-out validation tokens, each slice one more for its last target"
    );
    assert!(
        report.train.len() >= 2,
        "{} train shards",
        report.train.len()
    );
    assert!(
        report.train[..report.train.len() - 1]
            .iter()
            .all(|s| s.tokens == 4000)
    );
    assert_eq!(report.val[0].name(), "mini_val_000000.bin");
    assert_eq!(report.train[0].name(), "mini_train_000001.bin");

    let mut read = Vec::new();
    for s in report.val.iter().chain(&report.train) {
        read.extend(read_shard(&s.path).unwrap());
    }
    assert_eq!(
        read, expected,
        "shards concatenate to the documents in order"
    );

    // The track file pins every shard, and they verify against it.
    let track: toml::Value = toml::from_str(&fs::read_to_string(&report.track).unwrap()).unwrap();
    let data = &track["data"];
    assert_eq!(data["source"].as_str(), Some("shards"));
    assert_eq!(data["dir"].as_str(), Some(out.to_str().unwrap()));
    assert_eq!(track["validation"]["tokens"].as_integer(), Some(700));
    assert_eq!(
        track["validation"]["heldout_tokens"].as_integer(),
        Some(300)
    );
    let sources: Vec<ShardSource> = ["val", "train"]
        .iter()
        .flat_map(|k| data[*k].as_array().unwrap())
        .map(|s| {
            ShardSource::new(
                s["name"].as_str().unwrap(),
                Some(s["sha256"].as_str().unwrap().to_owned()),
            )
        })
        .collect();
    assert_eq!(sources.len(), report.val.len() + report.train.len());
    let verified = verify_dir(&out, &sources, &DataLock::default()).unwrap();
    assert!(verified.iter().all(|v| !v.digest.is_tofu()));

    // Preparing again into the same folder refuses rather than overwrite.
    let err = prepare(&opts).unwrap_err();
    assert!(matches!(err, PrepareError::OutputExists { .. }), "{err}");
}

#[test]
fn output_is_the_same_whatever_the_thread_count() {
    let src = tempfile::tempdir().unwrap();
    write_corpus(src.path());
    let mut digests = Vec::new();
    for threads in [1, 3] {
        let out = tempfile::tempdir().unwrap();
        let mut opts = PrepareOptions::new(vec![src.path().to_owned()], out.path().to_owned());
        opts.val_tokens = 500;
        opts.shard_tokens = 3000;
        opts.progress = false;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let report = pool.install(|| prepare(&opts)).unwrap();
        digests.push(
            report
                .val
                .iter()
                .chain(&report.train)
                .map(|s| s.sha256.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn a_non_utf8_file_is_named_with_its_offset_and_nothing_is_written() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("good.txt"), "fine text ".repeat(500)).unwrap();
    fs::write(src.path().join("latin1.txt"), b"caf\xe9 au lait").unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut opts = PrepareOptions::new(vec![src.path().to_owned()], out.path().to_owned());
    opts.val_tokens = 10;
    opts.shard_tokens = 100;
    opts.progress = false;
    let err = prepare(&opts).unwrap_err();
    assert!(
        matches!(&err, PrepareError::NotUtf8 { path, offset: 3 } if path.ends_with("latin1.txt")),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("latin1.txt: not UTF-8 text: invalid byte at offset 3"),
        "{msg}"
    );
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "no shard left behind"
    );
}

#[test]
fn a_corpus_smaller_than_the_validation_set_is_refused_and_cleaned_up() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("tiny.txt"), "just a few words").unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut opts = PrepareOptions::new(vec![src.path().join("tiny.txt")], out.path().to_owned());
    opts.val_tokens = 3;
    opts.shard_tokens = 2;
    opts.progress = false;
    // 5 tokens: 3 of validation plus the last target (two shards of 2), 1 of training.
    let ok = prepare(&opts).unwrap();
    assert_eq!((ok.val.len(), ok.train.len()), (2, 1));
    assert_eq!(ok.val.iter().map(|s| s.tokens).sum::<u64>(), 4);
    assert_eq!(ok.tokens, 5);

    let out2 = tempfile::tempdir().unwrap();
    opts.out = out2.path().to_owned();
    opts.val_tokens = 5;
    let err = prepare(&opts).unwrap_err();
    assert!(
        matches!(err, PrepareError::TooSmall { tokens: 5, .. }),
        "{err}"
    );
    assert_eq!(fs::read_dir(out2.path()).unwrap().count(), 0);
}

#[test]
fn missing_inputs_are_named() {
    let out = tempfile::tempdir().unwrap();
    let opts = PrepareOptions::new(
        vec![PathBuf::from("/no/such/corpus")],
        out.path().to_owned(),
    );
    let err = prepare(&opts).unwrap_err();
    assert!(
        err.to_string()
            .contains("/no/such/corpus: no such file or folder"),
        "{err}"
    );
}
