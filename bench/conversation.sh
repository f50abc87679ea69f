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

data=$(mktemp -d)
log="$data/serve.log"
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
fail() { echo "conversation: $*" >&2; tail -n 30 "$log" >&2 || true; exit 1; }

export PAI_MODELS_DIR=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
export RUST_LOG=${RUST_LOG:-warn}
# Answers of at most 256 tokens, as a chat app would ask: a looping model
# otherwise spends the server's 2,048-token limit on every turn.
export PAI_SERVER__LIMITS__MAX_TOKENS=${PAI_SERVER__LIMITS__MAX_TOKENS:-256}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
for user in minji jun; do
  echo "correct-horse-battery" | "$pai" --data-dir "$data" user add "$user" --password-stdin --timezone Asia/Seoul >/dev/null
done
minji=$("$pai" --data-dir "$data" key create --user minji --name bench 2>/dev/null)
jun=$("$pai" --data-dir "$data" key create --user jun --name bench 2>/dev/null)

"$pai" --data-dir "$data" serve --addr "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 240); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || fail "pai serve exited"
  sleep 0.5
done
echo "conversation: $("$pai" --version 2>/dev/null || echo pai) at $url, chat model $(grep -o 'chat_model[^,]*' "$log" | head -n 1 || true)"
python3 "$here/conversation/run.py" "$url" "{\"minji\": \"$minji\", \"jun\": \"$jun\"}" ${args[@]+"${args[@]}"}
