#!/usr/bin/env bash
# Serving speed (issue "Serving speed"): `pai serve` against llama.cpp's own
# llama-server, built from the same vendored llama.cpp source (bench/llama-ref.sh),
# on the same model with the same threads and the same number of slots, one
# after the other in one run (bench/serving.py does the measuring):
#  - time to first token of a follow-up turn after a 2,000-token conversation,
#    warm ÷ cold (prefix reuse);
#  - aggregate tokens/s at 4 concurrent streams ÷ 1 stream (parallel decoding);
#  - pai ÷ llama-server on both;
#  - pai's TTFT pair again with memory on (recall, storage, background extraction);
#  - llama-batched-bench's 4-sequence/1-sequence generation rate: what batching
#    can give on this machine at all.
# Usage: bench/serving.sh [THREADS] [SLOTS]  (default 2 and 4). Keep the machine otherwise idle.
# BENCH_REPS (3), BENCH_REQUESTS per stream (2), BENCH_MAX_TOKENS (128), BENCH_HISTORY_TOKENS (2000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
threads=${1:-2}
slots=${2:-4}
ctx=4096 # per conversation, both servers
models=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
export PAI_MODELS_DIR=$models
model=$models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$model" ] || { echo "bench: $model missing; run make fetch-models" >&2; exit 1; }

echo "bench: building pai (release)" >&2
cargo build --release -q -p pai
pai=target/release/pai
. bench/llama-ref.sh
llama_ref_build llama-server
llama_server=$llama_ref_bin
llama_ref_build llama-batched-bench
batched_bench=$llama_ref_bin

data=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$data"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() { until curl -fsS "$1" >/dev/null 2>&1; do kill -0 "$server" 2>/dev/null || { echo "bench: server died" >&2; cat "$data"/*.log >&2; exit 1; }; sleep 0.5; done; }
stop() { kill -TERM "$server"; wait "$server" 2>/dev/null || true; server=; }

echo "== pai serve: $threads threads, $slots slots, context $ctx per conversation"
keys=()
for i in $(seq 1 "$slots"); do
  echo "bench-password-$i" | $pai --data-dir "$data" user add "user$i" --password-stdin >/dev/null
  keys+=("$($pai --data-dir "$data" key create --user "user$i" 2>/dev/null)")
done
port=$(free_port)
PAI_THREADS=$threads PAI_PARALLEL=$slots PAI_CONTEXT_LENGTH=$ctx RUST_LOG=error \
  PAI_SERVER__LIMITS__REQUESTS_PER_MINUTE=100000000 \
  $pai --data-dir "$data" serve --addr "127.0.0.1:$port" >"$data/pai.log" 2>&1 &
server=$!
wait_ready "http://127.0.0.1:$port/readyz"
# memory off: the measured requests are plain chats (no recall, nothing stored or extracted).
python3 bench/serving.py "http://127.0.0.1:$port" "$(IFS=,; echo "${keys[*]}")" '{"memory": false}' "$data/pai.json" '{}'
echo "  pai's KV cache over the run (/metrics):"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^pai_prompt_cache' | sed 's/^/    /'
stop

echo "== llama-server: $threads threads, -np $slots, -c $((ctx * slots)) (its defaults otherwise)"
port=$(free_port)
"$llama_server" -m "$model" -t "$threads" -tb "$threads" -np "$slots" -c $((ctx * slots)) \
  --host 127.0.0.1 --port "$port" >"$data/llama-server.log" 2>&1 &
server=$!
wait_ready "http://127.0.0.1:$port/health"
python3 bench/serving.py "http://127.0.0.1:$port" - '{}' "$data/ref.json"
stop

# What batching can give on this machine at all: llama.cpp decoding 1 and 4
# sequences in one process, no server (generation rate only).
"$batched_bench" -m "$model" -t "$threads" -tb "$threads" -c $((ctx * slots)) -npp 32 -ntg 128 -npl 1,$slots \
  --output-format jsonl 2>/dev/null | grep '^{' >"$data/batched.jsonl" || true

python3 - "$data/pai.json" "$data/ref.json" "$data/batched.jsonl" <<'PY'
import json, sys
pai, ref = (json.load(open(p)) for p in sys.argv[1:3])
batched = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
def ratios(r):
    return r["ttft"]["warm_s"] / r["ttft"]["cold_s"], r["four"]["tokens_per_s"] / r["one"]["tokens_per_s"]
(pw, ps), (rw, rs) = ratios(pai), ratios(ref)
print(f"\n{'':34}{'pai':>10}{'llama-server':>14}{'pai/ref':>9}   target")
print(f"{'TTFT cold (s)':34}{pai['ttft']['cold_s']:>10.3f}{ref['ttft']['cold_s']:>14.3f}{ref['ttft']['cold_s'] / pai['ttft']['cold_s']:>9.2f}")
print(f"{'TTFT warm (s)':34}{pai['ttft']['warm_s']:>10.3f}{ref['ttft']['warm_s']:>14.3f}{ref['ttft']['warm_s'] / pai['ttft']['warm_s']:>9.2f}")
print(f"{'TTFT warm / cold':34}{pw:>10.3f}{rw:>14.3f}{'':9}   <= 0.1")
print(f"{'tokens/s, 1 stream':34}{pai['one']['tokens_per_s']:>10.1f}{ref['one']['tokens_per_s']:>14.1f}{pai['one']['tokens_per_s'] / ref['one']['tokens_per_s']:>9.2f}")
print(f"{'tokens/s, 4 streams':34}{pai['four']['tokens_per_s']:>10.1f}{ref['four']['tokens_per_s']:>14.1f}{pai['four']['tokens_per_s'] / ref['four']['tokens_per_s']:>9.2f}")
print(f"{'4 streams / 1 stream':34}{ps:>10.2f}{rs:>14.2f}{'':9}   >= 2.5")
print("(pai/ref: > 1 means pai is faster; for TTFT it is ref time / pai time)")
if "ttft_memory" in pai:
    t = pai["ttft_memory"]
    print(f"pai with memory on (recall in the prompt, extraction in the background): "
          f"TTFT cold {t['cold_s']:.3f} s, warm {t['warm_s']:.3f} s, warm/cold {t['warm_s'] / t['cold_s']:.3f}")
if len(batched) >= 2:
    one, many = batched[0]["speed_tg"], batched[-1]["speed_tg"]
    print(f"llama-batched-bench, generation only: {one:.1f} t/s at 1 sequence, {many:.1f} at {batched[-1]['pl']}: "
          f"{many / one:.2f}x is what batching gives on this machine")
PY
