//! The synthetic corpus: a deterministic token stream with an exactly known entropy
//! rate, so a CPU-sized track exists with no download and its loss floor is a number,
//! not a guess.
//!
//! # The process
//!
//! Token ids `0..markers.len()` are *copy markers*; the rest are *word* tokens. The
//! stream is generated left to right by a two-mode machine:
//!
//! * **free mode**: with probability `copy_prob` emit a marker chosen uniformly among
//!   the `K` markers; otherwise emit a word drawn from the Markov row of the previous
//!   token. Every row puts the same Zipf-shaped distribution `p` over its own
//!   `successors` word tokens (a per-row random choice and order fixed by the
//!   language seed), so every row has the same entropy `H(p)`.
//! * **copy mode**: marker `k` is followed by `copy_len` tokens that repeat the stream
//!   `distance[k]` positions back: `x[t+i] = x[t+i-distance[k]]` for `i = 1..=copy_len`.
//!   These tokens are fully determined by the past, but only a model that looks back
//!   (attention at a fixed relative offset, keyed by the marker) can predict them; a
//!   bigram model cannot.
//!
//! # The floor
//!
//! Each free-mode decision costs `H_free = h(q) + q ln K + (1-q) H(p)` nats, where `h`
//! is the binary entropy and `q = copy_prob`, and yields `1 + q L` tokens on average
//! (`L = copy_len`); copy tokens cost nothing. The entropy rate of the stream, the
//! expected loss per token of the best possible predictor given the whole past, is
//!
//! ```text
//! floor = (h(q) + q ln K + (1-q) H(p)) / (1 + q L)      [nats per token]
//! ```
//!
//! No model can beat it in expectation; a model with a finite context does slightly
//! worse at the start of each window. Markers are only emitted once the stream is
//! longer than the largest distance, so copies always have a source; that start-up
//! transient does not change the rate.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Parameters of the synthetic language, as written in a track's `[data.synthetic]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    /// Total vocabulary, markers included.
    pub vocab_size: u32,
    /// Seed of the language itself (the Markov rows); shared by every stream of a track.
    pub language_seed: u64,
    /// Number of word tokens each row can emit.
    pub successors: u32,
    /// Exponent `s` of the row distribution `p_j ∝ (j + 1)^-s`.
    pub zipf_exponent: f64,
    /// Probability that a free-mode position emits a copy marker.
    pub copy_prob: f64,
    /// Tokens copied after each marker.
    pub copy_len: u32,
    /// Look-back distance of each marker; their count is the number of markers `K`.
    pub copy_distances: Vec<u32>,
}

#[derive(Debug, Error, PartialEq)]
pub enum SyntheticError {
    #[error("synthetic spec: {field} {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

impl SyntheticSpec {
    /// Rejects specs whose floor formula would not hold (or whose ids do not fit u16).
    pub fn validate(&self) -> Result<(), SyntheticError> {
        let bad = |field, problem: String| Err(SyntheticError::Invalid { field, problem });
        let k = self.copy_distances.len() as u32;
        if self.vocab_size > 65536 {
            return bad(
                "vocab_size",
                format!(
                    "is {}, shards hold u16 ids (at most 65536)",
                    self.vocab_size
                ),
            );
        }
        if self.vocab_size < k + 2 {
            return bad(
                "vocab_size",
                format!(
                    "is {}, needs at least markers + 2 = {}",
                    self.vocab_size,
                    k + 2
                ),
            );
        }
        let words = self.vocab_size - k;
        if self.successors == 0 || self.successors > words {
            return bad(
                "successors",
                format!(
                    "is {}, must be in 1..={words} (the word tokens)",
                    self.successors
                ),
            );
        }
        if !(self.zipf_exponent.is_finite() && self.zipf_exponent >= 0.0) {
            return bad(
                "zipf_exponent",
                format!("is {}, must be finite and >= 0", self.zipf_exponent),
            );
        }
        if !(0.0..1.0).contains(&self.copy_prob) {
            return bad(
                "copy_prob",
                format!("is {}, must be in [0, 1)", self.copy_prob),
            );
        }
        if self.copy_prob > 0.0 && (k == 0 || self.copy_len == 0) {
            return bad(
                "copy_distances",
                "must be non-empty, with copy_len > 0, when copy_prob > 0".into(),
            );
        }
        if let Some(d) = self.copy_distances.iter().find(|&&d| d == 0) {
            return bad(
                "copy_distances",
                format!("contains {d}; distances must be >= 1"),
            );
        }
        Ok(())
    }

    /// Number of copy markers `K` (ids `0..K`).
    pub fn markers(&self) -> u32 {
        self.copy_distances.len() as u32
    }

    /// The row distribution `p`, highest probability first.
    pub fn row_probs(&self) -> Vec<f64> {
        let w: Vec<f64> = (0..self.successors)
            .map(|j| ((j + 1) as f64).powf(-self.zipf_exponent))
            .collect();
        let z: f64 = w.iter().sum();
        w.into_iter().map(|x| x / z).collect()
    }

