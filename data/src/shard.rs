//! The modded-nanogpt token shard format, so real speedrun data works unchanged.
//!
//! A shard is a header of 256 little-endian `i32` (`[0]` magic 20240520, `[1]` version
//! 1, `[2]` token count, the rest reserved and zero), then the tokens as little-endian
//! `u16`. The speedrun's `_load_data_shard` asserts the magic and version and that it
//! can read exactly `2 * count` bytes after the header; it ignores bytes beyond them.
//! We are stricter: trailing bytes are an error too, since a certifier must not accept
//! a file whose digest covers data the trainer never reads.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use speedcert_fsio::{Existing, Mode, write_atomic_with};

/// `header[0]` of every shard.
pub const MAGIC: i32 = 20240520;
/// The only format version there is.
pub const VERSION: i32 = 1;
/// Number of `i32` in the header.
pub const HEADER_INTS: usize = 256;
/// Bytes before the first token.
pub const HEADER_BYTES: u64 = (HEADER_INTS * 4) as u64;
/// Largest token count the header's `i32` can state.
pub const MAX_TOKENS: u64 = i32::MAX as u64;

/// Tokens the validation shards must hold for a public slice of `tokens` and a held-out
/// slice of `heldout` (0 for none) read one after the other from their start. Each slice
/// is read as inputs and the same tokens shifted by one as targets, so it takes one token
/// more than it scores. `data prepare` writes this many; the harness reads this many.
pub fn validation_tokens_needed(tokens: u64, heldout: u64) -> u64 {
    tokens + 1 + if heldout > 0 { heldout + 1 } else { 0 }
}

/// What is wrong with a shard, always naming the file.
#[derive(Debug, Error)]
pub enum ShardError {
    #[error("shard {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("shard {}: file is {len} bytes, shorter than the {HEADER_BYTES}-byte header", path.display())]
    ShortHeader { path: PathBuf, len: u64 },
    #[error("shard {}: bad magic {found} (expected {MAGIC})", path.display())]
    BadMagic { path: PathBuf, found: i32 },
    #[error("shard {}: unsupported version {found} (expected {VERSION})", path.display())]
    BadVersion { path: PathBuf, found: i32 },
    #[error("shard {}: negative token count {found} in the header", path.display())]
    NegativeCount { path: PathBuf, found: i32 },
    #[error(
        "shard {}: truncated: the header says {expected} tokens ({} bytes) but only {actual_bytes} bytes follow it",
        path.display(), expected * 2
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual_bytes: u64,
    },
    #[error(
        "shard {}: {extra} bytes after the {expected} tokens the header declares (file is {len} bytes, expected {})",
        path.display(), HEADER_BYTES + expected * 2
    )]
    TrailingBytes {
        path: PathBuf,
        expected: u64,
        extra: u64,
        len: u64,
    },
    #[error("shard {}: token {token} at position {index} is outside the vocabulary of {vocab}", path.display())]
    OutOfVocab {
        path: PathBuf,
        index: u64,
        token: u16,
        vocab: u32,
    },
    #[error("shard {}: {count} tokens do not fit the header's i32 count (at most {MAX_TOKENS})", path.display())]
    TooManyTokens { path: PathBuf, count: u64 },
    #[error("shard {}: tokens {start}..{end} asked for, the shard holds {len}", path.display())]
    OutOfRange {
        path: PathBuf,
        start: u64,
        end: u64,
        len: u64,
    },
}

impl ShardError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> ShardError + '_ {
        move |source| ShardError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The decoded header of a shard that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    pub magic: i32,
    pub version: i32,
    pub tokens: u64,
    /// Reserved header fields (index, value) that are not zero; the format leaves
    /// them zero, so anything here is worth a look.
    pub reserved_nonzero: Vec<(usize, i32)>,
}

/// What a verified shard is: where, how big, and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub path: PathBuf,
    pub version: i32,
    pub tokens: u64,
    /// File size in bytes (header included).
    pub bytes: u64,
    /// Lowercase hex sha256 of the whole file.
    pub sha256: String,
}

