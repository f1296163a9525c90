//! Downloads the shards a track lists: several at once, resumable, retried, verified.
//!
//! Each shard streams into `DIR/NAME.part`. An interrupted transfer resumes from the
//! part's length with an HTTP `Range` request (a server that ignores it and answers
//! 200 is handled by starting over). Transient failures (connection errors, timeouts,
//! 408, 429, 5xx) are retried with exponential backoff; the retry budget counts only
//! attempts that made no progress, so a flaky link that keeps delivering bytes still
//! finishes. A 404 or other client error fails at once. The finished part must be a
//! well-formed shard whose sha256 matches the track's pin (or, unpinned, the data
//! lock's record); only then is it renamed to `NAME`. A wrong digest removes the part.
//! Unpinned shards with no lock record are trusted on first use and recorded.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::lock::{DataLock, DigestSource, LockEntry, LockError, LockOrigin, expected_digest};
use crate::shard::{ShardError, read_header, sha256_file};
pub use crate::source::{ShardSource, check_name};

/// Environment variable that overrides a track's base URL (a mirror).
pub const BASE_URL_ENV: &str = "SPEEDCERT_DATA_BASE_URL";

/// The base URL to fetch from: the command-line flag, else `$SPEEDCERT_DATA_BASE_URL`,
/// else the track's.
pub fn resolve_base_url(flag: Option<&str>, track: Option<&str>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(BASE_URL_ENV).ok().filter(|s| !s.is_empty()))
        .or_else(|| track.map(str::to_owned))
}

/// `base` + `/` + `path`, with exactly one slash between.
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Shards downloaded at once.
    pub jobs: usize,
    /// Consecutive attempts without progress before a shard gives up.
    pub max_retries: u32,
    /// First backoff; doubles per failed attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes (a stalled transfer fails after this).
    pub read_timeout: Duration,
    /// Draw progress bars on stderr (only when it is a terminal).
    pub progress: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            jobs: 4,
            max_retries: 6,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(60),
            progress: true,
        }
    }
}

/// What happened to one shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FetchOutcome {
    /// The final file was already there with the expected digest.
    AlreadyPresent,
    Downloaded {
        /// HTTP requests made (1 for a clean download).
        requests: u32,
        /// Requests that asked for a byte range (resumes).
        range_requests: u32,
    },
}

/// A shard that is now in place and verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedShard {
    pub name: String,
    pub path: PathBuf,
    pub url: String,
    pub sha256: String,
    pub bytes: u64,
    pub tokens: u64,
    pub digest: DigestSource,
    pub outcome: FetchOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchReport {
    pub dir: PathBuf,
    pub shards: Vec<FetchedShard>,
}

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("{0}")]
    BadName(String),
    #[error("{name}: HTTP {status} from {url}")]
    Http {
        name: String,
        url: String,
        status: u16,
    },
    #[error("{name}: {url}: gave up after {attempts} attempt(s) in a row without progress: {last}")]
    GaveUp {
        name: String,
        url: String,
        attempts: u32,
        last: String,
    },
    #[error("{name}: {url}: {problem}")]
    Request {
        name: String,
        url: String,
        problem: String,
    },
    #[error("{}: sha256 is {actual}, {origin} {expected}; the download was removed", path.display())]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
        /// Where `expected` came from, in words ("the track pins", ...).
        origin: String,
    },
    #[error(
        "{}: already present but its sha256 is {actual}, {origin} {expected}; it was left untouched: move it away to download again",
        path.display()
    )]
    ExistingMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
        /// Where `expected` came from, in words ("the track pins", ...).
        origin: String,
    },
    #[error("{url}: the download is not a valid shard, removed: {source}")]
    NotAShard {
        url: String,
        #[source]
        source: ShardError,
    },
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{} of {total} shards failed:\n  {}", failures.len(), list(failures))]
    Several {
        total: usize,
        failures: Vec<FetchError>,
    },
}

fn list(failures: &[FetchError]) -> String {
    failures
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n  ")
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The `.part` file a shard downloads into.
pub fn part_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.part"))
}

/// Shared state of one fetch: the client, the lock and the progress bars.
struct Ctx<'a> {
    client: Client,
    base_url: &'a str,
    dir: &'a Path,
    opts: &'a FetchOptions,
    lock: Mutex<DataLock>,
    bars: MultiProgress,
    total: ProgressBar,
}

