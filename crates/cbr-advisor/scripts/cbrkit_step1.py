"""Step 1 of SMARTFASI retrieval with cbrkit, on a case base exported by the Rust benchmark.

Usage: python cbrkit_step1.py <export dir> [max targets] [--dump FILE]

With --dump, cbrkit's rankings (id, 1 - similarity) are written to FILE as JSON (the fixture
crates/cbr-advisor/tests/fixtures/cbrkit_top.json was made this way, see tests/cbrkit.rs).

The export dir holds customers.csv, holdings.csv, products.csv and rust_top.json (written by
`CBR_BENCH_EXPORT=<dir> cargo bench -p fundalloc-benches --bench cbr_retrieval`). The
similarity is the one of fundalloc-cbr-advisor's default schema expressed with cbrkit:
attribute_value with a weighted-mean aggregator (weights 2,3,3,1,1,2,1,2 and 3 for the
portfolios), numbers.linear(max=range) for linear features, generic.table (1 - distance
matrix) for nominal ones, a missing value -> similarity 0, and the best portfolio matching
(Eq. 3-4, by permutation enumeration) for the first-level portfolios. cbrkit similarity is
1 - D of Eq. 5, so the rankings must agree; the script checks it and times cbrkit.
"""

import csv
import itertools
import json
import math
import sys
import time

import cbrkit

FEATURES = {  # name -> (kind, weight)
    "age": ("linear", 2),
    "available_capital": ("linear", 3),
    "adequacy": ("linear", 3),
    "children": ("linear", 1),
    "marital_status": ("nominal", 1),
    "education": ("nominal", 2),
    "sex": ("nominal", 1),
    "employment": ("nominal", 2),
}
PORTFOLIO_WEIGHT = 3
CATS = {
    "marital_status": ["single", "married", "divorced", "widowed"],
    "education": ["primary", "secondary", "bachelor", "master", "doctorate"],
    "sex": ["F", "M"],
    "employment": ["employee", "self_employed", "retired", "unemployed", "student"],
}
DIST = {
    "marital_status": [[0, 1, .5, .5], [1, 0, .75, .75], [.5, .75, 0, .5], [.5, .75, .5, 0]],
    "education": [[abs(i - j) / 4 for j in range(5)] for i in range(5)],
    "sex": [[0, 1], [1, 0]],
    "employment": [[0, .5, 1, 1, 1], [.5, 0, 1, 1, 1], [1, 1, 0, .75, 1], [1, 1, .75, 0, .5],
                   [1, 1, 1, .5, 0]],
}
CLASS = {("C", "F"): 0, ("C", "V"): 1, ("C", "C"): 2, ("G", "F"): 3, ("G", "V"): 4, ("G", "C"): 5}


def missing_aware(f):
    return lambda x, y: 0.0 if x is None or y is None else f(x, y)


def cos_dist(a, b):
    na = math.sqrt(sum(v * v for v in a))
    nb = math.sqrt(sum(v * v for v in b))
    if na == 0 or nb == 0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - sum(x * y for x, y in zip(a, b)) / (na * nb)))


def portfolio_sim(x, y):
    """1 - Dp (Eq. 3): best pairing of min(n, m) portfolios by enumeration."""
    if not x or not y:
        return 0.0
    small, large = (x, y) if len(x) <= len(y) else (y, x)
    best = min(
        sum(cos_dist(a, b) for a, b in zip(small, perm))
        for perm in itertools.permutations(large, len(small))
    )
    return 1.0 - best / len(small)


def load(d):
    products = {}
    with open(f"{d}/products.csv") as f:
        for r in csv.DictReader(f):
            products[r["id"]] = CLASS[(r["issuer"], r["rate"])]
    cases = {}
    with open(f"{d}/customers.csv") as f:
        for r in csv.DictReader(f):
            c = {}
            for name, (kind, _) in FEATURES.items():
                v = r[name]
                c[name] = None if v == "" else (float(v) if kind == "linear" else v)
            c["portfolios"] = {}
            cases[r["id"]] = c
    with open(f"{d}/holdings.csv") as f:
        for r in csv.DictReader(f):
            pf = cases[r["customer"]]["portfolios"].setdefault(r["portfolio"], [0.0] * 6)
            pf[products[r["product"]]] += float(r["share"])
    for c in cases.values():
        c["portfolios"] = tuple(tuple(v) for v in c["portfolios"].values())
    return cases


def main():
    args = sys.argv[1:]
    dump = None
    if "--dump" in args:
        i = args.index("--dump")
        dump = args[i + 1]
        del args[i:i + 2]
    d = args[0]
    max_targets = int(args[1]) if len(args) > 1 else 99
    dumped = []
    t0 = time.perf_counter()
    cases = load(d)
    print(f"loaded {len(cases)} cases in {time.perf_counter() - t0:.1f} s", flush=True)
    attrs = {}
    for name, (kind, _) in FEATURES.items():
        if kind == "linear":
            vals = [c[name] for c in cases.values() if c[name] is not None]
            attrs[name] = missing_aware(cbrkit.sim.numbers.linear(max=max(vals) - min(vals)))
        else:
            cats, m = CATS[name], DIST[name]
            entries = [(cats[i], cats[j], 1.0 - m[i][j]) for i in range(len(cats)) for j in range(len(cats))]
            attrs[name] = missing_aware(cbrkit.sim.generic.table(entries, symmetric=False))
    attrs["portfolios"] = portfolio_sim
    weights = {n: w for n, (_, w) in FEATURES.items()}
    weights["portfolios"] = PORTFOLIO_WEIGHT
    sim = cbrkit.sim.attribute_value(
        attributes=attrs,
        aggregator=cbrkit.sim.aggregator(pooling="mean", pooling_weights=weights),
    )
    rust = json.load(open(f"{d}/rust_top.json"))[:max_targets]
    n = len(rust[0]["top"])
    retriever = cbrkit.retrieval.build(sim, limit=n + 1)
    times, worst = [], 0.0
    for q in rust:
        t = q["target"]
        t0 = time.perf_counter()
        res = cbrkit.retrieval.apply(cases, cases[t], retriever)
        times.append(time.perf_counter() - t0)
        top = [(k, 1.0 - float(res.similarities[k].value)) for k in res.ranking if k != t][:n]
        dumped.append({"target": t, "top": top})
        for (ri, rd), (ci, cd) in zip(q["top"], top):
            worst = max(worst, abs(rd - cd))
        same = len({i for i, _ in q["top"]} & {i for i, _ in top})
        print(f"target {t}: cbrkit {times[-1]:.2f} s, top-{n} ids shared with Rust {same}/{n}, "
              f"max |D_rust - (1 - sim_cbrkit)| so far {worst:.2e}", flush=True)
    if dump:
        with open(dump, "w") as f:
            json.dump({"produced_by": "crates/cbr-advisor/scripts/cbrkit_step1.py with cbrkit "
                       + getattr(cbrkit, "__version__", "0.14.2"), "cases": len(cases),
                       "queries": dumped}, f, indent=1)
    print(json.dumps({"cases": len(cases), "n": n, "queries": len(times),
                      "cbrkit_mean_s": sum(times) / len(times), "max_abs_diff": worst}))


if __name__ == "__main__":
    main()
