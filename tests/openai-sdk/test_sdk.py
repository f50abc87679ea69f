"""pai's /v1 API through the official OpenAI Python SDK, on the real default
model. Run by run.sh against a live `pai serve`; every check can fail."""

import json
import os
import sys
import time
import urllib.request

import openai
from openai import OpenAI

BASE = os.environ["PAI_URL"]
KEY = os.environ["PAI_KEY"]
client = OpenAI(api_key=KEY, base_url=f"{BASE}/v1", max_retries=0, timeout=120)
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(name)


def rest(path):
    req = urllib.request.Request(f"{BASE}{path}", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


models = [m.id for m in client.models.list()]
check("models.list has pai and the chat model", "pai" in models and len(models) >= 2, models)
m = client.models.retrieve("pai")
check("models.retrieve", m.id == "pai" and m.object == "model", m)
try:
    client.models.retrieve("gpt-4o-mini")
    check("models.retrieve of an unknown model is NotFoundError", False)
except openai.NotFoundError:
    check("models.retrieve of an unknown model is NotFoundError", True)

# Not streamed.
r = client.chat.completions.create(
    model="pai",
    messages=[{"role": "user", "content": "What is the capital of France?"}],
    max_tokens=24,
    temperature=0,
    seed=1,
)
content = r.choices[0].message.content or ""
check("non-stream: an answer", len(content.strip()) > 0, repr(content))
check("non-stream: finish_reason", r.choices[0].finish_reason in ("stop", "length"), r.choices[0].finish_reason)
check(
    "non-stream: usage adds up",
    r.usage.completion_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens,
    r.usage,
)
# Greedy with a seed is reproducible.
again = client.chat.completions.create(
    model="pai", messages=[{"role": "user", "content": "What is the capital of France?"}], max_tokens=24, temperature=0, seed=1
)
check("non-stream: greedy answers repeat", again.choices[0].message.content == content)

# Streamed, with usage.
pieces, usage, finish = [], None, None
stream = client.chat.completions.create(
    model="pai",
    messages=[{"role": "user", "content": "Count from one to five."}],
    max_tokens=32,
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
check("stream: several pieces", len(pieces) > 3, pieces)
check("stream: finish_reason", finish in ("stop", "length"), finish)
check("stream: usage chunk", usage is not None and usage.completion_tokens == 32 or finish == "stop", usage)

# max_tokens and stop are honoured.
r = client.chat.completions.create(
    model="pai", messages=[{"role": "user", "content": "Write a long story about a cat."}], max_tokens=5
)
check("max_tokens: length", r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5, r.usage)

# A JSON schema constrains the answer.
schema = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}
r = client.chat.completions.create(
    model="pai",
    messages=[{"role": "user", "content": "Name a city and its country as JSON."}],
    response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
    max_tokens=60,
    temperature=0,
)
try:
    place = json.loads(r.choices[0].message.content)
    check("response_format: valid JSON with the schema's keys", set(place) == {"city", "country"}, place)
except json.JSONDecodeError as e:
    check("response_format: valid JSON", False, f"{e}: {r.choices[0].message.content!r}")

# Tools: a required call comes back as tool_calls with arguments that parse.
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
r = client.chat.completions.create(
    model="pai",
    messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    tools=tools,
    tool_choice="required",
    max_tokens=60,
    temperature=0,
)
calls = r.choices[0].message.tool_calls or []
ok = r.choices[0].finish_reason == "tool_calls" and len(calls) >= 1 and calls[0].function.name == "get_weather"
check("tools: a tool call", ok, r.choices[0])
if calls:
    check("tools: arguments are JSON with city", "city" in json.loads(calls[0].function.arguments), calls[0])

# Embeddings (the SDK asks for base64 and decodes it).
e = client.embeddings.create(model="pai", input=["I moved to Busan", "부산으로 이사했어"])
check("embeddings: two vectors of 384", len(e.data) == 2 and all(len(d.embedding) == 384 for d in e.data))
dot = sum(a * b for a, b in zip(e.data[0].embedding, e.data[1].embedding))
check("embeddings: unit length, translations close", 0.7 < dot <= 1.0001, dot)

# A stored conversation through the extension header; its id comes back.
raw = client.chat.completions.with_raw_response.create(
    model="pai", messages=[{"role": "user", "content": "Hello there"}], max_tokens=8,
    extra_headers={"X-Pai-Conversation": "new"},
)
conv = raw.headers.get("x-pai-conversation")
check("conversation header: an id comes back", conv is not None and conv.isdigit(), conv)
first = raw.parse().choices[0].message.content
r = client.chat.completions.create(
    model="pai", messages=[{"role": "user", "content": "And again"}], max_tokens=8, extra_body={"conversation": int(conv)}
)
second = r.choices[0].message.content
# Each message and each answer is stored as sent. The model may end an answer
# at once on another CPU (greedy output differs by instruction set), and an
# empty answer is not stored, so the expectation follows what came back.
expected = [t for t in ["Hello there", first, "And again", second] if t and t.strip()]
stored = [m["content"] for m in rest(f"/api/conversations/{conv}/messages")["data"]]
check("conversation: the messages and answers stored as sent", stored == expected, (stored, expected))
check("conversation: no half character where the token limit cut", "\ufffd" not in first + second, (first, second))

# Memory is updated for the key's user: an explicit request is learned.
client.chat.completions.create(
    model="pai", messages=[{"role": "user", "content": "Remember that my daughter is Jiwoo."}], max_tokens=8
)
found = False
for _ in range(120):
    mems = rest("/api/memories")["data"]
    if any("Jiwoo" in m["text"] for m in mems):
        found = True
        break
    time.sleep(1)
check("memory: learned from the API exchange", found, mems)

# Errors come as the SDK's exceptions.
try:
    OpenAI(api_key="pai-wrong", base_url=f"{BASE}/v1", max_retries=0).models.list()
    check("bad key: AuthenticationError", False, "no error")
except openai.AuthenticationError:
    check("bad key: AuthenticationError", True)
try:
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    check("unknown model: NotFoundError", False, "no error")
except openai.NotFoundError as err:
    check("unknown model: NotFoundError", err.body.get("code") == "model_not_found", err.body)
try:
    client.chat.completions.create(model="pai", messages=[{"role": "user", "content": "hi"}], n=3)
    check("n=3: BadRequestError", False, "no error")
except openai.BadRequestError:
    check("n=3: BadRequestError", True)

# Speech to text: the SDK's audio.transcriptions on the default whisper model.
FIXTURES = os.environ["PAI_FIXTURES"]
with open(f"{FIXTURES}/speech-en.mp3", "rb") as f:
    t = client.audio.transcriptions.create(model="whisper-1", file=f)
check("transcription: json has the words", "friday" in t.text.lower() and "meet" in t.text.lower(), t)
with open(f"{FIXTURES}/speech-en.flac", "rb") as f:
    v = client.audio.transcriptions.create(
        model="whisper-1", file=f, response_format="verbose_json", language="en", timestamp_granularities=["segment"]
    )
starts = [s.start for s in v.segments or []]
check(
    "transcription: verbose_json with language, duration and segments in order",
    v.language == "english" and v.duration > 1 and starts and starts == sorted(starts)
    and all(s.end >= s.start and s.end <= v.duration + 0.01 for s in v.segments),
    v,
)
with open(f"{FIXTURES}/speech-en.ogg", "rb") as f:
    srt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt")
check("transcription: srt cues", isinstance(srt, str) and srt.startswith("1\n00:00:") and " --> " in srt, srt)
with open(f"{FIXTURES}/speech-en.wav", "rb") as f:
    text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
check("transcription: text", isinstance(text, str) and "friday" in text.lower(), text)
try:
    client.audio.transcriptions.create(model="whisper-1", file=("notes.mp3", b"not a recording at all"))
    check("transcription: not audio is BadRequestError", False, "no error")
except openai.BadRequestError as err:
    check("transcription: not audio is BadRequestError", err.body.get("param") == "file", err.body)

print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
