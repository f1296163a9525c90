//! Track validation: every value a track states is checked at load time against the
//! range in which a run can train, so a bad track fails with a message naming its file
//! and field (`reference.beta1`), not minutes later with a NaN loss or a panic.
//!
//! Each rule comes from how the harness consumes the value (evaluator/src/harness.rs,
//! data.rs, model.rs, submission/reference.rs and burn's AdamW); sizes are checked with
//! checked arithmetic against the caps below, which keep every buffer and product the
//! harness computes far inside `usize` and inside the memory of the machines tracks pin.

use crate::{DataSpec, ShardRef, TrackSpec};

/// Most tokens of the validation slices together (`validation.tokens +
/// validation.heldout_tokens`). The harness holds both in memory as u16 and, for shard
/// tracks, reads them into one buffer before splitting it: about 4 bytes a token at peak,
/// so 4 GiB at this cap, 51x the speedrun's 2 x 10,485,760 tokens.
pub const MAX_EVAL_TOKENS: u64 = 1 << 30;

/// Most tokens in one batch of sequences (`batch_size x model.seq_len`, for training and
/// for validation). The harness builds each batch on the host as u16 and i32 buffers
/// (about 14 bytes a token, 224 MiB at this cap), and the logits of a batch are `tokens x
/// model.vocab_size` elements: with the vocabulary at most 2^16, at most 2^40, inside
/// `usize` with room. The cap is 32x the speedrun's 512 x 1024 = 524,288 tokens a step.
pub const MAX_BATCH_TOKENS: u64 = 1 << 24;

/// Most parameters of the reference model. Training holds four f32 numbers per parameter
/// (weight, gradient, AdamW's two moments): 1 TiB at this cap, beyond any machine a track
/// pins, so a track above it is a typo, and every product of the model's sizes the
/// harness computes (parameters, FLOPs per token) stays inside `usize`.
pub const MAX_PARAMS: u64 = 1 << 36;

/// Most optimizer steps of the reference recipe: the harness stops any schedule at this
/// many steps (`speedcert::harness::MAX_STEPS` has the same value).
pub const MAX_STEPS: usize = 10_000_000;

/// Most entries of a synthetic language's successor table (`data.language.vocab_size x
/// data.language.successors`), each a u16 built in memory by every stream: 512 MiB at
/// this cap; the synthetic GPT-2 track uses 50304 x 64 = 3.2 million.
pub const MAX_LANGUAGE_ENTRIES: u64 = 1 << 28;

/// Longest look-back of a synthetic copy span (`data.language.copy_distances`): every
/// stream keeps that many past tokens, and a copy further back than any model's window
/// only adds noise. 32 MiB of u16 history at this cap; the shipped tracks look back at
/// most 192 tokens.
pub const MAX_COPY_DISTANCE: u32 = 1 << 24;

/// Most runs per side of a certification: each is a whole training run of up to
/// `run_timeout_s`, so more is days of machine time, and plan.json lists every slot.
pub const MAX_CERTIFICATION_RUNS: usize = 1000;

/// Longest `certification.run_timeout_s`: a week, longer than any record run; it keeps
/// deadlines (now + timeout) and Slurm's time limit (timeout + margin) far from overflow.
pub const MAX_RUN_TIMEOUT_S: u64 = 7 * 24 * 3600;

/// One value a track states that no run can use: the field's dotted TOML path and what is
/// wrong with it, phrased to follow "field `x`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field `{}` {}", self.field, self.problem)
    }
}

/// Why `d_model` cannot be split into `n_head` heads for this model, if it cannot: the
/// heads must share `d_model` evenly, and rotary encoding pairs a head's dimensions.
/// Track validation, the model and the bench examples' shape flags all ask this.
pub fn head_shape_problem(d_model: usize, n_head: usize) -> Option<String> {
    if n_head == 0 || !d_model.is_multiple_of(n_head) {
        return Some(format!(
            "must be a multiple of model.n_head ({n_head}), got {d_model}"
        ));
    }
    let head = d_model / n_head;
    (!head.is_multiple_of(2))
        .then(|| format!("head size d_model / n_head = {head} must be even for rotary encoding"))
}

