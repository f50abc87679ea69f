#!/usr/bin/env python3
"""The recall-quality set: reads the hand-written histories in data/*.txt,
checks them, and writes what the benchmark reads (stdlib only).

    dataset.py check [FILE...]      check files, print counts (exit 1 on an error)
    dataset.py build OUT.json       check every file and write the whole set

A file is one user's history with a friend, then the questions about it:

    user: Minji                 the user's name (pai's account name)
    partner: Daniel             the other person in the chat
    lang: en                    en | ko | mixed (the language of the turns)
    timezone: Asia/Seoul

    @session 2024-01-05 19:30   a session starts (local time in `timezone`)
    U: a turn of the user {#key}
    P: a turn of the partner [photo: what the photo shows] {#key #other}
    ...
    @questions
    Q when en: When did Minji go to her first pottery class? => 4 January 2024 | key
    Q multi_hop ko: ... => ... | key1, key2

`{#key}` marks a turn as evidence; a question names its evidence by keys (every
turn carrying a key is evidence). Turn ids are "<file>-sNN-tNNN" in order;
turns are two minutes apart from the session's start.
"""
import datetime as dt
import json
import re
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
KINDS = ("single", "when", "multi_hop", "preference", "changed", "inference")
MIN_TURNS, MIN_SESSIONS, MIN_SPAN_DAYS, MIN_QUESTIONS = 400, 16, 120, 50
MIN_PER_KIND = {"single": 12, "when": 8, "multi_hop": 6, "preference": 5, "changed": 4, "inference": 3}
MIN_CROSS = 6  # questions whose evidence is all in the other language
HELD_OUT = ("u03", "u06", "u09")  # never looked at while tuning: reported apart

TURN = re.compile(r"^(U|P):\s*(.*?)\s*(\{(#[\w-]+(\s+#[\w-]+)*)\})?\s*$")
PHOTO = re.compile(r"\[photo:\s*([^\]]+)\]")
QUESTION = re.compile(r"^Q\s+(\w+)\s+(en|ko):\s*(.+?)\s*=>\s*(.+?)\s*\|\s*([\w\-,\s]+)$")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


class Bad(Exception):
    pass


def parse(path):
    name = path.stem
    header, sessions, questions = {}, [], []
    section = "header"
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        where = f"{path.name}:{n}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("@session"):
            section = "turns"
            try:
                local = dt.datetime.strptime(line[len("@session"):].strip(), "%Y-%m-%d %H:%M")
            except ValueError:
                raise Bad(f"{where}: a session needs 'YYYY-MM-DD HH:MM'")
            sessions.append({"start": local, "turns": [], "line": n})
            continue
        if line == "@questions":
            section = "questions"
            continue
        if section == "header":
            key, _, value = line.partition(":")
            if not value.strip():
                raise Bad(f"{where}: expected 'key: value' in the header")
            header[key.strip()] = value.strip()
        elif section == "turns":
            m = TURN.match(line)
            if not m or not m.group(2):
                raise Bad(f"{where}: a turn is 'U: text' or 'P: text' (optional {{#key}} at the end)")
            text = m.group(2)
            photos = PHOTO.findall(text)
            text = PHOTO.sub("", text).strip()
            keys = m.group(4).replace("#", "").split() if m.group(4) else []
            if not text and not photos:
                raise Bad(f"{where}: empty turn")
            sessions[-1]["turns"].append(
                {"who": m.group(1), "text": text, "photos": photos, "keys": keys, "line": n}
            )
        else:
            m = QUESTION.match(line)
            if not m:
                raise Bad(f"{where}: a question is 'Q <kind> <en|ko>: question => answer | key, key'")
            kind, lang, q, answer, keys = m.groups()
            if kind not in KINDS:
                raise Bad(f"{where}: unknown kind {kind!r} ({', '.join(KINDS)})")
            questions.append(
                {"kind": kind, "lang": lang, "question": q, "answer": answer,
                 "keys": [k.strip() for k in keys.split(",") if k.strip()], "line": n}
            )
    for field in ("user", "partner", "lang", "timezone"):
        if field not in header:
            raise Bad(f"{path.name}: header misses '{field}:'")
    if header["lang"] not in ("en", "ko", "mixed"):
        raise Bad(f"{path.name}: lang is en, ko or mixed")
    zone = ZoneInfo(header["timezone"])
    return name, header, zone, sessions, questions


