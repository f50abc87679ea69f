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
. "$root/scripts/bench-builds.sh"
bench_one() {
  python3 "$here/grounded/run.py" setup "$1" "$2"
  python3 "$here/grounded/run.py" ask "$1" "$2" "$3" --label "$4" ${args[@]+"${args[@]}"}
}
each_build grounded
python3 "$here/grounded/run.py" table "${results[@]}"
