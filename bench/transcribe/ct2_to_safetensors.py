#!/usr/bin/env python3
"""The faster-whisper (CTranslate2, float16) model that `make fetch-models`
converts for whisper.cpp, written instead as Hugging Face transformers'
safetensors (float16, HF names) for candle's whisper, so bench/transcribe can
time both engines on the same weights. Standard library only; reads the model
with scripts/ct2_whisper_to_ggml.py's reader.

    ct2_to_safetensors.py MODEL_DIR OUT.safetensors
"""

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from ct2_whisper_to_ggml import read_ct2  # noqa: E402


def tensors(v, layers_enc, layers_dec, d):
    out = {}

    def put(name, key, rows=None):
        dtype, shape, raw = v[key]
        assert dtype == "f16", f"{key} is {dtype}"
        if rows is not None:
            row_bytes = len(raw) // shape[0]
            raw, shape = raw[rows[0] * row_bytes:rows[1] * row_bytes], (rows[1] - rows[0],) + tuple(shape[1:])
        out[name] = (list(shape), raw)

    def linear(name, key, rows=None, bias=True):
        put(f"{name}.weight", f"{key}/weight", rows)
        if bias:
            put(f"{name}.bias", f"{key}/bias", rows)

    def norm(name, key):
        put(f"{name}.weight", f"{key}/gamma")
        put(f"{name}.bias", f"{key}/beta")

    def self_attention(b, k):
        norm(f"{b}.self_attn_layer_norm", f"{k}/self_attention/layer_norm")
        linear(f"{b}.self_attn.q_proj", f"{k}/self_attention/linear_0", (0, d))
        linear(f"{b}.self_attn.k_proj", f"{k}/self_attention/linear_0", (d, 2 * d), bias=False)
        linear(f"{b}.self_attn.v_proj", f"{k}/self_attention/linear_0", (2 * d, 3 * d))
        linear(f"{b}.self_attn.out_proj", f"{k}/self_attention/linear_1")

    def mlp(b, k):
        norm(f"{b}.final_layer_norm", f"{k}/ffn/layer_norm")
        linear(f"{b}.fc1", f"{k}/ffn/linear_0")
        linear(f"{b}.fc2", f"{k}/ffn/linear_1")

    put("model.encoder.conv1.weight", "encoder/conv1/weight")
    put("model.encoder.conv1.bias", "encoder/conv1/bias")
    put("model.encoder.conv2.weight", "encoder/conv2/weight")
    put("model.encoder.conv2.bias", "encoder/conv2/bias")
    for i in range(layers_enc):
        b, k = f"model.encoder.layers.{i}", f"encoder/layer_{i}"
        self_attention(b, k)
        mlp(b, k)
    norm("model.encoder.layer_norm", "encoder/layer_norm")
    put("model.decoder.embed_positions.weight", "decoder/position_encodings/encodings")
    put("model.decoder.embed_tokens.weight", "decoder/embeddings/weight")
    for i in range(layers_dec):
        b, k = f"model.decoder.layers.{i}", f"decoder/layer_{i}"
        self_attention(b, k)
        norm(f"{b}.encoder_attn_layer_norm", f"{k}/attention/layer_norm")
        linear(f"{b}.encoder_attn.q_proj", f"{k}/attention/linear_0")
        linear(f"{b}.encoder_attn.k_proj", f"{k}/attention/linear_1", (0, d), bias=False)
        linear(f"{b}.encoder_attn.v_proj", f"{k}/attention/linear_1", (d, 2 * d))
        linear(f"{b}.encoder_attn.out_proj", f"{k}/attention/linear_2")
        mlp(b, k)
    norm("model.decoder.layer_norm", "decoder/layer_norm")
    return out


def main(model_dir, out_path):
    import re

    v = read_ct2(Path(model_dir))
    layers = lambda side: len({n.split("/")[1] for n in v if re.match(rf"{side}/layer_\d+/", n)})
    d = v["encoder/layer_norm/gamma"][1][0]
    t = tensors(v, layers("encoder"), layers("decoder"), d)
    header, offset = {}, 0
    for name, (shape, raw) in t.items():
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(out_path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, raw in t.values():
            f.write(raw)
    print(f"{out_path}: {len(t)} tensors, d_model {d}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
