#!/usr/bin/env bash
# End-to-end check of `pai serve` with the official OpenAI Python SDK (pinned,
# installed from PyPI into a venv under target/) and with curl, on the real
# default models. Also checks `pai user add`, `pai key create`, and that
# SIGTERM lets a running stream finish. Called by `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pai="$root/target/release/pai"
venv="$root/target/openai-sdk-venv"
OPENAI_VERSION=3.57.0

[ -x "$pai" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"
if ! "$venv/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION')" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openai==$OPENAI_VERSION"
fi

name=openai-sdk
. "$root/scripts/test-server.sh"
url="http://127.0.0.1:$port"

echo "correct-horse-battery" | "$pai" --data-dir "$data" user add minji --password-stdin --timezone Asia/Seoul
key=$("$pai" --data-dir "$data" key create --user minji --name sdk 2>/dev/null)
[[ $key == pai-* ]] || fail "pai key create printed no key"

start_server
curl -fsS "$url/healthz" >/dev/null || fail "/healthz"
grep -q "Created the first user, an admin" "$log" || fail "no first admin was created on an install without one"

PAI_URL=$url PAI_KEY=$key PAI_FIXTURES="$root/crates/pai-voice/tests/fixtures" "$venv/bin/python" "$here/test_sdk.py" \
  || fail "the SDK checks"

# curl: non-streamed, streamed, an error's shape, metrics.
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")
out=$(curl -sS "${auth[@]}" "$url/v1/chat/completions" -d '{"model":"pai","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}')
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["object"]=="chat.completion" and d["choices"][0]["message"]["content"]' \
  || fail "curl non-stream: $out"
out=$(curl -sSN "${auth[@]}" "$url/v1/chat/completions" -d '{"model":"pai","stream":true,"messages":[{"role":"user","content":"Hi"}],"max_tokens":8}')
[[ $(echo "$out" | grep -c '^data: ') -ge 3 && $(echo "$out" | tail -n 2) == *"data: [DONE]"* ]] || fail "curl stream: $out"
code=$(curl -sS -o "$data/err.json" -w '%{http_code}' "${auth[@]}" "$url/v1/chat/completions" -d '{"model":"pai","messages":"oops"}')
[ "$code" = 400 ] && python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["message"] and e["type"]=="invalid_request_error"' "$data/err.json" \
  || fail "curl bad request: $code $(cat "$data/err.json")"
# Read whole before grep: `grep -q` stops at the first match, and curl, still
# writing, would fail the pipeline (pipefail) once the page outgrows a pipe's buffer.
curl -fsS "$url/metrics" >"$data/metrics.txt" || fail "/metrics"
grep -q 'pai_generated_tokens_total [1-9]' "$data/metrics.txt" || fail "/metrics counts no generated tokens"
echo "ok   curl: completion, stream, error shape, metrics"

# SIGTERM during a stream: the stream still ends with [DONE], the server exits 0.
curl -sSN "${auth[@]}" "$url/v1/chat/completions" \
  -d '{"model":"pai","stream":true,"messages":[{"role":"user","content":"Tell me a long story."}],"max_tokens":120}' >"$data/stream.txt" &
client=$!
sleep 1
kill -TERM "$server"
wait "$client" || fail "the streaming client failed during shutdown"
status=0
wait "$server" || status=$?
server=
[ "$status" = 0 ] || fail "pai serve exited with $status after SIGTERM"
tail -n 3 "$data/stream.txt" | grep -q 'data: \[DONE\]' || fail "the stream was cut at shutdown: $(tail -c 300 "$data/stream.txt")"
echo "ok   graceful shutdown: the open stream finished, exit 0"
echo "openai-sdk: all passed"
