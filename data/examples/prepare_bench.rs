//! Prepare throughput: `speedcert data prepare` (GPT-2 ranks from tiktoken-rs, a regex
//! pre-tokenizer, rayon), tiktoken-rs's own encoder, and two
//! independent JavaScript GPT-2 implementations on the same ~100 MB of varied text,
//! checking that all three produce the same token stream.
//!
//! ```text
//! npm ci --prefix bench/prepare        # once: js-tiktoken and gpt-tokenizer, pinned
//! cargo run --release -p speedcert-data --example prepare_bench [-- --mb 100 --dir D]
//! ```
//!
//! The text is generated from a fixed seed (prose, code, multilingual text with emoji,
//! tabular data), so every run measures the same bytes. Prints a markdown table.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use speedcert_data::gpt2::encode_reference;
use speedcert_data::prepare::{self, EOT, PrepareOptions, gpt2_encode, split_for_parallel};
use speedcert_data::shard::ShardReader;

const SEED: u64 = 20261123;

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "time",
    "people",
    "year",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "important",
    "available",
    "different",
    "following",
    "however",
    "development",
    "between",
    "interesting",
    "understanding",
    "environmental",
    "approximately",
    "characteristics",
    "unfortunately",
    "significantly",
    "responsibility",
    "infrastructure",
    "misunderstanding",
    "don't",
    "it's",
    "we'll",
    "they've",
    "I'm",
    "you'd",
    "can't",
    "won't",
    "she's",
    "let's",
];
const CODE_WORDS: &[&str] = &[
    "self", "value", "index", "count", "result", "buffer", "config", "parse", "render", "tokens",
    "shard", "path", "len", "items", "map", "filter", "collect", "Some", "None", "Ok", "Err",
    "return", "let", "mut", "fn", "def", "if", "else", "for", "while", "in", "import", "from",
    "class", "struct", "impl", "pub", "const", "async", "await", "match",
];
const FOREIGN: &[&str] = &[
    "café",
    "naïve",
    "über",
    "façade",
    "résumé",
    "São",
    "Paulo",
    "Zürich",
    "España",
    "Ångström",
    "Москва",
    "привет",
    "мир",
    "данные",
    "Αθήνα",
    "λόγος",
    "東京",
    "日本語",
    "自然言語処理",
    "中文",
    "数据",
    "한국어",
    "데이터",
    "مرحبا",
    "שלום",
    "नमस्ते",
    "🙂",
    "👍🏽",
    "🚀",
    "✨",
    "🦀",
    "👨‍👩‍👧",
    "🇫🇷",
    "—",
    "…",
    "“quoted”",
    "€42",
    "½",
    "№",
];

/// A word index skewed towards the start of the list (roughly Zipf-like).
fn skewed(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let u: f64 = rng.random();
    ((u * u * u) * n as f64) as usize % n
}

fn prose(rng: &mut ChaCha8Rng, out: &mut String, bytes: usize) {
    let start = out.len();
    let wrap = rng.random_bool(0.3);
    let mut col = 0;
    while out.len() - start < bytes {
        let sentence_len = rng.random_range(4..28);
        for i in 0..sentence_len {
            let mut w = if rng.random_bool(0.04) {
                FOREIGN[rng.random_range(0..FOREIGN.len())].to_string()
            } else if rng.random_bool(0.05) {
                match rng.random_range(0..4) {
                    0 => rng.random_range(1800..2030).to_string(),
                    1 => format!("{:.2}", rng.random::<f64>() * 1000.0),
                    2 => rng.random_range(0..100).to_string(),
                    _ => format!(
                        "{},{:03}",
                        rng.random_range(1..999),
                        rng.random_range(0..1000)
                    ),
                }
            } else {
                WORDS[skewed(rng, WORDS.len())].to_string()
            };
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    w = f.to_uppercase().chain(c).collect();
                }
            }
            let sep = if i == 0 {
                ""
            } else if wrap && col > 72 {
                col = 0;
                "\n"
            } else {
                " "
            };
            out.push_str(sep);
            out.push_str(&w);
            col += w.len() + 1;
            if i + 1 < sentence_len && rng.random_bool(0.08) {
                out.push(if rng.random_bool(0.8) { ',' } else { ';' });
            }
        }
        out.push_str([".", ".", ".", "?", "!", ":"][rng.random_range(0..6)]);
        if rng.random_bool(0.15) {
            out.push_str(if rng.random_bool(0.8) { "\n\n" } else { "\n" });
            col = 0;
        } else {
            out.push(' ');
        }
    }
}

