"""The official Python MCP SDK (`mcp`, pinned in requirements.txt) against pai,
as two agents of one user would use it: a desktop agent that starts `pai mcp`
(stdio) and another that reaches `pai serve`'s `/mcp` (Streamable HTTP) with
an API key, on the same data. What one remembers the other recalls; every tool
is called, in Korean and English; a second user's key sees nothing; bad
arguments come back as MCP errors.

No model answers here: pai's tools decide by rule and search with the real
embedding model, so the checks may look at what comes back.

MCP_TRANSCRIPT=1 prints the two agents' calls and pai's answers to stderr."""

import asyncio
import os
import sys
from contextlib import asynccontextmanager

import httpx2
import requests
from common import KEY, URL, case, expect, finish
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

C = "mcp"
KEY2 = os.environ["PAI_KEY2"]
PAI = os.environ["PAI_BIN"]
DATA = os.environ["PAI_DATA"]
TRANSCRIPT = bool(os.environ.get("MCP_TRANSCRIPT"))
TOOLS = {
    "remember",
    "recall",
    "list_memories",
    "forget",
    "search_documents",
    "create_reminder",
    "list_reminders",
    "cancel_reminder",
}


@asynccontextmanager
async def desktop():
    """The desktop agent: `pai mcp` as its child, the configured user (ada)."""
    env = {
        "PATH": os.environ["PATH"],
        "PAI_USER": "ada",
        "PAI_MODELS_DIR": os.environ["PAI_MODELS_DIR"],
        "RUST_LOG": "warn",
    }
    params = StdioServerParameters(command=PAI, args=["--data-dir", DATA, "mcp"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def remote(key=KEY):
    """The other agent: `/mcp` on the server, with an API key."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with streamable_http_client(f"{URL}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


async def call(session, who, tool, arguments):
    result = await session.call_tool(tool, arguments)
    if TRANSCRIPT:
        print(f"\n[{who}] {tool} {arguments}", file=sys.stderr)
        print("  " + result.content[0].text.replace("\n", "\n  "), file=sys.stderr)
    return result


def ok(result):
    expect(not result.is_error, result.content[0].text if result.content else result)
    return result.structured_content


@case(C, "stdio (pai mcp): initialize, eight tools with schemas, forget and cancel_reminder marked destructive")
async def _():
    async with desktop() as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        expect(set(tools) == TOOLS, sorted(tools))
        for name, t in tools.items():
            expect(t.input_schema.get("type") == "object" and t.description, name)
        expect(tools["forget"].annotations.destructive_hint is True, tools["forget"].annotations)
        expect(tools["cancel_reminder"].annotations.destructive_hint is True)
        expect(tools["recall"].annotations.read_only_hint is True)
        expect(tools["remember"].annotations.destructive_hint is False)


@case(C, "remembered on stdio in English and Korean, recalled over HTTP by another client")
async def _():
    async with desktop() as d:
        r = ok(await call(d, "desktop", "remember", {"text": "My daughter's name is Jiwoo and she is 7."}))
        expect([x["action"] for x in r["decisions"]] == ["add"], r["decisions"])
        r = ok(await call(d, "desktop", "remember", {"text": "나는 부산에 살아."}))
        expect([x["action"] for x in r["decisions"]] == ["add"], r["decisions"])
        r = ok(await call(d, "desktop", "remember", {"text": "Remember that my daughter's name is Jiwoo and she is 7."}))
        expect([x["action"] for x in r["decisions"]] == ["noop"], r["decisions"])
    async with remote() as h:
        r = ok(await call(h, "remote", "recall", {"query": "What is my daughter's name?", "k": 5}))
        expect(any("Jiwoo" in i["text"] for i in r["items"]), r["items"])
        expect("notice" in r and "instructions" in r["notice"], r)
        r = ok(await call(h, "remote", "recall", {"query": "내가 사는 곳", "k": 5}))
        expect(any("부산" in i["text"] for i in r["items"]), r["items"])


@case(C, "HTTP: a new home city supersedes the old one, which stays as history")
async def _():
    async with remote() as h:
        r = ok(await call(h, "remote", "remember", {"text": "I live in Incheon."}))
        first = r["decisions"][0]["memory"]
        r = ok(await call(h, "remote", "remember", {"text": "I moved to Daejeon."}))
        expect(r["decisions"][0]["action"] == "supersede" and r["decisions"][0]["target"] == first, r["decisions"])
        r = ok(await h.call_tool("list_memories", {"history": True}))
        old = [m for m in r["memories"] if m["id"] == first]
        expect(old and old[0]["valid_to"], r["memories"])


@case(C, "HTTP: search_documents cites the passage, in English and Korean")
async def _():
    files = [
        ("file", ("lease.md", b"# Lease\n\nThe apartment lease renews on 2027-03-01. Rent is paid on the 25th.")),
        ("file", ("가계부.md", "# 가계부\n\n관리비는 매달 10일에 자동이체된다.".encode())),
    ]
    up = requests.post(f"{URL}/api/documents", headers={"Authorization": f"Bearer {KEY}"}, files=files, timeout=120)
    expect(up.status_code in (200, 201), up.text)
    async with remote() as h:
        r = ok(await call(h, "remote", "search_documents", {"query": "When does the lease renew?"}))
        top = r["passages"][0]
        expect("2027-03-01" in top["text"] and top["document"]["title"] and top["citation"] == 1, top)
        r = ok(await call(h, "remote", "search_documents", {"query": "관리비 자동이체 날짜"}))
        expect("10일" in r["passages"][0]["text"], r["passages"])
        listed = await h.list_resources()
        uris = [str(x.uri) for x in listed.resources]
        expect("pai://memories/export" in uris, uris)
        doc = next(u for u in uris if u.startswith("pai://documents/"))
        text = (await h.read_resource(doc)).contents[0].text
        expect("## passage 1" in text, text[:300])
        export = (await h.read_resource("pai://memories/export")).contents[0].text
        expect("Jiwoo" in export and "pai-memories/1" in export, export[:300])


@case(C, "reminders: Korean and English phrases, listed on the other transport, cancelled by id")
async def _():
    async with desktop() as d:
        r = ok(await call(d, "desktop", "create_reminder", {"text": "약 먹기", "when": "내일 오전 9시"}))
        korean = r["reminder"]
        expect(korean["next_at_local"].endswith("09:00:00+00:00"), korean)
        r = ok(await call(d, "desktop", "create_reminder", {"text": "team sync", "when": "every Monday at 8am"}))
        expect(r["reminder"]["recurring"] is True, r)
    async with remote() as h:
        r = ok(await call(h, "remote", "list_reminders", {}))
        texts = [x["text"] for x in r["reminders"]]
        expect("약 먹기" in texts and "team sync" in texts, texts)
        r = ok(await call(h, "remote", "cancel_reminder", {"id": korean["id"]}))
        expect(r["reminder"]["state"] == "cancelled", r)


@case(C, "forget by the id another client read: gone from recall and from the messages")
async def _():
    async with remote() as h:
        r = ok(await h.call_tool("recall", {"query": "my daughter Jiwoo", "k": 5}))
        ids = [i["memory_id"] for i in r["items"] if i["memory_id"] and "Jiwoo" in i["text"]]
        expect(ids, r["items"])
    async with desktop() as d:
        r = ok(await call(d, "desktop", "forget", {"id": ids[0]}))
        expect(r["forgotten"]["id"] == ids[0] and r["messages_rewritten"] >= 1, r)
    async with remote() as h:
        r = ok(await call(h, "remote", "recall", {"query": "my daughter Jiwoo", "k": 10}))
        expect(all("Jiwoo" not in i["text"] for i in r["items"]), r["items"])


@case(C, "the what_pai_knows prompt brings what pai knows, fenced as data")
async def _():
    async with remote() as h:
        prompts = (await h.list_prompts()).prompts
        expect([p.name for p in prompts] == ["what_pai_knows"], prompts)
        p = await h.get_prompt("what_pai_knows", {"question": "어디 살아?"})
        text = p.messages[0].content.text
        data = text.split("<data>")[1].split("</data>")[0]
        expect("Daejeon" in data and text.endswith("My question: 어디 살아?"), text)


@case(C, "another user's key sees nothing of ada's through MCP")
async def _():
    async with remote(KEY2) as h:
        r = ok(await h.call_tool("recall", {"query": "Daejeon 부산 daughter lease", "k": 50}))
        expect(r["items"] == [], r["items"])
        r = ok(await h.call_tool("search_documents", {"query": "lease renew 관리비", "k": 50}))
        expect(r["passages"] == [], r["passages"])
        r = ok(await h.call_tool("list_memories", {"history": True}))
        expect(r["memories"] == [], r["memories"])
        r = ok(await h.call_tool("list_reminders", {}))
        expect(r["reminders"] == [], r["reminders"])
        uris = [str(x.uri) for x in (await h.list_resources()).resources]
        expect(uris == ["pai://memories/export"], uris)


@case(C, "bad arguments: tool errors naming the argument, JSON-RPC errors for unknown tools; no key: refused")
async def _():
    async with remote() as h:
        r = await h.call_tool("recall", {"query": 5})
        expect(r.is_error, r)
        r = await h.call_tool("recall", {"query": "x", "k": 1000})
        expect(r.is_error and r.structured_content["argument"] == "k", r)
        r = await h.call_tool("forget", {"id": 987654321})
        expect(r.is_error and r.structured_content["argument"] == "id", r)
        r = await h.call_tool("remember", {"text": "내 딸 이름 잊어 줘"})
        expect(r.is_error and "forget" in r.content[0].text, r)
        try:
            await h.call_tool("drop_everything", {})
            expect(False, "an unknown tool was answered")
        except MCPError:
            pass
    try:
        async with remote(key=None) as h:
            await h.list_tools()
        expect(False, "answered without a key")
    except Exception as e:  # noqa: BLE001 - the SDK wraps the 401 in its own exception group
        expect("401" in repr(e) or "Unauthorized" in repr(e) or isinstance(e, BaseExceptionGroup), repr(e))


finish()
