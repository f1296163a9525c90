//! `speedcert data synth | fetch | prepare | inspect`: token data. Parsing and printing
//! only; the work is in `speedcert_data`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use speedcert_data::fetch::{self, FetchOptions, FetchOutcome, ShardSource};
use speedcert_data::prepare::{self, PrepareOptions};
use speedcert_data::shard::{self, Inspection};

use super::code;
use super::exit::{ERROR, SUCCESS, USAGE};
use crate::track::{DataSpec, Track, default_track_dirs};

/// Arguments of `speedcert data`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: DataCmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum DataCmd {
    /// Write a track's synthetic corpus as token shards.
    Synth(SynthArgs),
    /// Download the shards a track lists: resumable, verified against the track's sha256
    /// pins (unpinned shards are trusted on first use and recorded in the data lock).
    Fetch(FetchArgs),
    /// Tokenize local text with GPT-2 BPE into validation and training shards, plus a
    /// track file that pins them.
    Prepare(PrepareArgs),
    /// Check shards and print their header, token count, sha256 and token histogram.
    Inspect(InspectArgs),
}

/// `speedcert data synth`: the synthetic corpus of a track as shards, for inspection or
/// for training other tools on exactly the stream speedcert trains on.
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Track whose synthetic language to write (name or path to a .toml).
    #[arg(long, default_value = crate::track::EMBEDDED_DEFAULT_NAME)]
    pub track: String,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Training tokens to write [default: what the reference recipe consumes].
    #[arg(long)]
    pub train_tokens: Option<u64>,
    /// Print the shards' summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct FetchArgs {
    /// Track name (looked up in records/tracks and $SPEEDCERT_TRACKS) or path to a .toml.
    #[arg(long)]
    pub track: String,
    /// Fetch only the first N training shards (validation shards are always fetched).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Data folder [default: the track's data.dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Base URL of a mirror [default: $SPEEDCERT_DATA_BASE_URL, else the track's base_url].
    #[arg(long)]
    pub base_url: Option<String>,
    /// Shards downloaded at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Retries of a shard whose attempts make no progress, with exponential backoff.
    #[arg(long, default_value_t = 6)]
    pub retries: u32,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct PrepareArgs {
    /// Text files, or folders of them (walked in file-name order; dot-files skipped).
    /// Each file is one document.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output folder for the shards and track.toml.
    #[arg(long)]
    pub out: PathBuf,
    /// Shard prefix and track name: NAME_val_000000.bin, NAME_train_000001.bin, ...
    #[arg(long, default_value = "corpus")]
    pub name: String,
    /// Public validation tokens, taken from the start of the corpus.
    #[arg(long, default_value_t = prepare::SPEEDRUN_VAL_TOKENS)]
    pub val_tokens: u64,
    /// Held-out validation tokens, right after the public ones.
    #[arg(long, default_value_t = 0)]
    pub heldout_tokens: u64,
    /// Tokens per shard.
    #[arg(long, default_value_t = prepare::DEFAULT_SHARD_TOKENS)]
    pub shard_tokens: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Shard files.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// How many of the most frequent tokens to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Refuse token ids at or above this vocabulary size.
    #[arg(long)]
    pub vocab: Option<u32>,
    /// Print JSON (an array, one object per shard) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `data` subcommand: 0 success, 1 error (the message names the file), 2 bad usage.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.cmd {
        DataCmd::Synth(a) => synth(a),
        DataCmd::Fetch(a) => fetch_cmd(a),
        DataCmd::Prepare(a) => prepare_cmd(a),
        DataCmd::Inspect(a) => inspect_cmd(a),
    }
}

/// Writes the track's training stream and public validation slice as shards (the
/// held-out slice is drawn per run from a secret seed, so it is never written).
fn synth(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let track = Track::resolve(&args.track, &crate::track::default_track_dirs())?;
    let DataSpec::Synthetic(s) = &track.spec.data else {
        anyhow::bail!("{}: data.source is not \"synthetic\"", track.origin);
    };
    let spec = &track.spec;
    let train_tokens = args
        .train_tokens
        .unwrap_or(spec.tokens_per_step() * spec.reference.steps as u64 + 1);
    let val_tokens = spec.validation.tokens + 1;
    let mut infos = Vec::new();
    for (kind, seed, n) in [
        ("val", s.val_seed, val_tokens),
        ("train", s.train_seed, train_tokens),
    ] {
        let mut stream = speedcert_data::synthetic::SyntheticStream::new(&s.language, seed)?;
        let tokens = stream.take_tokens(usize::try_from(n)?);
        let path = args.out.join(format!("{}_{kind}_000000.bin", spec.name));
        infos.push(speedcert_data::shard::write_shard(&path, &tokens)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&infos)?);
    } else {
        for i in &infos {
            println!(
                "{}  {:>12} tokens  sha256 {}",
                i.path.display(),
                i.tokens,
                i.sha256
            );
        }
        println!(
            "entropy floor {:.4} nats/token (the loss no model can beat)",
            s.language.entropy_floor()
        );
    }
    Ok(code(SUCCESS))
}

/// The shards of a shard track, as the fetch and verify functions take them.
#[derive(Debug, Clone)]
pub struct TrackShards {
    /// The track's data folder.
    pub dir: PathBuf,
    pub base_url: Option<String>,
    /// Validation shards (and the held-out shard) first, then training shards in reading
    /// order.
    pub sources: Vec<ShardSource>,
    /// How many of `sources` are validation or held-out shards.
    pub n_val: usize,
}

