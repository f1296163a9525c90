//! Local text to GPT-2 token shards, as the speedrun prepares FineWeb.
//!
//! Like modded-nanogpt's `data/fineweb.py`: GPT-2 BPE (tiktoken's `r50k_base`, whose
//! ranks tiktoken-rs embeds, so this works offline; see [`crate::gpt2`]), each document encoded with
//! `encode_ordinary` (a literal `<|endoftext|>` in the text is plain text, never the
//! special token) and prefixed with the end-of-text token 50256; documents are
//! concatenated and cut into shards regardless of document boundaries; validation
//! comes first. Unlike it, the validation shard holds exactly the validation tokens
//! (public, then held-out) rather than a whole first shard.
//!
//! A document is one input file. We do not split files on blank lines: web documents
//! are whole pages, and splitting prose into paragraphs would drop the newlines
//! between them and add an end-of-text token per paragraph, changing what the model
//! learns. Empty files are skipped. Inputs are read in the order given, folders walked
//! in file-name order (dot-files and dot-folders skipped), so output is deterministic.
//!
//! Tokenization is parallel (rayon) over files and, inside large files, over pieces
//! cut where BPE cannot join across the cut (see [`split_for_parallel`]), so one huge
//! file tokenizes as fast as many small ones and to exactly the same ids.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::shard::{ShardError, ShardInfo, write_shard};

pub use crate::gpt2::{EOT, VOCAB as GPT2_VOCAB};
/// Tokens per training shard by default, as the speedrun's shards.
pub const DEFAULT_SHARD_TOKENS: u64 = 100_000_000;
/// The speedrun's validation tokens (10 x 2^20).
pub const SPEEDRUN_VAL_TOKENS: u64 = 10_485_760;
/// File name of the track written next to the shards.
pub const TRACK_FILE: &str = "track.toml";

/// Pieces of about this many bytes are tokenized in parallel.
const PIECE_BYTES: usize = 256 << 10;
/// Text read per batch before its tokens are written (bounds memory).
const BATCH_BYTES: u64 = 64 << 20;

