#!/usr/bin/env python3
"""Drives a running `pai serve` through bench/conversation/turns.json and
checks every reply deterministically: the reply's language, loops, that a
remember/forget/"what do you know" answer names what it is about, that what
was forgotten is recalled from nowhere, and that nothing of another user or
another API exchange shows up. Standard library only.

Usage: run.py URL KEYS_JSON [--sample] [--gate] [--transcript FILE] [--label L]
KEYS_JSON maps user names to API keys: {"minji": "pai-…", "jun": "pai-…"}.
"""
import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTICE = re.compile(r"^\(참고: .*?\)\n\n", re.S)  # pai's English-only notice, not the reply itself


def call(url, key, method, path, body=None, timeout=900):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"conversation: {method} {path} answered {e.code}: {e.read()[:300]!r}")


def language(text):
    """ko when Hangul carries at least as much of the text as Latin letters (as pai decides)."""
    hangul = sum(1 for c in text if "\uac00" <= c <= "\ud7a3")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    if hangul == 0 and latin == 0:
        return "none"
    return "ko" if hangul and hangul * 2 >= latin else "en"


def repeats_a_sentence(text):
    """A sentence of 20+ characters said twice, word for word: what pai's
    engine ends an answer at before it is shown, so the gate asks it. A
    sentence is cut exactly as the engine cuts it (text_stream.rs,
    RepeatGuard): at . ! ? 。 ！ ？ and nowhere else. Lines are not
    sentences: a line of code may rightly come twice (`return x` in two
    functions), and the engine lets it."""
    said, current = set(), ""
    for c in text:
        current += c
        if c in ".!?。！？":
            sentence = current.strip()
            current = ""
            if len(sentence) >= 20:
                if sentence in said:
                    return True
                said.add(sentence)
    return False


