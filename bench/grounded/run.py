#!/usr/bin/env python3
"""Grounded answers (issue 24): asks a running `pai serve` the questions of
bench/grounded/data/{en,ko} about the documents and memories it was given,
and scores each answer deterministically. Standard library only.

Per question (through /v1/chat/completions, memory on, one user per language):
- gold: an answerable question's answer contains the gold span (whitespace and
  case ignored);
- retrieved: the gold span is in something pai recalled for it (what the
  answer could have quoted: retrieval's ceiling);
- cited: the answer cites ([n] or [m<id>]) an item that holds the gold span;
- unsupported: the answer states a number, code or name found neither in what
  pai recalled nor in the question (a general answer pai labels as such is
  counted apart: "in general answer");
- language: the answer is in the question's language (Hangul against Latin
  letters, as pai decides);
- not found: an unanswerable question is answered "not found" (in either
  language), and with no citation dressed onto it.

Usage:
  run.py setup URL KEYS_JSON            upload documents (PDFs built from *.pdf.txt), add memories
  run.py ask URL KEYS_JSON OUT.json [--sample] [--label L] [--max-tokens N]
  run.py table A.json [B.json …]        the scores side by side, dev and held-out apart
KEYS_JSON maps languages to API keys: {"en": "pai-…", "ko": "pai-…"}.
"""
import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pai_upload import multipart  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
LANGS = ("en", "ko")
# Questions `--sample` asks (make test): one of each shape per language.
SAMPLE = {"en-d-001", "en-d-002", "en-m-001", "ko-d-001", "ko-d-002", "ko-m-001"}


def call(url, key, method, path, body=None, raw=None, content_type=None, timeout=900):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", content_type or "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"grounded: {method} {path} answered {e.code}: {e.read()[:300]!r}")


