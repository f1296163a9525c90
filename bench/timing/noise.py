#!/usr/bin/env python3
"""Run-to-run spread of the test track's timed runs: what the timing-sensitive e2e tests'
effects must dwarf (tests/tests/certify.rs, nightly.rs, the adversarial binary's
SLOWED_REFERENCE_SLEEP). Runs each submission --runs times as its own process, interleaved,
optionally with a second process keeping one core busy, and prints mean, sd, min, max and
the largest excursion above the median of train_time_ms.

  python3 bench/timing/noise.py --bin target/debug/speedcert-adversarial --runs 30 --load
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRACK = os.path.join(HERE, "..", "..", "tests", "tracks", "test-tiny.toml")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True, help="speedcert or speedcert-adversarial")
    p.add_argument("--submissions", default="reference,reference-fast")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--load", action="store_true", help="keep one core busy meanwhile")
    p.add_argument("--json")
    args = p.parse_args(argv)
    subs = args.submissions.split(",")
    loader = subprocess.Popen(["sh", "-c", "while :; do :; done"]) if args.load else None
    times = {s: [] for s in subs}
    try:
        for i in range(args.runs):
            for s in subs:
                out = subprocess.run([args.bin, "run", "--track", TRACK, "--submission", s,
                                      "--seed", str(1000 + i), "--json"], capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"{s} run {i} failed: {out.stderr.strip()[-400:]}")
                times[s].append(json.loads(out.stdout)["train_time_ms"])
    finally:
        if loader:
            loader.kill()
    print(f"train_time_ms over {args.runs} runs each{' with one core loaded' if args.load else ''}:")
    print(f"{'submission':<16} {'mean':>8} {'sd':>7} {'min':>8} {'median':>8} {'max':>8} {'max-median':>10}")
    for s, t in times.items():
        med = statistics.median(t)
        print(f"{s:<16} {statistics.mean(t):8.1f} {statistics.stdev(t):7.1f} {min(t):8.1f} {med:8.1f} "
              f"{max(t):8.1f} {max(t) - med:10.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(load=args.load, runs=args.runs, times_ms=times), f, indent=2)


if __name__ == "__main__":
    main()
