#!/usr/bin/env bash
# Documents (issue "Knowledge"): ingestion throughput of 1,000 generated
# documents with real e5 embeddings, and recall latency among 100k passages.
# PAI_BENCH_DOCS / PAI_BENCH_CHUNKS scale it down for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh
exec cargo bench --workspace --bench ingest