#[derive(Debug, Error)]
pub enum PrepareError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not UTF-8 text: invalid byte at offset {offset}", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{}: no such file or folder", path.display())]
    MissingInput { path: PathBuf },
    #[error("no text files found in the inputs")]
    NoInput,
    #[error(
        "{}: already holds {} from an earlier prepare; remove it or choose another --out",
        dir.display(), existing.display()
    )]
    OutputExists { dir: PathBuf, existing: PathBuf },
    #[error(
        "the corpus has {tokens} tokens, fewer than the {needed} needed for {val} validation tokens and at least one training token; nothing was kept"
    )]
    TooSmall { tokens: u64, val: u64, needed: u64 },
    #[error("{field} must be at least 1")]
    Zero { field: &'static str },
    #[error(transparent)]
    Shard(#[from] ShardError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PrepareError + '_ {
    move |source| PrepareError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What to prepare.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// Text files, or folders of them.
    pub inputs: Vec<PathBuf>,
    /// Output folder (created if missing).
    pub out: PathBuf,
    /// Shard file prefix and track name: `NAME_val_000000.bin`, `NAME_train_000001.bin`.
    pub name: String,
    /// Public validation tokens (the first tokens of the corpus; the validation shards hold
    /// one more for the last target, see [`crate::shard::validation_tokens_needed`]).
    pub val_tokens: u64,
    /// Held-out validation tokens right after them (0 for none; also one more).
    pub heldout_tokens: u64,
    /// Tokens per shard (the last training shard may hold fewer).
    pub shard_tokens: u64,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

impl PrepareOptions {
    pub fn new(inputs: Vec<PathBuf>, out: PathBuf) -> Self {
        Self {
            inputs,
            out,
            name: "corpus".into(),
            val_tokens: SPEEDRUN_VAL_TOKENS,
            heldout_tokens: 0,
            shard_tokens: DEFAULT_SHARD_TOKENS,
            progress: true,
        }
    }
}

/// What `prepare` wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareReport {
    pub files: usize,
    pub skipped_empty: usize,
    pub text_bytes: u64,
    pub tokens: u64,
    pub val: Vec<ShardInfo>,
    pub train: Vec<ShardInfo>,
    pub track: PathBuf,
    pub seconds: f64,
}

/// GPT-2 ids of `text` (no end-of-text added), single-threaded.
pub fn gpt2_encode(text: &str) -> Vec<u16> {
    crate::gpt2::gpt2().encode(text)
}

/// A document's ids: end-of-text, then the text's ids, tokenized in parallel pieces.
pub fn encode_document(text: &str) -> Vec<u16> {
    let pieces = split_for_parallel(text, PIECE_BYTES);
    let parts: Vec<Vec<u16>> = pieces.par_iter().map(|p| gpt2_encode(p)).collect();
    let mut out = Vec::with_capacity(1 + parts.iter().map(Vec::len).sum::<usize>());
    out.push(EOT);
    for p in parts {
        out.extend(p);
    }
    out
}

/// Cuts `text` into pieces of about `target` bytes whose GPT-2 encodings, joined, equal
/// the encoding of the whole.
///
/// A cut goes right before the last character of a whitespace run, when that
/// character is ASCII whitespace and a non-whitespace character follows it (so before
/// the space of nearly every `" word"`, and before the `\n` ending a line). GPT-2's
/// pre-tokenizer (`'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|
/// \s+(?!\S)|\s`) splits such a run W, followed by non-space c, into `W[..n-1]`
/// (`\s+(?!\S)` backs off one character) and a piece starting at `W[n-1]`; at the end
/// of the left part `\s++$` takes the same `W[..n-1]`, and nothing before the run
/// reaches into it. The pattern has no look-behind, so the right part splits as the
/// same suffix of the whole. BPE merges never cross pre-tokenizer pieces, hence equal
/// ids. `\s` is Unicode `White_Space`, as is `char::is_whitespace`.
pub fn split_for_parallel(text: &str, target: usize) -> Vec<&str> {
    let b = text.as_bytes();
    let safe = |q: usize| {
        matches!(b[q], b' ' | b'\n' | b'\t' | b'\r')
            && text[q + 1..]
                .chars()
                .next()
                .is_some_and(|c| !c.is_whitespace())
    };
    let mut pieces = Vec::new();
    let mut start = 0;
    while b.len() - start > target {
        match (start + target.max(1)..b.len() - 1).find(|&q| safe(q)) {
            Some(q) => {
                pieces.push(&text[start..q]);
                start = q;
            }
            None => break,
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// Every input file, in a deterministic order: inputs as given, folders walked in
/// file-name order, dot-files and dot-folders skipped.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, PrepareError> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = fs::metadata(input).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                PrepareError::MissingInput {
                    path: input.clone(),
                }
            } else {
                PrepareError::Io {
                    path: input.clone(),
                    source: e,
                }
            }
        })?;
        if meta.is_file() {
            files.push(input.clone());
            continue;
        }
        let walk = walkdir::WalkDir::new(input)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walk {
            let entry = entry.map_err(|e| PrepareError::Io {
                path: e.path().unwrap_or(input).to_owned(),
                source: e.into(),
            })?;
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    }
    if files.is_empty() {
        return Err(PrepareError::NoInput);
    }
    Ok(files)
}

/// Reads a file as UTF-8, naming the file and the first bad byte's offset otherwise.
pub fn read_text(path: &Path) -> Result<String, PrepareError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    String::from_utf8(bytes).map_err(|e| PrepareError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Shard file names.
pub fn val_name(name: &str, i: usize) -> String {
    format!("{name}_val_{i:06}.bin")
}
pub fn train_name(name: &str, i: usize) -> String {
    format!("{name}_train_{i:06}.bin")
}

/// Cuts the token stream into validation shards, then training shards.
struct Sink<'a> {
    opts: &'a PrepareOptions,
    buf: Vec<u16>,
    val_done: u64,
    val: Vec<ShardInfo>,
    train: Vec<ShardInfo>,
    tokens: u64,
}

