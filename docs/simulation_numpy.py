"""NumPy side of the Monte Carlo benchmark in docs/benchmarks.md (Rust side:
crates/simulation/examples/simulation_bench.rs).

    python docs/simulation_numpy.py [REPEATS]

The same two workloads and the same algorithm as the Rust engine, vectorised: standard normals
for every path and step (NumPy's default generator, PCG64 + ziggurat), summed over the steps per
asset, mapped through the lower-triangular factor diag(sigma sqrt(dt)) L of the correlation, then
the buy-and-hold horizon return, its mean, standard deviation, and the riskfolio-lib empirical VaR
and CVaR at 95 %. Paths are drawn in chunks of 50,000 so memory stays near 100 MB (a single
1 M x 252 array would need 2 GB). NumPy draws on one thread; its matrix products may use
OpenBLAS threads. Prints the best of REPEATS (default 3) wall-clock times.
"""

import math
import sys
import time

import numpy as np

CHUNK = 50_000


def horizon_returns(n_paths, steps, drift, vol, corr, weights, seed):
    d = len(drift)
    dt = 1.0 / 252.0
    chol = np.linalg.cholesky(corr)
    a = (np.asarray(vol) * math.sqrt(dt))[:, None] * chol
    m = (np.asarray(drift) - 0.5 * np.asarray(vol) ** 2) * dt * steps
    rng = np.random.default_rng(seed)
    out = np.empty(n_paths)
    for start in range(0, n_paths, CHUNK):
        n = min(CHUNK, n_paths - start)
        z = rng.standard_normal((n, steps, d))
        sumz = z.sum(axis=1)
        x = m + sumz @ a.T
        out[start : start + n] = np.exp(x) @ weights - 1.0
    return out


def stats(r, level=0.95):
    alpha = 1.0 - level
    s = np.sort(r)
    k = int(math.ceil(round(alpha * len(s), 9)))
    var = -s[k - 1]
    cvar = var + np.sum(s[k - 1] - s[:k]) / (alpha * len(s))
    return r.mean(), r.std(ddof=1), var, cvar


def run(name, repeats, **kw):
    best = math.inf
    for i in range(repeats):
        t = time.perf_counter()
        e, v, var, cvar = stats(horizon_returns(**kw))
        best = min(best, time.perf_counter() - t)
        if i == 0:
            print(f"  E[R] = {e:.5f}, vol = {v:.5f}, VaR95 = {var:.5f}, CVaR95 = {cvar:.5f}")
    print(f"{name}: {best:.3f} s")


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"numpy {np.__version__}")
    run("gbm_1asset_1M_x_252", repeats, n_paths=1_000_000, steps=252, drift=[0.07],
        vol=[0.2], corr=np.eye(1), weights=np.ones(1), seed=1)
    d = 10
    corr = np.full((d, d), 0.3)
    np.fill_diagonal(corr, 1.0)
    run("gbm_10assets_100k_x_252", repeats, n_paths=100_000, steps=252,
        drift=[0.04 + 0.005 * i for i in range(d)], vol=[0.1 + 0.02 * i for i in range(d)],
        corr=corr, weights=np.full(d, 1.0 / d), seed=2)


if __name__ == "__main__":
    main()
