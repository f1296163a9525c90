//! GPT-2 BPE (`r50k_base`), fast: tiktoken's ranks with a lookahead-free pre-tokenizer.
//!
//! tiktoken-rs is the reference: its ranks (embedded in the crate, so this works
//! offline) are the vocabulary here, and [`encode_reference`] is its `encode_ordinary`.
//! But it splits text with `fancy_regex` on the pattern
//!
//! ```text
//! '(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s
//! ```
//!
//! and that backtracking engine takes about 90% of its time. The lookahead's only
//! effect is on whitespace: a run of `k >= 2` whitespace characters followed by a
//! non-space yields `k - 1` characters (the last one starts the next piece, as in
//! `" word"`), at the end of the text the whole run, and a single one itself. So we
//! match `'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+` with the
//! `regex` crate (a DFA, leftmost-first like the backtracker) and shorten such runs
//! by one character. Pieces are then merged by rank exactly as tiktoken does
//! (lowest-ranked adjacent pair first, leftmost on ties). Tests hold the two to equal
//! ids on fixtures from independent implementations and on arbitrary Unicode text.

use std::sync::LazyLock;

use regex::Regex;
use rustc_hash::FxHashMap;

/// GPT-2's `<|endoftext|>`, the last id.
pub const EOT: u16 = 50256;
/// Tokens in GPT-2's vocabulary, end-of-text included.
pub const VOCAB: u32 = 50257;

/// Pieces this long or longer go to tiktoken-rs's heap-based merge (quadratic otherwise).
const LONG_PIECE: usize = 128;

/// The GPT-2 tokenizer: ranks and the pre-tokenizer.
pub struct Gpt2 {
    ranks: FxHashMap<Vec<u8>, u16>,
    pieces: Regex,
}

static GPT2: LazyLock<Gpt2> = LazyLock::new(Gpt2::new);

/// The process-wide tokenizer (built once, about 50 ms).
pub fn gpt2() -> &'static Gpt2 {
    &GPT2
}

/// tiktoken-rs's own `encode_ordinary`: the reference the fast path must equal.
pub fn encode_reference(text: &str) -> Vec<u16> {
    tiktoken_rs::r50k_base_singleton()
        .encode_ordinary(text)
        .into_iter()
        .map(|t| u16::try_from(t).expect("GPT-2 ids fit u16"))
        .collect()
}

impl Gpt2 {
    fn new() -> Self {
        let bpe = tiktoken_rs::r50k_base_singleton();
        let mut ranks = FxHashMap::default();
        ranks.reserve(VOCAB as usize);
        for id in 0..u32::from(EOT) {
            let bytes = bpe
                .decode_bytes(&[id])
                .expect("every r50k_base id below 50256 has bytes");
            ranks.insert(bytes, id as u16);
        }
        let pieces = Regex::new(r"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+")
            .expect("pattern compiles");
        Self { ranks, pieces }
    }

    /// GPT-2 ids of `text` as ordinary text (a literal `<|endoftext|>` is not special).
    pub fn encode(&self, text: &str) -> Vec<u16> {
        let mut out = Vec::with_capacity(text.len() / 3);
        self.encode_into(text, &mut out);
        out
    }

    /// Appends the ids of `text` to `out`.
    pub fn encode_into(&self, text: &str, out: &mut Vec<u16>) {
        // A Regex shared by threads hands its scratch space around through a locked
        // pool; each thread's own clone has its own, uncontended.
        thread_local! {
            static PIECES: std::cell::OnceCell<Regex> = const { std::cell::OnceCell::new() };
        }
        PIECES.with(|cell| {
            let pieces = cell.get_or_init(|| self.pieces.clone());
            self.encode_with(pieces, text, out);
        });
    }

    fn encode_with(&self, pieces: &Regex, text: &str, out: &mut Vec<u16>) {
        let mut parts = Vec::new();
        let mut pos = 0;
        while pos < text.len() {
            let m = pieces
                .find_at(text, pos)
                .expect("every character matches some alternative");
            debug_assert_eq!(m.start(), pos);
            let mut end = m.end();
            let piece = m.as_str();
            // `\s+(?!\S)`: a whitespace run before a non-space gives up its last char.
            if end < text.len()
                && piece.chars().next().is_some_and(char::is_whitespace)
                && let Some((last, _)) = piece.char_indices().next_back()
                && last > 0
                && piece.chars().all(char::is_whitespace)
            {
                end = pos + last;
            }
            self.merge(&text.as_bytes()[pos..end], &mut parts, out);
            pos = end;
        }
    }

    /// Byte-pair merges of one piece, as tiktoken's `byte_pair_encode`.
    /// `parts` is scratch space, reused across pieces.
    fn merge(&self, piece: &[u8], parts: &mut Vec<(usize, u32)>, out: &mut Vec<u16>) {
        if let Some(&id) = self.ranks.get(piece) {
            out.push(id);
            return;
        }
        if piece.len() >= LONG_PIECE {
            let s = std::str::from_utf8(piece).expect("pieces are whole characters");
            out.extend(encode_reference(s));
            return;
        }
        let rank = |b: &[u8]| self.ranks.get(b).copied().map_or(u32::MAX, u32::from);
        // (start of part, rank of merging it with the next part)
        parts.clear();
        parts.extend((0..piece.len() - 1).map(|i| (i, rank(&piece[i..i + 2]))));
        parts.push((piece.len() - 1, u32::MAX));
        parts.push((piece.len(), u32::MAX));
        let pair_rank = |parts: &[(usize, u32)], i: usize| {
            if i + 3 < parts.len() {
                rank(&piece[parts[i].0..parts[i + 3].0])
            } else {
                u32::MAX
            }
        };
        loop {
            let (mut best, mut at) = (u32::MAX, usize::MAX);
            for (i, &(_, r)) in parts[..parts.len() - 1].iter().enumerate() {
                if r < best {
                    (best, at) = (r, i);
                }
            }
            if best == u32::MAX {
                break;
            }
            if at > 0 {
                parts[at - 1].1 = pair_rank(parts, at - 1);
            }
            parts[at].1 = pair_rank(parts, at);
            parts.remove(at + 1);
        }
        for w in parts.windows(2) {
            out.push(self.ranks[&piece[w[0].0..w[1].0]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_cases_equal_the_reference() {
        for text in [
            "",
            " ",
            "hello world",
            "  two spaces before",
            "trailing   ",
            "a\n\n\nb",
            "x \u{a0}\u{3000} y",
            "it's they'll I'M",
            "      indented code\n\tfn x() {}",
            &" ".repeat(500),
            &"ab".repeat(400),
            "🙂🙃 東京 ok",
        ] {
            assert_eq!(gpt2().encode(text), encode_reference(text), "{text:?}");
        }
    }
}
