#!/usr/bin/env bash
# Load on `pai serve` over loopback (issue "Server"), on the real default models:
#  - /api/recall and GET /api/memories at 64 connections (wrk): requests/s, p50/p99,
#    next to GET /healthz as the HTTP stack's own ceiling on this machine;
#  - chat at 1, 4 and 8 concurrent streams, one user each: aggregate tokens/s and
#    time to first token p50/p95, next to `pai bench`'s generation speed of the
#    same model (the engine alone: the server's overhead is the ratio).
# BENCH_MEMORIES (default 1000), BENCH_SECONDS (15), BENCH_CHAT_REQUESTS per stream (3),
# BENCH_MAX_TOKENS (64), BENCH_DATABASE=sqlite|postgres (default sqlite; postgres runs a
# private PostgreSQL 15 from scripts/postgres.sh), BENCH_CHAT=0 to leave chat out
# (bench/backends.sh compares the two databases that way).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
memories=${BENCH_MEMORIES:-1000}
seconds=${BENCH_SECONDS:-15}
per_stream=${BENCH_CHAT_REQUESTS:-3}
max_tokens=${BENCH_MAX_TOKENS:-64}
backend=${BENCH_DATABASE:-sqlite}

scripts/install-deps.sh
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "bench: install wrk (apt install wrk)" >&2; exit 1; fi
fi
scripts/fetch-models.sh
cargo build --release -p pai
pai=target/release/pai
export PAI_MODELS_DIR=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
export RUST_LOG=${RUST_LOG:-error}
# The benchmark measures throughput, not the per-user request limit.
export PAI_SERVER__LIMITS__REQUESTS_PER_MINUTE=100000000

data=$(mktemp -d)
chmod 755 "$data"
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$data"' EXIT
case $backend in
  sqlite) export PAI_DATABASE="sqlite://$data/pai.db" ;;
  # Stopped by postgres.sh when this script ends.
  postgres) export PAI_DATABASE=$(scripts/postgres.sh start "$data/pg" $$) ;;
  *) echo "bench: BENCH_DATABASE is sqlite or postgres" >&2; exit 2 ;;
esac
echo "== database: $backend"
keys=()
for i in $(seq 1 8); do
  echo "bench-password-$i" | $pai --data-dir "$data" user add "user$i" --password-stdin --timezone Asia/Seoul >/dev/null
  keys+=("$($pai --data-dir "$data" key create --user "user$i" 2>/dev/null)")
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
$pai --data-dir "$data" serve --addr "127.0.0.1:$port" >"$data/serve.log" 2>&1 &
server=$!
until curl -fsS "$url/readyz" >/dev/null 2>&1; do sleep 0.5; done

echo "== seeding $memories memories for user1"
t0=$(date +%s.%N)
python3 bench/serve_seed.py "$url" "${keys[0]}" "$memories"
echo "seeded in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s (each embedded with e5 on arrival)"
sleep 2 # the last writes settle (WAL, autovacuum) before sizes are read
if [ "$backend" = postgres ]; then
  pg_port=${PAI_DATABASE##*:}; pg_port=${pg_port%%/*}
  bytes=$(/usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p "$pg_port" -U pai -d pai -qAt -c "SELECT pg_database_size('pai')")
else
  bytes=$(cat "$data"/pai.db* | wc -c)
fi
echo "database size after seeding: $bytes bytes"

cat >"$data/recall.lua" <<'LUA'
local queries = {"where does Jiwoo live", "부산에 누가 살아", "who likes jazz", "요가는 언제 해", "allergies", "고양이"}
local i = 0
request = function()
  i = i + 1
  local body = string.format('{"query": "%s", "k": 10}', queries[(i % #queries) + 1])
  -- wrk.format's headers replace wrk.headers (which hold -H): pass them on.
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/recall", headers, body)
end
LUA
auth="Authorization: Bearer ${keys[0]}"
summary() { grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors" | sed 's/^ */    /'; }
echo "== GET /healthz, 64 connections, ${seconds}s (the HTTP stack's ceiling)"
wrk -t2 -c64 -d"${seconds}s" --latency "$url/healthz" | summary
echo "== GET /api/memories (a page of 100 of $memories), 64 connections, ${seconds}s"
wrk -t2 -c64 -d"${seconds}s" --latency -H "$auth" "$url/api/memories?limit=100" | summary
echo "== POST /api/recall (k=10, KO/EN queries, e5 query embedding included), 64 connections, ${seconds}s"
wrk -t2 -c64 -d"${seconds}s" --latency -H "$auth" -s "$data/recall.lua" "$url/api/recall" | summary

if [ "${BENCH_CHAT:-1}" = 0 ]; then
  exit 0
fi
echo "== chat, default model, $max_tokens tokens per answer, $per_stream requests per stream"
all_keys=$(IFS=,; echo "${keys[*]}")
for n in 1 4 8; do
  python3 bench/serve_chat.py "$url" "$all_keys" "$n" "$per_stream" "$max_tokens"
done
kill -TERM $server; wait $server || true; server=
echo "== reference: the engine alone (pai bench, tg$max_tokens, same model and threads)"
$pai bench --pp 64 --tg "$max_tokens" -r 3 2>/dev/null | tail -n 4
