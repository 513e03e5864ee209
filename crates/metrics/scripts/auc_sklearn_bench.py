"""Peer timing for the AUC benchmark in docs/benchmarks.md (not part of the build or tests).

Writes N seeded scores and labels to raw files (little-endian f64 scores, one byte per label)
and times scikit-learn's roc_auc_score on them; `cargo run --release -p fundalloc-examples
--example auc_speed -- --scores ... --labels ...` then times fundalloc on the same bytes.

    python auc_sklearn_bench.py [--n 10000000] [--round DECIMALS] [--repeats 3] [--out /tmp/auc]

Scores: s = sigmoid(z), z ~ N(0, 1); label positive with probability s. With --round the
scores are rounded (heavy ties).
"""

import argparse
import time

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=10_000_000)
parser.add_argument("--round", type=int, default=None)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--seed", type=int, default=2026)
parser.add_argument("--out", default="/tmp/auc")
args = parser.parse_args()

rng = np.random.default_rng(args.seed)
scores = 1.0 / (1.0 + np.exp(-rng.standard_normal(args.n)))
labels = rng.random(args.n) < scores
if args.round is not None:
    scores = np.round(scores, args.round)
scores.astype("<f8").tofile(f"{args.out}_scores.f64")
labels.astype(np.uint8).tofile(f"{args.out}_labels.u8")

times = []
for _ in range(args.repeats):
    start = time.perf_counter()
    auc = roc_auc_score(labels, scores)
    times.append(time.perf_counter() - start)
print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
print(f"n = {args.n}, positives = {int(labels.sum())}, distinct scores = {len(np.unique(scores))}")
print(f"roc_auc_score AUC = {auc!r}  best {min(times):.3f} s  median {sorted(times)[len(times) // 2]:.3f} s  runs {['%.3f' % t for t in times]}")