fn code(rng: &mut ChaCha8Rng, out: &mut String, bytes: usize) {
    let start = out.len();
    let tab = if rng.random_bool(0.3) { "\t" } else { "    " };
    let mut depth: usize = 0;
    while out.len() - start < bytes {
        for _ in 0..depth {
            out.push_str(tab);
        }
        let w = |rng: &mut ChaCha8Rng| CODE_WORDS[rng.random_range(0..CODE_WORDS.len())];
        match rng.random_range(0..6) {
            0 => {
                let (a, b) = (w(rng), w(rng));
                out.push_str(&format!(
                    "fn {a}_{b}(x: u32, y: &[u16]) -> Result<{b}, Error> {{"
                ));
                depth += 1;
            }
            1 if depth > 0 => {
                out.push('}');
                depth -= 1;
            }
            2 => {
                let (a, b) = (w(rng), w(rng));
                let n = rng.random_range(0..100_000);
                out.push_str(&format!(
                    "let {a} = {b}.len() * {n} + 0x{n:x}; // {b} count"
                ));
            }
            3 => {
                let (a, b) = (w(rng), w(rng));
                out.push_str(&format!(
                    "if {a} >= {b} && !{a}.is_empty() {{ return {b}[i..j]; }}"
                ));
            }
            4 => {
                let a = w(rng);
                out.push_str(&format!("print(f\"{{{a}!r}}: {{len({a})}}\")  # {a}"));
            }
            _ => {
                let (a, b) = (w(rng), w(rng));
                out.push_str(&format!(
                    "{a}.{b}(\"{a}\", {:.3}, [1, 2, 3])?;",
                    rng.random::<f64>()
                ));
            }
        }
        out.push('\n');
        if rng.random_bool(0.1) {
            out.push('\n');
        }
    }
}

fn table(rng: &mut ChaCha8Rng, out: &mut String, bytes: usize) {
    let start = out.len();
    out.push_str("id,date,name,  value ,\tcount\n");
    let mut i = 0;
    while out.len() - start < bytes {
        i += 1;
        let name = WORDS[skewed(rng, WORDS.len())];
        out.push_str(&format!(
            "{i},{}-{:02}-{:02},{name},   {:.4} ,\t{}\n",
            rng.random_range(1990..2027),
            rng.random_range(1..13),
            rng.random_range(1..29),
            rng.random::<f64>() * 1e4 - 5e3,
            rng.random_range(0..1_000_000)
        ));
    }
}

/// One document of about `bytes` bytes of a random kind.
fn document(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 256);
    match rng.random_range(0..20) {
        0..=13 => prose(rng, &mut s, bytes),
        14..=17 => code(rng, &mut s, bytes),
        _ => table(rng, &mut s, bytes),
    }
    s
}

/// Writes ~`mb` MB of text as documents of 1 KB .. 1 MB, named in reading order.
fn generate(dir: &Path, mb: usize) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut total = 0u64;
    let mut i = 0;
    while total < (mb as u64) << 20 {
        let size = (1024.0 * 1024f64.powf(rng.random::<f64>())) as usize;
        let doc = document(&mut rng, size);
        fs::write(dir.join(format!("doc_{i:06}.txt")), &doc).unwrap();
        total += doc.len() as u64;
        i += 1;
    }
    total
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The sha256 of the u16 LE token stream of the shards, in order.
fn stream_digest(paths: &[PathBuf]) -> (u64, String) {
    let mut h = Sha256::new();
    let mut n = 0;
    for p in paths {
        let mut r = ShardReader::open(p).unwrap();
        let toks = r.read_range(0, r.len()).unwrap();
        n += toks.len() as u64;
        let bytes: Vec<u8> = toks.iter().flat_map(|t| t.to_le_bytes()).collect();
        h.update(&bytes);
    }
    (n, hex::encode(h.finalize()))
}

struct Row {
    what: String,
    threads: String,
    seconds: f64,
    bytes: u64,
    tokens: u64,
    digest: String,
}

