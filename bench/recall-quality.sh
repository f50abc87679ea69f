#!/usr/bin/env bash
# Recall quality (issue "Recall that finds what the user said"): the
# hand-written Korean/English histories in bench/recall-quality/data, pai's
# recall against plain BM25 and e5 alone in the same run, by question kind and
# language, dev and held-out parts apart, with recall latency.
#   PAI_RECALL_DB=PATH     keep the imported database between runs
#   PAI_RECALL_OUT=FILE    one JSON line per question with every ranking
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory deps fetch-models
mkdir -p target
python3 bench/recall-quality/dataset.py build target/recall-quality.json
PAI_RECALL_SET="$PWD/target/recall-quality.json" exec cargo bench -p pai-assistant --bench recall_quality
