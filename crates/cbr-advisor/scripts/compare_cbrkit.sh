#!/usr/bin/env bash
# Rust (criterion) vs cbrkit on the same generated case base, one after the other.
# Usage: crates/cbr-advisor/scripts/compare_cbrkit.sh [cases] [cbrkit targets]
# Needs a venv with cbrkit: python3 -m venv /tmp/cbr-venv && /tmp/cbr-venv/bin/pip install cbrkit
set -euo pipefail
CASES=${1:-1000000}
TARGETS=${2:-3}
PY=${CBRKIT_PYTHON:-/tmp/cbr-venv/bin/python}
DIR=$(mktemp -d /tmp/cbr-compare.XXXXXX)
cd "$(dirname "$0")/../../.."
CBR_BENCH_CASES=$CASES CBR_BENCH_EXPORT=$DIR cargo bench -p fundalloc-benches --bench cbr_retrieval
"$PY" crates/cbr-advisor/scripts/cbrkit_step1.py "$DIR" "$TARGETS"