    /// `H(p)` in nats: the entropy of every Markov row.
    pub fn row_entropy(&self) -> f64 {
        entropy(&self.row_probs())
    }

    /// The entropy rate of the stream in nats per token (see the module docs).
    pub fn entropy_floor(&self) -> f64 {
        let q = self.copy_prob;
        let k = self.markers() as f64;
        let h_q = if q > 0.0 { entropy(&[q, 1.0 - q]) } else { 0.0 };
        let marker_choice = if q > 0.0 { q * k.ln() } else { 0.0 };
        let h_free = h_q + marker_choice + (1.0 - q) * self.row_entropy();
        h_free / (1.0 + q * self.copy_len as f64)
    }

    fn max_distance(&self) -> usize {
        self.copy_distances.iter().copied().max().unwrap_or(0) as usize
    }
}

fn entropy(p: &[f64]) -> f64 {
    p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.ln()).sum()
}

/// The fixed part of the language: one row of successors per token id.
#[derive(Debug, Clone)]
struct Language {
    markers: u32,
    successors: Vec<Vec<u16>>,
    cumulative: Vec<f64>,
    ln_probs: Vec<f64>,
}

impl Language {
    fn new(spec: &SyntheticSpec) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.language_seed);
        let k = spec.markers();
        let words: Vec<u16> = (k..spec.vocab_size).map(|t| t as u16).collect();
        let successors = (0..spec.vocab_size)
            .map(|_| {
                // A partial Fisher–Yates shuffle picks `successors` distinct words in random order.
                let mut pool = words.clone();
                let n = spec.successors as usize;
                for i in 0..n {
                    let j = rng.random_range(i..pool.len());
                    pool.swap(i, j);
                }
                pool.truncate(n);
                pool
            })
            .collect();
        let probs = spec.row_probs();
        let mut acc = 0.0;
        let cumulative = probs
            .iter()
            .map(|p| {
                acc += p;
                acc
            })
            .collect();
        Self {
            markers: k,
            successors,
            cumulative,
            ln_probs: probs.iter().map(|p| p.ln()).collect(),
        }
    }

    fn sample_row(&self, prev: u16, u: f64) -> (u16, usize) {
        let j = self
            .cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len() - 1);
        (self.successors[prev as usize][j], j)
    }
}

/// A resumable generator of one stream of the synthetic language. Train, validation
/// and held-out streams share the language and differ by `stream_seed`.
#[derive(Debug, Clone)]
pub struct SyntheticStream {
    spec: SyntheticSpec,
    language: Language,
    rng: ChaCha8Rng,
    /// Every token so far is not needed: only the last `max_distance` are.
    history: std::collections::VecDeque<u16>,
    max_distance: usize,
    /// `(distance, remaining)` while copying.
    copying: Option<(usize, u32)>,
    position: u64,
}

impl SyntheticStream {
    pub fn new(spec: &SyntheticSpec, stream_seed: u64) -> Result<Self, SyntheticError> {
        spec.validate()?;
        let max_distance = spec.max_distance();
        Ok(Self {
            spec: spec.clone(),
            language: Language::new(spec),
            // Mix the stream seed with the language seed so that two tracks with the same
            // stream seeds but different languages do not share random draws.
            rng: ChaCha8Rng::seed_from_u64(
                stream_seed ^ spec.language_seed.rotate_left(32) ^ 0x5eed_c0de_0000_0001,
            ),
            history: std::collections::VecDeque::with_capacity(max_distance.max(1) + 1),
            max_distance,
            copying: None,
            position: 0,
        })
    }

    /// Tokens generated so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next token and its log-probability under the process given the whole past.
    pub fn next_scored(&mut self) -> (u16, f64) {
        let (token, ln_p) = self.step();
        if self.history.len() == self.history_len() {
            self.history.pop_front();
        }
        self.history.push_back(token);
        self.position += 1;
        (token, ln_p)
    }

    fn step(&mut self) -> (u16, f64) {
        if let Some((distance, remaining)) = self.copying {
            let token = self.history[self.history.len() - distance];
            self.copying = (remaining > 1).then_some((distance, remaining - 1));
            return (token, 0.0);
        }
        match self.history.back() {
            Some(&prev) => self.free_step(prev),
            None => {
                // The first token is uniform over words.
                let words = (self.spec.vocab_size - self.language.markers) as f64;
                let t = self
                    .rng
                    .random_range(self.language.markers..self.spec.vocab_size);
                (t as u16, -words.ln())
            }
        }
    }

    /// Copies need `max_distance` tokens of history; the Markov rows need one.
    fn history_len(&self) -> usize {
        self.max_distance.max(1)
    }

