// The Vercel AI SDK (ai 6) against pai, through both providers people use:
// - @ai-sdk/openai-compatible (createOpenAICompatible, Chat Completions):
//   generateText, streamText with usage, generateObject, a tool round trip, a
//   cut tool answer, embedMany;
// - @ai-sdk/openai (createOpenAI), whose default `openai("pai")` speaks the
//   Responses API (/v1/responses): generateText, streamText, generateObject,
//   tools; and its .chat, .completion (/v1/completions) and .embedding models.
// maxRetries 0 everywhere: a refusal is seen, not retried away.
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { embedMany, generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";
import { FINISH, KEY, V1, check, expect, finish } from "./common.mjs";

const C = "ai-sdk";
const compat = createOpenAICompatible({ name: "pai", baseURL: V1, apiKey: KEY, includeUsage: true, supportsStructuredOutputs: true });
const openai = createOpenAI({ baseURL: V1, apiKey: KEY });
const base = { maxRetries: 0, temperature: 0 };
const place = z.object({ city: z.string(), country: z.string() });
const weatherCalls = [];
const tools = {
  get_weather: tool({
    description: "Current weather in a city.",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      weatherCalls.push(city);
      return `Sunny and 21 degrees in ${city}.`;
    },
  }),
};
const usageOk = (u) => u?.inputTokens > 0 && u?.outputTokens > 0;

async function text(model) {
  const r = await generateText({ ...base, model, prompt: "What is the capital of France?", maxOutputTokens: 32 });
  expect(r.text.trim(), r.text);
  expect(FINISH.includes(r.finishReason), r.finishReason);
  expect(usageOk(r.usage), r.usage);
}

async function stream(model) {
  let error;
  const r = streamText({ ...base, model, prompt: "Count from one to ten.", maxOutputTokens: 32, onError: ({ error: e }) => (error = e) });
  let pieces = 0, all = "";
  for await (const piece of r.textStream) (all += piece), pieces++;
  if (error) throw error;
  expect(pieces > 3 && all.trim(), `${pieces} pieces: ${all}`);
  expect(FINISH.includes(await r.finishReason), await r.finishReason);
  expect(usageOk(await r.usage), await r.usage);
}

async function object(model) {
  const r = await generateObject({ ...base, model, schema: place, prompt: "Name a city and its country.", maxOutputTokens: 128 });
  expect(typeof r.object.city === "string" && typeof r.object.country === "string", r.object);
}

// Step 1 must call get_weather; step 2 gets its result and may not call again.
async function toolRoundTrip(model) {
  weatherCalls.length = 0;
  const r = await generateText({
    ...base,
    model,
    tools,
    toolChoice: "required",
    prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { toolChoice: "none" } : {}),
    stopWhen: stepCountIs(2),
    prompt: "What is the weather in Paris?",
    maxOutputTokens: 128,
  });
  const first = r.steps[0];
  expect(first?.toolCalls[0]?.toolName === "get_weather" && typeof first.toolCalls[0].input.city === "string", first?.toolCalls);
  expect(weatherCalls.length > 0 && first.toolResults.length > 0, first.toolResults);
  expect(r.steps.length === 2 && FINISH.includes(r.finishReason), `${r.steps.length} steps, ${r.finishReason}`);
}

await check(C, "openai-compatible generateText: text, finishReason, usage", () => text(compat("gpt-4o-mini")));
await check(C, "openai-compatible streamText: pieces, finishReason, usage (includeUsage)", () => stream(compat("pai")));
await check(C, "openai-compatible generateObject (json_schema): an object with the schema's keys", () => object(compat("pai")));
await check(C, "openai-compatible tools: get_weather called, executed, answered in step 2", () => toolRoundTrip(compat("pai")));

await check(C, 'openai-compatible tools (toolChoice "required") cut by maxOutputTokens: no error, finishReason "length"', async () => {
  const r = await generateText({
    ...base,
    model: compat("pai"),
    tools,
    toolChoice: "required",
    prompt: "What is the weather in Paris?",
    maxOutputTokens: 4,
  });
  expect(r.finishReason === "length", `${r.finishReason} (${r.rawFinishReason})`);
});

await check(C, "openai-compatible embedMany (text-embedding-3-small): 20 vectors of 384", async () => {
  const values = Array.from({ length: 20 }, (_, i) => `Note ${i} about the weather.`);
  const r = await embedMany({ maxRetries: 0, model: compat.embeddingModel("text-embedding-3-small"), values });
  expect(r.embeddings.length === 20 && r.embeddings.every((e) => e.length === 384), r.embeddings.map((e) => e.length));
  expect(r.usage.tokens > 0, r.usage);
});

await check(C, '@ai-sdk/openai default openai("pai") (Responses API) generateText', () => text(openai("pai")));
await check(C, '@ai-sdk/openai default openai("pai") (Responses API) streamText with usage', () => stream(openai("pai")));
await check(C, '@ai-sdk/openai default openai("pai") (Responses API) generateObject', () => object(openai("pai")));
await check(C, '@ai-sdk/openai default openai("pai") (Responses API) tools round trip', () => toolRoundTrip(openai("pai")));
await check(C, '@ai-sdk/openai openai.chat("gpt-4o-mini") generateText', () => text(openai.chat("gpt-4o-mini")));
await check(C, '@ai-sdk/openai openai.completion("pai") (/v1/completions) generateText', () => text(openai.completion("pai")));
await check(C, '@ai-sdk/openai openai.embedding("text-embedding-3-small") embedMany', async () => {
  const r = await embedMany({ maxRetries: 0, model: openai.embedding("text-embedding-3-small"), values: ["one", "two"] });
  expect(r.embeddings.length === 2 && r.embeddings.every((e) => e.length === 384), r.embeddings.map((e) => e.length));
});

finish();
