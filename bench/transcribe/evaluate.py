#!/usr/bin/env python3
"""Runs `pai transcribe` (and whisper-cli) on the clips audio.py made, and scores them.

For every clip of OUT/manifest.json:
  1. `pai transcribe -f json -l LANG` on the clip's container (wav, flac, mp3
     or ogg): the words (WER, CER) and the segments' times;
  2. the same without -l: is the detected language the spoken one?
  3. with --ref, on a subset (every multi-sentence and long clip, and two
     clean single-sentence clips a language): pai and whisper-cli, each on the
     clip's WAV with -l LANG, one after the other, --reps rounds (the order
     alternates, so a drift in the machine's load falls on both alike; the
     fastest run counts): the real-time factor of each.

Scores
  WER: word-level Levenshtein distance over the reference's word count, summed
    over the clips of a group (not a mean of per-clip rates), after
    normalising both sides: Unicode NFKC, lower case, apostrophes dropped,
    other punctuation and symbols as spaces, and in English digits written
    out ("10" -> "ten", "3:30" -> "three thirty", "12th" -> "twelfth"), since
    the references spell numbers as they are spoken and Whisper writes digits.
    Korean numbers are left as they are (espeak-ng and Whisper may each pick
    Sino-Korean or digits); that shows in the Korean scores.
  CER: the same on characters with spaces removed. For Korean it is the
    fairer number: word boundaries (eojeol) make WER harsh there.
  Timestamps: per run, every segment has 0 <= start <= end, starts no earlier
    than the previous segment ended, and ends within the audio (plus 0.1 s:
    mp3 and Vorbis encoders pad the last frame). Violations are counted and
    listed.
  Real-time factor: seconds of audio / seconds of wall-clock compute, each
    run a fresh process with model load and audio decoding included (that is
    what a user of either CLI waits for). Higher is faster.

Writes REPORT (JSON) and prints the tables. Python standard library only.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata

TIME_TOLERANCE = 0.1  # seconds past the end of the audio a segment may end (codec padding)
# Single-sentence clips in the speed comparison (with every multi-sentence and
# long clip): two clean ones a language, to time short audio too.
SPEED_SINGLES = {"en01", "en05", "ko01", "ko05"}

# ---------------------------------------------------------------- normalising

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
           "nine": "ninth", "twelve": "twelfth"}


def number_words(n):
    """0 <= n < 10000 in words, the way people say it ("twenty five")."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    rest = n % 1000
    return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def ordinal_words(n):
    words = number_words(n).split()
    last = words[-1]
    if last in ORDINAL:
        words[-1] = ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def english_numbers(text):
    def clock(m):
        h, mm = int(m.group(1)), int(m.group(2))
        if mm == 0:
            return number_words(h)
        return number_words(h) + " " + ("oh " + ONES[mm] if mm < 10 else number_words(mm))

    text = re.sub(r"\b(\d{1,2}):(\d{2})\b", clock, text)
    text = re.sub(r"\b(\d{1,4})(?:st|nd|rd|th)\b", lambda m: ordinal_words(int(m.group(1))), text)
    return re.sub(r"\b\d{1,4}\b", lambda m: number_words(int(m.group(0))), text)


def normalize(text, lang):
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("'", "").replace("\u2019", "")
    if lang == "en":
        text = english_numbers(text)
    text = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in text)
    return text.split()


def edits(ref, hyp):
    """Levenshtein distance between two sequences (substitutions, deletions, insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def score(ref_text, hyp_text, lang):
    ref, hyp = normalize(ref_text, lang), normalize(hyp_text, lang)
    ref_chars, hyp_chars = list("".join(ref)), list("".join(hyp))
    return {"words": len(ref), "word_edits": edits(ref, hyp),
            "chars": len(ref_chars), "char_edits": edits(ref_chars, hyp_chars)}


# ------------------------------------------------------------------- checking

def timestamp_violations(segments, duration):
    out = []
    prev_end = 0.0
    for i, s in enumerate(segments):
        start, end = s["start"], s["end"]
        if start < 0:
            out.append(f"segment {i} starts before 0 ({start:.2f})")
        if start > end:
            out.append(f"segment {i} starts after it ends ({start:.2f} > {end:.2f})")
        if i and start < prev_end - 1e-6:
            out.append(f"segment {i} starts at {start:.2f}, before segment {i - 1} ended ({prev_end:.2f})")
        if end > duration + TIME_TOLERANCE:
            out.append(f"segment {i} ends at {end:.2f}, past the audio's {duration:.2f} s")
        prev_end = max(prev_end, end)
    return out


# -------------------------------------------------------------------- running

def timed(cmd):
    """Runs CMD; returns it with its wall-clock and CPU (user + system) seconds.
    CPU time is kept beside wall time because this machine may be shared: a
    competing process stretches wall time far more than CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secs = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, secs, cpu


