#!/usr/bin/env python3
"""A bigram language model trained on a fixed Markov chain: the test suite's command
submission. Python 3 standard library only; the whole run takes a fraction of a second.

It logs like modded-nanogpt's train_gpt.py (logs/<run_id>.txt, the same lines on
stdout), so the referee reads it with its audit parser:

    Running Python <sys.version>
    ====...====
    step:0/60 val_loss:2.7726 train_time:0.000ms step_avg:0.00ms
    step:1/60 train_time:0.312ms step_avg:0.31ms
    ...
    step:60/60 val_loss:... train_time:...ms step_avg:...ms
    peak memory allocated: 0 MiB reserved: 0 MiB

The data: a fixed random Markov chain over V = 16 tokens (drawn from random.Random(1234)),
each row putting 90% of its mass on 3 successors. The model: a V x V logit table (row x =
the logits of the token after x), trained by Adam on the full-softmax cross-entropy of
8 sequences x 32 tokens per step, sampled with SPEEDCERT_SEED (which also draws the
initial table). Validation: a fixed sample of 2,000 predictions (its own seed).

Flags that make it misbehave, for the referee's tests (exit code 0 in every mode):
  --slow-ms X      sleep X ms inside every timed training step (a slower variant)
  --lie-time       report train_time x1000 + 3,600,000 ms (more than the wall time)
  --skip-training  print step 0's validation, then the final line with a made-up loss
  --truncate       stop the log in the middle of a line after step N/2
"""
import argparse
import math
import os
import random
import sys
import time
import uuid

V = 16                # vocabulary
CHAIN_SEED = 1234     # the Markov chain: fixed across runs
VAL_SEED = 4321       # the validation sample: fixed across runs
VAL_TOKENS = 2000     # predictions in the validation sample
BATCH = 8             # sequences per step
SEQ = 32              # predictions per sequence
LR = 0.03             # Adam: still descending at step 60 (floor: the chain's 1.34 nats)
BETA1, BETA2, EPS = 0.9, 0.99, 1e-8
VAL_EVERY = 25
FAKE_LOSS = 1.4000    # what --skip-training claims: better than an honest run's 1.46


def markov_chain():
    """Cumulative transition weights: row x puts 90% on 3 successors, 10% on the rest."""
    rng = random.Random(CHAIN_SEED)
    rows = []
    for _ in range(V):
        top = rng.sample(range(V), 3)
        w = [rng.gammavariate(1.0, 1.0) for _ in top]
        total = sum(w)
        probs = [0.1 / (V - 3)] * V
        for t, wi in zip(top, w):
            probs[t] = 0.9 * wi / total
        cum, acc = [], 0.0
        for p in probs:
            acc += p
            cum.append(acc)
        rows.append(cum)
    return rows


def sample_counts(chain, rng, sequences, length, counts=None):
    """Transition counts counts[x][y] of `sequences` chains of `length` predictions."""
    if counts is None:
        counts = [[0] * V for _ in range(V)]
    tokens = range(V)
    for _ in range(sequences):
        x = rng.randrange(V)
        for _ in range(length):
            y = rng.choices(tokens, cum_weights=chain[x])[0]
            counts[x][y] += 1
            x = y
    return counts


def softmax(row):
    m = max(row)
    e = [math.exp(v - m) for v in row]
    s = sum(e)
    return [v / s for v in e]


def mean_loss(table, counts, n):
    """Mean cross-entropy of the table on the transitions in counts (n of them)."""
    total = 0.0
    for x in range(V):
        row = table[x]
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        for y, c in enumerate(counts[x]):
            if c:
                total += c * (lse - row[y])
    return total / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--slow-ms", type=float, default=0.0)
    parser.add_argument("--lie-time", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--truncate", action="store_true")
    args = parser.parse_args()
    seed = int(os.environ.get("SPEEDCERT_SEED", "0"))
    steps = args.steps

    run_id = f"{uuid.uuid4()}"
    os.makedirs("logs", exist_ok=True)
    logfile = f"logs/{run_id}.txt"

    def print0(s, end="\n"):
        with open(logfile, "a") as f:
            f.write(s + end)
        sys.stdout.write(s + end)
        sys.stdout.flush()

    def shown(ms):  # the train time the log reports
        return ms * 1000 + 3_600_000 if args.lie_time else ms

    # train_time to the microsecond, where train_gpt.py rounds to the millisecond: runs of
    # 20 ms would otherwise all log the same time, and a paired test of equal differences
    # is undefined (the parser reads either).
    def val_line(step, loss, ms):
        t = shown(ms)
        return f"step:{step}/{steps} val_loss:{loss:.4f} train_time:{t:.3f}ms step_avg:{t / max(step, 1):.2f}ms"

    def train_line(step, ms):
        t = shown(ms)
        return f"step:{step}/{steps} train_time:{t:.3f}ms step_avg:{t / step:.2f}ms"

    print0(f"Running Python {sys.version}")
    print0("=" * 100)

    chain = markov_chain()
    val_counts = sample_counts(chain, random.Random(VAL_SEED), 1, VAL_TOKENS)
    rng = random.Random(seed)
    table = [[rng.gauss(0.0, 0.01) for _ in range(V)] for _ in range(V)]
    m1 = [[0.0] * V for _ in range(V)]
    m2 = [[0.0] * V for _ in range(V)]
    n_batch = BATCH * SEQ

    training_time_ms = 0.0
    t0 = time.perf_counter()
    for step in range(steps + 1):
        last_step = step == steps
        if last_step or step % VAL_EVERY == 0:
            # stop the clock during validation, as train_gpt.py does
            training_time_ms += 1000 * (time.perf_counter() - t0)
            if args.skip_training and step == 0:
                print0(val_line(0, mean_loss(table, val_counts, VAL_TOKENS), training_time_ms))
                print0(val_line(steps, FAKE_LOSS, training_time_ms))
                break
            print0(val_line(step, mean_loss(table, val_counts, VAL_TOKENS), training_time_ms))
            t0 = time.perf_counter()
        if last_step:
            break

        # one Adam step on the mean full-softmax cross-entropy of a fresh batch
        counts = sample_counts(chain, rng, BATCH, SEQ)
        k = step + 1
        c1 = 1 - BETA1 ** k
        c2 = 1 - BETA2 ** k
        for x in range(V):
            n_x = sum(counts[x])
            p = softmax(table[x])
            row, r1, r2, cx = table[x], m1[x], m2[x], counts[x]
            for y in range(V):
                g = (n_x * p[y] - cx[y]) / n_batch
                r1[y] = BETA1 * r1[y] + (1 - BETA1) * g
                r2[y] = BETA2 * r2[y] + (1 - BETA2) * g * g
                row[y] -= LR * (r1[y] / c1) / (math.sqrt(r2[y] / c2) + EPS)
        if args.slow_ms > 0:
            time.sleep(args.slow_ms / 1000)

        approx_training_time_ms = training_time_ms + 1000 * (time.perf_counter() - t0)
        line = train_line(step + 1, approx_training_time_ms)
        if args.truncate and step + 1 == steps // 2 + 1:
            print0(line[: len(line) // 2], end="")  # a log cut off mid-line
            return
        print0(line)

    print0("peak memory allocated: 0 MiB reserved: 0 MiB")


if __name__ == "__main__":
    main()
