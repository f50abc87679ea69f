#!/usr/bin/env bash
# Speech to text: `pai transcribe` on audio made offline, scored, and timed
# against whisper.cpp's own CLI built from the same whisper.cpp source (1.8.3).
#
# espeak-ng speaks 20 English and 20 Korean everyday sentences
# (bench/transcribe/sentences.tsv, each marked tune or heldout; nothing is
# tuned on them yet, but the split is printed apart so that it can be), and
# bench/transcribe/audio.py mixes in white or pink noise at 20 dB SNR, pads
# some clips with silence, joins sentences into multi-sentence clips (and, in
# full mode, one ~1 minute clip a language), and encodes them as wav, flac,
# mp3 and ogg vorbis in turn (fixed seed: the same audio every run).
# bench/transcribe/evaluate.py then prints, per language and split:
#   - WER and CER (Korean word boundaries make WER harsh: read its CER),
#   - whether the language is detected when -l is left out,
#   - timestamp violations (a segment ending before it starts, starting
#     before the previous one ended, or ending past the audio);
# and the real-time factor (seconds of audio per second of compute) of pai and
# of whisper-cli (bench/transcribe/whisper-ref.sh), same model file, same
# threads, same WAV files, side by side with their ratio. Nothing is asserted:
# the numbers are read, ratios compared. Keep the machine otherwise idle; the
# load average at start and end is printed with the results.
#
#   bench/transcribe.sh             every clip (about an hour on 2 cores shared with a test suite)
#   bench/transcribe.sh --sample    four clips: the harness end to end
#   bench/transcribe.sh --no-ref    pai alone (no whisper-cli build)
#   bench/transcribe.sh --pai PATH  another pai binary (default target/release/pai)
# Results: target/bench-transcribe/report.json (every clip's transcripts too).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

sample=()
ref=1
pai=$root/target/release/pai
while [ $# -gt 0 ]; do
  case "$1" in
    --sample) sample=(--sample); shift ;;
    --no-ref) ref=0; shift ;;
    --pai) pai=$2; shift 2 ;;
    *) echo "usage: bench/transcribe.sh [--sample] [--no-ref] [--pai PATH]" >&2; exit 2 ;;
  esac
done

# 1. The tools that make and encode the audio (and build the reference).
need=()
for pair in espeak-ng:espeak-ng flac:flac lame:lame oggenc:vorbis-tools python3:python3; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ "$ref" = 1 ]; then
  for pair in cmake:cmake g++:g++ npm:npm; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo); else
    echo "bench: missing ${need[*]}: run sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "bench: installing ${need[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2. The model (the same file for both engines) and pai.
models=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
model=$models/ggml-whisper-base.bin
[ -f "$model" ] || scripts/fetch-models.sh
[ -f "$model" ] || { echo "bench: $model missing after scripts/fetch-models.sh" >&2; exit 1; }
if [ ! -x "$pai" ]; then
  echo "bench: building pai (release)" >&2
  cargo build --release -q -p pai
fi

# 3. whisper-cli from whisper.cpp 1.8.3, built once under target/ and cached.
ref_args=()
if [ "$ref" = 1 ]; then
  . "$here/transcribe/whisper-ref.sh"
  whisper_ref_build
  ref_args=(--ref "$whisper_ref_bin" --ref-version "$whisper_ref_version")
fi

# 4. The audio (made anew each run: deterministic, a few seconds), then the runs.
work=$root/target/bench-transcribe
rm -rf "$work/audio"
python3 "$here/transcribe/audio.py" "$here/transcribe/sentences.tsv" "$work/audio" ${sample[@]+"${sample[@]}"}
python3 "$here/transcribe/evaluate.py" "$work/audio/manifest.json" --pai "$pai" --model "$model" \
  --report "$work/report.json" --threads "$(nproc)" ${ref_args[@]+"${ref_args[@]}"}
