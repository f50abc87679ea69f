#!/usr/bin/env bash
# pai's local engine against llama.cpp's own llama-bench, side by side.
#
# llama-bench is built from the same llama.cpp source as the crate's (see
# bench/llama-ref.sh); both run on the default chat model with the same threads
# (pp512, tg128, median of 3) and the script prints pai/reference ratios.
#
# Usage: bench/engine.sh [THREADS]   (default 2). Keep the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
reps=3
models=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
model=$models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$model" ] || { echo "bench: $model missing; run make fetch-models" >&2; exit 1; }

echo "bench: building pai (release)" >&2
cargo build --release -q -p pai

. bench/llama-ref.sh
llama_ref_build llama-bench
bin=$llama_ref_bin

# Run both; medians of the per-run rates.
ref=$("$bin" -m "$model" -t "$threads" -p 512 -n 128 -r "$reps" -o json 2>/dev/null)
pai=$(PAI_THREADS=$threads ./target/release/pai bench --pp 512 --tg 128 -r "$reps" --model "$model" --json)
python3 - "$ref" "$pai" "$threads" <<'PY'
import json, statistics, sys
ref, pai, threads = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
def median_ts(test):
    return statistics.median(test["samples_ts"])
ref_pp = median_ts(next(t for t in ref if t["n_prompt"] == 512 and t["n_gen"] == 0))
ref_tg = median_ts(next(t for t in ref if t["n_gen"] == 128 and t["n_prompt"] == 0))
print(f"model SmolLM2-135M-Instruct Q4_1, {threads} threads, median of {pai['repetitions']}")
print(f"{'test':<8}{'llama-bench t/s':>17}{'pai t/s':>12}{'pai/ref':>10}")
for name, r, p in (("pp512", ref_pp, pai["pp_tokens_per_s"]), ("tg128", ref_tg, pai["tg_tokens_per_s"])):
    print(f"{name:<8}{r:>17.1f}{p:>12.1f}{p / r:>10.3f}")
PY
