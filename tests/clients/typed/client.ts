// A client generated from pai's own /openapi.json: openapi-typescript turns
// the description into types (generated/pai-api.d.ts, by
// ../test_typed_client.sh) and openapi-fetch calls pai with them. `tsc
// --strict` compiling this file is the first check: every path, parameter,
// body field and response field used here must be in the description with
// the right type. Running it is the second: the server answers as described.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/pai-api.js";

// Node's globals, without @types/node for two names.
declare const process: { env: Record<string, string | undefined>; exit(code: number): never };

type Memory = components["schemas"]["Memory"];
type ErrorBody = components["schemas"]["ErrorBody"];

const C = "typed-client";
const pai = createClient<paths>({
  baseUrl: process.env.PAI_URL,
  headers: { Authorization: `Bearer ${process.env.PAI_KEY}` },
});
let failed = 0;

function expect(ok: unknown, detail: unknown): asserts ok {
  if (!ok) throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
}

async function check(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    console.log(`ok   ${C}: ${what}`);
  } catch (e) {
    console.log(`FAIL ${C}: ${what}: ${String((e as Error)?.message ?? e).slice(0, 400)}`);
    failed++;
  }
}

function field(error: ErrorBody | undefined): string | null | undefined {
  return error?.error.param;
}

await check("memories: add, list a page, show with history (typed bodies)", async () => {
  const added = await pai.POST("/api/memories", {
    body: { text: "My bike is a green Brompton.", kind: "fact", importance: 0.8 },
  });
  expect(added.response.status === 201 && added.data, added.error);
  const memory: Memory = added.data;
  const page = await pai.GET("/api/memories", { params: { query: { limit: 10 } } });
  expect(page.data, page.error);
  expect(page.data.data.some((m) => m.id === memory.id && m.text === memory.text), page.data);
  const next: number | null | undefined = page.data.next_before;
  expect(next === null, `one page: next_before ${next}`);
  const shown = await pai.GET("/api/memories/{id}", { params: { path: { id: memory.id } } });
  expect(shown.data, shown.error);
  expect(shown.data.memory.kind === "fact" && Array.isArray(shown.data.history), shown.data);
});

await check("memories: search and recall give items with provenance", async () => {
  const found = await pai.GET("/api/memories/search", { params: { query: { q: "bike", k: 5 } } });
  expect(found.data, found.error);
  const first = found.data.data[0];
  expect(first && first.kind === "memory" && typeof first.provenance.created_at === "string", found.data);
  const recalled = await pai.POST("/api/recall", { body: { query: "what bike do I ride", k: 5 } });
  expect(recalled.data && recalled.data.data.length > 0, recalled.error);
});

await check("reminders: scheduled with the wall-clock time; a 400 names `text`", async () => {
  const made = await pai.POST("/api/reminders", { body: { text: "water the plants", when: "tomorrow at 9am" } });
  expect(made.response.status === 201 && made.data, made.error);
  const local: string | null | undefined = made.data.next_at_local;
  expect(made.data.state === "scheduled" && !made.data.recurring && local?.includes("T09:00:00"), made.data);
  const listed = await pai.GET("/api/reminders");
  expect(listed.data?.data.some((r) => r.id === made.data.id), listed.error);
  const refused = await pai.POST("/api/reminders", { body: { text: " ", when: "tomorrow at 9am" } });
  expect(refused.response.status === 400 && field(refused.error) === "text", refused.error);
});

await check("conversations: create, say, read back both messages", async () => {
  const made = await pai.POST("/api/conversations", { body: { title: "typed" } });
  expect(made.data, made.error);
  const id = made.data.id;
  const turn = await pai.POST("/api/conversations/{id}/messages", {
    params: { path: { id } },
    body: { content: "Write one word about bikes." },
  });
  expect(turn.data, turn.error);
  expect(turn.data.user_message.role === "user" && Array.isArray(turn.data.recalled), turn.data);
  const read = await pai.GET("/api/conversations/{id}", { params: { path: { id } } });
  expect(read.data?.messages.some((m) => m.id === turn.data.user_message.id), read.data);
});

await check("/v1/chat/completions: the answer, usage and pai's extension", async () => {
  const r = await pai.POST("/v1/chat/completions", {
    body: { model: "pai", messages: [{ role: "user", content: "Say hello." }], max_tokens: 8 },
  });
  expect(r.data, r.error);
  const choice = r.data.choices[0];
  expect(choice && ["stop", "length"].includes(choice.finish_reason), r.data);
  const content: string | null | undefined = choice.message.content;
  expect(typeof content === "string", r.data);
  expect(r.data.usage.total_tokens === r.data.usage.prompt_tokens + r.data.usage.completion_tokens, r.data.usage);
  expect(Array.isArray(r.data.pai.citations) && Array.isArray(r.data.pai.recalled), r.data.pai);
});

await check("/v1/responses: a typed response object; a follow-up by previous_response_id", async () => {
  const first = await pai.POST("/v1/responses", {
    body: { model: "pai", input: [{ type: "message", role: "user", content: "Say hello." }], max_output_tokens: 8 },
  });
  expect(first.data, first.error);
  const item = first.data.output[0];
  expect(item?.type === "message", first.data);
  const text: string | undefined = item.content[0]?.text;
  expect(typeof text === "string" && ["completed", "incomplete"].includes(first.data.status), first.data);
  const usage = first.data.usage;
  expect(usage && usage.total_tokens === usage.input_tokens + usage.output_tokens, usage);
  expect(Array.isArray(first.data.pai?.recalled), first.data.pai);
  const next = await pai.POST("/v1/responses", {
    body: { model: "pai", input: "And again.", previous_response_id: first.data.id, max_output_tokens: 8 },
  });
  expect(next.data?.object === "response", next.error);
  const bad = await pai.POST("/v1/responses", { body: { model: "pai", input: "x", background: true } });
  expect(bad.response.status === 400 && field(bad.error) === "background", bad.error);
});

await check("/v1/models and /v1/embeddings", async () => {
  const models = await pai.GET("/v1/models");
  expect(models.data?.data.some((m) => m.id === "pai"), models.error);
  const e = await pai.POST("/v1/embeddings", { body: { model: "pai", input: ["a green bike"] } });
  expect(e.data, e.error);
  const vector = e.data.data[0]?.embedding;
  expect(Array.isArray(vector) && vector.length > 0, e.data);
});

await check("an unknown id is a typed 404", async () => {
  const r = await pai.GET("/api/documents/{id}", { params: { path: { id: 987654 } } });
  expect(r.response.status === 404 && r.error?.error.type === "not_found_error", r.error);
});

process.exit(failed ? 1 : 0);
