"""LiteLLM against pai through its OpenAI provider (`openai/MODEL` with
api_base): completion, stream with usage, embedding, text_completion
(/v1/completions), sampling params in extra_body. num_retries=0 so a refusal
is seen. run.sh keeps LiteLLM offline (bundled cost map)."""

from common import FINISH, KEY, V1, case, expect, finish

import litellm

C = "litellm"
litellm.telemetry = False
litellm.suppress_debug_info = True
kw = dict(api_base=V1, api_key=KEY, num_retries=0, timeout=120)
MSG = [{"role": "user", "content": "What is the capital of France?"}]


@case(C, "completion: a message, finish_reason, usage")
def _():
    r = litellm.completion(model="openai/gpt-4o-mini", messages=MSG, max_tokens=32, temperature=0, **kw)
    c = r.choices[0]
    expect(isinstance(c.message.content, str) and c.message.content.strip(), repr(c.message))
    expect(c.finish_reason in FINISH, c.finish_reason)
    expect(r.usage.completion_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, r.usage)


@case(C, "completion stream: several chunks, finish_reason, usage")
def _():
    chunks = list(
        litellm.completion(
            model="openai/pai",
            messages=[{"role": "user", "content": "Count from one to ten."}],
            max_tokens=32,
            stream=True,
            stream_options={"include_usage": True},
            **kw,
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    usage = [getattr(ch, "usage", None) for ch in chunks if getattr(ch, "usage", None)]
    expect(len(chunks) > 3 and text.strip(), f"{len(chunks)} chunks: {text!r}")
    expect(finishes and finishes[-1] in FINISH, finishes)
    expect(usage and usage[-1].completion_tokens > 0, usage)


@case(C, "embedding (openai/text-embedding-3-small alias): 3 vectors of 384")
def _():
    r = litellm.embedding(model="openai/text-embedding-3-small", input=["one", "two", "three"], **kw)
    expect(len(r.data) == 3 and all(len(d["embedding"]) == 384 for d in r.data), [len(d["embedding"]) for d in r.data])
    expect(r.usage.prompt_tokens > 0, r.usage)


@case(C, "text_completion (text-completion-openai/pai, /v1/completions): text, finish_reason")
def _():
    r = litellm.text_completion(model="text-completion-openai/pai", prompt="Once upon a time", max_tokens=16, **kw)
    c = r.choices[0]
    expect(isinstance(c.text, str) and c.text.strip(), repr(c))
    expect(c.finish_reason in FINISH, c.finish_reason)


@case(C, "sampling params in extra_body (top_k, min_p, repetition_penalty): accepted")
def _():
    r = litellm.completion(
        model="openai/pai",
        messages=MSG,
        max_tokens=16,
        extra_body={"top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1},
        **kw,
    )
    expect(r.choices[0].finish_reason in FINISH, r.choices[0].finish_reason)


finish()