impl ShardInfo {
    /// The file name, as tracks and lock files refer to shards.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Decodes and checks a header against the file length (bytes, header included).
fn parse_header(path: &Path, raw: &[u8], len: u64) -> Result<ShardHeader, ShardError> {
    if len < HEADER_BYTES || raw.len() < HEADER_BYTES as usize {
        return Err(ShardError::ShortHeader {
            path: path.to_owned(),
            len,
        });
    }
    let int = |i: usize| i32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().unwrap());
    let magic = int(0);
    if magic != MAGIC {
        return Err(ShardError::BadMagic {
            path: path.to_owned(),
            found: magic,
        });
    }
    let version = int(1);
    if version != VERSION {
        return Err(ShardError::BadVersion {
            path: path.to_owned(),
            found: version,
        });
    }
    let count = int(2);
    if count < 0 {
        return Err(ShardError::NegativeCount {
            path: path.to_owned(),
            found: count,
        });
    }
    let tokens = count as u64;
    let body = len - HEADER_BYTES;
    if body < tokens * 2 {
        return Err(ShardError::Truncated {
            path: path.to_owned(),
            expected: tokens,
            actual_bytes: body,
        });
    }
    if body > tokens * 2 {
        return Err(ShardError::TrailingBytes {
            path: path.to_owned(),
            expected: tokens,
            extra: body - tokens * 2,
            len,
        });
    }
    let reserved_nonzero = (3..HEADER_INTS)
        .map(|i| (i, int(i)))
        .filter(|&(_, v)| v != 0)
        .collect();
    Ok(ShardHeader {
        magic,
        version,
        tokens,
        reserved_nonzero,
    })
}

/// Opens a shard and checks its header against the file size.
fn open_checked(path: &Path) -> Result<(File, ShardHeader, u64), ShardError> {
    let mut file = File::open(path).map_err(ShardError::io(path))?;
    let len = file.metadata().map_err(ShardError::io(path))?.len();
    let mut raw = vec![0u8; HEADER_BYTES as usize];
    if len >= HEADER_BYTES {
        file.read_exact(&mut raw).map_err(ShardError::io(path))?;
    }
    let header = parse_header(path, &raw, len)?;
    Ok((file, header, len))
}

/// Reads and checks a shard's header only (cheap: one 1 KiB read and a stat).
pub fn read_header(path: &Path) -> Result<ShardHeader, ShardError> {
    open_checked(path).map(|(_, h, _)| h)
}

/// Reads a whole shard's tokens after checking its header and size.
pub fn read_shard(path: &Path) -> Result<Vec<u16>, ShardError> {
    let mut reader = ShardReader::open(path)?;
    let len = reader.len();
    reader.read_range(0, len)
}

/// Like [`read_shard`], and also refuses any token id `>= vocab`.
pub fn read_shard_in_vocab(path: &Path, vocab: u32) -> Result<Vec<u16>, ShardError> {
    let tokens = read_shard(path)?;
    check_vocab(path, &tokens, vocab)?;
    Ok(tokens)
}

/// The first token id `>= vocab`, as an error naming `path` and the position.
pub fn check_vocab(path: &Path, tokens: &[u16], vocab: u32) -> Result<(), ShardError> {
    match tokens.iter().position(|&t| u32::from(t) >= vocab) {
        None => Ok(()),
        Some(i) => Err(ShardError::OutOfVocab {
            path: path.to_owned(),
            index: i as u64,
            token: tokens[i],
            vocab,
        }),
    }
}

/// The 1 KiB header for `tokens` tokens.
pub fn header_bytes(tokens: u64) -> [u8; HEADER_BYTES as usize] {
    let mut h = [0u8; HEADER_BYTES as usize];
    h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&VERSION.to_le_bytes());
    h[8..12].copy_from_slice(&(tokens as i32).to_le_bytes());
    h
}

/// Serialises a shard to bytes (for tests and servers; files go through [`write_shard`]).
pub fn encode_shard(tokens: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES as usize + tokens.len() * 2);
    out.extend_from_slice(&header_bytes(tokens.len() as u64));
    for t in tokens {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out
}

