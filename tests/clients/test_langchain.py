"""LangChain (langchain-openai) against pai: invoke, stream, a batch of 4,
structured output by both methods, a bind_tools round trip, a cut tool answer,
OpenAIEmbeddings with its defaults (token-id input, 300 texts in one request)
and a tiny RAG chain. Every client uses the model names it hard-codes
(gpt-4o-mini, text-embedding-ada-002) through pai's model aliases, and
max_retries=0 so a refusal is seen, not retried away."""

import asyncio
import math

from common import FINISH, FINISH_TOOLS, KEY, V1, case, expect, finish
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.tools import tool
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel, Field

C = "langchain"


def chat(**kw):
    args = dict(model="gpt-4o-mini", base_url=V1, api_key=KEY, max_retries=0, timeout=120, temperature=0, max_tokens=32)
    args.update(kw)
    return ChatOpenAI(**args)


def finish_reason(msg):
    return msg.response_metadata.get("finish_reason")


def usage_ok(msg):
    u = msg.usage_metadata or {}
    return u.get("input_tokens", 0) > 0 and u.get("output_tokens", 0) > 0 and u.get("total_tokens") == u["input_tokens"] + u["output_tokens"]


class Place(BaseModel):
    """A city and the country it is in."""

    city: str = Field(description="the city")
    country: str = Field(description="the country")


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny and 21 degrees in {city}."


@case(C, "invoke (gpt-4o-mini alias): an AIMessage with text, finish_reason, usage")
def _():
    m = chat().invoke("What is the capital of France?")
    expect(isinstance(m.content, str) and m.content.strip(), repr(m.content))
    expect(finish_reason(m) in FINISH, m.response_metadata)
    expect(usage_ok(m), m.usage_metadata)


@case(C, "stream: several chunks that add up, usage on the last")
def _():
    chunks = list(chat(stream_usage=True).stream("Count from one to ten."))
    text = "".join(c.content for c in chunks if isinstance(c.content, str))
    expect(len(chunks) > 3 and text.strip(), f"{len(chunks)} chunks, {text!r}")
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    expect(finish_reason(total) in FINISH, total.response_metadata)
    expect(usage_ok(total), total.usage_metadata)


PROMPTS = [
    "Write a short poem about the sea.",
    "Tell me a story about a cat.",
    "Describe a busy market in the morning.",
    "Explain how rain forms.",
]


@case(C, "batch of 4 at once: all four answered (none refused with 429)")
def _():
    out = chat(max_tokens=48).batch(PROMPTS, return_exceptions=True)
    errors = [f"#{i}: {type(r).__name__} {getattr(r, 'status_code', '')} {r}" for i, r in enumerate(out) if isinstance(r, Exception)]
    expect(not errors, "; ".join(errors))
    expect(all(finish_reason(m) in FINISH for m in out), [m.response_metadata for m in out])


@case(C, "asyncio.gather of 4 ainvoke: all four answered")
async def _():
    llm = chat(max_tokens=48)
    out = await asyncio.gather(*(llm.ainvoke(p) for p in PROMPTS), return_exceptions=True)
    errors = [f"#{i}: {type(r).__name__} {getattr(r, 'status_code', '')} {r}" for i, r in enumerate(out) if isinstance(r, Exception)]
    expect(not errors, "; ".join(errors))


@case(C, 'with_structured_output(method="json_schema"): a parsed Place')
def _():
    p = chat(max_tokens=128).with_structured_output(Place, method="json_schema").invoke("Name a city and its country.")
    expect(isinstance(p, Place), repr(p))


@case(C, 'with_structured_output(method="function_calling"): a parsed Place')
def _():
    p = chat(max_tokens=128).with_structured_output(Place, method="function_calling").invoke("Name a city and its country.")
    expect(isinstance(p, Place), repr(p))


@case(C, 'with_structured_output(method="function_calling") cut by max_tokens: HTTP 200, finish_reason "length"')
def _():
    r = chat(max_tokens=4).with_structured_output(Place, method="function_calling", include_raw=True).invoke(
        "Name a city and its country."
    )
    expect(finish_reason(r["raw"]) == "length", r["raw"].response_metadata)


