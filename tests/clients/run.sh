#!/usr/bin/env bash
# The clients people point at an OpenAI-compatible server, against a real
# `pai serve` on the default models: LangChain, LiteLLM, the `llm` CLI and the
# OpenAI Agents SDK (Python, pinned in requirements.txt, in
# target/clients-venv), the openai npm package and the Vercel AI SDK (Node,
# pinned in package-lock.json), and a page on another origin in headless
# Chromium; and the MCP clients: the official Python SDK and the MCP
# Inspector's CLI, each on stdio (`pai mcp`) and Streamable HTTP (`/mcp`);
# and a TypeScript client generated from /openapi.json, compiled and run.
# Each check prints `ok   CLIENT: WHAT` or `FAIL CLIENT: WHAT: DETAIL`;
# the last line counts them. Offline once installed. Called by `make test`.
#   PAI_BIN=/path/to/pai tests/clients/run.sh     # another binary
#   CLIENTS_TIMES=1 tests/clients/run.sh           # each check's seconds on stderr
#   CLIENTS_ONLY="mcp mcp-inspector" tests/clients/run.sh   # some parts only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pai=${PAI_BIN:-$root/target/release/pai}
venv="$root/target/clients-venv"
tiktoken="$root/target/clients-tiktoken"
started=$SECONDS

if [ -z "${PAI_BIN:-}" ]; then
  [ -x "$pai" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"
fi
[ -x "$pai" ] || { echo "clients: $pai is not an executable" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "clients: /usr/bin/chromium is missing: run scripts/install-deps.sh" >&2; exit 1; }

# Python clients: a venv rebuilt only when requirements.txt changed.
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi

# Node clients: npm ci only when package-lock.json changed since the last install.
(cd "$here" && if ! cmp -s package-lock.json node_modules/.installed-lock.json; then
  npm ci --no-audit --no-fund --silent
  cp package-lock.json node_modules/.installed-lock.json
fi)

# tiktoken (LangChain's OpenAIEmbeddings tokenizes with it) downloads its BPE
# files on first use. The same files ship in the tiktoken-rs crate that pai
# builds with: lay them out as tiktoken's cache (named by the sha1 of the URL
# it would fetch; it checks each file's sha256).
mkdir -p "$tiktoken"
for encoding in cl100k_base o200k_base; do
  url="https://openaipublic.blob.core.windows.net/encodings/$encoding.tiktoken"
  cached="$tiktoken/$(printf %s "$url" | sha1sum | cut -d' ' -f1)"
  [ -s "$cached" ] && continue
  src=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tiktoken-rs-0.12.1/assets/"$encoding".tiktoken 2>/dev/null | head -n 1 || true)
  [ -n "$src" ] || { echo "clients: $encoding.tiktoken not found in the tiktoken-rs 0.12.1 crate source under ${CARGO_HOME:-$HOME/.cargo}/registry/src: run 'cargo fetch' (pai depends on the crate)" >&2; exit 1; }
  cp "$src" "$cached"
done

# Offline and quiet: no telemetry, tracing uploads, hub or cost-map downloads,
# and none of the caller's OpenAI settings.
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_API_BASE OPENAI_ORG_ID OPENAI_PROJECT_ID
export TIKTOKEN_CACHE_DIR=$tiktoken
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true LITELLM_TELEMETRY=False
export OPENAI_AGENTS_DISABLE_TRACING=1 LANGSMITH_TRACING=false LANGCHAIN_TRACING_V2=false
export HF_HUB_OFFLINE=1 DO_NOT_TRACK=1 PYTHONDONTWRITEBYTECODE=1
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

name=clients
. "$root/scripts/test-server.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
allowed_port=$(free_port)
other_port=$(free_port)

# The settings the issue's clients need: the model names they hard-code, and
# the origin of the browser page.
cat >"$data/pai.toml" <<EOF
[server]
cors_origins = ["http://127.0.0.1:$allowed_port"]

