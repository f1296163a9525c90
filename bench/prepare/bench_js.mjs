// Tokenizes every file of a folder (sorted by name, each file one document opened by
// <|endoftext|> = 50256, as `speedcert data prepare` does) with one JavaScript GPT-2
// implementation, and prints one JSON line: seconds, text bytes, tokens and the sha256
// of the token stream as little-endian u16 (to compare with the Rust shards).
//
//   node bench/prepare/bench_js.mjs DIR js-tiktoken|gpt-tokenizer
//
// Run by `cargo run --release -p speedcert-data --example prepare_bench`.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { getEncoding } from "js-tiktoken";
import { encode as gptTokenizerEncode } from "gpt-tokenizer/encoding/r50k_base";

const [dir, impl] = process.argv.slice(2);
const noSpecial = { allowedSpecial: new Set(), disallowedSpecial: new Set() };
const encoders = {
  "js-tiktoken": (() => {
    const enc = getEncoding("gpt2");
    return (text) => enc.encode(text, [], []);
  })(),
  "gpt-tokenizer": (text) => gptTokenizerEncode(text, noSpecial),
};
const encode = encoders[impl];
if (!encode) throw new Error(`unknown implementation ${impl}`);

const files = readdirSync(dir).filter((n) => !n.startsWith(".")).sort();
const hash = createHash("sha256");
let bytes = 0;
let tokens = 0;
let tokenizeSeconds = 0;
const t0 = process.hrtime.bigint();
for (const name of files) {
  const text = readFileSync(join(dir, name), "utf8");
  bytes += Buffer.byteLength(text, "utf8");
  if (text.length === 0) continue;
  const t1 = process.hrtime.bigint();
  const ids = encode(text);
  tokenizeSeconds += Number(process.hrtime.bigint() - t1) / 1e9;
  const buf = new Uint16Array(ids.length + 1);
  buf[0] = 50256;
  buf.set(ids, 1);
  hash.update(Buffer.from(buf.buffer)); // little-endian on every platform node runs on here
  tokens += buf.length;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ impl, seconds, tokenize_seconds: tokenizeSeconds, bytes, tokens, sha256: hash.digest("hex") }));
