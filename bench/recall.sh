#!/usr/bin/env bash
# Recall latency and indexing throughput (issue "Personal memory"):
# one user with 100k memories and 200k messages among 1,000 users.
# PAI_BENCH_SCALE=0.1 for a quick run; PAI_BENCH_BREAKDOWN=1 to split text/vector time.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --workspace --bench recall