[server.model_aliases]
"gpt-4o-mini" = "chat"
"text-embedding-3-small" = "embedding"
"text-embedding-ada-002" = "embedding"
EOF
echo "client-tests-password" | "$pai" --data-dir "$data" user add ada --password-stdin --timezone UTC >/dev/null
key=$("$pai" --data-dir "$data" key create --user ada --name clients 2>/dev/null)
[[ $key == pai-* ]] || fail "pai key create printed no key"
# A second user, whose key must see nothing of ada's (MCP).
echo "client-tests-password" | "$pai" --data-dir "$data" user add bob --password-stdin --timezone UTC >/dev/null
key2=$("$pai" --data-dir "$data" key create --user bob --name clients 2>/dev/null)
start_server

export PAI_URL="http://127.0.0.1:$port" PAI_KEY=$key LLM_USER_PATH="$data/llm"
export ALLOWED_PORT=$allowed_port OTHER_PORT=$other_port
# MCP clients start `pai mcp` themselves (stdio) on the server's data.
export PAI_KEY2=$key2 PAI_BIN=$pai PAI_DATA=$data
results="$data/results.txt"
: >"$results"
# One part: its lines go to the screen and to $results; a part that dies
# without reporting a failure (an import error, a crash) counts as one.
part() {
  local label=$1 status=0
  shift
  if [ -n "${CLIENTS_ONLY:-}" ] && [[ " $CLIENTS_ONLY " != *" $label "* ]]; then return 0; fi
  (cd "$here" && "$@") 2>&1 | tee "$data/part.txt" || status=$?
  cat "$data/part.txt" >>"$results"
  if [ "$status" != 0 ] && ! grep -q '^FAIL ' "$data/part.txt"; then
    echo "FAIL $label: exited $status before reporting" | tee -a "$results"
  fi
}
part langchain "$venv/bin/python" test_langchain.py
part litellm "$venv/bin/python" test_litellm.py
part llm "$venv/bin/python" test_llm_cli.py
part openai-agents "$venv/bin/python" test_agents.py
part openai-npm node test_openai.mjs
part ai-sdk node test_ai_sdk.mjs
part browser node test_browser.mjs
part mcp "$venv/bin/python" test_mcp.py
part mcp-inspector node test_mcp_inspector.mjs
part typed-client bash test_typed_client.sh

# Operations: a request id on every response, and SIGTERM with the memory jobs
# the suite queued still running exits within systemd's 90 s (the job in
# progress goes back to the queue); the time it took is printed.
check() { if eval "$2"; then echo "ok   server: $1"; else echo "FAIL server: $1"; fi | tee -a "$results"; }
check "x-request-id on a /v1 response" \
  'curl -sS -D - -o /dev/null -H "Authorization: Bearer $key" "$PAI_URL/v1/models" | grep -qi "^x-request-id: "'
working=$(curl -sS "$PAI_URL/metrics" | grep -E '^pai_extraction_jobs\{state="(running|pending)"\}' | awk '{s+=$2} END {print s+0}')
# A web app tab's notification stream stays open: it must not hold the shutdown.
curl -sSN -H "Authorization: Bearer $key" "$PAI_URL/api/notifications/stream" >/dev/null 2>&1 &
sse=$!
sleep 1
t0=$(date +%s.%N)
kill -TERM "$server"
for _ in $(seq 1 900); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
took=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))")
check "SIGTERM with $working memory jobs queued or running and a notification stream open: exited in $took s (systemd allows 90)" '! kill -0 "$server" 2>/dev/null'
kill "$sse" 2>/dev/null || true
wait "$server" 2>/dev/null || true
server=

passed=$(grep -c '^ok   ' "$results" || true)
failed=$(grep -c '^FAIL ' "$results" || true)
echo "clients: took $((SECONDS - started)) s"
if [ "$failed" != 0 ]; then
  (fail "$failed client checks failed (the FAIL lines above)") || true
fi
echo "clients: $passed passed, $failed failed"
[ "$failed" = 0 ]
