#!/usr/bin/env bash
# Grounded answers (issue 24): 172 questions (124 about 26 documents in txt,
# md, html and PDF, 48 about memories; Korean and English; half answerable,
# half not; a third held out) asked of a fresh `pai serve` on the default
# models through /v1/chat/completions, each answer scored deterministically
# (bench/grounded/run.py): the gold span in the answer, retrieved, cited,
# unsupported numbers/codes/names, the question's language, "not found" for
# what nothing answers. Several builds side by side: --pai A --pai B.
#
#   bench/grounded.sh                           this build, every question (about 25 min on 2 cores)
#   bench/grounded.sh --pai OLD/pai --pai target/release/pai   before/after, one server each
#   bench/grounded.sh --sample                  six questions: the harness runs end to end (make test)
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
out="$root/target/grounded"
mkdir -p "$out"
results=()
n=0
for pai in "${bins[@]}"; do
  n=$((n + 1))
  (
    name=grounded
    . "$root/scripts/test-server.sh"
    for lang in en ko; do
      tz=$([ "$lang" = ko ] && echo Asia/Seoul || echo Europe/London)
      echo "correct-horse-battery" | "$pai" --data-dir "$data" user add "$lang" --password-stdin --timezone "$tz" >/dev/null
    done
    keys="{\"en\": \"$("$pai" --data-dir "$data" key create --user en --name bench 2>/dev/null)\", \
\"ko\": \"$("$pai" --data-dir "$data" key create --user ko --name bench 2>/dev/null)\"}"
    start_server
    url="http://127.0.0.1:$port"
    echo "grounded: $pai at $url"
    python3 "$here/grounded/run.py" setup "$url" "$keys"
    python3 "$here/grounded/run.py" ask "$url" "$keys" "$out/run-$n.json" --label "$n:$pai" \
      ${args[@]+"${args[@]}"}
  )
  results+=("$out/run-$n.json")
done
python3 "$here/grounded/run.py" table "${results[@]}"
