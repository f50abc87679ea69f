// The MCP Inspector's CLI (@modelcontextprotocol/inspector, pinned in
// package.json), the tool people use to try an MCP server, against pai on
// both transports: `pai mcp` as its child (stdio) and `/mcp` on the server
// with an API key (Streamable HTTP). Tools listed and called in Korean and
// English, a resource read, the prompt, and bad arguments.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { KEY, PAI_URL, check, expect, finish } from "./common.mjs";

const C = "mcp-inspector";
const run = promisify(execFile);
const inspector = new URL("./node_modules/.bin/mcp-inspector", import.meta.url).pathname;
const stdio = [process.env.PAI_BIN, "--data-dir", process.env.PAI_DATA, "mcp"];
const env = ["-e", "PAI_USER=ada", "-e", `PAI_MODELS_DIR=${process.env.PAI_MODELS_DIR}`, "-e", "RUST_LOG=warn"];
const http = ["--transport", "http", "--server-url", `${PAI_URL}/mcp`, "--header", `Authorization: Bearer ${KEY}`];

// One CLI run: its JSON result (the CLI exits non-zero on a protocol error:
// that comes back as {error, code}).
async function inspect(target, ...args) {
  const argv = ["--cli", "--format", "json", "-q", ...args];
  const full = target === "stdio" ? [...argv, ...env, ...stdio] : [...argv, ...http];
  try {
    const { stdout } = await run(inspector, full, { timeout: 180_000, maxBuffer: 16 << 20 });
    return JSON.parse(stdout);
  } catch (e) {
    if (e.killed || e.stdout === undefined) throw e;
    return { error: (e.stderr || e.stdout || String(e)).trim(), code: e.code };
  }
}

const call = (target, tool, args) =>
  inspect(target, "--method", "tools/call", "--tool-name", tool, "--tool-args-json", JSON.stringify(args));

await check(C, "stdio: tools/list has the eight tools", async () => {
  const r = await inspect("stdio", "--method", "tools/list");
  const names = r.result.tools.map((t) => t.name).sort();
  expect(names.join() === "cancel_reminder,create_reminder,forget,list_memories,list_reminders,recall,remember,search_documents", names);
});

await check(C, "stdio: remember in Korean; HTTP: recalled in English", async () => {
  let r = await call("stdio", "remember", { text: "내 차는 파란색 아이오닉 5야." });
  expect(!r.result.isError && r.result.structuredContent.decisions.length === 1, r);
  r = await call("http", "recall", { query: "아이오닉 what car do I drive", k: 5 });
  expect(r.result.structuredContent.items.some((i) => i.text.includes("아이오닉")), r);
});

await check(C, "HTTP: list_memories, resources/read of the export, prompts/get", async () => {
  let r = await call("http", "list_memories", { limit: 5 });
  expect(r.result.structuredContent.memories.length > 0, r);
  r = await inspect("http", "--method", "resources/read", "--uri", "pai://memories/export");
  expect(r.result.contents[0].text.includes("pai-memories/1"), r);
  r = await inspect("http", "--method", "prompts/get", "--prompt-name", "what_pai_knows", "--prompt-args", "question=what car do I drive?");
  expect(r.result.messages[0].content.text.includes("<data>"), r);
});

await check(C, "HTTP: bad arguments come back as errors, the server keeps answering", async () => {
  let r = await call("http", "create_reminder", { text: "call mom" });
  expect(r.error || r.result?.isError, r);
  r = await call("http", "list_reminders", {});
  expect(Array.isArray(r.result.structuredContent.reminders), r);
});

finish();
