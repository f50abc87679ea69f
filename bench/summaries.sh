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
bins=()
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pai) bins+=("$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ ${#bins[@]} = 0 ]; then
  bins=("$root/target/release/pai")
  [ -x "${bins[0]}" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"
fi
out="$root/target/summaries"
mkdir -p "$out"
results=()
n=0
for pai in "${bins[@]}"; do
  n=$((n + 1))
  (
    name=summaries
    . "$root/scripts/test-server.sh"
    for lang in en ko; do
      tz=$([ "$lang" = ko ] && echo Asia/Seoul || echo Europe/London)
      echo "correct-horse-battery" | "$pai" --data-dir "$data" user add "$lang" --password-stdin --timezone "$tz" >/dev/null
    done
    keys="{\"en\": \"$("$pai" --data-dir "$data" key create --user en --name bench 2>/dev/null)\", \
\"ko\": \"$("$pai" --data-dir "$data" key create --user ko --name bench 2>/dev/null)\"}"
    start_server
    url="http://127.0.0.1:$port"
    echo "summaries: $pai at $url"
    python3 "$here/summaries/run.py" run "$url" "$keys" "$out/run-$n.json" --label "$n:$pai" \
      ${args[@]+"${args[@]}"} || fail "the harness failed"
  )
  results+=("$out/run-$n.json")
done
if [ ${#results[@]} -gt 1 ]; then
  echo
  python3 "$here/summaries/run.py" table "${results[@]}"
fi
