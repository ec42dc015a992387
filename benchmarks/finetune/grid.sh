#!/bin/sh
# The grid of issue 23, one command, resumable from its log (every finished run is skipped on a rerun):
# sets rule and facts, novel shares 0.05 and 0.2, six methods, 3 seeds with a fresh data draw each,
# evaluated at 30, 60, 120 and 240 steps of one run. Then the report over both logs.
# Usage: sh benchmarks/finetune/grid.sh --device cuda [extra minority.py options, e.g. --seeds 5]
# (about 40 hours on the shared 2-core CPU; meant for a GPU.)
set -e
cd "$(dirname "$0")/../.."
python benchmarks/finetune/minority.py --sets rule,facts --shares 0.05,0.2 \
    --methods uniform,overlap,model,zlib,permuted,oracle --seeds 3 --fresh-draw --checkpoints 30,60,120,240 \
    --threads "${THREADS:-4}" --log benchmarks/finetune/grid-runs.jsonl "$@"
python benchmarks/finetune/report.py