/// The reference model's parameter count (as `speedcert::model::GptConfig::num_params`
/// counts it: untied embedding and head, attention and MLP weights), or `None` when it
/// overflows `u64`.
pub fn reference_params(m: &crate::ModelSpec) -> Option<u64> {
    let v = u64::try_from(m.vocab_size).ok()?;
    let d = u64::try_from(m.d_model).ok()?;
    let l = u64::try_from(m.n_layer).ok()?;
    let r = u64::try_from(m.mlp_ratio).ok()?;
    let d2 = d.checked_mul(d)?;
    let per_layer = r.checked_mul(2)?.checked_add(4)?.checked_mul(d2)?;
    2u64.checked_mul(v)?
        .checked_mul(d)?
        .checked_add(l.checked_mul(per_layer)?)
}

/// `a x b` for two sizes, or `None` when it overflows `u64`.
fn product(a: usize, b: usize) -> Option<u64> {
    u64::try_from(a).ok()?.checked_mul(u64::try_from(b).ok()?)
}

/// Collects every problem of one track.
#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldProblem {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// `min <= v <= max`, said as "must be in [min, max]" (or "at least min").
    fn int_range(&mut self, field: &str, v: u64, min: u64, max: Option<u64>, why: &str) {
        let ok = v >= min && max.is_none_or(|m| v <= m);
        if !ok {
            let range = match max {
                Some(m) => format!("must be in [{min}, {m}]"),
                None => format!("must be at least {min}"),
            };
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            };
            self.add(field, format!("{range}{why}, got {v}"));
        }
    }
}