/// Fetches `shards` from `base_url` into `dir` (created if missing), `opts.jobs` at a
/// time. Every shard is attempted; failures are reported together at the end.
pub fn fetch(
    base_url: &str,
    shards: &[ShardSource],
    dir: &Path,
    opts: &FetchOptions,
) -> Result<FetchReport, FetchError> {
    for s in shards {
        check_name(&s.name).map_err(FetchError::BadName)?;
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let lock = DataLock::load(dir)?;
    let client = Client::builder()
        .connect_timeout(opts.connect_timeout)
        .timeout(opts.read_timeout)
        .user_agent(concat!("speedcert/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Request {
            name: "(client)".into(),
            url: base_url.into(),
            problem: e.to_string(),
        })?;
    let target = if opts.progress && io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bars = MultiProgress::with_draw_target(target);
    let total = bars.add(ProgressBar::new(0));
    total.set_style(
        ProgressStyle::with_template(
            "{prefix:>28} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    total.set_prefix(format!("total ({} shards)", shards.len()));
    total.enable_steady_tick(Duration::from_millis(250));
    let ctx = Ctx {
        client,
        base_url,
        dir,
        opts,
        lock: Mutex::new(lock),
        bars,
        total,
    };

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<FetchedShard, FetchError>>>> =
        Mutex::new((0..shards.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(shards.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(src) = shards.get(i) else { break };
                    let r = fetch_one(&ctx, src);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    ctx.total.finish_and_clear();

    let mut ok = Vec::new();
    let mut failures = Vec::new();
    for r in results.into_inner().unwrap().into_iter().flatten() {
        match r {
            Ok(s) => ok.push(s),
            Err(e) => failures.push(e),
        }
    }
    match failures.len() {
        0 => Ok(FetchReport {
            dir: dir.to_owned(),
            shards: ok,
        }),
        1 => Err(failures.pop().unwrap()),
        _ => Err(FetchError::Several {
            total: shards.len(),
            failures,
        }),
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn fetch_one(ctx: &Ctx, src: &ShardSource) -> Result<FetchedShard, FetchError> {
    let url = join_url(ctx.base_url, &src.url_path);
    let path = ctx.dir.join(&src.name);
    let expected = expected_digest(src, &ctx.lock.lock().unwrap());

    if path.exists() {
        return existing(ctx, src, &url, &path, expected);
    }

    let bar = ctx.bars.insert_before(&ctx.total, ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>28} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    bar.set_prefix(src.name.clone());
    let result = download_verified(ctx, src, &url, &path, expected, &bar);
    bar.finish_and_clear();
    ctx.bars.remove(&bar);
    result
}

/// A final file already in place: check it, never overwrite it.
fn existing(
    ctx: &Ctx,
    src: &ShardSource,
    url: &str,
    path: &Path,
    expected: Option<(String, DigestSource)>,
) -> Result<FetchedShard, FetchError> {
    let header = read_header(path)?;
    let actual = sha256_file(path).map_err(io_err(path))?;
    let bytes = fs::metadata(path).map_err(io_err(path))?.len();
    let digest = match expected {
        Some((want, origin)) if want != actual => {
            return Err(FetchError::ExistingMismatch {
                path: path.to_owned(),
                expected: want,
                actual,
                origin: origin.to_string(),
            });
        }
        Some((_, origin)) => origin,
        None => record_tofu(ctx, src, url, &actual, bytes, LockOrigin::FoundOnDisk)?,
    };
    Ok(FetchedShard {
        name: src.name.clone(),
        path: path.to_owned(),
        url: url.to_owned(),
        sha256: actual,
        bytes,
        tokens: header.tokens,
        digest,
        outcome: FetchOutcome::AlreadyPresent,
    })
}

/// Records a first-seen digest in the lock and saves it at once, so a crash later in
/// the fetch keeps what was already trusted.
fn record_tofu(
    ctx: &Ctx,
    src: &ShardSource,
    url: &str,
    sha256: &str,
    bytes: u64,
    origin: LockOrigin,
) -> Result<DigestSource, FetchError> {
    let entry = LockEntry {
        sha256: sha256.to_owned(),
        bytes,
        source_url: url.to_owned(),
        first_fetched: now_rfc3339(),
        origin,
    };
    let mut lock = ctx.lock.lock().unwrap();
    lock.shards.insert(src.name.clone(), entry.clone());
    lock.save(ctx.dir)?;
    Ok(DigestSource::Tofu {
        first_fetched: entry.first_fetched,
        source_url: entry.source_url,
        origin,
    })
}

fn download_verified(
    ctx: &Ctx,
    src: &ShardSource,
    url: &str,
    path: &Path,
    expected: Option<(String, DigestSource)>,
    bar: &ProgressBar,
) -> Result<FetchedShard, FetchError> {
    let part = part_path(ctx.dir, &src.name);
    let mut stats = Stats::default();
    // A resumed download that fails its digest may have resumed a stale or damaged
    // part: start over once from zero before calling it a mismatch.
    for fresh_retry in [false, true] {
        download(ctx, &src.name, url, &part, bar, &mut stats)?;
        let header = match read_header(&part) {
            Ok(h) => h,
            Err(source) => {
                let _ = fs::remove_file(&part);
                return Err(FetchError::NotAShard {
                    url: url.to_owned(),
                    source,
                });
            }
        };
        let actual = sha256_file(&part).map_err(io_err(&part))?;
        let bytes = fs::metadata(&part).map_err(io_err(&part))?.len();
        if let Some((want, origin)) = &expected
            && *want != actual
        {
            let _ = fs::remove_file(&part);
            if stats.range_requests > 0 && !fresh_retry {
                bar.set_message("digest mismatch after resume: starting over");
                continue;
            }
            return Err(FetchError::DigestMismatch {
                path: path.to_owned(),
                expected: want.clone(),
                actual,
                origin: origin.to_string(),
            });
        }
        fs::rename(&part, path).map_err(io_err(path))?;
        speedcert_fsio::sync_dir(path.parent().unwrap_or(Path::new(".")));
        let digest = match expected {
            Some((_, origin)) => origin,
            None => record_tofu(ctx, src, url, &actual, bytes, LockOrigin::Downloaded)?,
        };
        return Ok(FetchedShard {
            name: src.name.clone(),
            path: path.to_owned(),
            url: url.to_owned(),
            sha256: actual,
            bytes,
            tokens: header.tokens,
            digest,
            outcome: FetchOutcome::Downloaded {
                requests: stats.requests,
                range_requests: stats.range_requests,
            },
        });
    }
    unreachable!("the loop returns on its second pass")
}

#[derive(Default)]
struct Stats {
    requests: u32,
    range_requests: u32,
}

/// Why one attempt stopped.
enum Attempt {
    /// Worth retrying; `progressed` when it wrote bytes first.
    Transient {
        problem: String,
        progressed: bool,
    },
    Permanent(FetchError),
}

/// Downloads `url` into `part` until it holds the whole body, resuming and retrying.
fn download(
    ctx: &Ctx,
    name: &str,
    url: &str,
    part: &Path,
    bar: &ProgressBar,
    stats: &mut Stats,
) -> Result<(), FetchError> {
    let mut stalls = 0u32;
    loop {
        match attempt(ctx, name, url, part, bar, stats) {
            Ok(()) => return Ok(()),
            Err(Attempt::Permanent(e)) => return Err(e),
            Err(Attempt::Transient {
                problem,
                progressed,
            }) => {
                stalls = if progressed { 0 } else { stalls + 1 };
                if stalls > ctx.opts.max_retries {
                    return Err(FetchError::GaveUp {
                        name: name.to_owned(),
                        url: url.to_owned(),
                        attempts: stalls,
                        last: problem,
                    });
                }
                let wait = backoff(ctx.opts, stalls);
                bar.set_message(format!("retry in {:.1}s: {problem}", wait.as_secs_f64()));
                std::thread::sleep(wait);
            }
        }
    }
}

/// `base * 2^(n-1)`, capped; no wait after an attempt that made progress.
fn backoff(opts: &FetchOptions, stalls: u32) -> Duration {
    if stalls == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32 << (stalls - 1).min(16);
    (opts.backoff_base * factor).min(opts.backoff_max)
}

/// Start of a `Content-Range: bytes START-END/TOTAL` (or the TOTAL of `bytes */TOTAL`).
fn content_range(resp: &reqwest::blocking::Response) -> (Option<u64>, Option<u64>) {
    let Some(v) = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return (None, None);
    };
    let v = v.trim().strip_prefix("bytes").unwrap_or(v).trim();
    let (range, total) = v.split_once('/').unwrap_or((v, "*"));
    let start = range
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok());
    (start, total.trim().parse().ok())
}

fn attempt(
    ctx: &Ctx,
    name: &str,
    url: &str,
    part: &Path,
    bar: &ProgressBar,
    stats: &mut Stats,
) -> Result<(), Attempt> {
    let permanent_io = |source: io::Error| {
        Attempt::Permanent(FetchError::Io {
            path: part.to_owned(),
            source,
        })
    };
    let offset = match fs::metadata(part) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(permanent_io(e)),
    };
    let mut req = ctx.client.get(url);
    if offset > 0 {
        req = req.header(RANGE, format!("bytes={offset}-"));
        stats.range_requests += 1;
    }
    stats.requests += 1;
    let mut resp = match req.send() {
        Ok(r) => r,
        Err(e) if e.is_builder() || e.is_redirect() => {
            return Err(Attempt::Permanent(FetchError::Request {
                name: name.to_owned(),
                url: url.to_owned(),
                problem: error_chain(&e),
            }));
        }
        Err(e) => {
            return Err(Attempt::Transient {
                problem: error_chain(&e),
                progressed: false,
            });
        }
    };
    let status = resp.status();
    let (start, append) = match status {
        StatusCode::PARTIAL_CONTENT => {
            let (start, total) = content_range(&resp);
            if start != Some(offset) || offset == 0 {
                // Not the range we asked for: start over without a range.
                truncate(part).map_err(permanent_io)?;
                return Err(Attempt::Transient {
                    problem: format!("server sent range start {start:?}, asked for {offset}"),
                    progressed: false,
                });
            }
            if let Some(t) = total {
                set_len(ctx, bar, t);
            }
            (offset, true)
        }
        StatusCode::OK => {
            if offset > 0 {
                bar.set_message("server ignored the range request: starting over");
            }
            if let Some(len) = content_length(&resp) {
                set_len(ctx, bar, len);
            }
            (0, false)
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // Asked past the end: the part may already be whole.
            let (_, total) = content_range(&resp);
            if total == Some(offset) {
                return Ok(());
            }
            truncate(part).map_err(permanent_io)?;
            return Err(Attempt::Transient {
                problem: format!("range {offset}- not satisfiable (size {total:?}): starting over"),
                progressed: false,
            });
        }
        s if s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS
            || s.is_server_error() =>
        {
            return Err(Attempt::Transient {
                problem: format!("HTTP {}", s.as_u16()),
                progressed: false,
            });
        }
        s => {
            return Err(Attempt::Permanent(FetchError::Http {
                name: name.to_owned(),
                url: url.to_owned(),
                status: s.as_u16(),
            }));
        }
    };
    let body_len = content_length(&resp);
    let mut file = if append {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    }
    .map_err(permanent_io)?;
    move_to(ctx, bar, start);
    bar.set_message("");
    let mut buf = vec![0u8; 1 << 18];
    let mut got = 0u64;
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Keep what arrived for the next attempt to resume from.
                let _ = file.sync_data();
                return Err(Attempt::Transient {
                    problem: format!("connection lost after {} bytes: {}", start + got, e),
                    progressed: got > 0,
                });
            }
        };
        file.write_all(&buf[..n]).map_err(permanent_io)?;
        got += n as u64;
        bar.inc(n as u64);
        ctx.total.inc(n as u64);
    }
    file.sync_all().map_err(permanent_io)?;
    if let Some(want) = body_len
        && got < want
    {
        return Err(Attempt::Transient {
            problem: format!("body ended after {got} of {want} bytes"),
            progressed: got > 0,
        });
    }
    Ok(())
}

fn content_length(resp: &reqwest::blocking::Response) -> Option<u64> {
    resp.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Sets a shard bar's length once known, and adds it to the total the first time.
fn set_len(ctx: &Ctx, bar: &ProgressBar, len: u64) {
    if bar.length() == Some(0) {
        ctx.total.inc_length(len);
    }
    bar.set_length(len);
}

/// Moves a shard bar to `pos` and the total bar by the same amount (a restart moves
/// both back).
fn move_to(ctx: &Ctx, bar: &ProgressBar, pos: u64) {
    let cur = bar.position();
    if pos >= cur {
        ctx.total.inc(pos - cur);
    } else {
        ctx.total
            .set_position(ctx.total.position().saturating_sub(cur - pos));
    }
    bar.set_position(pos);
}

fn truncate(part: &Path) -> io::Result<()> {
    match fs::remove_file(part) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The error and its causes on one line (reqwest's Display shows only the top).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(join_url("https://h/a/", "/x.bin"), "https://h/a/x.bin");
        assert_eq!(join_url("https://h/a", "x.bin"), "https://h/a/x.bin");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let o = FetchOptions {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(700),
            ..FetchOptions::default()
        };
        let waits: Vec<u128> = (0..6).map(|n| backoff(&o, n).as_millis()).collect();
        assert_eq!(waits, vec![0, 100, 200, 400, 700, 700]);
    }

    #[test]
    fn names_must_be_plain_file_names() {
        assert!(check_name("fineweb_train_000001.bin").is_ok());
        for bad in ["", ".", "..", "../x.bin", "a/b.bin", "x.bin.part", "a\\b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_flag_beats_the_track_url() {
        assert_eq!(
            resolve_base_url(Some("https://mirror"), Some("https://track")).as_deref(),
            Some("https://mirror")
        );
    }
}