@case(C, "bind_tools round trip: a get_weather call, its result, an answer")
def _():
    llm = chat(max_tokens=128)
    question = HumanMessage("What is the weather in Paris?")
    first = llm.bind_tools([get_weather], tool_choice="get_weather").invoke([question])
    expect(first.tool_calls, f"no tool call: {first.content!r} {first.response_metadata} {first.invalid_tool_calls}")
    call = first.tool_calls[0]
    expect(call["name"] == "get_weather" and isinstance(call["args"].get("city"), str), call)
    expect(finish_reason(first) in ("tool_calls", "stop"), first.response_metadata)
    result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
    second = llm.bind_tools([get_weather]).invoke([question, first, result])
    expect(finish_reason(second) in FINISH_TOOLS, second.response_metadata)
    expect(second.content or second.tool_calls, repr(second))


@case(C, 'bind_tools(tool_choice="any") cut by max_tokens: HTTP 200, finish_reason "length"')
def _():
    m = chat(max_tokens=4).bind_tools([get_weather], tool_choice="any").invoke("What is the weather in Paris?")
    expect(finish_reason(m) == "length", m.response_metadata)


@case(C, "sampling params in extra_body (top_k, min_p, repetition_penalty): accepted")
def _():
    m = chat(extra_body={"top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1}, temperature=0.7).invoke("Say hello.")
    expect(finish_reason(m) in FINISH, m.response_metadata)


TOPICS = ["the weather", "a football match", "cooking rice", "a train timetable", "learning Korean", "a bank holiday"]
TEXTS = [f"Note {i}: a few words about {TOPICS[i % len(TOPICS)]}, written on day {i // len(TOPICS) + 1}." for i in range(300)]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


vectors = []


@case(C, "OpenAIEmbeddings() defaults (token-id arrays, ada-002 alias): 300 texts in one request")
def _():
    emb = OpenAIEmbeddings(base_url=V1, api_key=KEY, max_retries=0, timeout=120)
    out = emb.embed_documents(TEXTS)
    expect(len(out) == 300 and all(len(v) == 384 for v in out), f"{len(out)} vectors, sizes {sorted({len(v) for v in out})}")
    vectors.extend(out)
    q = emb.embed_query("What was the weather like?")
    expect(len(q) == 384, len(q))


@case(C, "OpenAIEmbeddings: token ids embed like the text they encode")
def _():
    expect(vectors, "no vectors from the defaults")
    plain = OpenAIEmbeddings(base_url=V1, api_key=KEY, max_retries=0, check_embedding_ctx_length=False)
    for i, v in zip((0, 7, 299), plain.embed_documents([TEXTS[0], TEXTS[7], TEXTS[299]])):
        c = cosine(v, vectors[i])
        expect(c > 0.99, f"text {i}: cosine {c:.3f} between the token-id and the text embedding")


@case(C, "a tiny RAG chain: InMemoryVectorStore retriever | prompt | ChatOpenAI | StrOutputParser")
def _():
    docs = [
        Document("Minji's dog is called Bori and lives in Busan."),
        Document("The library opens at nine in the morning."),
        Document("Tom plays the guitar in a jazz band."),
        Document("Rice should soak for thirty minutes before cooking."),
    ]
    store = InMemoryVectorStore.from_documents(docs, OpenAIEmbeddings(base_url=V1, api_key=KEY, max_retries=0))
    retriever = store.as_retriever(search_kwargs={"k": 2})
    found = retriever.invoke("What is the name of Minji's dog?")
    expect(len(found) == 2 and "Bori" in found[0].page_content, [d.page_content for d in found])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from this context:\n{context}"), ("human", "{question}")]
    )
    rag = (
        {"context": retriever | (lambda ds: "\n".join(d.page_content for d in ds)), "question": RunnablePassthrough()}
        | prompt
        | chat(max_tokens=32)
        | StrOutputParser()
    )
    answer = rag.invoke("What is the name of Minji's dog?")
    expect(isinstance(answer, str) and answer.strip(), repr(answer))


finish()
