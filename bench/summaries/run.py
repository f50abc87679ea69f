#!/usr/bin/env python3
"""Extractive summaries of recording transcripts: uploads each transcript of
bench/summaries/data/transcripts.jsonl to a running `pai serve` as a .txt
document (under the user of its language), fetches
GET /api/documents/{id}/summary, and scores the one-line summary against the
hand-marked best sentences and the reference summary, next to three
baselines computed from the dataset alone. Standard library only.

Per transcript:
- hit: the picked line matches one of the "best" sentences (whitespace and
  case ignored): equal, or the line inside a best sentence keeping at least
  half of it, or a best sentence inside the line making at least a third of it;
- ROUGE-1 F1 and ROUGE-L F1 of the line against the reference "summary"
  (English: lowercase words; Korean: character bigrams of the Hangul, letters
  and digits with spaces and punctuation dropped);
- parts: "parts" is non-empty, and every part's text (each sentence of it)
  occurs in the document; the line must occur in it too.
Baselines: first (the first sentence of at least 4 words, English, or 8
letters, Korean), longest (the longest sentence), oracle (the sentence with
the best ROUGE-1 against the reference: the ceiling of one extracted sentence).

Usage:
  run.py run URL KEYS_JSON OUT.json [--sample] [--label L]   upload, summarise, score, print the table
  run.py table A.json [B.json …]                             the scores of runs side by side
  run.py baselines                                           the baselines alone (no server), checks the data
KEYS_JSON maps languages to API keys: {"en": "pai-…", "ko": "pai-…"}.
Exits non-zero when the harness fails (a server error, a missing field, a
line or part text not in the document), never because of the scores.
"""
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pai_upload import multipart  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "transcripts.jsonl"
LANGS = ("en", "ko")
PARTS = ("tune", "held-out")
# What `--sample` summarises: a tune and a held-out transcript per language.
SAMPLE = {"en-01", "en-12", "ko-02", "ko-13"}
BASELINES = ("first", "longest", "oracle")


class Failure(Exception):
    """The harness cannot score: the server erred or answered out of shape."""


