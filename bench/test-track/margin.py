#!/usr/bin/env python3
"""How often does a 3-run certification of reference-fast on test-tiny miss the loss target?

The end-to-end tests certify `reference-fast` with 3 runs and assert "new record", which
needs the one-sided t-test "mean final loss < target" at p < 0.01 (df = 2, t > 6.965).
A certification trains on a secret language drawn per certification, so the achievable loss
moves with the language, and 3 runs estimate the spread badly. This bench measures both:
LANGUAGES random languages x 3 seeds through `speedcert run --secret-language`, then, for
each candidate target, the share of the measured triples that would fail, and a simulated
failure rate (a measured language's mean, 3 normal draws with the pooled within-language
standard deviation, again with twice it as a stress case, and with that language's own
measured standard deviation).

Usage: bench/test-track/margin.py [--binary target/debug/speedcert] [--languages 100]
                                  [--submission reference-fast] [--targets 2.85,2.9,3.0]
                                  [--raw OUT.json | --from OUT.json]
Prints a markdown report on stdout; --raw keeps the measured triples, --from reports on them
again (other --targets) without training.
"""

import argparse
import json
import math
import random
import statistics as st
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRACK = REPO / "tests/tracks/test-tiny.toml"
RUNS = 3
P = 0.01


def t_critical_df2(p: float) -> float:
    """One-sided Student t quantile for 2 degrees of freedom (closed form: F(t) = 1/2 +
    t / (2 sqrt(2 + t^2)))."""
    a = 1.0 - 2.0 * p
    return a * math.sqrt(2.0 / (1.0 - a * a))


def fails(xs, target: float, crit: float) -> bool:
    m, s = st.mean(xs), st.stdev(xs)
    return s == 0.0 and m >= target or s > 0.0 and (target - m) / (s / math.sqrt(len(xs))) <= crit


def run_once(binary: str, submission: str, track: Path, language: int, seed: int) -> float:
    p = subprocess.run(
        [binary, "run", "--track", str(track), "--submission", submission,
         "--seed", str(seed), "--secret-language", "--json"],
        input=f"{language}\n", capture_output=True, text=True, check=False,
    )
    if p.returncode not in (0, 3):
        sys.exit(f"{binary} run exited {p.returncode}: {p.stderr.strip()}")
    loss = json.loads(p.stdout)["final_val_loss"]
    if loss is None:
        sys.exit(f"run on language {language} seed {seed} has no final_val_loss")
    return float(loss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(REPO / "target/debug/speedcert"))
    ap.add_argument("--languages", type=int, default=100)
    ap.add_argument("--submission", default="reference-fast")
    ap.add_argument("--targets", default="2.85,2.9,2.95,3.0")
    ap.add_argument("--simulations", type=int, default=200_000)
    ap.add_argument("--raw", help="write the measured triples here (JSON)")
    ap.add_argument("--from", dest="source", help="read triples written by --raw, run nothing")
    args = ap.parse_args()

    rng = random.Random(20261201)
    triples = json.loads(Path(args.source).read_text()) if args.source else []
    args.languages = len(triples) or args.languages
    for i in range(0 if args.source else args.languages):
        language = rng.getrandbits(63)
        xs = [run_once(args.binary, args.submission, TRACK, language, rng.getrandbits(63))
              for _ in range(RUNS)]
        triples.append({"language": language, "losses": xs})
        print(f"\r{i + 1}/{args.languages} languages", end="", file=sys.stderr, flush=True)
    if not args.source:
        print(file=sys.stderr)
    if args.raw:
        Path(args.raw).write_text(json.dumps(triples, indent=1) + "\n")

    crit = t_critical_df2(P)
    means = [st.mean(t["losses"]) for t in triples]
    sds = [st.stdev(t["losses"]) for t in triples]
    pooled = math.sqrt(st.mean([s * s for s in sds]))
    print(f"{args.submission} on test-tiny, {args.languages} secret languages x {RUNS} seeds "
          f"({RUNS * args.languages} runs)\n")
    print(f"- mean final loss per language: {min(means):.4f} … {max(means):.4f} "
          f"(mean {st.mean(means):.4f}, sd {st.stdev(means):.4f})")
    print(f"- within-language sd: pooled {pooled:.4f}, largest {max(sds):.4f}")
    print(f"- one-sided t critical value, df 2, p {P}: {crit:.3f}\n")
    print("| target | measured triples failing | simulated, pooled sd | simulated, 2x pooled sd "
          "| simulated, each language's own sd |")
    print("|---|---|---|---|---|")
    for target in (float(t) for t in args.targets.split(",")):
        measured = sum(fails(t["losses"], target, crit) for t in triples)
        sim = []
        for sd_of in (lambda k: pooled, lambda k: 2.0 * pooled, lambda k: sds[k]):
            r = random.Random(1)
            n = 0
            for _ in range(args.simulations):
                k = r.randrange(len(triples))
                n += fails([r.gauss(means[k], sd_of(k)) for _ in range(RUNS)], target, crit)
            sim.append(f"{n / args.simulations:.2e} ({n}/{args.simulations})")
        print(f"| {target} | {measured}/{len(triples)} | " + " | ".join(sim) + " |")


if __name__ == "__main__":
    main()