def run_pai(pai, model, path, lang):
    cmd = [pai, "transcribe", "-f", "json", "-m", model, path] + (["-l", lang] if lang else [])
    p, secs, cpu = timed(cmd)
    if p.returncode != 0:
        return {"error": p.stderr.decode(errors="replace").strip()[-500:], "seconds": secs, "cpu_seconds": cpu}
    out = json.loads(p.stdout)
    return {"language": out["language"], "text": out["text"], "segments": out["segments"], "seconds": secs,
            "cpu_seconds": cpu}


def run_ref(ref, model, path, lang, threads, tmp):
    # -bs 1: greedy decoding as pai does (whisper-cli's own default is a beam
    # of 5); -ng: CPU, as pai; timestamps stay on (pai decodes with them).
    prefix = os.path.join(tmp, "ref")
    cmd = [ref, "-m", model, "-f", path, "-t", str(threads), "-l", lang, "-bs", "1", "-ng", "-np",
           "-oj", "-of", prefix]
    p, secs, cpu = timed(cmd)
    if p.returncode != 0:
        return {"error": p.stderr.decode(errors="replace").strip()[-500:], "seconds": secs, "cpu_seconds": cpu}
    with open(prefix + ".json", encoding="utf-8", errors="replace") as f:
        out = json.load(f)
    segments = [{"start": s["offsets"]["from"] / 1000, "end": s["offsets"]["to"] / 1000,
                 "text": s["text"].strip()} for s in out["transcription"]]
    return {"text": " ".join(s["text"] for s in segments), "segments": segments, "seconds": secs,
            "cpu_seconds": cpu}


# ------------------------------------------------------------------ reporting

def rate(edits_, total):
    return edits_ / total if total else float("nan")


def aggregate(rows):
    words = sum(r["score"]["words"] for r in rows)
    chars = sum(r["score"]["chars"] for r in rows)
    detected = [r for r in rows if "language" in r["auto"]]
    return {
        "clips": len(rows), "words": words,
        "wer": rate(sum(r["score"]["word_edits"] for r in rows), words),
        "cer": rate(sum(r["score"]["char_edits"] for r in rows), chars),
        "detected_right": sum(r["auto"]["language"] == r["lang"] for r in detected),
        "timestamp_violations": sum(len(r["violations"]) for r in rows),
        "failed": sum(("error" in r["pai"]) + ("error" in r["auto"]) for r in rows),
    }


def speed(rows, key):
    runs = [r[key] for r in rows if key in r and "error" not in r[key]]
    audio = sum(r["duration"] for r in rows if key in r and "error" not in r[key])
    secs = sum(x["seconds"] for x in runs)
    cpu = sum(x["cpu_seconds"] for x in runs)
    return {"clips": len(runs), "audio_s": audio, "compute_s": secs, "rtf": audio / secs if secs else float("nan"),
            "cpu_s": cpu, "audio_per_cpu_s": audio / cpu if cpu else float("nan")}


def pct(x):
    return "   -  " if x != x else f"{100 * x:5.1f}%"