    fn free_step(&mut self, prev: u16) -> (u16, f64) {
        let q = self.spec.copy_prob;
        let markers_allowed = q > 0.0 && self.position as usize >= self.max_distance;
        let u: f64 = self.rng.random();
        if markers_allowed && u < q {
            let k = self.rng.random_range(0..self.language.markers);
            let distance = self.spec.copy_distances[k as usize] as usize;
            self.copying = Some((distance, self.spec.copy_len));
            let ln_p = (q / self.language.markers as f64).ln();
            return (k as u16, ln_p);
        }
        // Rescale u into [0, 1) of the word branch so one draw decides both.
        let (word_u, ln_branch) = if markers_allowed {
            ((u - q) / (1.0 - q), (1.0 - q).ln())
        } else {
            (u, 0.0)
        };
        let (token, j) = self.language.sample_row(prev, word_u);
        (token, ln_branch + self.language.ln_probs[j])
    }

    /// Fills `out` with the next tokens.
    pub fn fill(&mut self, out: &mut [u16]) {
        for slot in out.iter_mut() {
            *slot = self.next_scored().0;
        }
    }

    /// The next `n` tokens.
    pub fn take_tokens(&mut self, n: usize) -> Vec<u16> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> SyntheticSpec {
        SyntheticSpec {
            vocab_size: 64,
            language_seed: 7,
            successors: 8,
            zipf_exponent: 1.0,
            copy_prob: 0.05,
            copy_len: 8,
            copy_distances: vec![12, 20],
        }
    }

    #[test]
    fn deterministic_per_seed_and_distinct_across_seeds() {
        let spec = tiny();
        let a = SyntheticStream::new(&spec, 1).unwrap().take_tokens(5000);
        let b = SyntheticStream::new(&spec, 1).unwrap().take_tokens(5000);
        let c = SyntheticStream::new(&spec, 2).unwrap().take_tokens(5000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&t| (t as u32) < spec.vocab_size));
    }

    #[test]
    fn copies_repeat_the_stream_at_the_marker_distance() {
        let spec = tiny();
        let toks = SyntheticStream::new(&spec, 3).unwrap().take_tokens(20_000);
        let mut copies = 0;
        let mut t = 0;
        while t < toks.len() {
            let tok = toks[t] as usize;
            if tok < spec.copy_distances.len() {
                let d = spec.copy_distances[tok] as usize;
                for i in 1..=spec.copy_len as usize {
                    if t + i < toks.len() {
                        assert_eq!(toks[t + i], toks[t + i - d], "copy at {t}+{i}");
                    }
                }
                copies += 1;
                t += spec.copy_len as usize + 1;
            } else {
                t += 1;
            }
        }
        assert!(copies > 100, "only {copies} copies");
    }

    #[test]
    fn floor_formula_on_a_pure_markov_chain() {
        let mut spec = tiny();
        spec.copy_prob = 0.0;
        assert!((spec.entropy_floor() - spec.row_entropy()).abs() < 1e-12);
        spec.zipf_exponent = 0.0;
        assert!((spec.row_entropy() - (spec.successors as f64).ln()).abs() < 1e-12);
    }

    #[test]
    fn invalid_specs_name_the_field() {
        let mut spec = tiny();
        spec.successors = 1000;
        let e = spec.validate().unwrap_err().to_string();
        assert!(e.contains("successors"), "{e}");
        let mut spec = tiny();
        spec.copy_prob = 1.5;
        assert!(
            spec.validate()
                .unwrap_err()
                .to_string()
                .contains("copy_prob")
        );
    }

    /// The floor is a formula of the language's shape, not of its seed, and each seed's
    /// language meets it: so a certification can draw a secret language seed (a
    /// submission cannot have learned that language before the clock starts) and keep the
    /// track's target and floor.
    #[test]
    fn empirical_loss_under_own_probabilities_matches_the_floor_for_any_language_seed() {
        for language_seed in [tiny().language_seed, 0x5eed_cafe] {
            let mut spec = tiny();
            spec.language_seed = language_seed;
            assert_eq!(spec.entropy_floor(), tiny().entropy_floor());
            empirical_loss_matches_the_floor(&spec);
        }
    }

    fn empirical_loss_matches_the_floor(spec: &SyntheticSpec) {
        // Batch means give an honest standard error despite the copies' correlation.
        let spec = spec.clone();
        let mut stream = SyntheticStream::new(&spec, 11).unwrap();
        let (blocks, block) = (200, 10_000);
        let means: Vec<f64> = (0..blocks)
            .map(|_| (0..block).map(|_| -stream.next_scored().1).sum::<f64>() / block as f64)
            .collect();
        let mean = means.iter().sum::<f64>() / blocks as f64;
        let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (blocks - 1) as f64;
        let se = (var / blocks as f64).sqrt();
        let floor = spec.entropy_floor();
        assert!(
            (mean - floor).abs() < 4.0 * se + 1e-4,
            "empirical {mean:.5} vs floor {floor:.5} (se {se:.5})"
        );
        assert!(se < 0.01, "se {se}");
    }
}
