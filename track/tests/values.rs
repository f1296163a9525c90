//! Every rule of track validation, table-driven: a shipped track with one value changed
//! is refused with a message naming the file and the field (its dotted TOML path), and
//! the edge values a run can still train with are accepted.

use std::path::Path;

use speedcert_track::{EMBEDDED_DEFAULT, MAX_BATCH_TOKENS, MAX_EVAL_TOKENS, Track, TrackError};

/// synthetic-tiny: seq_len 64, vocab 64, batch 32, 250 steps, warmup 10, cooldown 0.4,
/// learning rate 0.02, floor 1.1727.
const SYNTHETIC: &str = EMBEDDED_DEFAULT;
/// fineweb-gpt2-1xh100: a shard track, seq_len 1024, vocab 50304.
const SHARDS: &str = include_str!("../../records/tracks/fineweb-gpt2-1xh100.toml");

/// `base` with each `(dotted.path, TOML value)` set; a number in the path indexes an array.
fn edited(base: &str, edits: &[(&str, &str)]) -> String {
    let mut table: toml::Table = toml::from_str(base).unwrap();
    for (path, literal) in edits {
        let value = toml::from_str::<toml::Table>(&format!("v = {literal}"))
            .unwrap_or_else(|e| panic!("{literal}: {e}"))
            .remove("v")
            .unwrap();
        let mut keys = path.split('.').peekable();
        let mut at = table
            .get_mut(keys.next().unwrap())
            .unwrap_or_else(|| panic!("{path}"));
        while let Some(key) = keys.next() {
            let last = keys.peek().is_none();
            let slot = match key.parse::<usize>() {
                Ok(i) => at.as_array_mut().unwrap().get_mut(i),
                Err(_) if last => {
                    at.as_table_mut()
                        .unwrap()
                        .insert(key.to_owned(), value.clone());
                    break;
                }
                Err(_) => at.as_table_mut().unwrap().get_mut(key),
            };
            at = slot.unwrap_or_else(|| panic!("{path}: no {key}"));
            if last {
                *at = value.clone();
            }
        }
        if !path.contains('.') {
            table.insert((*path).to_owned(), value);
        }
    }
    toml::to_string(&table).unwrap()
}

fn parse(text: &str) -> Result<Track, TrackError> {
    Track::parse(text, Path::new("tracks/t.toml"))
}

/// (base track, edits, field that must be named, words its message must contain)
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

