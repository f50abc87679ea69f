#!/usr/bin/env python3
"""Converts a CTranslate2 Whisper model (faster-whisper's format: model.bin,
vocabulary.json) into whisper.cpp's ggml file. Standard library only.

Usage: ct2_whisper_to_ggml.py MODEL_DIR OUT.bin   (MODEL_DIR may hold model.bin
split as model.bin.part1, model.bin.part2, ...)

Formats, from their reference implementations:
- model.bin (CTranslate2 python/ctranslate2/specs/model_spec.py `_serialize`,
  src/models/model.cc `Model::load`): u32 version, str spec, u32 revision,
  u32 count, then per variable: str name, u8 rank, u32 dims[rank], u8 dtype,
  u32 nbytes, data; then u32 aliases, each str alias, str target. A str is
  u16 length (with the NUL), bytes, NUL.
- ggml (whisper.cpp models/convert-pt-to-ggml.py, src/whisper.cpp
  whisper_model_load): i32 magic, 11 i32 hparams, mel filters, vocabulary
  as raw bytes, then tensors (i32 n_dims, name_len, type; i32 ne[] reversed;
  name; data) until the end of the file.
"""
import json
import math
import re
import struct
import sys
from pathlib import Path

DTYPES = {0: ("f32", 4), 1: ("i8", 1), 2: ("i16", 2), 3: ("i32", 4), 4: ("f16", 2), 5: ("bf16", 2)}


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise SystemExit("model.bin is truncated")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def str(self):
        raw = self.take(self.u16())
        if not raw.endswith(b"\0"):
            raise SystemExit("model.bin: a name without its NUL")
        return raw[:-1].decode()


def read_ct2(model_dir):
    """name -> (dtype, shape, bytes), aliases resolved."""
    single = model_dir / "model.bin"
    parts = sorted(model_dir.glob("model.bin.part*"), key=lambda p: int(p.name.rsplit("part", 1)[1]))
    data = single.read_bytes() if single.exists() else b"".join(p.read_bytes() for p in parts)
    r = Reader(data)
    version, spec, _revision = r.u32(), r.str(), r.u32()
    if version < 4 or version > 6 or spec != "WhisperSpec":
        raise SystemExit(f"not a CTranslate2 Whisper model (version {version}, spec {spec!r})")
    variables = {}
    for _ in range(r.u32()):
        name, rank = r.str(), r.u8()
        shape = struct.unpack(f"<{rank}I", r.take(4 * rank))
        dtype = DTYPES[r.u8()][0]
        variables[name] = (dtype, shape, r.take(r.u32()))
    for _ in range(r.u32()):
        alias, target = r.str(), r.str()
        variables[alias] = variables[target]
    if r.at != len(data):
        raise SystemExit(f"model.bin: {len(data) - r.at} bytes after the last alias")
    return variables


def f16_to_f32(raw):
    n = len(raw) // 2
    return struct.pack(f"<{n}f", *struct.unpack(f"<{n}e", raw))


def mel_filters(n_mels=80, sr=16000, n_fft=400):
    """librosa's Slaney mel filter bank ([n_mels][n_fft/2+1], row = mel), as whisper's mel_filters.npz."""
    bins = n_fft // 2 + 1
    fft_freqs = [k * sr / n_fft for k in range(bins)]
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, math.log(6.4) / 27.0

    def hz_to_mel(f):
        return f / f_sp if f < min_log_hz else min_log_mel + math.log(f / min_log_hz) / logstep

    def mel_to_hz(m):
        return f_sp * m if m < min_log_mel else min_log_hz * math.exp(logstep * (m - min_log_mel))

    top = hz_to_mel(sr / 2)
    mel_f = [mel_to_hz(top * i / (n_mels + 1)) for i in range(n_mels + 2)]
    out = []
    for i in range(n_mels):
        lo, mid, hi = mel_f[i], mel_f[i + 1], mel_f[i + 2]
        enorm = 2.0 / (hi - lo)
        out.append([max(0.0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid))) * enorm for f in fft_freqs])
    return out