impl TrackSpec {
    /// Every value of this track that no run can train with, each naming its field by
    /// its dotted TOML path; empty when the track is valid. [`crate::Track::parse`] and
    /// so [`crate::Track::load`] refuse a track with any.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut p = Problems::default();
        self.check_name(&mut p);
        self.check_model(&mut p);
        self.check_data(&mut p);
        self.check_validation(&mut p);
        self.check_reference(&mut p);
        self.check_target(&mut p);
        self.check_hardware(&mut p);
        self.check_certification(&mut p);
        p.0
    }

    fn check_name(&self, p: &mut Problems) {
        // The name becomes part of file and folder names (records/bundles/NAME/, shards).
        let n = &self.name;
        let plain = n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if n.is_empty() || !plain || !n.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            p.add(
                "name",
                format!(
                    "must be ASCII letters, digits, `-`, `_` and `.`, starting with a letter or digit (it names files and folders), got {n:?}"
                ),
            );
        }
    }

    fn check_model(&self, p: &mut Problems) {
        let m = &self.model;
        p.int_range(
            "model.vocab_size",
            m.vocab_size as u64,
            2,
            Some(65536),
            "tokens are u16 ids, and one token cannot be predicted",
        );
        for (field, v) in [
            ("model.n_layer", m.n_layer),
            ("model.n_head", m.n_head),
            ("model.d_model", m.d_model),
            ("model.seq_len", m.seq_len),
            ("model.mlp_ratio", m.mlp_ratio),
        ] {
            p.int_range(field, v as u64, 1, None, "");
        }
        if m.d_model > 0
            && m.n_head > 0
            && let Some(problem) = head_shape_problem(m.d_model, m.n_head)
        {
            p.add("model.d_model", problem);
        }
        if !(m.rope_theta.is_finite() && m.rope_theta >= 1.0) {
            p.add(
                "model.rope_theta",
                format!(
                    "must be a finite number of at least 1 (the rotary base; below 1 the frequencies exceed one radian a token, and near 0 they overflow to infinity), got {}",
                    m.rope_theta
                ),
            );
        }
        match reference_params(m) {
            Some(n) if n <= MAX_PARAMS => {}
            n => p.add(
                "model",
                format!(
                    "has {} parameters (2 x vocab_size x d_model + n_layer x (4 + 2 x mlp_ratio) x d_model^2), more than MAX_PARAMS = {MAX_PARAMS} (16 bytes each to train)",
                    n.map_or("more than 2^64".to_owned(), |n| n.to_string())
                ),
            ),
        }
    }

    fn check_data(&self, p: &mut Problems) {
        match &self.data {
            DataSpec::Synthetic(s) => {
                let lang = &s.language;
                if let Err(speedcert_data::synthetic::SyntheticError::Invalid { field, problem }) =
                    lang.validate()
                {
                    p.add(format!("data.language.{field}"), problem);
                }
                let entries = u64::from(lang.vocab_size) * u64::from(lang.successors);
                if entries > MAX_LANGUAGE_ENTRIES {
                    p.add(
                        "data.language.successors",
                        format!(
                            "is {}: vocab_size x successors = {entries} table entries, more than MAX_LANGUAGE_ENTRIES = {MAX_LANGUAGE_ENTRIES}",
                            lang.successors
                        ),
                    );
                }
                if let Some(d) = lang.copy_distances.iter().find(|&&d| d > MAX_COPY_DISTANCE) {
                    p.add(
                        "data.language.copy_distances",
                        format!(
                            "contains {d}; distances must be at most MAX_COPY_DISTANCE = {MAX_COPY_DISTANCE} tokens (each stream keeps that much history)"
                        ),
                    );
                }
                if lang.vocab_size as usize != self.model.vocab_size {
                    p.add(
                        "model.vocab_size",
                        format!(
                            "is {} but data.language.vocab_size is {}",
                            self.model.vocab_size, lang.vocab_size
                        ),
                    );
                }
                if s.train_seed == s.val_seed {
                    p.add(
                        "data.val_seed",
                        "must differ from data.train_seed (validation must not repeat training data)",
                    );
                }
            }
            DataSpec::Shards(d) => {
                if d.dir.as_os_str().is_empty() {
                    p.add(
                        "data.dir",
                        "must name the folder holding the shards, got \"\"",
                    );
                }
                for (key, list) in [("data.val", &d.val), ("data.train", &d.train)] {
                    if list.is_empty() {
                        p.add(key, "must list at least one shard, got []");
                    }
                    for (i, s) in list.iter().enumerate() {
                        check_shard_ref(p, &format!("{key}[{i}]"), s);
                    }
                }
                if let Some(h) = &d.heldout {
                    check_shard_ref(p, "data.heldout", h);
                    if d.val.iter().chain(&d.train).any(|s| s.name == h.name) {
                        p.add(
                            "data.heldout.name",
                            format!(
                                "is {:?}, also a training or validation shard: the held-out slice must be tokens the run never sees",
                                h.name
                            ),
                        );
                    }
                    if self.validation.heldout_tokens == 0 {
                        p.add(
                            "data.heldout",
                            "names a held-out shard, but validation.heldout_tokens is 0: set how many tokens the held-out slice takes from it",
                        );
                    }
                }
                for (i, s) in d.train.iter().enumerate() {
                    if d.val.iter().any(|v| v.name == s.name) {
                        p.add(
                            format!("data.train[{i}].name"),
                            format!(
                                "is {:?}, also a validation shard: validation must not repeat training data",
                                s.name
                            ),
                        );
                    }
                }
            }
        }
    }

    fn check_validation(&self, p: &mut Problems) {
        let v = &self.validation;
        // One window of seq_len inputs and its shifted targets: seq_len + 1 tokens. The
        // harness evaluates whole windows only, so a smaller slice evaluates nothing.
        let window = self.model.seq_len as u64 + 1;
        p.int_range(
            "validation.tokens",
            v.tokens,
            window,
            Some(MAX_EVAL_TOKENS),
            "one sequence of model.seq_len + 1 tokens, up to MAX_EVAL_TOKENS",
        );
        if v.heldout_tokens != 0 && !(window..=MAX_EVAL_TOKENS).contains(&v.heldout_tokens) {
            p.add(
                "validation.heldout_tokens",
                format!(
                    "must be 0 (no held-out slice) or in [{window}, {MAX_EVAL_TOKENS}] (one sequence of model.seq_len + 1 tokens, up to MAX_EVAL_TOKENS), got {}",
                    v.heldout_tokens
                ),
            );
        } else if v.tokens <= MAX_EVAL_TOKENS
            && v.tokens.saturating_add(v.heldout_tokens) > MAX_EVAL_TOKENS
        {
            p.add(
                "validation.heldout_tokens",
                format!(
                    "is {}: with validation.tokens ({}) the slices hold more than MAX_EVAL_TOKENS = {MAX_EVAL_TOKENS} tokens",
                    v.heldout_tokens, v.tokens
                ),
            );
        }
        check_batch(p, "validation.batch_size", v.batch_size, self.model.seq_len);
        p.int_range("validation.every_steps", v.every_steps as u64, 1, None, "");
    }

    fn check_reference(&self, p: &mut Problems) {
        let r = &self.reference;
        check_batch(p, "reference.batch_size", r.batch_size, self.model.seq_len);
        if let Some(micro) = r.micro_batch_size
            && (micro == 0 || !r.batch_size.is_multiple_of(micro))
        {
            p.add(
                "reference.micro_batch_size",
                format!(
                    "is {micro}: it must divide reference.batch_size ({}) into equal passes",
                    r.batch_size
                ),
            );
        }
        p.int_range(
            "reference.steps",
            r.steps as u64,
            1,
            Some(MAX_STEPS as u64),
            "MAX_STEPS: the harness stops any schedule there",
        );
        if !(r.learning_rate.is_finite() && r.learning_rate > 0.0) {
            p.add(
                "reference.learning_rate",
                format!("must be a finite number > 0, got {}", r.learning_rate),
            );
        }
        if !(0.0..=1.0).contains(&r.cooldown_frac) {
            p.add(
                "reference.cooldown_frac",
                format!("must be in [0, 1], got {}", r.cooldown_frac),
            );
        } else {
            // The trapezoid: warmup, flat, then cooldown from steps x (1 - cooldown_frac).
            let cooldown_start = r.steps as f64 * (1.0 - r.cooldown_frac);
            if r.warmup_steps as f64 > cooldown_start {
                p.add(
                    "reference.warmup_steps",
                    format!(
                        "must end before the cooldown starts: at most steps x (1 - cooldown_frac) = {}, got {}",
                        cooldown_start.floor(),
                        r.warmup_steps
                    ),
                );
            }
        }
        for (field, beta) in [("reference.beta1", r.beta1), ("reference.beta2", r.beta2)] {
            // AdamW runs in f32 and divides by 1 - beta^t: a beta that rounds to 1 in f32
            // divides by zero.
            if !(beta >= 0.0 && (beta as f32) < 1.0) {
                p.add(
                    field,
                    format!("must be in [0, 1) (AdamW's moment decay, as an f32), got {beta}"),
                );
            }
        }
        if !(r.weight_decay.is_finite() && r.weight_decay >= 0.0) {
            p.add(
                "reference.weight_decay",
                format!("must be a finite number >= 0, got {}", r.weight_decay),
            );
        } else if r.learning_rate.is_finite() && r.learning_rate * r.weight_decay >= 1.0 {
            // Decoupled decay multiplies every weight by 1 - lr x weight_decay each step.
            p.add(
                "reference.weight_decay",
                format!(
                    "must be below 1 / learning_rate = {} (each step scales the weights by 1 - learning_rate x weight_decay), got {}",
                    1.0 / r.learning_rate,
                    r.weight_decay
                ),
            );
        }
    }

    fn check_target(&self, p: &mut Problems) {
        let t = &self.target;
        // A synthetic floor is computed from the language, which must be valid first
        // (an unchecked `successors` could ask for billions of row probabilities).
        let floor = match &self.data {
            DataSpec::Synthetic(s) if s.language.validate().is_err() => None,
            _ => self.loss_floor(),
        };
        if !(t.val_loss.is_finite() && t.val_loss > 0.0) {
            p.add(
                "target.val_loss",
                format!("must be a finite number > 0, got {}", t.val_loss),
            );
        } else {
            if let Some(floor) = floor
                && t.val_loss <= floor
            {
                p.add(
                    "target.val_loss",
                    format!(
                        "is {} but the loss floor is {floor:.4}: no model can reach it",
                        t.val_loss
                    ),
                );
            }
            // The reference head starts at zero: uniform logits score ln(vocab) before any
            // training, so a target at or above it is reached at step 0.
            let uniform = (self.model.vocab_size.max(1) as f64).ln();
            if t.val_loss >= uniform {
                p.add(
                    "target.val_loss",
                    format!(
                        "must be below ln(model.vocab_size) = {uniform:.4}, the loss of a uniform guess (reached before training), got {}",
                        t.val_loss
                    ),
                );
            }
        }
        if let Some(floor) = t.loss_floor
            && !(floor.is_finite() && floor >= 0.0)
        {
            p.add(
                "target.loss_floor",
                format!("must be a finite number >= 0, got {floor}"),
            );
        }
        if let Some(budget) = t.token_budget {
            let r = &self.reference;
            let need = product(r.batch_size, self.model.seq_len)
                .and_then(|b| b.checked_mul(r.steps as u64));
            if need.is_none_or(|n| budget < n) {
                p.add(
                    "target.token_budget",
                    format!(
                        "is {budget} but the reference recipe trains on reference.steps x reference.batch_size x model.seq_len = {} tokens",
                        need.map_or("more than 2^64".to_owned(), |n| n.to_string())
                    ),
                );
            }
        }
    }

    fn check_hardware(&self, p: &mut Problems) {
        if let Some(n) = self.hardware.gpu_count {
            p.int_range(
                "hardware.gpu_count",
                n.into(),
                1,
                None,
                "absent: not pinned",
            );
        }
    }

    fn check_certification(&self, p: &mut Problems) {
        let c = &self.certification;
        if !(c.p_threshold > 0.0 && c.p_threshold < 0.5) {
            p.add(
                "certification.p_threshold",
                format!("must be in (0, 0.5), got {}", c.p_threshold),
            );
        }
        p.int_range(
            "certification.runs",
            c.runs as u64,
            2,
            Some(MAX_CERTIFICATION_RUNS as u64),
            "two for a t-test, up to MAX_CERTIFICATION_RUNS",
        );
        p.int_range(
            "certification.run_timeout_s",
            c.run_timeout_s,
            1,
            Some(MAX_RUN_TIMEOUT_S),
            "up to MAX_RUN_TIMEOUT_S, a week",
        );
    }
}