const REFUSED: &[Case] = &[
    (
        SYNTHETIC,
        &[("name", "\"../x\"")],
        "name",
        "names files and folders",
    ),
    (SYNTHETIC, &[("name", "\"\"")], "name", "got \"\""),
    (
        SYNTHETIC,
        &[("name", "\"-x\"")],
        "name",
        "starting with a letter or digit",
    ),
    // model
    (
        SYNTHETIC,
        &[
            ("model.vocab_size", "70000"),
            ("data.language.vocab_size", "70000"),
        ],
        "model.vocab_size",
        "must be in [2, 65536]",
    ),
    (
        SYNTHETIC,
        &[("model.vocab_size", "1")],
        "model.vocab_size",
        "got 1",
    ),
    (
        SYNTHETIC,
        &[("model.n_layer", "0")],
        "model.n_layer",
        "must be at least 1, got 0",
    ),
    (
        SYNTHETIC,
        &[("model.n_head", "0")],
        "model.n_head",
        "must be at least 1, got 0",
    ),
    (
        SYNTHETIC,
        &[("model.d_model", "0")],
        "model.d_model",
        "must be at least 1, got 0",
    ),
    (
        SYNTHETIC,
        &[("model.seq_len", "0")],
        "model.seq_len",
        "must be at least 1, got 0",
    ),
    (
        SYNTHETIC,
        &[("model.mlp_ratio", "0")],
        "model.mlp_ratio",
        "must be at least 1, got 0",
    ),
    (
        SYNTHETIC,
        &[("model.n_head", "3")],
        "model.d_model",
        "must be a multiple of model.n_head (3), got 64",
    ),
    (
        SYNTHETIC,
        &[("model.n_head", "64")],
        "model.d_model",
        "must be even for rotary encoding",
    ),
    (
        SYNTHETIC,
        &[("model.rope_theta", "-1")],
        "model.rope_theta",
        "must be a finite number of at least 1",
    ),
    (
        SYNTHETIC,
        &[("model.rope_theta", "0")],
        "model.rope_theta",
        "got 0",
    ),
    (
        SYNTHETIC,
        &[("model.rope_theta", "5e-324")],
        "model.rope_theta",
        "at least 1",
    ),
    (
        SYNTHETIC,
        &[("model.rope_theta", "nan")],
        "model.rope_theta",
        "got NaN",
    ),
    (
        SYNTHETIC,
        &[("model.rope_theta", "inf")],
        "model.rope_theta",
        "got inf",
    ),
    (
        SYNTHETIC,
        &[("model.n_layer", "1099511627776")],
        "model",
        "more than MAX_PARAMS",
    ),
    (
        SYNTHETIC,
        &[("model.d_model", "8589934592")],
        "model",
        "more than 2^64 parameters",
    ),
    // data: synthetic
    (
        SYNTHETIC,
        &[("data.language.successors", "0")],
        "data.language.successors",
        "must be in 1..=",
    ),
    (
        SYNTHETIC,
        &[("data.language.zipf_exponent", "nan")],
        "data.language.zipf_exponent",
        "must be finite",
    ),
    (
        SYNTHETIC,
        &[("data.language.copy_prob", "1.0")],
        "data.language.copy_prob",
        "[0, 1)",
    ),
    (
        SYNTHETIC,
        &[("data.language.copy_distances", "[16, 4294967295]")],
        "data.language.copy_distances",
        "MAX_COPY_DISTANCE",
    ),
    (
        SYNTHETIC,
        &[("data.language.vocab_size", "60")],
        "model.vocab_size",
        "data.language.vocab_size is 60",
    ),
    (
        SYNTHETIC,
        &[("data.val_seed", "1")],
        "data.val_seed",
        "must differ from data.train_seed",
    ),
    // data: shards
    (
        SHARDS,
        &[("data.val", "[]")],
        "data.val",
        "at least one shard",
    ),
    (
        SHARDS,
        &[("data.train", "[]")],
        "data.train",
        "at least one shard",
    ),
    (
        SHARDS,
        &[("data.dir", "\"\"")],
        "data.dir",
        "must name the folder",
    ),
    (
        SHARDS,
        &[("data.train.0.name", "\"../secret.bin\"")],
        "data.train[0].name",
        "a file name inside data.dir",
    ),
    (
        SHARDS,
        &[("data.val.0.name", "\"..\"")],
        "data.val[0].name",
        "a file name inside data.dir",
    ),
    (
        SHARDS,
        &[("data.val.0.sha256", "\"ABC\"")],
        "data.val[0].sha256",
        "64 lowercase hex digits",
    ),
    (
        SHARDS,
        &[("data.train.1.name", "\"fineweb_val_000000.bin\"")],
        "data.train[1].name",
        "also a validation shard",
    ),
    (
        SHARDS,
        &[("data.heldout.name", "\"fineweb_train_000002.bin\"")],
        "data.heldout.name",
        "also a training or validation shard: the held-out slice must be tokens the run never sees",
    ),
    (
        SHARDS,
        &[("validation.heldout_tokens", "0")],
        "data.heldout",
        "validation.heldout_tokens is 0",
    ),
    // validation
    (
        SYNTHETIC,
        &[("validation.tokens", "64")],
        "validation.tokens",
        "must be in [65, 1073741824] (one sequence of model.seq_len + 1 tokens, up to MAX_EVAL_TOKENS), got 64",
    ),
    (
        SYNTHETIC,
        &[("validation.tokens", "0")],
        "validation.tokens",
        "got 0",
    ),
    (
        SYNTHETIC,
        &[("validation.tokens", "9223372036854775807")],
        "validation.tokens",
        "got 9223372036854775807",
    ),
    (
        SYNTHETIC,
        &[("validation.heldout_tokens", "5")],
        "validation.heldout_tokens",
        "must be 0 (no held-out slice) or in [65, 1073741824]",
    ),
    (
        SYNTHETIC,
        &[("validation.heldout_tokens", "64")],
        "validation.heldout_tokens",
        "got 64",
    ),
    (
        SHARDS,
        &[("validation.heldout_tokens", "1024")],
        "validation.heldout_tokens",
        "in [1025, ",
    ),
    (
        SYNTHETIC,
        &[("validation.heldout_tokens", "2147483648")],
        "validation.heldout_tokens",
        "got 2147483648",
    ),
    (
        SYNTHETIC,
        &[("validation.tokens", "1073741824")],
        "validation.heldout_tokens",
        "the slices hold more than MAX_EVAL_TOKENS",
    ),
    (
        SYNTHETIC,
        &[("validation.batch_size", "0")],
        "validation.batch_size",
        "must be at least 1, got 0",
    ),
    (
        SYNTHETIC,
        &[("validation.batch_size", "262145")],
        "validation.batch_size",
        "more than MAX_BATCH_TOKENS",
    ),
    (
        SYNTHETIC,
        &[("validation.every_steps", "0")],
        "validation.every_steps",
        "must be at least 1, got 0",
    ),
    // reference
    (
        SYNTHETIC,
        &[("reference.micro_batch_size", "0")],
        "reference.micro_batch_size",
        "is 0: it must divide reference.batch_size (32) into equal passes",
    ),
    (
        SYNTHETIC,
        &[("reference.micro_batch_size", "12")],
        "reference.micro_batch_size",
        "is 12: it must divide reference.batch_size (32)",
    ),
    (
        SYNTHETIC,
        &[("reference.batch_size", "0")],
        "reference.batch_size",
        "must be at least 1, got 0",
    ),
    (
        SYNTHETIC,
        &[("reference.batch_size", "9223372036854775807")],
        "reference.batch_size",
        "more than 2^64 tokens",
    ),
    (
        SYNTHETIC,
        &[("reference.steps", "0")],
        "reference.steps",
        "got 0",
    ),
    (
        SYNTHETIC,
        &[("reference.steps", "10000001")],
        "reference.steps",
        "must be in [1, 10000000]",
    ),
    (
        SYNTHETIC,
        &[("reference.learning_rate", "0")],
        "reference.learning_rate",
        "must be a finite number > 0, got 0",
    ),
    (
        SYNTHETIC,
        &[("reference.learning_rate", "-1")],
        "reference.learning_rate",
        "got -1",
    ),
    (
        SYNTHETIC,
        &[("reference.learning_rate", "nan")],
        "reference.learning_rate",
        "got NaN",
    ),
    (
        SYNTHETIC,
        &[("reference.learning_rate", "inf")],
        "reference.learning_rate",
        "got inf",
    ),
    (
        SYNTHETIC,
        &[("reference.warmup_steps", "151")],
        "reference.warmup_steps",
        "at most steps x (1 - cooldown_frac) = 150, got 151",
    ),
    (
        SYNTHETIC,
        &[("reference.warmup_steps", "1000000000")],
        "reference.warmup_steps",
        "must end before the cooldown starts",
    ),
    (
        SYNTHETIC,
        &[("reference.cooldown_frac", "1.5")],
        "reference.cooldown_frac",
        "must be in [0, 1], got 1.5",
    ),
    (
        SYNTHETIC,
        &[("reference.cooldown_frac", "-0.1")],
        "reference.cooldown_frac",
        "got -0.1",
    ),
    (
        SYNTHETIC,
        &[("reference.cooldown_frac", "nan")],
        "reference.cooldown_frac",
        "got NaN",
    ),
    (
        SYNTHETIC,
        &[("reference.beta1", "5")],
        "reference.beta1",
        "must be in [0, 1) (AdamW's moment decay, as an f32), got 5",
    ),
    (
        SYNTHETIC,
        &[("reference.beta1", "-0.1")],
        "reference.beta1",
        "got -0.1",
    ),
    (
        SYNTHETIC,
        &[("reference.beta1", "1.0")],
        "reference.beta1",
        "got 1",
    ),
    (
        SYNTHETIC,
        &[("reference.beta1", "nan")],
        "reference.beta1",
        "got NaN",
    ),
    (
        SYNTHETIC,
        &[("reference.beta2", "-3")],
        "reference.beta2",
        "must be in [0, 1)",
    ),
    (
        SYNTHETIC,
        &[("reference.beta2", "0.99999999")],
        "reference.beta2",
        "as an f32",
    ),
    (
        SYNTHETIC,
        &[("reference.weight_decay", "-100")],
        "reference.weight_decay",
        "must be a finite number >= 0, got -100",
    ),
    (
        SYNTHETIC,
        &[("reference.weight_decay", "nan")],
        "reference.weight_decay",
        "got NaN",
    ),
    (
        SYNTHETIC,
        &[("reference.weight_decay", "inf")],
        "reference.weight_decay",
        "got inf",
    ),
    (
        SYNTHETIC,
        &[("reference.weight_decay", "50")],
        "reference.weight_decay",
        "must be below 1 / learning_rate = 50",
    ),
    // target
    (
        SYNTHETIC,
        &[("target.val_loss", "0")],
        "target.val_loss",
        "must be a finite number > 0, got 0",
    ),
    (
        SYNTHETIC,
        &[("target.val_loss", "nan")],
        "target.val_loss",
        "got NaN",
    ),
    (
        SYNTHETIC,
        &[("target.val_loss", "1.0")],
        "target.val_loss",
        "the loss floor is 1.1727",
    ),
    (
        SYNTHETIC,
        &[("target.val_loss", "4.2")],
        "target.val_loss",
        "must be below ln(model.vocab_size) = 4.1589",
    ),
    (
        SHARDS,
        &[("target.val_loss", "11.0")],
        "target.val_loss",
        "ln(model.vocab_size) = 10.8258",
    ),
    (
        SHARDS,
        &[("target.loss_floor", "nan")],
        "target.loss_floor",
        "must be a finite number >= 0, got NaN",
    ),
    (
        SHARDS,
        &[("target.loss_floor", "-1")],
        "target.loss_floor",
        "got -1",
    ),
    (
        SHARDS,
        &[("target.loss_floor", "3.5")],
        "target.val_loss",
        "the loss floor is 3.5000",
    ),
    (
        SYNTHETIC,
        &[("target.token_budget", "511999")],
        "target.token_budget",
        "= 512000 tokens",
    ),
    // hardware
    (
        SYNTHETIC,
        &[("hardware.gpu_count", "0")],
        "hardware.gpu_count",
        "must be at least 1",
    ),
    // certification
    (
        SYNTHETIC,
        &[("certification.p_threshold", "0")],
        "certification.p_threshold",
        "must be in (0, 0.5), got 0",
    ),
    (
        SYNTHETIC,
        &[("certification.p_threshold", "0.5")],
        "certification.p_threshold",
        "got 0.5",
    ),
    (
        SYNTHETIC,
        &[("certification.p_threshold", "nan")],
        "certification.p_threshold",
        "got NaN",
    ),
    (
        SYNTHETIC,
        &[("certification.runs", "1")],
        "certification.runs",
        "must be in [2, 1000]",
    ),
    (
        SYNTHETIC,
        &[("certification.runs", "1001")],
        "certification.runs",
        "got 1001",
    ),
    (
        SYNTHETIC,
        &[("certification.run_timeout_s", "0")],
        "certification.run_timeout_s",
        "got 0",
    ),
    (
        SYNTHETIC,
        &[("certification.run_timeout_s", "604801")],
        "certification.run_timeout_s",
        "must be in [1, 604800]",
    ),
];

