"""OR-Tools SimpleMinCostFlow on an allocation instance written by
`cargo run --release -p fundalloc-examples --example exact_scale -- --write-npy DIR`.

Reads DIR/revenue.npy (U×F, f32 or f64), DIR/tolerance.npy (U, u8), DIR/fund_risk.npy (F, u8),
DIR/exposure.npy (F, u64; exact exposures d_f) and DIR/k.txt, builds the transportation network
(customer u supplies K, fund f demands d_f, arc u→f of capacity 1 for every eligible pair) and
solves it with cost-scaling push-relabel. Costs must be integers: cost = −round(E·SCALE) with
SCALE = 1e6 (revenues here are < 1e3, so |cost| < 2^31 and the rounding moves each term by at
most 5e-7). Prints one JSON line: build and solve seconds, the integer optimum / SCALE, and the
revenue Σ E of the returned flow recomputed in float64 (the number comparable with Exact).

Run (scratch venv, not a project dependency):
    python3 -m venv /tmp/exact-venv && /tmp/exact-venv/bin/pip install ortools numpy
    /tmp/exact-venv/bin/python docs/exact-solver-ortools.py DIR
"""

import json
import sys
import time

import numpy as np
from ortools.graph.python import min_cost_flow

SCALE = 1e6


def main(d: str) -> None:
    e = np.load(f"{d}/revenue.npy")
    tol = np.load(f"{d}/tolerance.npy").astype(np.int64)
    risk = np.load(f"{d}/fund_risk.npy").astype(np.int64)
    dem = np.load(f"{d}/exposure.npy").astype(np.int64)
    k = int(open(f"{d}/k.txt").read())
    u, f = e.shape
    t0 = time.perf_counter()
    elig = tol[:, None] >= risk[None, :]
    cu, cf = np.nonzero(elig)
    cost = -np.rint(e[cu, cf].astype(np.float64) * SCALE).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        cu.astype(np.int32), (u + cf).astype(np.int32), np.ones(len(cu), np.int64), cost
    )
    supplies = np.concatenate([np.full(u, k, np.int64), -dem])
    smcf.set_nodes_supplies(np.arange(u + f, dtype=np.int32), supplies)
    t1 = time.perf_counter()
    status = smcf.solve()
    t2 = time.perf_counter()
    if status != smcf.OPTIMAL:
        print(json.dumps({"status": int(status)}))
        return
    flows = smcf.flows(arcs)
    chosen = flows > 0
    revenue = float(e[cu[chosen], cf[chosen]].astype(np.float64).sum())
    print(
        json.dumps(
            {
                "solver": "ortools-simple-min-cost-flow",
                "customers": u,
                "funds": f,
                "k": k,
                "build_seconds": t1 - t0,
                "solve_seconds": t2 - t1,
                "integer_optimum_over_scale": -smcf.optimal_cost() / SCALE,
                "objective": revenue,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
