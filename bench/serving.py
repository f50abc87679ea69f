"""Serving speed of one OpenAI-compatible server: prefix reuse and parallel
decoding. Run by bench/serving.sh against pai and against llama-server, one
after the other, with the same model, threads and slots. Standard library only.

usage: serving.py URL KEYS(comma-separated, or -) EXTRA_JSON OUT_JSON [MEMORY_EXTRA_JSON]

Measures
- ttft: time to first token of a follow-up turn after a ~2,000-token
  conversation, cold (the conversation never seen) and warm (its previous turn
  just answered), median of BENCH_REPS runs with fresh conversations;
- throughput: aggregate generated tokens/s with 1 and with 4 concurrent
  streams (one user each), each stream sending BENCH_REQUESTS requests of
  BENCH_MAX_TOKENS tokens back to back;
- with MEMORY_EXTRA_JSON (pai only): the TTFT pair again with those fields,
  i.e. with memory on: recall into the prompt, the exchange stored and its
  extraction running in the background, as a real client gets it.
"""

import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

url, keys, extra, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
memory_extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else None
keys = [None] if keys == "-" else keys.split(",")
host = urllib.parse.urlparse(url)
reps = int(os.environ.get("BENCH_REPS", "3"))
per_stream = int(os.environ.get("BENCH_REQUESTS", "2"))
max_tokens = int(os.environ.get("BENCH_MAX_TOKENS", "128"))
history_tokens = int(os.environ.get("BENCH_HISTORY_TOKENS", "2000"))


def chat(key, messages, max_tokens, temperature=0.0, fields=None):
    """One streamed request: (time to first content, text, usage)."""
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=900)
    body = {"model": "pai", "stream": True, "stream_options": {"include_usage": True}, "max_tokens": max_tokens,
            "temperature": temperature, "messages": messages, **(extra if fields is None else fields)}
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
    r = conn.getresponse()
    if r.status != 200:
        raise SystemExit(f"{url}: {r.status} {r.read()[:300]!r}")
    first, text, usage = None, [], {}
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        for c in chunk.get("choices", []):
            piece = c.get("delta", {}).get("content")
            if piece:
                if first is None:
                    first = time.perf_counter() - start
                text.append(piece)
        if chunk.get("usage"):
            usage = chunk["usage"]
    return first, "".join(text), usage


def conversation(tag):
    """Alternating turns of about `history_tokens` tokens (SmolLM2 reads this
    number-heavy English at ~2.9 characters a token), unique to `tag` so no
    cache has seen it."""
    messages = [{"role": "system", "content": f"You are a helpful assistant. Session {tag}."}]
    i = 0
    while sum(len(m["content"]) for m in messages) < history_tokens * 2.9:
        messages.append({"role": "user", "content":
                         f"Entry {i} of my diary ({tag}): today I walked {i + 2} kilometres along the river, "
                         f"had {i % 3 + 1} cups of green tea, read {i + 10} pages of a novel about sailors, and "
                         f"called my sister about the trip we are planning to Jeju island next spring."})
        messages.append({"role": "assistant", "content":
                         f"Noted entry {i}: {i + 2} km walked, {i % 3 + 1} cups of tea, {i + 10} pages read, "
                         f"and a call about the Jeju trip."})
        i += 1
    return messages


def ttft(fields=None):
    cold, warm, prompt = [], [], 0
    for r in range(reps):
        messages = conversation(uuid.uuid4().hex[:8])
        messages.append({"role": "user", "content": "How far did I walk on entry 3?"})
        first, answer, usage = chat(keys[0], messages, 32, fields=fields)
        cold.append(first)
        prompt = usage.get("prompt_tokens", 0)
        messages += [{"role": "assistant", "content": answer},
                     {"role": "user", "content": "And how many pages did I read that day?"}]
        first, _, _ = chat(keys[0], messages, 8, fields=fields)
        warm.append(first)
    return {"cold_s": statistics.median(cold), "warm_s": statistics.median(warm), "cold_all": cold, "warm_all": warm,
            "prompt_tokens": prompt}


PROMPTS = [
    "Write a long story about a lighthouse keeper and a storm.",
    "Write a long story about a fox who learns to fish.",
    "Write a long story about two friends crossing a desert.",
    "Write a long story about a robot who gardens on the moon.",
]


def throughput(streams):
    tokens, lock = [], threading.Lock()

    def worker(i):
        for j in range(per_stream):
            prompt = PROMPTS[(i + j) % len(PROMPTS)] + f" ({uuid.uuid4().hex[:6]})"
            _, _, usage = chat(keys[i % len(keys)], [{"role": "user", "content": prompt}], max_tokens, 0.7)
            with lock:
                tokens.append(usage.get("completion_tokens", 0))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"streams": streams, "tokens": sum(tokens), "seconds": wall, "tokens_per_s": sum(tokens) / wall}


chat(keys[0], [{"role": "user", "content": "Hello"}], 4)  # warm-up: first-request costs out of the figures
result = {"ttft": ttft(), "one": throughput(1), "four": throughput(4)}
if memory_extra is not None:
    result["ttft_memory"] = ttft(memory_extra)
json.dump(result, open(out, "w"), indent=1)
for name, label in (("ttft", ""), ("ttft_memory", " (memory on)")):
    if name in result:
        t = result[name]
        print(f"  TTFT after a {t['prompt_tokens']}-token prompt{label}: cold {t['cold_s']:.3f} s, "
              f"warm {t['warm_s']:.3f} s (warm/cold {t['warm_s'] / t['cold_s']:.3f})")
for k in ("one", "four"):
    r = result[k]
    print(f"  {r['streams']} stream(s): {r['tokens']} tokens in {r['seconds']:.1f} s = {r['tokens_per_s']:.1f} tokens/s")