/// The shards a track lists; an error for a synthetic track.
pub fn track_shards(track: &Track) -> anyhow::Result<TrackShards> {
    match &track.spec.data {
        DataSpec::Shards(d) => {
            let source =
                |s: &crate::track::ShardRef| ShardSource::new(s.name.clone(), s.sha256.clone());
            // The held-out shard is fetched with the validation shards, always.
            let mut sources: Vec<ShardSource> =
                d.val.iter().chain(&d.heldout).map(source).collect();
            let n_val = sources.len();
            sources.extend(d.train.iter().map(source));
            Ok(TrackShards {
                dir: d.dir.clone(),
                base_url: d.base_url.clone(),
                sources,
                n_val,
            })
        }
        DataSpec::Synthetic(_) => anyhow::bail!(
            "{}: data.source is \"synthetic\": nothing to fetch (the corpus is generated)",
            track.origin
        ),
    }
}

fn fetch_cmd(a: FetchArgs) -> anyhow::Result<ExitCode> {
    if a.jobs == 0 {
        eprintln!("error: --jobs must be at least 1");
        return Ok(code(USAGE));
    }
    let track = Track::resolve(&a.track, &default_track_dirs())?;
    let TrackShards {
        dir: track_dir,
        base_url: track_url,
        mut sources,
        n_val,
    } = track_shards(&track)?;
    if let Some(n) = a.shards {
        let n_train = sources.len() - n_val;
        if n > n_train {
            eprintln!(
                "error: --shards {n}: {} lists only {n_train} training shards",
                track.origin
            );
            return Ok(code(USAGE));
        }
        sources.truncate(n_val + n);
    }
    let dir = a.dir.unwrap_or(track_dir);
    let Some(base_url) = fetch::resolve_base_url(a.base_url.as_deref(), track_url.as_deref())
    else {
        eprintln!(
            "error: {}: no data.base_url; pass --base-url or set ${}",
            track.origin,
            fetch::BASE_URL_ENV
        );
        return Ok(code(USAGE));
    };
    let opts = FetchOptions {
        jobs: a.jobs,
        max_retries: a.retries,
        progress: !a.quiet && !a.json,
        ..FetchOptions::default()
    };
    let report = match fetch::fetch(&base_url, &sources, &dir, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(code(ERROR));
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code(SUCCESS));
    }
    let mut downloaded = 0;
    let mut resumed = 0;
    let mut present = 0;
    let mut bytes = 0;
    for s in &report.shards {
        match s.outcome {
            FetchOutcome::AlreadyPresent => present += 1,
            FetchOutcome::Downloaded { range_requests, .. } => {
                downloaded += 1;
                bytes += s.bytes;
                if range_requests > 0 {
                    resumed += 1;
                }
            }
        }
    }
    let tofu: Vec<&str> = report
        .shards
        .iter()
        .filter(|s| s.digest.is_tofu())
        .map(|s| s.name.as_str())
        .collect();
    println!(
        "{} shards in {}: {downloaded} downloaded ({:.1} MB, {resumed} resumed), {present} already present; all sha256 verified",
        report.shards.len(),
        dir.display(),
        bytes as f64 / 1e6
    );
    if !tofu.is_empty() {
        println!(
            "{} of them not pinned by the track: trusted on first use, recorded in {}",
            tofu.len(),
            speedcert_data::lock::DataLock::path(&dir).display()
        );
    }
    Ok(code(SUCCESS))
}

fn prepare_cmd(a: PrepareArgs) -> anyhow::Result<ExitCode> {
    let opts = PrepareOptions {
        inputs: a.input,
        out: a.out,
        name: a.name,
        val_tokens: a.val_tokens,
        heldout_tokens: a.heldout_tokens,
        shard_tokens: a.shard_tokens,
        progress: !a.quiet && !a.json,
    };
    let report = match prepare::prepare(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(code(ERROR));
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code(SUCCESS));
    }
    println!(
        "{} files ({:.1} MB of text) -> {} tokens in {} val + {} train shards, {:.1} s ({:.1} MB/s)",
        report.files,
        report.text_bytes as f64 / 1e6,
        report.tokens,
        report.val.len(),
        report.train.len(),
        report.seconds,
        report.text_bytes as f64 / 1e6 / report.seconds.max(1e-9)
    );
    if report.skipped_empty > 0 {
        println!("{} empty files skipped", report.skipped_empty);
    }
    println!("track: {}", report.track.display());
    Ok(code(SUCCESS))
}

fn inspect_cmd(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let mut all: Vec<Inspection> = Vec::new();
    for path in &a.shards {
        let ins = match shard::inspect(path, a.top) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(code(ERROR));
            }
        };
        if let Some(vocab) = a.vocab
            && let Some(max) = ins.histogram.max_id
            && u32::from(max) >= vocab
        {
            // Name the first offending position, as `read_shard_in_vocab` does.
            let tokens = shard::read_shard(path).with_context(|| path.display().to_string())?;
            if let Err(e) = shard::check_vocab(path, &tokens, vocab) {
                eprintln!("error: {e}");
                return Ok(code(ERROR));
            }
        }
        if !a.json {
            if !all.is_empty() {
                println!();
            }
            print!("{ins}");
        }
        all.push(ins);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(code(SUCCESS))
}