/// A batch of `batch_size` sequences of `seq_len`: at least one, at most
/// [`MAX_BATCH_TOKENS`] tokens.
fn check_batch(p: &mut Problems, field: &str, batch_size: usize, seq_len: usize) {
    if batch_size == 0 {
        p.add(field, "must be at least 1, got 0");
        return;
    }
    let tokens = product(batch_size, seq_len);
    if tokens.is_none_or(|t| t > MAX_BATCH_TOKENS) {
        p.add(
            field,
            format!(
                "is {batch_size}: {batch_size} x model.seq_len ({seq_len}) = {} tokens a batch, more than MAX_BATCH_TOKENS = {MAX_BATCH_TOKENS}",
                tokens.map_or("more than 2^64".to_owned(), |t| t.to_string())
            ),
        );
    }
}

/// A shard is a file directly in `data.dir`, pinned by a lowercase sha256 if at all.
fn check_shard_ref(p: &mut Problems, at: &str, s: &ShardRef) {
    let n = &s.name;
    if n.is_empty() || n == "." || n == ".." || n.contains(['/', '\\']) {
        p.add(
            format!("{at}.name"),
            format!("must be a file name inside data.dir (no `/`, `\\`, `.` or `..`), got {n:?}"),
        );
    }
    if let Some(h) = &s.sha256
        && !(h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        p.add(
            format!("{at}.sha256"),
            format!("must be 64 lowercase hex digits, got {h:?}"),
        );
    }
}