def cpu_pressure():
    """Linux's CPU pressure (PSI): the share of the last 60 s in which some
    runnable task waited for a CPU. Near 0 on an idle machine; a better sign
    than the load average that these timings were disturbed. None where absent."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split()[2].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def run(args):
    """Runs every clip (and the speed subset); returns the report's fields."""
    manifest = json.load(open(args.manifest, encoding="utf-8"))
    clips = manifest["clips"]
    load_start, pressure_start = os.getloadavg()[0], cpu_pressure()
    started = time.perf_counter()

    # The speed comparison runs on a subset, several times: on a shared
    # 2-core machine one run of a few seconds can take several times longer
    # when another process takes a core (ggml's threads wait on each other),
    # so each clip's time is the fastest of REPS runs. A sample manifest
    # times all its clips once.
    sample = manifest.get("sample", False)
    reps = 1 if sample else args.reps
    speed_ids = [c["id"] for c in clips if sample or c["kind"] != "single" or c["id"] in SPEED_SINGLES]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # 1. Accuracy: each clip's container, with -l and without.
        for i, c in enumerate(clips):
            print(f"[{i + 1}/{len(clips)}] {c['id']} ({c['lang']}, {c['condition']}, {c['container']}, "
                  f"{c['duration']:.1f} s)", file=sys.stderr, flush=True)
            row = dict(c)
            row["pai"] = run_pai(args.pai, args.model, c["file"], c["lang"])
            row["auto"] = run_pai(args.pai, args.model, c["file"], None)
            row["score"] = score(c["text"], row["pai"].get("text", ""), c["lang"])
            row["violations"] = []
            for kind in ("pai", "auto"):
                if "error" in row[kind]:
                    print(f"  {kind} failed: {row[kind]['error']}", file=sys.stderr)
                for v in timestamp_violations(row[kind].get("segments", []), c["duration"]):
                    row["violations"].append(f"{kind}: {v}")
            rows.append(row)

        # 2. Speed: pai and whisper-cli on the same WAVs, -l LANG, REPS rounds.
        #    Who goes first alternates by clip and round: a drift in the
        #    machine's load then falls on both alike.
        if args.ref:
            subset = [r for r in rows if r["id"] in speed_ids]
            for rep in range(reps):
                for i, r in enumerate(subset):
                    print(f"[speed {rep + 1}/{reps}] {r['id']} ({r['duration']:.1f} s)", file=sys.stderr, flush=True)
                    order = ("pai_wav", "ref_wav") if (i + rep) % 2 == 0 else ("ref_wav", "pai_wav")
                    for key in order:
                        if key == "pai_wav":
                            result = run_pai(args.pai, args.model, r["wav"], r["lang"])
                        else:
                            result = run_ref(args.ref, args.model, r["wav"], r["lang"], args.threads, tmp)
                        if "error" in result:
                            print(f"  {key} failed: {result['error']}", file=sys.stderr)
                        best = r.get(key)
                        times = (best or {}).get("runs", []) + [result["seconds"]]
                        if best is None or ("error" in best and "error" not in result) or \
                                ("error" not in result and result["seconds"] < best["seconds"]):
                            best = result
                        best["runs"] = times
                        r[key] = best
            for r in subset:
                for key in ("pai_wav", "ref_wav"):
                    if "error" not in r[key]:
                        r[key]["score"] = score(r["text"], r[key]["text"], r["lang"])
                        r[key]["violations"] = timestamp_violations(r[key]["segments"], r["duration"])

    return {
        "pai": args.pai, "model": args.model, "threads": args.threads,
        "reference": {"bin": args.ref, "version": args.ref_version} if args.ref else None,
        "seed": manifest["seed"], "reps": reps, "elapsed_s": time.perf_counter() - started,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
        "cpu_pressure": {"start": pressure_start, "end": cpu_pressure()},
        "clips": rows,
    }


