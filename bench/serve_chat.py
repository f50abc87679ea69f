"""Chat load on a running `pai serve`: N concurrent streams (one user each),
each sending requests back to back. Prints time to first token p50/p95 and
aggregate generated tokens per second. Standard library only.

usage: serve_chat.py URL KEY[,KEY...] STREAMS REQUESTS_PER_STREAM MAX_TOKENS
"""

import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

url, keys, streams, per_stream, max_tokens = sys.argv[1], sys.argv[2].split(","), *map(int, sys.argv[3:6])
host = urllib.parse.urlparse(url)
PROMPTS = [
    "Tell me about the sea in three sentences.",
    "Give me two tips for sleeping better.",
    "What is a good name for a cat?",
    "Explain what a rainbow is.",
]
ttfts, tokens, errors = [], [], []
lock = threading.Lock()


def one(key, prompt):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
    body = json.dumps({"model": "pai", "stream": True, "stream_options": {"include_usage": True}, "max_tokens": max_tokens,
                       "temperature": 0.7, "memory": False, "messages": [{"role": "user", "content": prompt}]})
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        with lock:
            errors.append(f"{r.status} {r.read()[:200]!r}")
        return
    first, used = None, 0
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if first is None and any(c["delta"].get("content") for c in chunk.get("choices", [])):
            first = time.perf_counter() - start
        if chunk.get("usage"):
            used = chunk["usage"]["completion_tokens"]
    with lock:
        if first is not None:
            ttfts.append(first)
        tokens.append(used)


def worker(i):
    for j in range(per_stream):
        one(keys[i % len(keys)], PROMPTS[(i + j) % len(PROMPTS)])


t0 = time.perf_counter()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - t0
q = statistics.quantiles(ttfts, n=20) if len(ttfts) > 1 else [ttfts[0]] * 19
print(json.dumps({
    "streams": streams, "requests": len(tokens), "errors": len(errors), "wall_s": round(wall, 2),
    "tokens": sum(tokens), "tokens_per_s": round(sum(tokens) / wall, 1),
    "ttft_p50_ms": round(statistics.median(ttfts) * 1000), "ttft_p95_ms": round(q[18] * 1000),
}))
if errors:
    print("errors:", errors[:3], file=sys.stderr)