#[test]
fn each_value_that_cannot_train_is_refused_naming_file_and_field() {
    let mut failures = Vec::new();
    for (base, edits, field, words) in REFUSED {
        let text = edited(base, edits);
        let e = match parse(&text) {
            Ok(_) => {
                failures.push(format!("{edits:?}: accepted"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        let wanted = format!("tracks/t.toml: field `{field}` ");
        let named = e
            .lines()
            .any(|l| l.starts_with(&wanted) && l.contains(words));
        if !named {
            failures.push(format!("{edits:?}: wanted {wanted}...{words}..., got\n{e}"));
        }
        assert!(
            e.lines().all(|l| l.starts_with("tracks/t.toml: field `")),
            "every line names the file and a field: {e}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Edge values a run can still train with.
const ACCEPTED: &[(&str, &[(&str, &str)])] = &[
    (SYNTHETIC, &[("reference.micro_batch_size", "8")]),
    (SYNTHETIC, &[("reference.micro_batch_size", "32")]),
    (SYNTHETIC, &[("validation.heldout_tokens", "0")]),
    (
        SYNTHETIC,
        &[
            ("validation.heldout_tokens", "65"),
            ("validation.tokens", "65"),
        ],
    ),
    (SYNTHETIC, &[("validation.tokens", "1073725440")]),
    (SYNTHETIC, &[("validation.batch_size", "262144")]),
    (
        SYNTHETIC,
        &[("reference.beta1", "0"), ("reference.beta2", "0.999")],
    ),
    (SYNTHETIC, &[("reference.weight_decay", "0")]),
    (SYNTHETIC, &[("reference.weight_decay", "49.9")]),
    (SYNTHETIC, &[("model.rope_theta", "1")]),
    (SYNTHETIC, &[("model.rope_theta", "1e6")]),
    (SYNTHETIC, &[("reference.warmup_steps", "150")]),
    (
        SYNTHETIC,
        &[
            ("reference.warmup_steps", "0"),
            ("reference.cooldown_frac", "1.0"),
        ],
    ),
    (SYNTHETIC, &[("reference.cooldown_frac", "0.0")]),
    (SYNTHETIC, &[("reference.steps", "10000000")]),
    (SYNTHETIC, &[("target.token_budget", "512000")]),
    (SYNTHETIC, &[("hardware.gpu_count", "1")]),
    (
        SYNTHETIC,
        &[
            ("certification.runs", "2"),
            ("certification.p_threshold", "0.49"),
        ],
    ),
    (SYNTHETIC, &[("certification.run_timeout_s", "604800")]),
    (SYNTHETIC, &[("name", "\"my_track.v2\"")]),
    // A shard track with data.heldout needs a held-out slice (refused above); without a
    // held-out slice the synthetic track still trains.
    (SYNTHETIC, &[("validation.heldout_tokens", "0")]),
    (SHARDS, &[("validation.heldout_tokens", "1025")]),
    (SHARDS, &[("target.loss_floor", "3.0")]),
];

#[test]
fn edge_values_that_can_train_are_accepted() {
    for (base, edits) in ACCEPTED {
        let text = edited(base, edits);
        if let Err(e) = parse(&text) {
            panic!("{edits:?} refused: {e}");
        }
    }
}

#[test]
fn the_caps_are_what_the_messages_say() {
    assert_eq!(MAX_EVAL_TOKENS, 1_073_741_824);
    assert_eq!(MAX_BATCH_TOKENS, 16_777_216);
    // 262144 x 64 is MAX_BATCH_TOKENS exactly: one more sequence is refused above.
    assert_eq!(262_144 * 64, MAX_BATCH_TOKENS);
}

/// u64::MAX does not fit a TOML value built in memory, so it goes in as text: it is
/// refused with one message, not a panic or an overflow.
#[test]
fn validation_tokens_of_u64_max_are_refused_alone() {
    let text = SYNTHETIC.replacen("\ntokens = 16384\n", "\ntokens = 18446744073709551615\n", 1);
    assert_ne!(text, SYNTHETIC);
    let e = parse(&text).unwrap_err().to_string();
    assert_eq!(
        e,
        "tracks/t.toml: field `validation.tokens` must be in [65, 1073741824] (one sequence of model.seq_len + 1 tokens, up to MAX_EVAL_TOKENS), got 18446744073709551615"
    );
}

#[test]
fn one_problem_is_invalid_and_several_are_listed_one_a_line() {
    let one = parse(&edited(SYNTHETIC, &[("reference.beta1", "5")])).unwrap_err();
    assert!(
        matches!(&one, TrackError::Invalid { field, .. } if field == "reference.beta1"),
        "{one:?}"
    );
    let several = parse(&edited(
        SYNTHETIC,
        &[
            ("reference.beta1", "5"),
            ("reference.beta2", "-3"),
            ("model.rope_theta", "-1"),
            ("reference.weight_decay", "-100"),
        ],
    ))
    .unwrap_err();
    let TrackError::InvalidFields { problems, .. } = &several else {
        panic!("{several:?}");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "model.rope_theta",
            "reference.beta1",
            "reference.beta2",
            "reference.weight_decay"
        ]
    );
    assert_eq!(several.to_string().lines().count(), 4, "{several}");
}

#[test]
fn problems_of_a_valid_track_are_none() {
    let t = parse(SYNTHETIC).unwrap();
    assert!(t.spec.problems().is_empty());
}