fn main() {
    let mb: usize = arg("--mb").map(|s| s.parse().unwrap()).unwrap_or(100);
    let keep = arg("--dir").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let root = keep.unwrap_or_else(|| tmp.path().to_owned());
    let text_dir = root.join("text");
    let out_dir = root.join("shards");
    let _ = fs::remove_dir_all(&text_dir);
    let _ = fs::remove_dir_all(&out_dir);
    fs::create_dir_all(&text_dir).unwrap();

    let t = Instant::now();
    let bytes = generate(&text_dir, mb);
    let files = fs::read_dir(&text_dir).unwrap().count();
    eprintln!(
        "generated {:.1} MB in {files} files in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();

    // 1. The whole `prepare`: read, tokenize in parallel, write shards.
    let mut opts = PrepareOptions::new(vec![text_dir.clone()], out_dir.clone());
    opts.progress = false;
    // About a tenth of the tokens for validation, so small runs work too.
    opts.val_tokens = bytes / 45;
    opts.shard_tokens = 10_000_000;
    let t = Instant::now();
    let report = prepare::prepare(&opts).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let shard_paths: Vec<PathBuf> = report
        .val
        .iter()
        .chain(&report.train)
        .map(|s| s.path.clone())
        .collect();
    let (n, digest) = stream_digest(&shard_paths);
    assert_eq!(n, report.tokens);
    rows.push(Row {
        what: "speedcert data prepare (read + tokenize + write shards)".into(),
        threads: rayon::current_num_threads().to_string(),
        seconds: secs,
        bytes: report.text_bytes,
        tokens: report.tokens,
        digest: digest.clone(),
    });

    // 2. Tokenize only, from memory, 1 thread and all threads.
    let mut names: Vec<PathBuf> = fs::read_dir(&text_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let texts: Vec<String> = names
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    let runs = [
        (
            "speedcert gpt2 (tiktoken-rs ranks, regex pre-tokenizer), tokenize only",
            1,
            false,
        ),
        (
            "speedcert gpt2 (tiktoken-rs ranks, regex pre-tokenizer), tokenize only",
            rayon::current_num_threads(),
            false,
        ),
        (
            "tiktoken-rs 0.12.1 encode_ordinary (fancy-regex), tokenize only",
            1,
            true,
        ),
    ];
    for (what, threads, reference) in runs {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let t = Instant::now();
        let ids: Vec<Vec<u16>> = pool.install(|| {
            let pieces: Vec<(usize, &str)> = texts
                .iter()
                .enumerate()
                .flat_map(|(k, t)| {
                    split_for_parallel(t, 256 << 10)
                        .into_iter()
                        .map(move |p| (k, p))
                })
                .collect();
            let enc: Vec<Vec<u16>> = pieces
                .par_iter()
                .map(|(_, p)| {
                    if reference {
                        encode_reference(p)
                    } else {
                        gpt2_encode(p)
                    }
                })
                .collect();
            let mut docs = vec![Vec::new(); texts.len()];
            for ((k, _), e) in pieces.iter().zip(enc) {
                if docs[*k].is_empty() {
                    docs[*k].push(EOT);
                }
                docs[*k].extend(e);
            }
            docs
        });
        let secs = t.elapsed().as_secs_f64();
        let mut h = Sha256::new();
        let mut n = 0;
        for d in &ids {
            n += d.len() as u64;
            let b: Vec<u8> = d.iter().flat_map(|t| t.to_le_bytes()).collect();
            h.update(&b);
        }
        rows.push(Row {
            what: what.into(),
            threads: threads.to_string(),
            seconds: secs,
            bytes,
            tokens: n,
            digest: hex::encode(h.finalize()),
        });
    }

    // 3. The JavaScript implementations on the same files.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/prepare/bench_js.mjs");
    let modules = script.parent().unwrap().join("node_modules");
    if !modules.exists() {
        eprintln!(
            "skipping JavaScript: run `npm ci --prefix {}` first",
            script.parent().unwrap().display()
        );
    }
    for js in ["js-tiktoken", "gpt-tokenizer"] {
        if !modules.exists() {
            break;
        }
        let out = Command::new("node")
            .arg(&script)
            .arg(&text_dir)
            .arg(js)
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "{js}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let version = fs::read_to_string(modules.join(js).join("package.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|p| p["version"].as_str().map(str::to_owned))
            .unwrap_or_default();
        for (what, secs) in [
            ("read + tokenize", v["seconds"].as_f64().unwrap()),
            ("tokenize only", v["tokenize_seconds"].as_f64().unwrap()),
        ] {
            rows.push(Row {
                what: format!("{js} {version} (node {}), {what}", node_version()),
                threads: "1".into(),
                seconds: secs,
                bytes: v["bytes"].as_u64().unwrap(),
                tokens: v["tokens"].as_u64().unwrap(),
                digest: v["sha256"].as_str().unwrap().to_owned(),
            });
        }
    }

    println!(
        "| implementation | threads | time (s) | MB/s of text | tokens | token stream sha256 |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.2} | {:.2} | {} | {}… |",
            r.what,
            r.threads,
            r.seconds,
            r.bytes as f64 / 1e6 / r.seconds,
            r.tokens,
            &r.digest[..16]
        );
    }
    let same = rows
        .iter()
        .all(|r| r.digest == digest && r.tokens == report.tokens);
    println!(
        "\n{:.1} MB of text ({} bytes) in {files} files; {} tokens; all token streams identical: {same}",
        bytes as f64 / 1e6,
        bytes,
        report.tokens
    );
    assert!(same, "token streams differ");
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
