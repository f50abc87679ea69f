#!/usr/bin/env bash
# Documents (issue "Knowledge"): ingestion throughput of 1,000 generated
# documents with real e5 embeddings, and recall latency among 100k passages.
# PAI_BENCH_DOCS / PAI_BENCH_CHUNKS scale it down for a quick run.
# First, the cost of reading (txt, HTML, PDF) and cutting one large document into passages, per MB
# (issue 21: it was quadratic; each row should show the same seconds per MB).
# PAI_BENCH_CHUNKING_ONLY=1 stops after that table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p pai-assistant --lib knowledge::chunk::bench -- --ignored --nocapture --test-threads 1 2>/dev/null | grep '^|'
[ -n "${PAI_BENCH_CHUNKING_ONLY:-}" ] && exit 0
scripts/fetch-models.sh
exec cargo bench --workspace --bench ingest
