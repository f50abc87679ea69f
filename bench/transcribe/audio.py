#!/usr/bin/env python3
"""Makes the speech-to-text benchmark's audio, offline and deterministically.

Every sentence of sentences.tsv is spoken by espeak-ng (en-us or ko voice) into
a WAV file; then, with a fixed seed, this script

  - puts each single-sentence clip through one of four conditions, rotating:
    clean, white noise at 20 dB SNR, pink noise at 20 dB SNR with 1.5 s of
    leading and 1.0 s of trailing silence, and silence padding alone (the
    padding is where Whisper is known to invent words or misplace times);
  - joins three sentences with 1.5-2.5 s of silence between them into a few
    multi-sentence clips, under light pink noise (25 dB), for the timestamp
    checks: more than one segment, with known speech regions;
  - in full mode joins every sentence of a language into one long clip (about
    a minute), for the real-time factor on audio longer than Whisper's 30 s
    window;
  - encodes each clip into a container, rotating wav, flac (flac), mp3 (lame)
    and ogg vorbis (oggenc) so that every condition meets every container.
    (Opus is left out: pai's decoder refuses it.) The WAV is kept for every
    clip: the speed comparison with whisper-cli runs both on the same WAV.

Writes OUT/manifest.json: one entry a clip with its reference text, language,
split, duration, speech regions (seconds) and files. Python standard library
only; espeak-ng, flac, lame and oggenc are run as programs.

Usage: audio.py SENTENCES.tsv OUT_DIR [--sample]
"""

import argparse
import array
import csv
import json
import math
import os
import random
import subprocess
import sys
import wave

SEED = 20240611  # fixed: the same audio on every run and every machine
VOICES = {"en": "en-us", "ko": "ko"}
SNR_DB = 20.0
MULTI_SNR_DB = 25.0
CONDITIONS = ["clean", "white20", "pink20+silence", "silence"]
CONTAINERS = ["wav", "flac", "mp3", "ogg"]
LEAD_S, TRAIL_S = 1.5, 1.0
LONG_GAP_S = 0.6


def speak(text, voice, path):
    """espeak-ng at its default rate: 22050 Hz, mono, 16-bit PCM."""
    subprocess.run(["espeak-ng", "-v", voice, "-w", path, text], check=True)
    return read_wav(path)


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        rate = w.getframerate()
        pcm = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        pcm.byteswap()
    return rate, [s / 32768.0 for s in pcm]


def write_wav(path, rate, samples):
    peak = max((abs(s) for s in samples), default=0.0)
    # Scaled down rather than clipped where the noise pushed a peak past full scale.
    scale = 0.99 / peak if peak > 0.99 else 1.0
    pcm = array.array("h", (int(round(s * scale * 32767)) for s in samples))
    if sys.byteorder == "big":
        pcm.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def power(samples):
    return sum(s * s for s in samples) / max(len(samples), 1)


def white(rng, n):
    return [rng.gauss(0.0, 1.0) for _ in range(n)]


def pink(rng, n):
    """Pink (1/f) noise: white noise through Paul Kellet's economy filter."""
    b0 = b1 = b2 = 0.0
    out = []
    for _ in range(n):
        w = rng.gauss(0.0, 1.0)
        b0 = 0.99765 * b0 + w * 0.0990460
        b1 = 0.96300 * b1 + w * 0.2965164
        b2 = 0.57000 * b2 + w * 1.0526913
        out.append(b0 + b1 + b2 + w * 0.1848)
    return out


def add_noise(samples, noise, speech_power, snr_db):
    """Noise scaled against the speech's power (not the padded clip's), so
    that padding a clip with silence does not change its SNR."""
    gain = math.sqrt(speech_power / (power(noise) * 10 ** (snr_db / 10.0)))
    return [s + gain * v for s, v in zip(samples, noise)]


def encode(wav_path, container):
    """The clip in CONTAINER next to its WAV; returns the file to transcribe."""
    if container == "wav":
        return wav_path
    out = wav_path[: -len(".wav")] + "." + container
    cmd = {
        "flac": ["flac", "--silent", "--force", "-o", out, wav_path],
        "mp3": ["lame", "--quiet", "-b", "64", wav_path, out],
        "ogg": ["oggenc", "--quiet", "-q", "3", "-o", out, wav_path],
    }[container]
    subprocess.run(cmd, check=True)
    return out


