#!/bin/sh
# The CPU schedule of the minority benchmark, cheapest first; each step resumes from the log.
# Usage: sh benchmarks/finetune/minority.sh [extra minority.py options]
set -e
cd "$(dirname "$0")/../.."
run() { nice -n 19 python benchmarks/finetune/minority.py "$@"; }
run --shares 0.2 --methods uniform,overlap,permuted,oracle "$@"
run --shares 0.05,0.5 --methods uniform,overlap,permuted,oracle "$@"
run --shares 0.2,0.05,0.5 --methods uniform,overlap,permuted,oracle,model "$@"
python benchmarks/finetune/report.py