/// Writes a shard atomically (temp file in the same folder, fsync, rename) and returns
/// its info; the digest is computed from the bytes as they are written.
pub fn write_shard(path: &Path, tokens: &[u16]) -> Result<ShardInfo, ShardError> {
    let count = tokens.len() as u64;
    if count > MAX_TOKENS {
        return Err(ShardError::TooManyTokens {
            path: path.to_owned(),
            count,
        });
    }
    let sha256 = write_atomic_with(path, Mode::Public, Existing::Replace, |w| {
        let mut hasher = Sha256::new();
        let header = header_bytes(count);
        hasher.update(header);
        w.write_all(&header)?;
        let mut buf = Vec::with_capacity(1 << 16);
        for chunk in tokens.chunks(1 << 15) {
            buf.clear();
            for t in chunk {
                buf.extend_from_slice(&t.to_le_bytes());
            }
            hasher.update(&buf);
            w.write_all(&buf)?;
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .map_err(|e| {
        let (path, source) = e.into_parts();
        ShardError::Io { path, source }
    })?;
    Ok(ShardInfo {
        path: path.to_owned(),
        version: VERSION,
        tokens: count,
        bytes: HEADER_BYTES + count * 2,
        sha256,
    })
}

/// Lowercase hex sha256 of a file, streamed (shards are 200 MB), as an I/O result for
/// callers that name the file themselves.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    speedcert_fsio::sha256_file(path).map_err(|e| e.into_parts().1)
}

/// Checks a shard's header and size and hashes it, without holding its tokens.
pub fn shard_info(path: &Path) -> Result<ShardInfo, ShardError> {
    let (_, header, len) = open_checked(path)?;
    let sha256 = sha256_file(path).map_err(ShardError::io(path))?;
    Ok(ShardInfo {
        path: path.to_owned(),
        version: header.version,
        tokens: header.tokens,
        bytes: len,
        sha256,
    })
}

/// Random-access reads of token ranges, for the loader: no mmap, no whole-file load.
/// Sequential reads do not seek; the byte buffer is reused between calls.
pub struct ShardReader {
    path: PathBuf,
    file: File,
    header: ShardHeader,
    /// Token index the file cursor sits at.
    cursor: u64,
    buf: Vec<u8>,
}

impl ShardReader {
    /// Opens a shard, checking magic, version and that the size matches the count.
    pub fn open(path: &Path) -> Result<Self, ShardError> {
        let (file, header, _) = open_checked(path)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            header,
            cursor: 0,
            buf: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &ShardHeader {
        &self.header
    }

    /// Tokens in the shard.
    pub fn len(&self) -> u64 {
        self.header.tokens
    }

    pub fn is_empty(&self) -> bool {
        self.header.tokens == 0
    }

    /// Fills `out` with tokens `start .. start + out.len()`.
    pub fn read_into(&mut self, start: u64, out: &mut [u16]) -> Result<(), ShardError> {
        let end = start + out.len() as u64;
        if end > self.header.tokens {
            return Err(ShardError::OutOfRange {
                path: self.path.clone(),
                start,
                end,
                len: self.header.tokens,
            });
        }
        if out.is_empty() {
            return Ok(());
        }
        if self.cursor != start {
            self.file
                .seek(SeekFrom::Start(HEADER_BYTES + start * 2))
                .map_err(ShardError::io(&self.path))?;
        }
        self.buf.resize(out.len() * 2, 0);
        let res = self.file.read_exact(&mut self.buf);
        if let Err(e) = res {
            // The file shrank under us: say so in the format's words.
            self.cursor = u64::MAX;
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                ShardError::Truncated {
                    path: self.path.clone(),
                    expected: self.header.tokens,
                    actual_bytes: self
                        .file
                        .metadata()
                        .map(|m| m.len().saturating_sub(HEADER_BYTES))
                        .unwrap_or(0),
                }
            } else {
                ShardError::Io {
                    path: self.path.clone(),
                    source: e,
                }
            });
        }
        self.cursor = end;
        for (o, b) in out.iter_mut().zip(self.buf.chunks_exact(2)) {
            *o = u16::from_le_bytes([b[0], b[1]]);
        }
        Ok(())
    }

    /// Tokens `start .. start + len` as a new vector.
    pub fn read_range(&mut self, start: u64, len: u64) -> Result<Vec<u16>, ShardError> {
        let mut out = vec![0u16; len as usize];
        self.read_into(start, &mut out)?;
        Ok(out)
    }
}

/// One of the most frequent tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenCount {
    pub token: u16,
    pub count: u64,
    /// `count / total`.
    pub share: f64,
}

/// A summary of a shard's token distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub total: u64,
    pub distinct: u32,
    pub min_id: Option<u16>,
    pub max_id: Option<u16>,
    /// The `k` most frequent ids, most frequent first (ties: smaller id first).
    pub top: Vec<TokenCount>,
    /// Entropy of the unigram distribution, in nats: the loss of the best model that
    /// ignores context, a ceiling any trained model should beat.
    pub unigram_entropy_nats: f64,
}

/// Counts of every possible u16 id, built incrementally.
pub struct Counts(Vec<u64>);

impl Default for Counts {
    fn default() -> Self {
        Self(vec![0; 1 << 16])
    }
}

impl Counts {
    pub fn add(&mut self, tokens: &[u16]) {
        for &t in tokens {
            self.0[t as usize] += 1;
        }
    }

