#!/usr/bin/env bash
# Extractive summaries of recording transcripts: 40 transcripts (20 Korean,
# 20 English: voice memos, phone calls without speaker labels, meetings,
# lectures; half "tune", half held out) uploaded as .txt documents to a fresh
# `pai serve` on the default models, one user per language, and each
# document's GET /api/documents/{id}/summary scored deterministically
# (bench/summaries/run.py): the one-line summary against the hand-marked best
# sentences (hit) and the reference summary (ROUGE-1, ROUGE-L), the parts
# checked to come from the document; baselines first/longest/oracle computed
# from the data in the same run. Several builds side by side: --pai A --pai B.
#
#   bench/summaries.sh                           this build, every transcript
#   bench/summaries.sh --pai OLD/pai --pai target/release/pai   before/after, one server each
#   bench/summaries.sh --sample                  four transcripts: the harness runs end to end
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/bench-builds.sh"
bench_one() {
  python3 "$here/summaries/run.py" run "$1" "$2" "$3" --label "$4" ${args[@]+"${args[@]}"} || fail "the harness failed"
}
each_build summaries
if [ ${#results[@]} -gt 1 ]; then
  echo
  python3 "$here/summaries/run.py" table "${results[@]}"
fi