def load_sentences(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sentences")
    ap.add_argument("out")
    ap.add_argument("--sample", action="store_true", help="a few clips only: the harness end to end")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "speech"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "clips"), exist_ok=True)
    rng = random.Random(SEED)
    sentences = load_sentences(args.sentences)

    # 1. Every sentence spoken once (the multi and long clips reuse them).
    spoken = {}
    for s in sentences:
        path = os.path.join(args.out, "speech", s["id"] + ".wav")
        spoken[s["id"]] = speak(s["text"], VOICES[s["lang"]], path)
    rate = {r for r, _ in spoken.values()}
    assert len(rate) == 1, f"espeak-ng gave several sample rates: {rate}"
    rate = rate.pop()

    clips = []

    def emit(clip_id, lang, split, kind, text, samples, regions, condition, container):
        wav_path = os.path.join(args.out, "clips", clip_id + ".wav")
        write_wav(wav_path, rate, samples)
        clips.append({
            "id": clip_id, "lang": lang, "split": split, "kind": kind, "text": text,
            "condition": condition, "container": container,
            "duration": len(samples) / rate,
            "speech": [[round(a / rate, 3), round(b / rate, 3)] for a, b in regions],
            "wav": wav_path, "file": encode(wav_path, container),
        })

    # 2. Single-sentence clips. Condition i % 4, container shifted by one each
    #    block of four: every condition meets every container.
    by_lang = {}
    for s in sentences:
        by_lang.setdefault(s["lang"], []).append(s)
    for lang, items in sorted(by_lang.items()):
        for i, s in enumerate(items):
            condition = CONDITIONS[i % 4]
            container = CONTAINERS[(i % 4 + i // 4) % 4]
            _, speech = spoken[s["id"]]
            sp = power(speech)
            lead = int(LEAD_S * rate) if "silence" in condition else 0
            trail = int(TRAIL_S * rate) if "silence" in condition else 0
            samples = [0.0] * lead + speech + [0.0] * trail
            if condition.startswith("white"):
                samples = add_noise(samples, white(rng, len(samples)), sp, SNR_DB)
            elif condition.startswith("pink"):
                samples = add_noise(samples, pink(rng, len(samples)), sp, SNR_DB)
            emit(s["id"], lang, s["split"], "single", s["text"], samples,
                 [(lead, lead + len(speech))], condition, container)

    # 3. Multi-sentence clips: three sentences of one split, silences of
    #    1.5-2.5 s between them (and 0.5 s around), light pink noise.
    n = 0
    for lang, items in sorted(by_lang.items()):
        for split in ("tune", "heldout"):
            group = [s for s in items if s["split"] == split][:3]
            samples, regions = [0.0] * int(0.5 * rate), []
            for j, s in enumerate(group):
                if j:
                    samples += [0.0] * int(rng.uniform(1.5, 2.5) * rate)
                _, speech = spoken[s["id"]]
                regions.append((len(samples), len(samples) + len(speech)))
                samples += speech
            samples += [0.0] * int(0.5 * rate)
            sp = sum(power(spoken[s["id"]][1]) for s in group) / len(group)
            samples = add_noise(samples, pink(rng, len(samples)), sp, MULTI_SNR_DB)
            container = CONTAINERS[n % 4]
            n += 1
            emit(f"{lang}-multi-{split}", lang, split, "multi", " ".join(s["text"] for s in group),
                 samples, regions, f"pink{int(MULTI_SNR_DB)}+gaps", container)

    # 4. Long clips (full mode): every sentence of the language, clean, short
    #    gaps; about a minute of audio, so more than one 30 s window.
    if not args.sample:
        for lang, items in sorted(by_lang.items()):
            samples, regions = [], []
            for s in items:
                _, speech = spoken[s["id"]]
                regions.append((len(samples), len(samples) + len(speech)))
                samples += speech + [0.0] * int(LONG_GAP_S * rate)
            emit(f"{lang}-long", lang, "long", "long", " ".join(s["text"] for s in items),
                 samples, regions, "clean", "wav")

    # Sample mode: one clip per language and kind, chosen to cover a noisy
    # condition and a compressed container, so the harness runs end to end fast.
    if args.sample:
        keep = {"en02", "ko03", "en-multi-tune", "ko-multi-heldout"}
        clips = [c for c in clips if c["id"] in keep]

    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"seed": SEED, "rate": rate, "sample": args.sample, "clips": clips}, f, ensure_ascii=False, indent=1)
    total = sum(c["duration"] for c in clips)
    print(f"audio: {len(clips)} clips, {total:.1f} s of audio in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
