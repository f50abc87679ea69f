// What the Node client checks share: where pai is, and `check`, which runs
// one check and prints `ok   CLIENT: WHAT` or `FAIL CLIENT: WHAT: DETAIL`
// (with the HTTP status and error message when a request was refused). A check
// fails through `expect` or any exception; the others still run. `finish()`
// exits 1 if any failed. The model is tiny: check shapes and protocol, never
// what an answer says.
export const PAI_URL = process.env.PAI_URL;
export const KEY = process.env.PAI_KEY;
export const V1 = `${PAI_URL}/v1`;
export const FINISH = ["stop", "length"];
let failed = 0;

class Fail extends Error {}

export function expect(ok, detail = "") {
  if (!ok) throw new Fail(typeof detail === "string" ? detail : JSON.stringify(detail));
}

// One line for an error: its name, the HTTP status if it carries one (openai's
// APIError.status, the AI SDK's APICallError.statusCode, also inside a
// RetryError), its message and the response body.
export function describe(e) {
  if (e instanceof Fail) return e.message;
  const inner = e?.lastError ?? e?.cause ?? {};
  const status = e?.status ?? e?.statusCode ?? inner.status ?? inner.statusCode;
  const body = e?.responseBody ?? inner.responseBody;
  let text = `${e?.constructor?.name ?? e?.name ?? "Error"}${status ? ` HTTP ${status}` : ""}: ${e?.message ?? e}`;
  if (body && !text.includes(body)) text += ` ${body}`;
  return text;
}

export async function check(client, what, fn) {
  const start = Date.now();
  try {
    await fn();
    console.log(`ok   ${client}: ${what}`);
  } catch (e) {
    let detail = describe(e).replace(/\s+/g, " ");
    if (detail.length > 400) detail = `${detail.slice(0, 400)} …`;
    console.log(`FAIL ${client}: ${what}: ${detail}`);
    failed++;
  }
  if (process.env.CLIENTS_TIMES) console.error(`     (${((Date.now() - start) / 1000).toFixed(1)} s)`);
}

export function finish() {
  process.exit(failed ? 1 : 0);
}
