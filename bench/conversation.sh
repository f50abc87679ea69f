#!/usr/bin/env bash
# A conversation a person would keep (issue 18): 42 Korean and English turns of
# two users and an API client against a fresh `pai serve` on the real default
# models, each reply checked deterministically (bench/conversation/run.py):
# reply language, loops, memory-request answers naming what they are about,
# forgetting that forgets, nothing from another user or API exchange.
#
#   bench/conversation.sh                      the whole conversation, with transcripts
#   bench/conversation.sh --pai OLD/pai        the same against another build (before/after)
#   bench/conversation.sh --sample --gate      the short sample `make test` runs; exits 1 on a failed check
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
pai="$root/target/release/pai"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pai) pai=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -x "$pai" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"

name=conversation
. "$root/scripts/test-server.sh"
# Answers of at most 256 tokens, as a chat app would ask: a looping model
# otherwise spends the server's 2,048-token limit on every turn.
export PAI_SERVER__LIMITS__MAX_TOKENS=${PAI_SERVER__LIMITS__MAX_TOKENS:-256}
url="http://127.0.0.1:$port"
for user in minji jun; do
  echo "correct-horse-battery" | "$pai" --data-dir "$data" user add "$user" --password-stdin --timezone Asia/Seoul >/dev/null
done
minji=$("$pai" --data-dir "$data" key create --user minji --name bench 2>/dev/null)
jun=$("$pai" --data-dir "$data" key create --user jun --name bench 2>/dev/null)

start_server
echo "conversation: $pai at $url"
python3 "$here/conversation/run.py" "$url" "{\"minji\": \"$minji\", \"jun\": \"$jun\"}" ${args[@]+"${args[@]}"}
