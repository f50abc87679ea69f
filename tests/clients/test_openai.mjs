// The openai npm package against pai: models.list/retrieve (aliases too),
// chat, stream with usage, 4 requests at once, a tool round trip, a cut tool
// answer, embeddings (base64 default and float), legacy completions (plain and
// streamed), sampling params beside the standard ones. maxRetries 0: a refusal
// is seen, not retried away.
import OpenAI from "openai";
import { FINISH, KEY, V1, check, expect, finish } from "./common.mjs";

const C = "openai-npm";
const client = new OpenAI({ baseURL: V1, apiKey: KEY, maxRetries: 0, timeout: 120_000 });
const ask = (content) => [{ role: "user", content }];
const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather in a city.",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];

await check(C, "models.list has pai and the aliases", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  expect(["pai", "gpt-4o-mini", "text-embedding-3-small"].every((id) => ids.includes(id)), ids);
});

await check(C, "models.retrieve pai and gpt-4o-mini (/v1/models/{id})", async () => {
  for (const id of ["pai", "gpt-4o-mini"]) {
    const m = await client.models.retrieve(id);
    expect(m.id === id && m.object === "model", m);
  }
});

await check(C, "chat.completions.create (gpt-4o-mini): message, finish_reason, usage", async () => {
  const r = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: ask("What is the capital of France?"),
    max_tokens: 32,
    temperature: 0,
  });
  const c = r.choices[0];
  expect(r.object === "chat.completion" && c.message.content?.trim(), r);
  expect(FINISH.includes(c.finish_reason), c.finish_reason);
  expect(r.usage.completion_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, r.usage);
});

await check(C, "chat stream with include_usage: pieces, finish_reason, usage chunk", async () => {
  const stream = await client.chat.completions.create({
    model: "pai",
    messages: ask("Count from one to ten."),
    max_tokens: 32,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", pieces = 0, finishReason, usage;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      if (ch.delta.content) (text += ch.delta.content), pieces++;
      if (ch.finish_reason) finishReason = ch.finish_reason;
    }
  }
  expect(pieces > 3 && text.trim(), `${pieces} pieces: ${text}`);
  expect(FINISH.includes(finishReason), finishReason);
  expect(usage?.completion_tokens > 0, usage);
});

await check(C, "4 chat requests at once (Promise.all): all answered", async () => {
  const prompts = ["Write a poem about the sea.", "Tell me about cats.", "Describe a market.", "Explain rain."];
  const out = await Promise.allSettled(
    prompts.map((p) => client.chat.completions.create({ model: "pai", messages: ask(p), max_tokens: 48 })),
  );
  const errors = out.map((r, i) => r.status === "rejected" && `#${i}: ${r.reason.status} ${r.reason.message}`).filter(Boolean);
  expect(!errors.length, errors.join("; "));
});

await check(C, "tools: get_weather call, tool result, an answer", async () => {
  const messages = ask("What is the weather in Paris?");
  const r = await client.chat.completions.create({
    model: "pai",
    messages,
    tools,
    tool_choice: { type: "function", function: { name: "get_weather" } },
    max_tokens: 128,
    temperature: 0,
  });
  const msg = r.choices[0].message;
  const call = msg.tool_calls?.[0];
  expect(call?.function.name === "get_weather", r.choices[0]);
  expect(typeof JSON.parse(call.function.arguments).city === "string", call);
  expect(["tool_calls", "stop"].includes(r.choices[0].finish_reason), r.choices[0].finish_reason);
  messages.push(msg, { role: "tool", tool_call_id: call.id, content: "Sunny and 21 degrees." });
  for (const c of msg.tool_calls.slice(1)) messages.push({ role: "tool", tool_call_id: c.id, content: "Sunny and 21 degrees." });
  const again = await client.chat.completions.create({ model: "pai", messages, tools, max_tokens: 48, temperature: 0 });
  expect([...FINISH, "tool_calls"].includes(again.choices[0].finish_reason), again.choices[0]);
});

await check(C, 'tools (tool_choice "required") cut by max_tokens: HTTP 200, finish_reason "length"', async () => {
  const r = await client.chat.completions.create({
    model: "pai",
    messages: ask("What is the weather in Paris?"),
    tools,
    tool_choice: "required",
    max_tokens: 4,
  });
  expect(r.choices[0].finish_reason === "length", r.choices[0]);
});

await check(C, "embeddings.create (text-embedding-3-small, SDK default base64): 3 vectors of 384", async () => {
  const r = await client.embeddings.create({ model: "text-embedding-3-small", input: ["one", "two", "three"] });
  expect(r.data.length === 3 && r.data.every((d) => d.embedding.length === 384), r.data.map((d) => d.embedding.length));
  expect(r.usage.prompt_tokens > 0, r.usage);
});

await check(C, "embeddings.create encoding_format float: a vector of 384", async () => {
  const r = await client.embeddings.create({ model: "pai", input: "I moved to Busan", encoding_format: "float" });
  expect(r.data[0].embedding.length === 384 && typeof r.data[0].embedding[0] === "number", r.data[0]);
});

await check(C, "completions.create (/v1/completions): text_completion, text, finish_reason, usage", async () => {
  const r = await client.completions.create({ model: "pai", prompt: "Once upon a time", max_tokens: 16, temperature: 0 });
  expect(r.object === "text_completion" && r.choices[0].text.trim(), r);
  expect(FINISH.includes(r.choices[0].finish_reason), r.choices[0]);
  expect(r.usage.completion_tokens > 0, r.usage);
});

await check(C, "completions.create stream: text pieces, finish_reason", async () => {
  const stream = await client.completions.create({ model: "pai", prompt: "Once upon a time", max_tokens: 16, stream: true });
  let text = "", pieces = 0, finishReason;
  for await (const chunk of stream) {
    for (const ch of chunk.choices) {
      if (ch.text) (text += ch.text), pieces++;
      if (ch.finish_reason) finishReason = ch.finish_reason;
    }
  }
  expect(pieces > 1 && text.trim(), `${pieces} pieces: ${text}`);
  expect(FINISH.includes(finishReason), finishReason);
});

await check(C, "sampling params in the body (top_k, min_p, repetition_penalty): accepted", async () => {
  const r = await client.chat.completions.create({
    model: "pai",
    messages: ask("Say hello."),
    max_tokens: 16,
    temperature: 0.7,
    top_k: 40,
    min_p: 0.05,
    repetition_penalty: 1.1,
  });
  expect(FINISH.includes(r.choices[0].finish_reason), r.choices[0]);
});

finish();