def build_user(path, strict=True):
    name, header, zone, sessions, questions = parse(path)
    conversations, by_key, texts, turns = [], {}, {}, 0
    last = None
    for s_i, s in enumerate(sessions, 1):
        if last and s["start"] <= last:
            raise Bad(f"{path.name}:{s['line']}: sessions must be in time order")
        last = s["start"]
        if not s["turns"]:
            raise Bad(f"{path.name}:{s['line']}: a session without turns")
        messages = []
        for t_i, t in enumerate(s["turns"], 1):
            ext = f"{name}-s{s_i:02}-t{t_i:03}"
            at = (s["start"] + dt.timedelta(minutes=2 * (t_i - 1))).replace(tzinfo=zone)
            m = {"content": t["text"], "created_at": at.isoformat(), "external_id": ext}
            if t["who"] == "U":
                m["role"] = "user"
            else:
                m["role"] = "other"
                m["speaker"] = header["partner"]
            if t["photos"]:
                m["attachments"] = [{"kind": "photo", "caption": c.strip()} for c in t["photos"]]
            messages.append(m)
            texts[ext] = " ".join([t["text"], *t["photos"]])
            for k in t["keys"]:
                by_key.setdefault(k, []).append(ext)
            turns += 1
        conversations.append(
            {"title": f"{header['partner']} {s['start']:%Y-%m-%d}", "messages": messages}
        )
    out_q = []
    for q_i, q in enumerate(questions, 1):
        evidence = []
        for k in q["keys"]:
            if k not in by_key:
                raise Bad(f"{path.name}:{q['line']}: no turn carries {{#{k}}}")
            evidence += [e for e in by_key[k] if e not in evidence]
        # Cross-lingual: every evidence turn is in the other language than the question.
        other = [HANGUL.search(texts[e]) is None for e in evidence] if q["lang"] == "ko" else \
            [HANGUL.search(texts[e]) is not None for e in evidence]
        out_q.append({"id": f"{name}-q{q_i:03}", "kind": q["kind"], "lang": q["lang"],
                      "cross_lingual": bool(evidence) and all(other),
                      "question": q["question"], "answer": q["answer"], "evidence": evidence})
    for q in out_q:
        korean = bool(HANGUL.search(q["question"]))
        if korean != (q["lang"] == "ko"):
            raise Bad(f"{path.name}: {q['id']} is marked {q['lang']} but reads otherwise: {q['question']}")
    problems = []
    if strict:
        span = (sessions[-1]["start"] - sessions[0]["start"]).days if sessions else 0
        if turns < MIN_TURNS:
            problems.append(f"{turns} turns (at least {MIN_TURNS})")
        if len(sessions) < MIN_SESSIONS:
            problems.append(f"{len(sessions)} sessions (at least {MIN_SESSIONS})")
        if span < MIN_SPAN_DAYS:
            problems.append(f"sessions span {span} days (at least {MIN_SPAN_DAYS})")
        if len(out_q) < MIN_QUESTIONS:
            problems.append(f"{len(out_q)} questions (at least {MIN_QUESTIONS})")
        for kind, least in MIN_PER_KIND.items():
            have = sum(q["kind"] == kind for q in out_q)
            if have < least:
                problems.append(f"{have} '{kind}' questions (at least {least})")
        cross = sum(q["cross_lingual"] for q in out_q)
        if cross < MIN_CROSS:
            problems.append(f"{cross} questions whose evidence is all in the other language (at least {MIN_CROSS})")
        if header["lang"] == "mixed":
            for lang in ("en", "ko"):
                have = sum(q["lang"] == lang for q in out_q)
                if have < MIN_CROSS:
                    problems.append(f"{have} '{lang}' questions (at least {MIN_CROSS})")
    if problems:
        raise Bad(f"{path.name}: " + "; ".join(problems))
    return {
        "id": name,
        "user": header["user"],
        "partner": header["partner"],
        "lang": header["lang"],
        "timezone": header["timezone"],
        "held_out": name in HELD_OUT,
        "conversations": conversations,
        "questions": out_q,
    }, turns, len(sessions)


def main(argv):
    if len(argv) < 2 or argv[1] not in ("check", "build"):
        print(__doc__)
        return 2
    if argv[1] == "check":
        files = [Path(p) for p in argv[2:]] or sorted((HERE / "data").glob("u*.txt"))
        ok = True
        for f in files:
            try:
                user, turns, sessions = build_user(f)
                kinds = {k: sum(q["kind"] == k for q in user["questions"]) for k in KINDS}
                cross = sum(q["cross_lingual"] for q in user["questions"])
                print(f"{f.name}: ok, {turns} turns, {sessions} sessions, {len(user['questions'])} questions "
                      f"{kinds}, {cross} cross-lingual")
            except Bad as e:
                ok = False
                print(f"error: {e}")
        return 0 if ok else 1
    users = []
    for f in sorted((HERE / "data").glob("u*.txt")):
        try:
            users.append(build_user(f)[0])
        except Bad as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    Path(argv[2]).write_text(json.dumps({"users": users}, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(users)} users, {sum(len(u['questions']) for u in users)} questions -> {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