impl Sink<'_> {
    fn val_total(&self) -> u64 {
        crate::shard::validation_tokens_needed(self.opts.val_tokens, self.opts.heldout_tokens)
    }

    /// Tokens the shard being filled takes in all.
    fn capacity(&self) -> u64 {
        let rest = self.val_total() - self.val_done;
        if rest > 0 {
            rest.min(self.opts.shard_tokens)
        } else {
            self.opts.shard_tokens
        }
    }

    fn push(&mut self, mut t: &[u16]) -> Result<(), PrepareError> {
        self.tokens += t.len() as u64;
        while !t.is_empty() {
            let room = (self.capacity() - self.buf.len() as u64) as usize;
            let take = room.min(t.len());
            self.buf.extend_from_slice(&t[..take]);
            t = &t[take..];
            if self.buf.len() as u64 == self.capacity() {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PrepareError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let in_val = self.val_done < self.val_total();
        let file = if in_val {
            val_name(&self.opts.name, self.val.len())
        } else {
            train_name(&self.opts.name, self.train.len() + 1)
        };
        let info = write_shard(&self.opts.out.join(file), &self.buf)?;
        if in_val {
            self.val_done += self.buf.len() as u64;
            self.val.push(info);
        } else {
            self.train.push(info);
        }
        self.buf.clear();
        Ok(())
    }

    fn written(&self) -> impl Iterator<Item = &Path> {
        self.val.iter().chain(&self.train).map(|i| i.path.as_path())
    }
}

/// Tokenizes `opts.inputs` into shards and a track file under `opts.out`.
///
/// Refuses an output folder that already holds this name's shards or track (nothing
/// already written is overwritten). On failure, the shards this call wrote are removed
/// so no partial set is left; each shard is written atomically in any case.
pub fn prepare(opts: &PrepareOptions) -> Result<PrepareReport, PrepareError> {
    if opts.shard_tokens == 0 {
        return Err(PrepareError::Zero {
            field: "shard tokens",
        });
    }
    if opts.val_tokens == 0 {
        return Err(PrepareError::Zero {
            field: "validation tokens",
        });
    }
    let t0 = Instant::now();
    let files = collect_inputs(&opts.inputs)?;
    fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    refuse_existing(opts)?;

    let mut sink = Sink {
        opts,
        buf: Vec::new(),
        val_done: 0,
        val: Vec::new(),
        train: Vec::new(),
        tokens: 0,
    };
    let result = run(opts, &files, &mut sink);
    let result = result.and_then(|(text_bytes, skipped)| {
        let needed = sink.val_total() + 1;
        if sink.tokens < needed {
            return Err(PrepareError::TooSmall {
                tokens: sink.tokens,
                val: sink.val_total(),
                needed,
            });
        }
        let track = opts.out.join(TRACK_FILE);
        let text = track_toml(
            opts,
            &sink.val,
            &sink.train,
            files.len() - skipped,
            text_bytes,
        );
        speedcert_fsio::write_atomic(&track, text.as_bytes(), speedcert_fsio::Mode::Public)
            .map_err(|e| {
                let (path, source) = e.into_parts();
                PrepareError::Io { path, source }
            })?;
        Ok(PrepareReport {
            files: files.len() - skipped,
            skipped_empty: skipped,
            text_bytes,
            tokens: sink.tokens,
            val: sink.val.clone(),
            train: sink.train.clone(),
            track,
            seconds: t0.elapsed().as_secs_f64(),
        })
    });
    if result.is_err() {
        for p in sink.written() {
            let _ = fs::remove_file(p);
        }
    }
    result
}

fn refuse_existing(opts: &PrepareOptions) -> Result<(), PrepareError> {
    let val_prefix = format!("{}_val_", opts.name);
    let train_prefix = format!("{}_train_", opts.name);
    for entry in fs::read_dir(&opts.out).map_err(io_err(&opts.out))? {
        let entry = entry.map_err(io_err(&opts.out))?;
        let n = entry.file_name().to_string_lossy().into_owned();
        if n == TRACK_FILE
            || (n.ends_with(".bin") && (n.starts_with(&val_prefix) || n.starts_with(&train_prefix)))
        {
            return Err(PrepareError::OutputExists {
                dir: opts.out.clone(),
                existing: entry.path(),
            });
        }
    }
    Ok(())
}

/// Reads, tokenizes and writes every file; returns (text bytes, empty files skipped).
fn run(
    opts: &PrepareOptions,
    files: &[PathBuf],
    sink: &mut Sink,
) -> Result<(u64, usize), PrepareError> {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| fs::metadata(f).map(|m| m.len()).map_err(io_err(f)))
        .collect::<Result<_, _>>()?;
    let bar = if opts.progress && io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(sizes.iter().sum()), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "tokenizing [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    let mut text_bytes = 0;
    let mut skipped = 0;
    let mut i = 0;
    while i < files.len() {
        // A batch: files up to BATCH_BYTES of text (at least one file).
        let mut j = i;
        let mut batch_bytes = 0;
        while j < files.len() && (j == i || batch_bytes + sizes[j] <= BATCH_BYTES) {
            batch_bytes += sizes[j];
            j += 1;
        }
        let texts: Vec<String> = files[i..j]
            .par_iter()
            .map(|f| read_text(f))
            .collect::<Result<_, _>>()?;
        let pieces: Vec<(usize, &str)> = texts
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .flat_map(|(k, t)| {
                split_for_parallel(t, PIECE_BYTES)
                    .into_iter()
                    .map(move |p| (k, p))
            })
            .collect();
        let ids: Vec<Vec<u16>> = pieces
            .par_iter()
            .map(|(_, p)| {
                let ids = gpt2_encode(p);
                bar.inc(p.len() as u64);
                ids
            })
            .collect();
        let mut last_doc = None;
        for ((k, _), piece_ids) in pieces.iter().zip(&ids) {
            if last_doc != Some(*k) {
                sink.push(&[EOT])?;
                last_doc = Some(*k);
            }
            sink.push(piece_ids)?;
        }
        skipped += texts.iter().filter(|t| t.is_empty()).count();
        text_bytes += texts.iter().map(|t| t.len() as u64).sum::<u64>();
        // Pieces advanced the bar by their bytes; count what they do not cover.
        let piece_bytes: u64 = pieces.iter().map(|(_, p)| p.len() as u64).sum();
        bar.inc(batch_bytes.saturating_sub(piece_bytes));
        bar.set_message(format!("{} tokens", crate::shard::thousands(sink.tokens)));
        i = j;
    }
    sink.flush()?;
    bar.finish_and_clear();
    Ok((text_bytes, skipped))
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The track for prepared shards: `[data]` and `[validation]` are exact; the model,
/// recipe and target are a CPU-sized starting point to edit (the target is a
/// placeholder until the reference submission has been measured on this corpus).
pub fn track_toml(
    opts: &PrepareOptions,
    val: &[ShardInfo],
    train: &[ShardInfo],
    files: usize,
    text_bytes: u64,
) -> String {
    let mut s = String::new();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let _ = writeln!(
        s,
        "# Written by `speedcert data prepare` on {now} from {files} files ({} bytes of text).",
        crate::shard::thousands(text_bytes)
    );
    let _ = writeln!(
        s,
        "# GPT-2 BPE (tiktoken r50k_base); one document per file, each opened by <|endoftext|> ({EOT})."
    );
    let _ = writeln!(s, "name = {}", toml_str(&opts.name));
    let _ = writeln!(
        s,
        "description = {}",
        toml_str(&format!(
            "GPT-2 tokens of {files} local text files; model and target are placeholders to tune"
        ))
    );
    let _ = writeln!(s, "\n[data]\nsource = \"shards\"");
    let _ = writeln!(s, "dir = {}", toml_str(&opts.out.to_string_lossy()));
    for (key, list) in [("val", val), ("train", train)] {
        let _ = writeln!(s, "{key} = [");
        for i in list {
            let _ = writeln!(
                s,
                "  {{ name = {}, sha256 = {} }},  # {} tokens",
                toml_str(&i.name()),
                toml_str(&i.sha256),
                i.tokens
            );
        }
        let _ = writeln!(s, "]");
    }
    let _ = writeln!(
        s,
        "\n[validation]\n# the first `tokens` of the val shards; the held-out slice follows them\ntokens = {}\nheldout_tokens = {}\nbatch_size = 8\nevery_steps = 100",
        opts.val_tokens, opts.heldout_tokens
    );
    s.push_str(
        r#"
# A CPU-sized GPT-2-vocabulary model: a starting point, not a tuned recipe.
[model]
vocab_size = 50304  # 50257 padded to a multiple of 64, as the speedrun does
n_layer = 4
n_head = 4
d_model = 256
seq_len = 256

[reference]
batch_size = 16
steps = 1000
learning_rate = 0.003
warmup_steps = 50
cooldown_frac = 0.4
weight_decay = 0.0
precision = "f32"

[target]
# PLACEHOLDER: measure the reference submission on this corpus, then set the target.
val_loss = 5.0

[hardware]
device = "cpu"

[certification]
runs = 5
p_threshold = 0.01
"#,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text_and_cut_before_a_last_space() {
        let text = "ab\ncd\n\nef\n gh  ij\u{a0}kl".repeat(50);
        let pieces = split_for_parallel(&text, 16);
        assert!(pieces.len() > 10);
        assert_eq!(pieces.concat(), text);
        for p in &pieces[1..] {
            let mut c = p.chars();
            assert!(matches!(c.next(), Some(' ' | '\n')), "{p:?}");
            assert!(!c.next().unwrap().is_whitespace(), "{p:?}");
        }
    }

    #[test]
    fn text_without_safe_cuts_stays_whole() {
        let text = "wörd\u{a0}".repeat(1000);
        assert_eq!(split_for_parallel(&text, 64), vec![text.as_str()]);
    }
}