def pdf(pages):
    """A PDF with one line of text per page: Helvetica for ASCII, else a
    Type0 font with Identity-H glyph ids and a ToUnicode map (what Korean
    PDFs from word processors carry). The same shape as pai-assistant's
    `sample_pdf`."""
    ascii_only = all(p.isascii() for p in pages)
    glyphs = []
    for c in "".join(pages):
        if c not in glyphs:
            glyphs.append(c)
    objects = []

    def add(body):
        objects.append(body if isinstance(body, bytes) else body.encode("latin-1"))
        return len(objects)

    def stream(data):
        return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    if ascii_only:
        font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    else:
        cmap = (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) "
            "/Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        )
        for start in range(0, len(glyphs), 100):
            block = glyphs[start : start + 100]
            cmap += f"{len(block)} beginbfchar\n"
            for i, c in enumerate(block, start + 1):
                utf16 = c.encode("utf-16-be").hex().upper()
                cmap += f"<{i:04X}> <{utf16}>\n"
            cmap += "endbfchar\n"
        cmap += "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
        to_unicode = add(stream(cmap.encode()))
        descriptor = add(
            "<< /Type /FontDescriptor /FontName /NanumGothic /Flags 4 /FontBBox [0 -200 1000 800] "
            "/ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>"
        )
        cid = add(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /NanumGothic /CIDToGIDMap /Identity /DW 1000 "
            f"/FontDescriptor {descriptor} 0 R /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) "
            "/Supplement 0 >> >>"
        )
        font = add(
            "<< /Type /Font /Subtype /Type0 /BaseFont /NanumGothic /Encoding /Identity-H "
            f"/DescendantFonts [{cid} 0 R] /ToUnicode {to_unicode} 0 R >>"
        )
    pages_id = len(objects) + 1
    objects.append(None)  # the page tree, written once its kids are known
    resources = add(f"<< /Font << /F1 {font} 0 R >> >>")
    kids = []
    for text in pages:
        if ascii_only:
            shown = "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"
        else:
            shown = "<" + "".join(f"{glyphs.index(c) + 1:04X}" for c in text) + ">"
        content = add(stream(f"BT /F1 12 Tf 72 700 Td {shown} Tj ET".encode("latin-1")))
        kids.append(add(f"<< /Type /Page /Parent {pages_id} 0 R /Contents {content} 0 R >>"))
    objects[pages_id - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} "
        f"/Resources {resources} 0 R /MediaBox [0 0 595 842] >>"
    ).encode()
    catalog = add(f"<< /Type /Catalog /Pages {pages_id} 0 R >>")
    out = bytearray(b"%PDF-1.5\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def document_files(lang):
    """(upload name, bytes) of each document; a NAME.pdf.txt becomes NAME.pdf."""
    out = []
    for path in sorted((DATA / lang / "docs").iterdir()):
        if path.name.endswith(".pdf.txt"):
            pages = [" ".join(p.split()) for p in path.read_text().split("\n---page---\n")]
            out.append((path.name[: -len(".txt")], pdf([p for p in pages if p])))
        else:
            out.append((path.name, path.read_bytes()))
    return out


def lines(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def setup(url, keys):
    for lang in LANGS:
        key = keys[lang]
        files = document_files(lang)
        body, content_type = multipart(files)
        call(url, key, "POST", "/api/documents", raw=body, content_type=content_type)
        ids = {}
        for m in lines(DATA / lang / "memories.jsonl"):
            ids[m["id"]] = call(url, key, "POST", "/api/memories", {"text": m["text"], "importance": 0.8})["id"]
        for _ in range(3600):
            docs = call(url, key, "GET", "/api/documents")["data"]
            if len(docs) >= len(files) and all(d["pending"] == 0 for d in docs):
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"grounded: {lang} documents were not indexed within 30 minutes")
        print(f"grounded: {lang}: {len(files)} documents ({sum(d['chunks'] for d in docs)} passages), "
              f"{len(ids)} memories", flush=True)


def norm(text):
    return re.sub(r"\s+", "", text).lower()


def language(text):
    hangul = sum(1 for c in text if "\uac00" <= c <= "\ud7a3")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    if hangul == 0 and latin == 0:
        return "none"
    return "ko" if hangul and hangul * 2 >= latin else "en"


NOT_FOUND = re.compile(
    r"(don'?t|do not|couldn'?t|could not|can'?t|cannot|didn'?t|did not) (find|see|have)|not (in|mentioned in|found in) "
    r"your|no (information|record|mention)|찾지 못|찾을 수 없|찾을 수가 없|나와 있지 않|없어요|없습니다|정보가 없|모르겠",
    re.I,
)
CITATION = re.compile(r"\[(m?)(\d+)\]")
# Details an answer may invent: numbers (times, dates, amounts, codes with
# digits), all-capital codes, and capitalised words inside a sentence (names).
DETAIL = re.compile(r"[A-Za-z]*\d[\w.:/-]*|\b[A-Z]{2,}[A-Z-]*\b|(?<=[a-z,;] )[A-Z][a-z]+")


# pai's label of a general answer (issue 24): what follows it is not presented
# as coming from the user's data, and its details are counted apart.
GENERAL = re.compile(r"General answer, not from your documents or memories:|문서나 기억에 근거하지 않은 일반적인 답변이에요:")


def parts(answer):
    """The part presented as from the user's data, and the labelled general answer."""
    m = GENERAL.search(answer)
    return (answer[:m.start()], answer[m.end():]) if m else (answer, "")


def unsupported(answer, question, recalled):
    support = norm(question + " " + " ".join(r["text"] for r in recalled))
    found = []
    for d in DETAIL.findall(CITATION.sub(" ", answer)):
        d = d.strip(".,:;-/")
        if len(d) >= 2 and norm(d) not in support:
            found.append(d)
    return found


def cites_gold(answer, pai, gold):
    """Whether a citation in the answer points at an item holding the gold span."""
    recalled = pai.get("recalled", [])
    by_passage = {c["n"]: c["item"] for c in pai.get("citations", [])}
    for memory, n in CITATION.findall(answer):
        n = int(n)
        if memory:
            items = [r for r in recalled if r["item"] == {"Memory": n}]
        else:
            items = [r for r in recalled if by_passage.get(n) is not None and r["item"] == by_passage[n]]
        if any(norm(gold) in norm(r["text"]) for r in items):
            return True
    return False


def ask(url, keys, out, sample, label, max_tokens):
    results = []
    for lang in LANGS:
        questions = lines(DATA / lang / "questions.jsonl")
        if sample:
            questions = [q for q in questions if q["id"] in SAMPLE]
        for q in questions:
            started = time.monotonic()
            try:
                r = call(url, keys[lang], "POST", "/v1/chat/completions", {
                    "model": "pai",
                    "messages": [{"role": "user", "content": q["question"]}],
                    "max_tokens": max_tokens,
                    "temperature": 0,
                })
            except SystemExit as e:  # a refused or failed answer is a wrong answer, and said
                print(e, flush=True)
                r = {"choices": [{"message": {"content": f"(error: {e})"}}], "pai": {}}
            answer = r["choices"][0]["message"]["content"] or ""
            pai = r.get("pai", {})
            recalled = pai.get("recalled", [])
            gold = q["gold"]
            row = {
                "id": q["id"], "set": lang, "kind": q["kind"], "split": q["split"], "lang": q.get("lang", lang),
                "answerable": q["answerable"], "question": q["question"], "answer": answer,
                "seconds": round(time.monotonic() - started, 1),
                "language_ok": language(answer) == q.get("lang", lang),
                "unsupported": unsupported(parts(answer)[0], q["question"], recalled),
                "general_unsupported": unsupported(parts(answer)[1], q["question"], recalled),
                "cites": bool(CITATION.search(answer)),
                "says_not_found": bool(NOT_FOUND.search(answer)),
                # The sentence pai would quote and its score (`pai.grounded`, when the build has it).
                "quote": pai.get("grounded"),
            }
            if q["answerable"]:
                row["gold"] = norm(gold) in norm(answer)
                row["retrieved"] = any(norm(gold) in norm(x["text"]) for x in recalled)
                row["cited"] = cites_gold(answer, pai, gold)
            results.append(row)
            mark = "✓" if row.get("gold") or (not q["answerable"] and row["says_not_found"]) else "✗"
            print(f"{mark} {q['id']} ({row['seconds']} s) {q['question']}\n    → {' '.join(answer.split())[:160]}",
                  flush=True)
    Path(out).write_text(json.dumps({"label": label, "results": results}, ensure_ascii=False, indent=1))


def pct(rows, test):
    return f"{100 * sum(1 for r in rows if test(r)) / len(rows):.0f}%" if rows else "-"


def table(paths):
    runs = [json.loads(Path(p).read_text()) for p in paths]
    cols = [
        ("answerable", "gold", lambda r: r["gold"]),
        ("answerable", "retrieved", lambda r: r["retrieved"]),
        ("answerable", "cited", lambda r: r["cited"]),
        ("all", "unsupported", lambda r: bool(r["unsupported"])),
        ("all", "in general answer", lambda r: bool(r.get("general_unsupported"))),
        ("all", "language", lambda r: r["language_ok"]),
        ("unanswerable", "not found", lambda r: r["says_not_found"] and not r["cites"]),
        ("unanswerable", "cited anyway", lambda r: r["cites"]),
    ]
    groups = []
    for split in ("dev", "held_out"):
        for s in LANGS:
            for kind in ("document", "memory"):
                groups.append((f"{s} {kind} {split}", lambda r, s=s, k=kind, sp=split: r["set"] == s and r["kind"] == k
                               and r["split"] == sp))
        groups.append((f"all {split}", lambda r, sp=split: r["split"] == sp))
    groups.append(("all", lambda r: True))
    header = "| group | build | n | " + " | ".join(name for _, name, _ in cols) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, member in groups:
        for run in runs:
            rows = [r for r in run["results"] if member(r)]
            if not rows:
                continue
            cells = []
            for which, _, test in cols:
                pool = [r for r in rows if which == "all" or r["answerable"] == (which == "answerable")]
                cells.append(pct(pool, test))
            print(f"| {name} | {run['label']} | {len(rows)} | " + " | ".join(cells) + " |")


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd = sys.argv[1]
    if cmd == "setup":
        setup(sys.argv[2], json.loads(sys.argv[3]))
    elif cmd == "ask":
        args = sys.argv[5:]
        label = args[args.index("--label") + 1] if "--label" in args else "pai"
        max_tokens = int(args[args.index("--max-tokens") + 1]) if "--max-tokens" in args else 160
        ask(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], "--sample" in args, label, max_tokens)
    elif cmd == "table":
        table(sys.argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