def byte_decoder():
    """GPT-2's bytes_to_unicode, inverted: a vocabulary string's chars back to bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def token_bytes(token, decoder):
    if all(c in decoder for c in token):
        return bytes(decoder[c] for c in token)
    return token.encode()


def ggml_tensors(v, layers_enc, layers_dec, d):
    """(whisper.cpp name, float32?, shape, bytes) in the order whisper.cpp's converter writes them."""
    out = []

    def put(name, key, rows=None, reshape=None):
        dtype, shape, raw = v[key]
        if dtype != "f16":
            raise SystemExit(f"{key} is {dtype}; only float16 models are converted")
        if rows is not None:
            start, end = rows
            row_bytes = len(raw) // shape[0]
            raw, shape = raw[start * row_bytes:end * row_bytes], (end - start,) + tuple(shape[1:])
        shape = reshape or shape
        # whisper.cpp keeps biases, norms and positional embeddings in f32, weights in f16.
        keep_f32 = len(shape) < 2 or name.endswith(".bias") or "positional_embedding" in name
        out.append((name, keep_f32, shape, f16_to_f32(raw) if keep_f32 else raw))

    def linear(name, key, rows=None, bias=True):
        put(f"{name}.weight", f"{key}/weight", rows)
        if bias:
            put(f"{name}.bias", f"{key}/bias", rows)

    def norm(name, key):
        put(f"{name}.weight", f"{key}/gamma")
        put(f"{name}.bias", f"{key}/beta")

    def self_attention(b, k):
        # CTranslate2 fuses query, key and value by rows; whisper.cpp has no key bias.
        norm(f"{b}.attn_ln", f"{k}/self_attention/layer_norm")
        linear(f"{b}.attn.query", f"{k}/self_attention/linear_0", (0, d))
        linear(f"{b}.attn.key", f"{k}/self_attention/linear_0", (d, 2 * d), bias=False)
        linear(f"{b}.attn.value", f"{k}/self_attention/linear_0", (2 * d, 3 * d))
        linear(f"{b}.attn.out", f"{k}/self_attention/linear_1")

    def mlp(b, k):
        norm(f"{b}.mlp_ln", f"{k}/ffn/layer_norm")
        linear(f"{b}.mlp.0", f"{k}/ffn/linear_0")
        linear(f"{b}.mlp.2", f"{k}/ffn/linear_1")

    put("encoder.positional_embedding", "encoder/position_encodings/encodings")
    put("encoder.conv1.weight", "encoder/conv1/weight")
    put("encoder.conv1.bias", "encoder/conv1/bias", reshape=(d, 1))
    put("encoder.conv2.weight", "encoder/conv2/weight")
    put("encoder.conv2.bias", "encoder/conv2/bias", reshape=(d, 1))
    for i in range(layers_enc):
        b, k = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        self_attention(b, k)
        mlp(b, k)
    norm("encoder.ln_post", "encoder/layer_norm")
    put("decoder.positional_embedding", "decoder/position_encodings/encodings")
    put("decoder.token_embedding.weight", "decoder/embeddings/weight")
    for i in range(layers_dec):
        b, k = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        self_attention(b, k)
        norm(f"{b}.cross_attn_ln", f"{k}/attention/layer_norm")
        linear(f"{b}.cross_attn.query", f"{k}/attention/linear_0")
        linear(f"{b}.cross_attn.key", f"{k}/attention/linear_1", (0, d), bias=False)
        linear(f"{b}.cross_attn.value", f"{k}/attention/linear_1", (d, 2 * d))
        linear(f"{b}.cross_attn.out", f"{k}/attention/linear_2")
        mlp(b, k)
    norm("decoder.ln", "decoder/layer_norm")
    return out


def convert(model_dir, out_path):
    v = read_ct2(model_dir)
    vocab = json.loads((model_dir / "vocabulary.json").read_text())
    layers = lambda side: len({n.split("/")[1] for n in v if re.match(rf"{side}/layer_\d+/", n)})
    heads = lambda side: struct.unpack("<h", v[f"{side}/num_heads"][2])[0]
    d = v["encoder/layer_norm/gamma"][1][0]
    n_vocab = v["decoder/embeddings/weight"][1][0]
    n_mels = v["encoder/conv1/weight"][1][1]
    hparams = [
        n_vocab,
        v["encoder/position_encodings/encodings"][1][0], d, heads("encoder"), layers("encoder"),
        v["decoder/position_encodings/encodings"][1][0], d, heads("decoder"), layers("decoder"),
        n_mels, 1,  # ftype 1: weights in f16
    ]
    tensors = ggml_tensors(v, layers("encoder"), layers("decoder"), d)
    # The text tokens only (ids below <|endoftext|>): whisper.cpp numbers the special tokens itself.
    eot = vocab.index("<|endoftext|>")
    decoder = byte_decoder()
    with open(out_path, "wb") as out:
        out.write(struct.pack("<i", 0x67676D6C))
        out.write(struct.pack("<11i", *hparams))
        filters = mel_filters(n_mels)
        out.write(struct.pack("<ii", n_mels, len(filters[0])))
        for row in filters:
            out.write(struct.pack(f"<{len(row)}f", *row))
        out.write(struct.pack("<i", eot))
        for token in vocab[:eot]:
            raw = token_bytes(token, decoder)
            out.write(struct.pack("<I", len(raw)) + raw)
        for name, keep_f32, shape, raw in tensors:
            encoded = name.encode()
            out.write(struct.pack("<iii", len(shape), len(encoded), 0 if keep_f32 else 1))
            out.write(struct.pack(f"<{len(shape)}i", *reversed(shape)))
            out.write(encoded)
            out.write(raw)
    print(f"{out_path}: {len(tensors)} tensors, {eot} text tokens, hparams {hparams}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(Path(sys.argv[1]), sys.argv[2])
