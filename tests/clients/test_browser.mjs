// A page on another origin calling /v1 with a key, in Debian's headless
// Chromium (playwright-core). page.html is served from two local ports: one
// listed in pai's [server] cors_origins (ALLOWED_PORT: its fetches, preflighted,
// must get through) and one not (OTHER_PORT: the browser must block them).
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { chromium } from "playwright-core";
import { KEY, PAI_URL, check, expect, finish } from "./common.mjs";

const C = "browser";
const html = readFileSync(new URL("./page.html", import.meta.url));
const servers = [process.env.ALLOWED_PORT, process.env.OTHER_PORT].map((port) => {
  const s = createServer((req, res) => {
    res.writeHead(req.url.startsWith("/page.html") ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
    res.end(req.url.startsWith("/page.html") ? html : "");
  });
  s.listen(Number(port), "127.0.0.1");
  return s;
});
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });

async function open(port) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${port}/page.html#pai=${encodeURIComponent(PAI_URL)}&key=${encodeURIComponent(KEY)}`);
  await page.locator("#status", { hasText: "done" }).waitFor({ timeout: 120_000 });
  const read = async (id) => (await page.locator(`#${id}`).innerText()).trim();
  const out = { models: await read("models"), chat: await read("chat"), stream: await read("stream"), errors };
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/clients-browser-${port}.png` });
  await page.close();
  return out;
}

const allowed = await open(process.env.ALLOWED_PORT);
await check(C, "allowed origin: GET /v1/models with a key", async () => {
  expect(/^200 .*\bpai\b/.test(allowed.models), allowed.models);
});
await check(C, "allowed origin: POST /v1/chat/completions (preflighted), the answer shows in the page", async () => {
  expect(/^200 (stop|length): \S/.test(allowed.chat), allowed.chat);
});
await check(C, "allowed origin: a streamed answer read through fetch's body, ends with [DONE]", async () => {
  expect(/^200 \d+ events, last data: \[DONE\]$/.test(allowed.stream), allowed.stream);
  expect(Number(allowed.stream.split(" ")[1]) >= 3, allowed.stream);
});
await check(C, "allowed origin: no script error", async () => expect(!allowed.errors.length, allowed.errors.join("; ")));

const other = await open(process.env.OTHER_PORT);
await check(C, "origin not in cors_origins: every fetch is blocked by the browser", async () => {
  for (const id of ["models", "chat", "stream"]) expect(other[id].startsWith("error: TypeError"), `${id}: ${other[id]}`);
});

await browser.close();
for (const s of servers) s.close();
finish();