def show(report):
    """Prints the tables; returns the aggregates for the JSON report."""
    rows, ref = report["clips"], report["reference"]
    langs = sorted({r["lang"] for r in rows})
    splits = [s for s in ("tune", "heldout", "long") if any(r["split"] == s for r in rows)]
    groups = {}
    for lang in langs:
        for split in splits + ["all"]:
            sel = [r for r in rows if r["lang"] == lang and (split == "all" or r["split"] == split)]
            if sel:
                groups[f"{lang}/{split}"] = aggregate(sel)

    load = report["load_average"]
    print()
    print(f"speech to text: {report['pai']} (model {os.path.basename(report['model'])}, {report['threads']} threads)"
          + (f" vs whisper-cli {ref['version']}" if ref else ""))
    print(f"audio: {len(rows)} clips, {sum(r['duration'] for r in rows):.1f} s, espeak-ng voices en-us and ko, "
          f"seed {report['seed']}; {report['elapsed_s'] / 60:.1f} min")
    pressure = report.get("cpu_pressure") or {}
    print(f"machine: load average {load['start']:.2f} at start, {load['end']:.2f} at end"
          + (f"; CPU pressure (tasks waiting for a CPU, last 60 s) {pressure['start']:.0f}% at start, "
             f"{pressure['end']:.0f}% at end" if pressure.get("start") is not None and pressure.get("end") is not None
             else ""))
    print()
    print("accuracy: pai transcribe -l LANG on each clip's container; 'detected': the same clip without -l")
    print(f"{'lang':<5}{'split':<9}{'clips':>6}{'words':>7}{'WER':>9}{'CER':>9}{'detected':>10}{'ts viol':>9}{'failed':>8}")
    for name, g in groups.items():
        lang, split = name.split("/")
        print(f"{lang:<5}{split:<9}{g['clips']:>6}{g['words']:>7}{pct(g['wer']):>9}{pct(g['cer']):>9}"
              f"{g['detected_right']:>5}/{g['clips']:<4}{g['timestamp_violations']:>9}{g['failed']:>8}")

    # Where the errors come from: by noise condition and by container (all
    # splits; five clips a cell, so read differences of a few points as noise).
    print()
    for lang in langs:
        sel = [r for r in rows if r["lang"] == lang and r["kind"] == "single"]
        parts = []
        for field in ("condition", "container"):
            vals = sorted({r[field] for r in sel})
            parts.append(", ".join(f"{v} {pct(aggregate([r for r in sel if r[field] == v])['cer']).strip()}"
                                   for v in vals))
        if sel:
            print(f"{lang} single clips, CER by condition: {parts[0]}; by container: {parts[1]}")
    for lang in langs:
        sel = [r for r in rows if r["lang"] == lang and "language" in r["auto"]]
        wrong = {}
        for r in sel:
            if r["auto"]["language"] != lang:
                wrong[r["auto"]["language"]] = wrong.get(r["auto"]["language"], 0) + 1
        if wrong:
            print(f"{lang} detected as: " + ", ".join(f"{k} {v}" for k, v in sorted(wrong.items(), key=lambda x: -x[1])))

    # Timestamps: violations, and how far the first segment starts from the speech.
    print()
    n_segments = sum(len(r[k].get("segments", [])) for r in rows for k in ("pai", "auto"))
    violations = [(r["id"], v) for r in rows for v in r["violations"]]
    print(f"timestamps: {len(violations)} violations in {n_segments} segments (runs with and without -l)")
    for cid, v in violations:
        print(f"  {cid}: {v}")
    for lang in langs:
        late = [r["pai"]["segments"][0]["start"] - r["speech"][0][0] for r in rows
                if r["lang"] == lang and r["speech"][0][0] > 0 and r["pai"].get("segments")]
        if late:
            print(f"  {lang}: first segment start minus speech onset, clips with leading silence: "
                  f"median {statistics.median(late):+.2f} s, range {min(late):+.2f} to {max(late):+.2f} s "
                  f"({len(late)} clips)")

    # Speed.
    speeds = {}
    print()
    print("speed: real-time factor (RTF) = seconds of audio / seconds of wall-clock compute, higher is faster;")
    print("       one process per clip, model load and decoding included. 'CPU' columns: audio seconds per")
    print("       CPU second (user + system, all threads), less disturbed by other load on the machine.")
    print(f"{'clips':<24}{'audio s':>8}{'pai s':>8}{'RTF':>7}{'CPU':>7}{'ref s':>8}{'RTF':>7}{'CPU':>7}"
          f"{'pai/ref':>9}{'(CPU)':>7}")
    kinds = [(k, [r for r in rows if r["kind"] == k]) for k in ("single", "multi", "long")]
    by_lang = [(lang, [r for r in rows if r["lang"] == lang]) for lang in langs]
    sets = [(f"{k}, wav", sel) for k, sel in kinds] + [(f"{lang}, wav", sel) for lang, sel in by_lang] + \
           [("all, wav", rows)]
    for label, sel in sets if ref else []:
        # Only clips where both ran, so the two sides cover the same audio.
        both = [r for r in sel if "error" not in r.get("pai_wav", {"error": 1})
                and "error" not in r.get("ref_wav", {"error": 1})]
        if not both:
            continue
        p, q = speed(both, "pai_wav"), speed(both, "ref_wav")
        speeds[label] = {"pai": p, "ref": q, "pai_over_ref": p["rtf"] / q["rtf"],
                         "pai_over_ref_cpu": p["audio_per_cpu_s"] / q["audio_per_cpu_s"]}
        name = f"{label} ({len(both)})"
        print(f"{name:<24}{p['audio_s']:>8.1f}{p['compute_s']:>8.1f}{p['rtf']:>7.2f}{p['audio_per_cpu_s']:>7.2f}"
              f"{q['compute_s']:>8.1f}{q['rtf']:>7.2f}{q['audio_per_cpu_s']:>7.2f}"
              f"{speeds[label]['pai_over_ref']:>9.2f}{speeds[label]['pai_over_ref_cpu']:>7.2f}")
    for label, sel in [(f"{k}, containers", sel) for k, sel in kinds] + [("all, containers", rows)]:
        if sel:
            p = speed(sel, "pai")
            speeds[label] = {"pai": p}
            name = f"{label} ({p['clips']})"
            print(f"{name:<24}{p['audio_s']:>8.1f}{p['compute_s']:>8.1f}{p['rtf']:>7.2f}{p['audio_per_cpu_s']:>7.2f}")
    reps = report.get("reps") or max((len(r.get("pai_wav", {}).get("runs", [])) for r in rows), default=0)
    print(f"  wav: pai and whisper-cli on the same WAVs, fastest of {reps} run{'s' if reps != 1 else ''} each; "
          "pai/ref > 1: pai is")
    print("  faster. Where the two transcribe differently (Korean here) they may also do different amounts of")
    print("  work (Whisper decodes a window again, hotter, when its result looks wrong): compare on English first.")
    print("  containers: pai alone, its one -l run on every clip's container, as in the accuracy table.")
    same = {}
    if ref:
        print()
        print("same WAVs, both engines (-l LANG): does pai transcribe as whisper-cli does?")
        for lang in langs:
            sel = [r for r in rows if r["lang"] == lang and "score" in r.get("pai_wav", {})
                   and "score" in r.get("ref_wav", {})]
            if not sel:
                continue

            def agg(key):
                w = sum(r[key]["score"]["words"] for r in sel)
                ch = sum(r[key]["score"]["chars"] for r in sel)
                return (rate(sum(r[key]["score"]["word_edits"] for r in sel), w),
                        rate(sum(r[key]["score"]["char_edits"] for r in sel), ch),
                        sum(len(r[key]["violations"]) for r in sel))
            p, q = agg("pai_wav"), agg("ref_wav")
            identical = sum(normalize(r["pai_wav"]["text"], lang) == normalize(r["ref_wav"]["text"], lang)
                            for r in sel)
            same[lang] = {"clips": len(sel), "pai_wer": p[0], "pai_cer": p[1], "ref_wer": q[0], "ref_cer": q[1],
                          "ref_timestamp_violations": q[2], "identical_text": identical}
            print(f"  {lang}: pai WER {pct(p[0]).strip()} CER {pct(p[1]).strip()}; whisper-cli WER "
                  f"{pct(q[0]).strip()} CER {pct(q[1]).strip()}; same words on {identical}/{len(sel)} clips; "
                  f"whisper-cli timestamp violations {q[2]}")
    return {"groups": groups, "speed": speeds, "same_wavs": same,
            "timestamp_violations": [{"clip": c, "what": v} for c, v in violations]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", nargs="?")
    ap.add_argument("--pai")
    ap.add_argument("--model")
    ap.add_argument("--report", required=True, help="where the JSON report goes (or, with --show, is read)")
    ap.add_argument("--ref", help="whisper-cli binary")
    ap.add_argument("--ref-version", default="?")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--reps", type=int, default=3, help="speed runs per clip and engine (the fastest counts)")
    ap.add_argument("--show", action="store_true", help="print the tables of an earlier run's report, run nothing")
    args = ap.parse_args()
    if args.show:
        show(json.load(open(args.report, encoding="utf-8")))
        return
    if not (args.manifest and args.pai and args.model):
        ap.error("MANIFEST, --pai and --model are needed to run")
    report = run(args)
    report.update(show(report))
    with open(args.report, "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    print()
    print(f"report: {args.report}")


if __name__ == "__main__":
    main()