    pub fn histogram(&self, top_k: usize) -> Histogram {
        let total: u64 = self.0.iter().sum();
        let nonzero = || self.0.iter().enumerate().filter(|(_, c)| **c > 0);
        let distinct = nonzero().count() as u32;
        let min_id = nonzero().next().map(|(i, _)| i as u16);
        let max_id = nonzero().next_back().map(|(i, _)| i as u16);
        let mut ranked: Vec<(usize, u64)> = nonzero().map(|(i, &c)| (i, c)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let top = ranked
            .iter()
            .take(top_k)
            .map(|&(i, c)| TokenCount {
                token: i as u16,
                count: c,
                share: c as f64 / total as f64,
            })
            .collect();
        let entropy = if total == 0 {
            0.0
        } else {
            let n = total as f64;
            nonzero()
                .map(|(_, &c)| {
                    let p = c as f64 / n;
                    -p * p.ln()
                })
                .sum()
        };
        Histogram {
            total,
            distinct,
            min_id,
            max_id,
            top,
            unigram_entropy_nats: entropy,
        }
    }
}

impl Histogram {
    pub fn of(tokens: &[u16], top_k: usize) -> Self {
        let mut c = Counts::default();
        c.add(tokens);
        c.histogram(top_k)
    }
}

/// What `speedcert data inspect` prints: the header, the file's identity and a
/// histogram summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub info: ShardInfo,
    pub header: ShardHeader,
    pub histogram: Histogram,
}

/// Checks, hashes and summarises a shard, streaming it in 4 Mi-token pieces.
pub fn inspect(path: &Path, top_k: usize) -> Result<Inspection, ShardError> {
    let mut reader = ShardReader::open(path)?;
    let header = reader.header().clone();
    let mut counts = Counts::default();
    let mut buf = vec![0u16; 1 << 22];
    let mut pos = 0;
    while pos < reader.len() {
        let n = (reader.len() - pos).min(buf.len() as u64) as usize;
        reader.read_into(pos, &mut buf[..n])?;
        counts.add(&buf[..n]);
        pos += n as u64;
    }
    let info = shard_info(path)?;
    Ok(Inspection {
        info,
        header,
        histogram: counts.histogram(top_k),
    })
}

/// Groups digits in threes: 100000000 -> "100,000,000".
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.histogram;
        writeln!(f, "shard      {}", self.info.path.display())?;
        let reserved = if self.header.reserved_nonzero.is_empty() {
            "reserved fields all zero".to_string()
        } else {
            let list: Vec<String> = self
                .header
                .reserved_nonzero
                .iter()
                .map(|(i, v)| format!("[{i}]={v}"))
                .collect();
            format!("non-zero reserved fields {}", list.join(" "))
        };
        writeln!(
            f,
            "header     magic {}, version {}, tokens {}; {reserved}",
            self.header.magic,
            self.header.version,
            thousands(self.header.tokens)
        )?;
        writeln!(f, "size       {} bytes", thousands(self.info.bytes))?;
        writeln!(f, "sha256     {}", self.info.sha256)?;
        let range = match (h.min_id, h.max_id) {
            (Some(lo), Some(hi)) => format!("ids {lo} … {hi}"),
            _ => "no tokens".into(),
        };
        writeln!(
            f,
            "tokens     {} total, {} distinct, {range}",
            thousands(h.total),
            thousands(u64::from(h.distinct))
        )?;
        writeln!(
            f,
            "entropy    {:.4} nats/token (unigram; {:.4} bits)",
            h.unigram_entropy_nats,
            h.unigram_entropy_nats / std::f64::consts::LN_2
        )?;
        if !h.top.is_empty() {
            writeln!(
                f,
                "top {:<6} {:>6}  {:>14}  {:>7}",
                h.top.len(),
                "id",
                "count",
                "share"
            )?;
            for t in &h.top {
                writeln!(
                    f,
                    "           {:>6}  {:>14}  {:>6.2}%",
                    t.token,
                    thousands(t.count),
                    t.share * 100.0
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000_000), "100,000,000");
    }

    #[test]
    fn histogram_counts_and_entropy() {
        let h = Histogram::of(&[5, 5, 7, 7], 1);
        assert_eq!(h.total, 4);
        assert_eq!(h.distinct, 2);
        assert_eq!((h.min_id, h.max_id), (Some(5), Some(7)));
        assert_eq!(h.top.len(), 1);
        assert_eq!(h.top[0].token, 5, "ties break to the smaller id");
        assert!((h.unigram_entropy_nats - std::f64::consts::LN_2).abs() < 1e-12);
        let empty = Histogram::of(&[], 5);
        assert_eq!(
            (empty.distinct, empty.min_id, empty.top.len()),
            (0, None, 0)
        );
        assert_eq!(empty.unigram_entropy_nats, 0.0);
    }
}
