"""Simon Willison's `llm` CLI against pai, set up the way its docs say: chat
through extra-openai-models.yaml (model_id pai, api_base, api_key_name) and a
key stored with `llm keys set`; embeddings through its built-in OpenAI model
3-small (text-embedding-3-small) with OPENAI_BASE_URL and OPENAI_API_KEY.
Checks prompt (streamed and not), chat (two turns on stdin, both logged in one
conversation with usage), --schema, embed, embed-multi + similar. run.sh sets
LLM_USER_PATH to a throwaway folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

from common import KEY, V1, case, expect, finish

C = "llm"
LLM = str(Path(sys.executable).with_name("llm"))
home = Path(os.environ["LLM_USER_PATH"])
home.mkdir(parents=True, exist_ok=True)
(home / "extra-openai-models.yaml").write_text(
    f"""- model_id: pai
  model_name: pai
  api_base: "{V1}"
  api_key_name: pai
  supports_schema: true
  supports_tools: true
"""
)
ENV = {**os.environ, "OPENAI_BASE_URL": V1, "OPENAI_API_KEY": KEY}


def llm(*args, stdin=None):
    p = subprocess.run([LLM, *args], input=stdin, capture_output=True, text=True, env=ENV, timeout=300)
    expect(p.returncode == 0, f"llm {' '.join(args[:3])} exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return p.stdout


@case(C, "keys set pai; the model from extra-openai-models.yaml is listed")
def _():
    llm("keys", "set", "pai", "--value", KEY)
    out = llm("models", "list")
    expect("pai" in out, out[-300:])


@case(C, "prompt (streamed): an answer")
def _():
    out = llm("-m", "pai", "-o", "max_tokens", "32", "What is the capital of France?")
    expect(out.strip(), repr(out))


@case(C, "prompt --no-stream: an answer, logged with usage")
def _():
    out = llm("-m", "pai", "--no-stream", "-o", "max_tokens", "16", "Say hello.")
    expect(out.strip(), repr(out))
    log = json.loads(llm("logs", "-n", "1", "--json"))[0]
    expect(log["model"] == "pai" and (log.get("input_tokens") or 0) > 0 and (log.get("output_tokens") or 0) > 0, log)


@case(C, "chat: two turns on stdin, one conversation in the log")
def _():
    out = llm("chat", "-m", "pai", "-o", "max_tokens", "24", stdin="Hello there!\nWhat did I just say?\nquit\n")
    expect("Chatting with pai" in out, out[:300])
    logs = json.loads(llm("logs", "-n", "2", "--json"))
    expect(len(logs) == 2 and logs[0]["conversation_id"] == logs[1]["conversation_id"], logs)
    expect(all((r.get("response") or "").strip() for r in logs), [r.get("response") for r in logs])


@case(C, "--schema 'city, country': JSON with those keys")
def _():
    # Greedy: sampled, the small model may ramble inside a string until max_tokens.
    out = llm("-m", "pai", "--schema", "city, country", "-o", "temperature", "0", "-o", "max_tokens", "96", "Name a city and its country.")
    expect(set(json.loads(out)) == {"city", "country"}, out)


@case(C, "embed -m 3-small (OPENAI_BASE_URL): a vector of 384")
def _():
    v = json.loads(llm("embed", "-m", "3-small", "-c", "I moved to Busan"))
    expect(len(v) == 384, len(v))


@case(C, "embed-multi + similar: the closest note comes first")
def _():
    notes = ["Minji's dog is called Bori.", "The library opens at nine.", "Tom plays the guitar."]
    lines = "\n".join(json.dumps({"id": f"n{i}", "content": t}) for i, t in enumerate(notes))
    llm("embed-multi", "notes", "-", "--format", "nl", "-m", "3-small", "--store", stdin=lines)
    hits = [json.loads(line) for line in llm("similar", "notes", "-c", "What is the dog's name?").splitlines()]
    expect(len(hits) == 3 and hits[0]["id"] == "n0", hits)


finish()