def call(url, key, method, path, raw=None, content_type=None, timeout=600):
    req = urllib.request.Request(url + path, data=raw, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if raw is not None:
        req.add_header("Content-Type", content_type or "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise Failure(f"{method} {path} answered {e.code}: {e.read()[:300].decode(errors='replace')}")
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Failure(f"{method} {path} failed: {e}")


def transcripts():
    return [json.loads(l) for l in DATA.read_text().splitlines() if l.strip()]


def document(t):
    """The uploaded text: one sentence a line."""
    return "\n".join(t["sentences"])


# --- matching and ROUGE ---------------------------------------------------

def norm(text):
    return re.sub(r"\s+", "", text).lower()


def matches(line, sentence):
    """Whether a picked line is this sentence: equal, or one inside the other
    without being a fragment (the line keeps half the sentence; the sentence
    is a third of the line)."""
    a, b = norm(line), norm(sentence)
    if not a or not b:
        return False
    if a == b:
        return True
    if a in b:
        return 2 * len(a) >= len(b)
    if b in a:
        return 3 * len(b) >= len(a)
    return False


def hit(line, t):
    return line is not None and any(matches(line, t["sentences"][i]) for i in t["best"])


def tokens(text, lang):
    """English: lowercase words. Korean: character bigrams of the text's
    letters and digits (Hangul included), spaces and punctuation dropped."""
    if lang == "en":
        return re.findall(r"[a-z0-9]+(?:'[a-z]+)*", text.lower())
    chars = [c for c in text.lower() if c.isalnum()]
    if len(chars) < 2:
        return chars
    return [a + b for a, b in zip(chars, chars[1:])]


def f1(overlap, cand, ref):
    if not overlap or not cand or not ref:
        return 0.0
    p, r = overlap / cand, overlap / ref
    return 2 * p * r / (p + r)


def rouge1(cand, ref):
    return f1(sum((Counter(cand) & Counter(ref)).values()), len(cand), len(ref))


def lcs(a, b):
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(cand, ref):
    return f1(lcs(cand, ref), len(cand), len(ref))


def score(line, t):
    """hit, ROUGE-1 and ROUGE-L of a one-line summary (None: no line)."""
    if line is None:
        return {"text": None, "hit": False, "rouge1": 0.0, "rougeL": 0.0}
    cand, ref = tokens(line, t["lang"]), tokens(t["summary"], t["lang"])
    return {"text": line, "hit": hit(line, t), "rouge1": round(rouge1(cand, ref), 4),
            "rougeL": round(rouge_l(cand, ref), 4)}


# --- baselines --------------------------------------------------------------

def long_enough(sentence, lang):
    if lang == "en":
        return len(tokens(sentence, "en")) >= 4
    return sum(1 for c in sentence if c.isalnum()) >= 8


def baseline(name, t):
    s = t["sentences"]
    if name == "first":
        return next((x for x in s if long_enough(x, t["lang"])), s[0])
    if name == "longest":
        return max(s, key=lambda x: len(norm(x)))  # the first of the longest
    ref = tokens(t["summary"], t["lang"])
    return max(s, key=lambda x: rouge1(tokens(x, t["lang"]), ref))


def baselines(t):
    return {name: score(baseline(name, t), t) for name in BASELINES}


# --- the server ---------------------------------------------------------------

def in_document(text, doc):
    """Every sentence of `text` occurs in the document (whitespace and case
    ignored): a part may join two sentences that are not next to each other."""
    whole = norm(doc)
    if norm(text) in whole:
        return True
    pieces = [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p.strip()]
    return bool(pieces) and all(norm(p) in whole for p in pieces)


def upload(url, key, rows):
    """Uploads the transcripts in one request; {transcript id: document id}."""
    files = [(f"{t['id']}.txt", document(t).encode()) for t in rows]
    body, content_type = multipart(files)
    reply = call(url, key, "POST", "/api/documents", raw=body, content_type=content_type)
    ids = {}
    for r in (reply or {}).get("data", []):
        name = r.get("file") or ""
        if r.get("error"):
            raise Failure(f"{name} was refused: {r['error']}")
        if not name.endswith(".txt") or not isinstance(r.get("document"), dict) or "id" not in r["document"]:
            raise Failure(f"upload reply without a file name or document id: {json.dumps(r)[:300]}")
        ids[name[: -len(".txt")]] = r["document"]["id"]
    missing = [t["id"] for t in rows if t["id"] not in ids]
    if missing:
        raise Failure(f"upload reply lacks {', '.join(missing)}")
    return ids


def wait_indexed(url, key, ids, lang):
    """Waits until every uploaded document is embedded (`pending` 0), as
    bench/grounded does, so a summariser that reads vectors finds them."""
    wanted = set(ids.values())
    for _ in range(1200):
        docs = [d for d in call(url, key, "GET", "/api/documents")["data"] if d["id"] in wanted]
        if len(docs) == len(wanted) and all(d["pending"] == 0 for d in docs):
            return sum(d["chunks"] for d in docs)
        time.sleep(0.5)
    raise Failure(f"{lang} documents were not embedded within 10 minutes")


def check_summary(s):
    """The reply's line text and heading and its parts, or Failure when out of shape."""
    if not isinstance(s, dict) or "line" not in s or "parts" not in s:
        raise Failure(f"summary without `line` and `parts`: {json.dumps(s, ensure_ascii=False)[:300]}")
    line = s["line"]
    if line is not None and (not isinstance(line, dict) or not isinstance(line.get("text"), str)
                             or "heading" not in line):
        raise Failure(f"`line` is neither null nor {{text, heading}}: {json.dumps(line, ensure_ascii=False)[:300]}")
    parts = s["parts"]
    if not isinstance(parts, list) or any(
        not isinstance(p, dict) or not isinstance(p.get("text"), str) or "heading" not in p for p in parts
    ):
        raise Failure(f"`parts` is not a list of {{heading, text}}: {json.dumps(parts, ensure_ascii=False)[:300]}")
    return line, parts


def run(url, keys, out, sample, label):
    rows = [t for t in transcripts() if not sample or t["id"] in SAMPLE]
    results, failures = [], []
    for lang in LANGS:
        mine = [t for t in rows if t["lang"] == lang]
        if not mine:
            continue
        try:
            ids = upload(url, keys[lang], mine)
            chunks = wait_indexed(url, keys[lang], ids, lang)
        except Failure as e:
            raise SystemExit(f"summaries: {lang}: {e}")
        print(f"summaries: {lang}: {len(mine)} transcripts uploaded ({chunks} passages)", flush=True)
        for t in mine:
            doc = document(t)
            row = {"id": t["id"], "lang": lang, "kind": t["kind"], "part": t["part"], "document": ids[t["id"]],
                   "best": t["best"], "summary": t["summary"], "baselines": baselines(t)}
            started = time.monotonic()
            try:
                s = call(url, keys[lang], "GET", f"/api/documents/{ids[t['id']]}/summary")
                row["seconds"] = round(time.monotonic() - started, 2)
                line, parts = check_summary(s)
                text = None if line is None else line["text"]
                row["pai"] = score(text, t)
                row["pai"]["heading"] = None if line is None else line["heading"]
                row["parts"] = parts
                row["parts_nonempty"] = bool(parts)
                row["parts_missing"] = [p["text"] for p in parts if not in_document(p["text"], doc)]
                row["parts_empty"] = sum(1 for p in parts if not p["text"].strip())  # allowed: no sentence said enough
                row["line_in_document"] = text is None or in_document(text, doc)
                if not row["line_in_document"]:
                    failures.append(f"{t['id']}: the line is not in the document: {text!r}")
                for p in row["parts_missing"]:
                    failures.append(f"{t['id']}: a part is not in the document: {p!r}")
            except Failure as e:
                failures.append(f"{t['id']}: {e}")
                row["error"] = str(e)
                row["pai"] = score(None, t)
                row["parts_nonempty"] = False
                row["parts_missing"] = []
            results.append(row)
            p = row["pai"]
            mark = "✓" if p["hit"] else "✗"
            print(f"{mark} {t['id']} {t['kind']:<7} R1 {p['rouge1']:.2f} RL {p['rougeL']:.2f} "
                  f"parts {len(row.get('parts', []))}  → {' '.join((p['text'] or '(no line)').split())[:120]}",
                  flush=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"label": label, "sample": sample, "failures": failures, "results": results},
                                    ensure_ascii=False, indent=1))
    table([out])
    if failures:
        print(f"summaries: FAIL: {len(failures)} problems (scores are in {out}):", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        raise SystemExit(1)


# --- the table --------------------------------------------------------------

def groups():
    out = []
    for lang in LANGS:
        for part in PARTS:
            out.append((f"{lang} {part}", lambda r, l=lang, p=part: r["lang"] == l and r["part"] == p))
    for part in PARTS:
        out.append((f"all {part}", lambda r, p=part: r["part"] == p))
    out.append(("all", lambda r: True))
    return out


def print_table(runs):
    """runs: [{"label", "results"}]; pai's rows per run, the baselines once
    (from the first run: they depend on the data alone)."""
    print("| group | summariser | n | hit | ROUGE-1 | ROUGE-L | parts ok |")
    print("|---|---|---|---|---|---|---|")
    for name, member in groups():
        systems = []
        for run in runs:
            rows = [r for r in run["results"] if member(r) and "pai" in r]
            systems.append((f"pai {run['label']}", rows, "pai"))
        base_rows = [r for r in runs[0]["results"] if member(r)] if runs else []
        systems += [(b, base_rows, b) for b in BASELINES]
        for label, rows, key in systems:
            if not rows:
                continue
            scores = [r["pai"] if key == "pai" else r["baselines"][key] for r in rows]
            n = len(rows)
            hits = sum(1 for s in scores if s["hit"])
            r1 = sum(s["rouge1"] for s in scores) / n
            rl = sum(s["rougeL"] for s in scores) / n
            parts = "-"
            if key == "pai":
                ok = sum(1 for r in rows if r["parts_nonempty"] and not r["parts_missing"] and "error" not in r)
                parts = f"{ok}/{n}"
            print(f"| {name} | {label} | {n} | {hits}/{n} ({100 * hits / n:.0f}%) | {r1:.3f} | {rl:.3f} | {parts} |")


def table(paths):
    print_table([json.loads(Path(p).read_text()) for p in paths])


def baselines_only():
    rows = transcripts()
    for t in rows:  # the data's own shape, as the README states it
        assert t["lang"] in LANGS and t["part"] in PARTS and t["id"].startswith(t["lang"] + "-"), t["id"]
        assert t["best"] and all(0 <= i < len(t["sentences"]) for i in t["best"]), t["id"]
    results = [{"id": t["id"], "lang": t["lang"], "part": t["part"], "baselines": baselines(t)} for t in rows]
    print(f"summaries: {len(rows)} transcripts, baselines only")
    print_table([{"label": "-", "results": results}])


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd = sys.argv[1]
    if cmd == "run" and len(sys.argv) >= 5:
        args = sys.argv[5:]
        label = args[args.index("--label") + 1] if "--label" in args else "pai"
        run(sys.argv[2].rstrip("/"), json.loads(sys.argv[3]), sys.argv[4], "--sample" in args, label)
    elif cmd == "table" and len(sys.argv) >= 3:
        table(sys.argv[2:])
    elif cmd == "baselines":
        baselines_only()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
