#!/usr/bin/env python3
"""Collects interleaved run pairs on the test track for the validity benchmark
(bench/validity/README.md): each pair is one candidate and one baseline run, each its own
`speedcert-adversarial run` process as certify runs them, in an order drawn per pair.

Pools (appended to OUT/POOL.jsonl, one pair per line, so an interrupted collection
continues where it stopped):
  null        reference against reference (the false-record rate)
  slow-P      reference against delayed-reference slowed by P% of the reference's median
              training time (the power curves); the delay is calibrated once, from the
              null pool's first runs, and recorded in OUT/calibration.json

  python3 bench/validity/collect.py --bin target/debug/speedcert-adversarial \\
      --out bench/results/validity-raw --pool null --pairs 5000
  python3 bench/validity/collect.py ... --pool slow-3 --pairs 2000
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRACK = os.path.join(HERE, "..", "..", "tests", "tracks", "test-tiny.toml")
STEPS = 40  # test-tiny's reference.steps


def run(binary, submission, seed, delay_us=0):
    env = dict(os.environ, SPEEDCERT_TEST_STEP_DELAY_US=str(delay_us))
    out = subprocess.run(
        [binary, "run", "--track", TRACK, "--submission", submission, "--seed", str(seed), "--json"],
        capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{submission} seed {seed} failed: {out.stderr.strip()[-400:]}")
    r = json.loads(out.stdout)
    if r.get("status") != "ok":
        sys.exit(f"{submission} seed {seed}: {r.get('failure')}")
    return r["train_time_ms"]


def calibrate(binary, out_dir, runs=20):
    path = os.path.join(out_dir, "calibration.json")
    if os.path.exists(path):
        return json.load(open(path))
    times = [run(binary, "reference", 10_000_000 + i) for i in range(runs)]
    cal = dict(reference_median_ms=statistics.median(times), runs=runs, steps=STEPS,
               times_ms=times, at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    json.dump(cal, open(path, "w"), indent=1)
    return cal


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True, help="target/<profile>/speedcert-adversarial")
    p.add_argument("--out", required=True, help="folder of the pools")
    p.add_argument("--pool", required=True, help="null or slow-P (P in percent)")
    p.add_argument("--pairs", type=int, required=True, help="pairs the pool should hold")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.pool == "null":
        baseline, delay_us, pct = "reference", 0, 0.0
    elif args.pool.startswith("slow-"):
        pct = float(args.pool[5:])
        cal = calibrate(args.bin, args.out)
        delay_us = round(pct / 100 * cal["reference_median_ms"] * 1000 / STEPS)
        baseline = "delayed-reference"
    else:
        sys.exit(f"--pool {args.pool}: expected null or slow-P")
    path = os.path.join(args.out, f"{args.pool}.jsonl")
    have = sum(1 for _ in open(path)) if os.path.exists(path) else 0
    rng = random.SystemRandom()
    start = time.time()
    with open(path, "a") as f:
        for k in range(have, args.pairs):
            seeds = (rng.getrandbits(63), rng.getrandbits(63))
            cand_first = rng.random() < 0.5
            if cand_first:
                c = run(args.bin, "reference", seeds[0])
                b = run(args.bin, baseline, seeds[1], delay_us)
            else:
                b = run(args.bin, baseline, seeds[1], delay_us)
                c = run(args.bin, "reference", seeds[0])
            f.write(json.dumps(dict(pair=k, candidate_ms=c, baseline_ms=b, candidate_first=cand_first,
                                    slowdown_pct=pct, delay_us=delay_us)) + "\n")
            f.flush()
            if (k + 1) % 50 == 0:
                rate = (k + 1 - have) / (time.time() - start)
                print(f"{args.pool}: {k + 1}/{args.pairs} pairs ({rate:.2f} pairs/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