def loops(text, run=4):
    """A reply loops when a sentence of 20+ characters comes back, or a run of
    `run` words comes three times. Four words and eight ("runaway") are
    reported, not gated: pai stops repeated sentences only, and a sampled
    answer that prints lines of code with the same start reaches eight now
    and then (turn 14 did, once in five runs)."""
    if repeats_a_sentence(text):
        return True
    words = text.split()
    grams = {}
    for i in range(len(words) - run + 1):
        g = tuple(w.lower().strip(".,!?\"'") for w in words[i : i + run])
        grams[g] = grams.get(g, 0) + 1
        if grams[g] >= 3:
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("keys")
    ap.add_argument("--sample", action="store_true", help="only the turns marked sample (make test)")
    ap.add_argument("--gate", action="store_true", help="exit 1 when a check that pai guarantees fails")
    ap.add_argument("--transcript", help="write every turn and reply here (markdown)")
    ap.add_argument("--label", default="pai")
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()
    keys = json.loads(args.keys)
    turns = json.loads((HERE / "turns.json").read_text())["turns"]
    if args.sample:
        turns = [t for t in turns if t.get("sample")]

    conversations = {}
    rows = []
    failures = []
    for n, t in enumerate(turns, 1):
        key = keys[t["who"]]
        recalled_kinds = None
        if t["kind"] == "api":
            body = {"model": "pai", "messages": [{"role": "user", "content": t["say"]}], "max_tokens": args.max_tokens}
            r = call(args.url, key, "POST", "/v1/chat/completions", body)
            reply = r["choices"][0]["message"]["content"] or ""
            recalled_kinds = [x.get("kind") for x in (r.get("pai") or {}).get("recalled", [])]
        else:
            ck = (t["who"], t["conv"])
            if ck not in conversations:
                conversations[ck] = call(args.url, key, "POST", "/api/conversations", {"title": t["conv"]})["id"]
            r = call(args.url, key, "POST", f"/api/conversations/{conversations[ck]}/messages", {"content": t["say"]})
            reply = (r.get("answer") or {}).get("content") or ""
        said = NOTICE.sub("", reply)
        checks = {}
        checks["language"] = language(said) == t["lang"]
        checks["no loop"] = not loops(said)
        checks["no runaway"] = not loops(said, run=8)
        checks["no repeated sentence"] = not repeats_a_sentence(said)
        checks["no recall copy"] = "[said on" not in said
        if t.get("names"):
            checks["names"] = all(name.lower() in reply.lower() for name in t["names"])
        if t.get("never") or recalled_kinds is not None:
            leaked = [w for w in t.get("never", []) if w.lower() in reply.lower()]
            if recalled_kinds and "message" in recalled_kinds:
                leaked.append("another API exchange recalled")
            checks["no leak"] = not leaked
        if t.get("forgotten"):
            f = t["forgotten"]
            hits = call(args.url, key, "POST", "/api/recall", {"query": f["query"], "k": 20}).get("data", [])
            mems = call(args.url, key, "GET", "/api/memories").get("data", [])
            texts = [h.get("text", "") for h in hits] + [m.get("text", "") for m in mems]
            checks["forgotten everywhere"] = not any(f["secret"] in x for x in texts)
        rows.append((n, t, reply, checks))
        bad = [c for c, ok in checks.items() if not ok]
        mark = "ok  " if not bad else "FAIL"
        short = reply.replace("\n", " ")
        short = short if len(short) <= 110 else short[:107] + "..."
        print(f"{mark} {n:>2} [{t['lang']} {t['kind']:<8}] {t['say'][:40]:<40} -> {short}" + (f"   ({', '.join(bad)})" if bad else ""), flush=True)
        if bad:
            failures.append((n, bad))

    def share(pred, subset):
        subset = list(subset)
        ok = sum(1 for r in subset if pred(r))
        return ok, len(subset)

    def fmt(ok_total):
        ok, total = ok_total
        return f"{ok}/{total}" + (f" ({100 * ok / total:.0f}%)" if total else "")

    requests = [r for r in rows if r[1]["kind"] in ("remember", "forget", "know")]
    model = [r for r in rows if r[1]["kind"] in ("chat", "api")]
    lang_ok = lambda r: r[3]["language"]
    print(f"\nconversation check ({args.label}): {len(rows)} turns, "
          f"{sum(r[1]['lang'] == 'ko' for r in rows)} Korean, {sum(r[1]['lang'] == 'en' for r in rows)} English")
    print(f"  replies in the user's language       {fmt(share(lang_ok, rows))}")
    print(f"    to memory requests                 {fmt(share(lang_ok, requests))}")
    print(f"    model replies, English             {fmt(share(lang_ok, [r for r in model if r[1]['lang'] == 'en']))}")
    print(f"    model replies, Korean              {fmt(share(lang_ok, [r for r in model if r[1]['lang'] == 'ko']))}")
    print(f"  replies with a loop                  {fmt(share(lambda r: not r[3]['no loop'], rows))}")
    print(f"  replies with a runaway (8 words ×3)  {fmt(share(lambda r: not r[3]['no runaway'], rows))}")
    print(f"  replies copying the recall format    {fmt(share(lambda r: not r[3]['no recall copy'], rows))}")
    print(f"  request answers naming what it is    {fmt(share(lambda r: r[3].get('names', True), requests))}")
    print(f"  forgotten, and recalled nowhere      {fmt(share(lambda r: r[3]['forgotten everywhere'], [r for r in rows if 'forgotten everywhere' in r[3]]))}")
    print(f"  nothing from another user or request {fmt(share(lambda r: r[3]['no leak'], [r for r in rows if 'no leak' in r[3]]))}")

    if args.transcript:
        with open(args.transcript, "w") as out:
            for n, t, reply, checks in rows:
                out.write(f"**{t['who']} ({t['conv']})**: {t['say']}\n\n> " + reply.replace("\n", "\n> ") + "\n\n")
    if args.gate:
        # What pai guarantees whatever the model: no sentence said twice,
        # memory requests answered in the user's language and naming what
        # they are about, forgetting that forgets, no leaks. The default model
        # speaks English only, so its Korean replies are reported, not gated;
        # answers are sampled, so refrains of four and eight words are
        # reported too (pai does not stop those yet).
        reported = ("language", "no loop", "no runaway")
        gated = [(n, b) for n, b in failures
                 if any(c not in reported for c in b) or rows[n - 1][1]["kind"] in ("remember", "forget", "know")]
        if gated:
            print(f"conversation: FAIL on turns {', '.join(str(n) for n, _ in gated)}", file=sys.stderr)
            sys.exit(1)
        print("conversation: all gated checks passed")


if __name__ == "__main__":
    main()
