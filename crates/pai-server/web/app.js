// pai's web app: plain ES modules, no build step, talks only to pai's own API
// (session cookie + CSRF token). Every visible string comes from i18n/*.json.

const $ = (sel) => document.querySelector(sel);
const state = { me: null, csrf: null, t: {}, conversation: null, abort: null, lastPrompt: null, events: null, mic: null };

// ---- language ---------------------------------------------------------------

function chosenLanguage() {
  const saved = localStorage.getItem("pai.lang") || "auto";
  if (saved !== "auto") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en";
}

async function loadLanguage() {
  const lang = chosenLanguage();
  const r = await fetch(`/i18n/${lang}.json`);
  state.t = await r.json();
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n)));
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => (el.placeholder = t(el.dataset.i18nPlaceholder)));
}

function t(key) {
  return state.t[key] ?? key;
}

// ---- API --------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (r.status === 401 && path !== "/api/session") showLogin();
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function toast(text, kind = "info") {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.textContent = text;
  $("#toasts").append(el);
  setTimeout(() => el.remove(), 6000);
}

function fail(e) {
  toast(e.message || t("error.generic"), "error");
}

// ---- small DOM helpers ------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function button(label, onclick, cls) {
  return el("button", { type: "button", class: cls, onclick }, label);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString(document.documentElement.lang) : "-";
}

// Markdown, safely: the text is escaped first, then a few marks become tags.
function markdown(src) {
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const parts = src.split(/```/);
  return parts
    .map((part, i) => {
      if (i % 2 === 1) {
        const body = part.replace(/^[a-zA-Z0-9_+-]*\n/, "");
        return `<pre><code>${esc(body)}</code></pre>`;
      }
      let h = esc(part);
      h = h.replace(/`([^`]+)`/g, "<code>$1</code>");
      h = h.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
      h = h.replace(/(^|\W)\*([^*\n]+)\*/g, "$1<em>$2</em>");
      h = h.replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>');
      h = h.replace(/^(?:[-*] .*(?:\n|$))+/gm, (block) => {
        const items = block.trim().split("\n").map((l) => `<li>${l.slice(2)}</li>`).join("");
        return `<ul>${items}</ul>`;
      });
      return h.replace(/\n/g, "<br>");
    })
    .join("");
}

// ---- session ----------------------------------------------------------------

function showLogin() {
  closeEvents();
  if (state.mic) {
    stopTracks(state.mic);
    state.mic = null;
    micState(null);
  }
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-name").focus();
}

async function start() {
  await loadLanguage();
  try {
    const me = await api("GET", "/api/me");
    enter(me);
  } catch {
    showLogin();
  }
}

function enter(me) {
  state.me = me;
  if (me.csrf_token) state.csrf = me.csrf_token;
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#who").textContent = me.name;
  $("#nav-admin").hidden = !me.admin;
  openEvents();
  route();
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#login-error").textContent = "";
  try {
    const r = await api("POST", "/api/session", { name: $("#login-name").value, password: $("#login-password").value });
    state.csrf = r.csrf_token;
    $("#login-password").value = "";
    enter(await api("GET", "/api/me"));
  } catch (err) {
    $("#login-error").textContent = err.status === 401 ? t("login.failed") : err.message;
  }
});

$("#logout").addEventListener("click", async () => {
  await api("DELETE", "/api/session").catch(() => {});
  state.csrf = null;
  state.conversation = null;
  location.hash = "#/chat";
  showLogin();
});

// ---- routing ----------------------------------------------------------------

const views = ["chat", "memory", "documents", "reminders", "settings", "admin"];
const loaders = {};

function route() {
  if (!state.me) return;
  const [, name = "chat", arg, extra] = location.hash.split("/");
  const view = views.includes(name) ? name : "chat";
  for (const v of views) $(`#view-${v}`).hidden = v !== view;
  document.querySelectorAll("nav a").forEach((a) => a.setAttribute("aria-current", a.getAttribute("href") === `#/${view}` ? "page" : "false"));
  loaders[view]?.(arg, extra).catch(fail);
}
window.addEventListener("hashchange", route);

// ---- chat -------------------------------------------------------------------

loaders.chat = async (arg, message) => {
  await loadConversations();
  const id = arg ? Number(arg) : state.conversation;
  if (id && !state.abort) await openConversation(id);
  if (message) highlight(`#messages [data-id="${Number(message)}"]`);
};

// Brings a linked item into view and marks it (a memory's source, a cited passage).
function highlight(selector) {
  const target = document.querySelector(selector);
  if (!target) return;
  target.classList.add("highlight");
  target.scrollIntoView({ block: "center" });
}

async function loadConversations() {
  const { data } = await api("GET", "/api/conversations");
  const list = $("#conversations");
  list.replaceChildren(
    ...data.map((c) =>
      el(
        "li",
        { class: c.id === state.conversation ? "current" : "" },
        el("a", { href: `#/chat/${c.id}` }, c.title || t("chat.untitled")),
        button(t("chat.rename"), async () => {
          const title = prompt(t("chat.rename_prompt"), c.title);
          if (title) await api("PATCH", `/api/conversations/${c.id}`, { title }).then(loadConversations, fail);
        }, "link"),
        button(t("chat.delete"), async () => {
          if (!confirm(t("chat.delete_confirm"))) return;
          await api("DELETE", `/api/conversations/${c.id}`).catch(fail);
          if (state.conversation === c.id) newChat();
          loadConversations();
        }, "link danger"),
      ),
    ),
  );
}

function newChat() {
  state.opening = (state.opening || 0) + 1;
  state.conversation = null;
  state.lastPrompt = null;
  $("#messages").replaceChildren();
  $("#regenerate").hidden = true;
  $("#prompt").focus();
}
$("#new-chat").addEventListener("click", () => {
  location.hash = "#/chat";
  newChat();
});

async function openConversation(id) {
  const token = (state.opening = (state.opening || 0) + 1);
  const c = await api("GET", `/api/conversations/${id}`);
  // A newer open, a new chat or a message sent meanwhile wins.
  if (token !== state.opening || state.abort) return;
  state.conversation = c.id;
  $("#messages").replaceChildren(...c.messages.filter((m) => m.role !== "system").map((m) => bubble(m.role, m.content, m.id)));
  document.querySelectorAll("#conversations li").forEach((li) => li.classList.toggle("current", li.querySelector("a").getAttribute("href") === `#/chat/${id}`));
}

function bubble(role, text, id) {
  const body = el("div", { class: "body" });
  body.innerHTML = markdown(text || "");
  const who = role === "user" ? t("chat.you") : t("chat.pai");
  return el("article", { class: `msg ${role}`, "aria-label": who, "data-id": id }, el("div", { class: "who" }, who), body);
}

// Longest answer the web app asks for (small models can otherwise ramble to the end of the context).
const ANSWER_TOKENS = 1024;

async function send(text) {
  if (!text.trim() || state.abort) return;
  state.opening = (state.opening || 0) + 1;
  state.lastPrompt = text;
  $("#messages").append(bubble("user", text));
  const answer = bubble("assistant", "");
  answer.classList.add("streaming");
  $("#messages").append(answer);
  const body = answer.querySelector(".body");
  let raw = "";
  let pending = false;
  state.abort = new AbortController();
  $("#send").hidden = true;
  $("#stop").hidden = false;
  $("#regenerate").hidden = true;
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST",
      signal: state.abort.signal,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf, "X-Pai-Conversation": state.conversation ? String(state.conversation) : "new" },
      body: JSON.stringify({ model: "pai", stream: true, stream_options: { include_usage: true }, max_tokens: ANSWER_TOKENS, messages: [{ role: "user", content: text }] }),
    });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    const conv = Number(r.headers.get("X-Pai-Conversation"));
    const fresh = !state.conversation;
    if (conv) state.conversation = conv;
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          const delta = chunk.choices?.[0]?.delta?.content;
          if (delta) {
            raw += delta;
            // Re-render at most once a frame: per token it is quadratic in the answer's length.
            if (!pending) {
              pending = true;
              requestAnimationFrame(() => {
                pending = false;
                body.innerHTML = markdown(raw);
              });
            }
          }
          if (chunk.pai?.citations?.length) answer.append(sources(chunk.pai.citations));
          if (chunk.pai?.recalled?.length) answer.append(usedMemories(chunk.pai.recalled));
        }
      }
    }
    if (fresh) {
      history.replaceState(null, "", `#/chat/${state.conversation}`);
      // Listed before the composer is ready again, so the list matches what was sent.
      await loadConversations().catch(fail);
    }
  } catch (e) {
    if (e.name !== "AbortError") fail(e);
  } finally {
    body.innerHTML = markdown(raw);
    if (state.abort?.signal.aborted) body.append(el("p", { class: "hint" }, t("chat.stopped")));
    answer.classList.remove("streaming");
    state.abort = null;
    $("#send").hidden = false;
    $("#stop").hidden = true;
    $("#regenerate").hidden = !state.lastPrompt;
  }
}

// The passages an answer's [n] refer to, each linked to its place in the document.
function sources(citations) {
  return el(
    "div",
    { class: "sources" },
    el("strong", {}, t("chat.sources")),
    el(
      "ol",
      {},
      ...citations.map((c) =>
        el(
          "li",
          { value: c.n },
          el("a", { href: `#/documents/${c.document}/${c.item.Chunk}` }, `${c.title}${c.page ? ` p.${c.page}` : ""}${c.heading ? ` · ${c.heading}` : ""}`),
          el("span", { class: "hint" }, ` “${c.snippet.slice(0, 80)}…”`),
        ),
      ),
    ),
  );
}

function usedMemories(recalled) {
  return el(
    "details",
    { class: "used" },
    el("summary", {}, `${t("chat.used")} (${recalled.length})`),
    el("ul", {}, ...recalled.map((r) => el("li", {}, r.text))),
  );
}

$("#composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#prompt").value;
  $("#prompt").value = "";
  send(text);
});
$("#prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("#composer").requestSubmit();
  }
});
$("#stop").addEventListener("click", () => state.abort?.abort());
$("#regenerate").addEventListener("click", () => state.lastPrompt && send(state.lastPrompt));

// ---- voice input ------------------------------------------------------------
// The microphone's raw samples, through the Web Audio API, become a 16-bit
// mono WAV here: MediaRecorder only makes Opus/WebM, which the server does not
// decode. The server resamples, so the context's own rate is kept. The text
// heard goes into the composer for the user to review; nothing is sent.

// OpenAI's 25 MB limit on a recording, less room for the form around it.
const MAX_WAV_BYTES = 24 << 20;

function micState(mode) {
  const mic = $("#mic");
  mic.setAttribute("aria-pressed", mode === "recording" ? "true" : "false");
  mic.disabled = mode === "starting" || mode === "transcribing";
  mic.setAttribute("aria-busy", mode === "transcribing" ? "true" : "false");
  const status = $("#mic-status");
  status.hidden = !mode;
  status.textContent = mode === "recording" ? t("chat.mic_recording") : mode === "transcribing" ? t("chat.mic_transcribing") : "";
}

async function startRecording() {
  if (!navigator.mediaDevices?.getUserMedia || !window.AudioContext) throw new Error(t("chat.mic_unavailable"));
  micState("starting");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    throw new Error(e.name === "NotAllowedError" || e.name === "SecurityError" ? t("chat.mic_denied") : t("chat.mic_unavailable"));
  }
  try {
    state.mic = await record(stream);
  } catch (e) {
    stream.getTracks().forEach((track) => track.stop());
    throw e;
  }
  micState("recording");
}

async function record(stream) {
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  // A ScriptProcessorNode needs no module file (an AudioWorklet's would have
  // to be served, and allowed by the page's Content Security Policy).
  const processor = context.createScriptProcessor(4096, 1, 1);
  // It only runs while connected to the output: through a muted gain, so the
  // user does not hear themselves.
  const mute = context.createGain();
  mute.gain.value = 0;
  const rec = { stream, context, source, processor, mute, chunks: [], samples: 0, on: true };
  const limit = MAX_WAV_BYTES / 2;
  processor.onaudioprocess = (e) => {
    if (!rec.on) return;
    rec.chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    rec.samples += e.inputBuffer.length;
    if (rec.samples >= limit) stopRecording().catch(fail);
  };
  source.connect(processor);
  processor.connect(mute);
  mute.connect(context.destination);
  await context.resume();
  return rec;
}

function stopTracks(rec) {
  rec.on = false;
  rec.stream.getTracks().forEach((track) => track.stop());
  rec.source.disconnect();
  rec.processor.disconnect();
  rec.mute.disconnect();
  rec.context.close().catch(() => {});
}

async function stopRecording() {
  const rec = state.mic;
  if (!rec) return;
  state.mic = null;
  stopTracks(rec);
  if (!rec.samples) {
    micState(null);
    toast(t("chat.mic_nothing"));
    return;
  }
  micState("transcribing");
  try {
    const form = new FormData();
    form.append("file", wavFile(rec.chunks, rec.context.sampleRate), "recording.wav");
    form.append("model", "whisper-1");
    const { text } = await api("POST", "/v1/audio/transcriptions", form);
    const heard = (text || "").trim();
    if (!heard) return toast(t("chat.mic_nothing"));
    const prompt = $("#prompt");
    prompt.value = prompt.value.trim() ? `${prompt.value.replace(/\s+$/, "")} ${heard}` : heard;
    prompt.focus();
  } finally {
    micState(null);
  }
}

// 16-bit PCM, one channel, at `rate`.
function wavFile(chunks, rate) {
  const samples = chunks.reduce((n, c) => n + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 2 * samples));
  const ascii = (at, text) => [...text].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + 2 * samples, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true); // the fmt chunk's size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // bytes a second
  view.setUint16(32, 2, true); // bytes a frame
  view.setUint16(34, 16, true); // bits a sample
  ascii(36, "data");
  view.setUint32(40, 2 * samples, true);
  let at = 44;
  for (const chunk of chunks) {
    for (const x of chunk) {
      const s = Math.max(-1, Math.min(1, x));
      view.setInt16(at, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      at += 2;
    }
  }
  return new Blob([view.buffer], { type: "audio/wav" });
}

$("#mic").addEventListener("click", async () => {
  try {
    if (state.mic) await stopRecording();
    else await startRecording();
  } catch (e) {
    micState(null);
    fail(e);
  }
});

// ---- memory -----------------------------------------------------------------

loaders.memory = async () => {
  const q = $("#memory-q").value.trim();
  const history = $("#memory-history").checked;
  // Search answers recall hits ({item: {Memory: id}, text}); the list answers memories.
  const items = q
    ? (await api("GET", `/api/memories/search?q=${encodeURIComponent(q)}`)).data.map((h) => ({ id: h.item.Memory, text: h.text, valid_to: h.valid_to }))
    : (await api("GET", `/api/memories?history=${history}`)).data;
  $("#memories").replaceChildren(
    ...(items.length ? items.map(memoryItem) : [el("li", { class: "hint" }, t("memory.empty"))]),
  );
};

function memoryItem(m) {
  const source = el("div", { class: "source" });
  return el(
    "li",
    { class: m.valid_to ? "superseded" : "" },
    el("span", { class: "text" }, m.text),
    m.valid_to ? el("span", { class: "badge" }, t("memory.superseded")) : null,
    button(t("memory.source"), async () => {
      const d = await api("GET", `/api/memories/${m.id}`);
      source.replaceChildren(
        ...d.sources.map((s) =>
          el(
            "a",
            { href: `#/chat/${s.conversation}/${s.id}` },
            s.external_id?.startsWith("recording:") ? el("span", { class: "badge" }, t("memory.from_recording")) : null,
            `“${s.content.slice(0, 120)}”`,
          ),
        ),
        ...d.history.map((h) => el("div", { class: "hint" }, `${t("memory.superseded")}: ${h.text}`)),
      );
    }, "link"),
    button(t("memory.edit"), async () => {
      const text = prompt(t("memory.edit"), m.text);
      if (text && text !== m.text) await api("PATCH", `/api/memories/${m.id}`, { text }).then(loaders.memory, fail);
    }, "link"),
    button(t("memory.delete"), async () => {
      await api("DELETE", `/api/memories/${m.id}`).then(loaders.memory, fail);
    }, "link danger"),
    source,
  );
}

$("#memory-search").addEventListener("submit", (e) => {
  e.preventDefault();
  loaders.memory().catch(fail);
});
$("#memory-forget-all").addEventListener("click", async () => {
  if (!confirm(t("memory.forget_all_confirm"))) return;
  await api("DELETE", "/api/memories?all=true").then(loaders.memory, fail);
});

// ---- documents --------------------------------------------------------------

loaders.documents = async (doc, passage) => {
  if (doc) await showDocument(Number(doc), Number(passage));
  else $("#document").replaceChildren();
  const { data } = await api("GET", "/api/documents");
  $("#documents").replaceChildren(
    ...(data.length
      ? data.map((d) =>
          el(
            "li",
            {},
            el("a", { class: "text", href: `#/documents/${d.id}` }, d.title),
            el("span", { class: "badge" }, d.pending ? `${t("documents.indexing")} ${d.chunks - d.pending}/${d.chunks}` : t("documents.ready")),
            el("span", { class: "hint" }, `${d.format} · ${d.chunks} ${t("documents.passages")}`),
            button(t("documents.delete"), () => api("DELETE", `/api/documents/${d.id}`).then(loaders.documents, fail), "link danger"),
          ),
        )
      : [el("li", { class: "hint" }, t("documents.empty"))]),
  );
  if (data.some((d) => d.pending)) setTimeout(() => location.hash === "#/documents" && loaders.documents().catch(() => {}), 2000);
};

// A document with its passages; `passage` (a cited one) is marked and scrolled to.
async function showDocument(id, passage) {
  const [d, suggested, summary] = await Promise.all([
    api("GET", `/api/documents/${id}`),
    // Without its suggestions or summary the document is still worth showing.
    api("GET", `/api/documents/${id}/suggestions`).catch(() => ({ data: [] })),
    api("GET", `/api/documents/${id}/summary`).catch(() => null),
  ]);
  $("#document").replaceChildren(
    el("h3", {}, d.title),
    summary ? summaryView(summary) : null,
    suggested.data.length ? suggestionList(suggested.data) : null,
    el(
      "ol",
      { class: "passages" },
      ...d.passages.map((p) =>
        el("li", { "data-id": p.id }, el("div", { class: "hint" }, [p.page ? `p.${p.page}` : "", p.heading || ""].filter(Boolean).join(" · ")), el("div", {}, p.text)),
      ),
    ),
  );
  if (passage) highlight(`#document [data-id="${passage}"]`);
}

// What a document or recording is about, in its own sentences: one line,
// then a line or two for each part (for a recording, its time span).
function summaryView(summary) {
  if (!summary.line) return null;
  const parts = summary.parts.filter((p) => p.text);
  return el(
    "section",
    { class: "summary" },
    el("strong", {}, t("summary.title")),
    el("p", { class: "line" }, summary.line.text),
    parts.length > 1
      ? el("ul", { class: "list" }, ...parts.map((p) => el("li", {}, p.heading ? el("span", { class: "badge" }, p.heading) : null, el("span", { class: "text" }, p.text))))
      : null,
  );
}

// The reminders a document or recording suggests: each is only scheduled
// when the user presses its button (an ambiguous time shows its question).
function suggestionList(suggestions) {
  return el(
    "section",
    { class: "suggestions" },
    el("strong", {}, t("suggestions.title")),
    el("ul", { class: "list" }, ...suggestions.map(suggestionItem)),
  );
}

function suggestionItem(s) {
  const remind = s.when && !s.question
    ? button(t("suggestions.remind"), async () => {
        remind.disabled = true;
        try {
          await api("POST", "/api/reminders", { text: s.text, when: s.when });
          remind.textContent = t("suggestions.scheduled");
          toast(`${t("suggestions.scheduled")}: ${s.text}`);
        } catch (err) {
          remind.disabled = false;
          fail(err);
        }
      })
    : null;
  // Confirmed before (the document shown again): said so, not offered twice.
  if (remind && s.confirmed) {
    remind.disabled = true;
    remind.textContent = t("suggestions.scheduled");
  }
  return el(
    "li",
    {},
    s.heading ? el("span", { class: "badge" }, s.heading) : null,
    el("span", { class: "text" }, s.text),
    el("span", { class: "hint" }, s.at ? `“${s.phrase}” → ${userTime(s.at)}` : `“${s.phrase}”`),
    remind || el("span", { class: "question" }, s.question || t("suggestions.ask")),
  );
}

// An instant on the user's own clock (their zone), in the page's language.
function userTime(iso) {
  const options = { weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" };
  try {
    return new Date(iso).toLocaleString(document.documentElement.lang, { ...options, timeZone: state.me?.timezone });
  } catch {
    return new Date(iso).toLocaleString(document.documentElement.lang, options);
  }
}

// One uploaded file's outcome; a recording's also says what was heard.
function uploadResult(r) {
  const name = r.document ? el("a", { href: `#/documents/${r.document.id}` }, r.file || r.document.title) : r.file || "";
  const heard = r.recording;
  return el(
    "li",
    { class: r.error ? "error" : "" },
    el("span", { class: "text" }, name, `: ${r.error || r.status}`),
    heard
      ? el(
          "div",
          { class: "heard" },
          el("span", { class: "hint" }, `${t("documents.heard")}: ${heard.language} · ${duration(heard.seconds)}`),
          summaryView(heard.summary),
          heard.learned ? el("a", { class: "hint learned", href: `#/chat/${heard.learned.conversation}` }, t("documents.learned")) : null,
          heard.suggestions.length ? suggestionList(heard.suggestions) : el("span", { class: "hint" }, t("suggestions.none")),
        )
      : null,
  );
}

function duration(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

$("#upload").addEventListener("submit", (e) => {
  e.preventDefault();
  const files = $("#upload-files").files;
  if (!files.length) return;
  const form = new FormData();
  for (const f of files) form.append("file", f, f.name);
  const progress = $("#upload-progress");
  const status = $("#upload-status");
  progress.hidden = false;
  progress.value = 0;
  const done = () => {
    progress.hidden = true;
    status.hidden = true;
  };
  const xhr = new XMLHttpRequest();
  // Learning from recordings is asked for per upload: only the owner should be speaking.
  xhr.open("POST", $("#upload-learn").checked ? "/api/documents?learn=true" : "/api/documents");
  xhr.setRequestHeader("X-CSRF-Token", state.csrf);
  xhr.upload.onprogress = (ev) => ev.lengthComputable && (progress.value = (100 * ev.loaded) / ev.total);
  // Sent: the server reads (and transcribes) the files before it answers.
  xhr.upload.onload = () => {
    progress.removeAttribute("value");
    status.hidden = false;
  };
  xhr.onload = () => {
    done();
    let body;
    try {
      body = JSON.parse(xhr.responseText || "{}");
    } catch {
      body = { error: { message: `HTTP ${xhr.status}` } };
    }
    const results = body.data || [{ file: "", error: body.error?.message || `HTTP ${xhr.status}` }];
    $("#upload-results").replaceChildren(...results.map(uploadResult));
    loaders.documents().catch(fail);
  };
  xhr.onerror = () => {
    done();
    fail(new Error(t("error.generic")));
  };
  xhr.send(form);
});

// ---- reminders --------------------------------------------------------------

loaders.reminders = async () => {
  const [{ data }, notes] = await Promise.all([api("GET", "/api/reminders"), api("GET", "/api/notifications")]);
  $("#reminders").replaceChildren(
    ...(data.length
      ? data.map((r) =>
          el(
            "li",
            { class: r.state },
            el("span", { class: "text" }, r.text),
            // The time on the user's own clock (their zone, not the browser's).
            el("span", { class: "hint" }, `${r.phrase} · ${r.next_at_local ? r.next_at_local.replace("T", " ").slice(0, 16) : r.state}`),
            r.state === "scheduled" ? button(t("reminders.cancel"), () => api("DELETE", `/api/reminders/${r.id}`).then(loaders.reminders, fail), "link danger") : null,
          ),
        )
      : [el("li", { class: "hint" }, t("reminders.empty"))]),
  );
  $("#notifications").replaceChildren(
    ...notes.data.map((n) => el("li", {}, el("span", { class: "text" }, `⏰ ${n.text}`), el("span", { class: "hint" }, when(n.fired_at)), n.late ? el("span", { class: "badge" }, t("reminders.late")) : null)),
  );
};

$("#reminder-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#reminder-question").textContent = "";
  try {
    await api("POST", "/api/reminders", { text: $("#reminder-text").value, when: $("#reminder-when").value });
    $("#reminder-text").value = "";
    $("#reminder-when").value = "";
    loaders.reminders();
  } catch (err) {
    $("#reminder-question").textContent = err.message;
  }
});

function openEvents() {
  closeEvents();
  state.events = new EventSource("/api/notifications/stream");
  state.events.addEventListener("notification", (e) => {
    const n = JSON.parse(e.data);
    toast(`⏰ ${n.text}`, "reminder");
    if (location.hash.startsWith("#/reminders")) loaders.reminders().catch(() => {});
  });
}

function closeEvents() {
  state.events?.close();
  state.events = null;
}

// ---- settings ---------------------------------------------------------------

loaders.settings = async () => {
  $("#settings-language").value = localStorage.getItem("pai.lang") || "auto";
  $("#settings-timezone").value = state.me.timezone;
  const { data } = await api("GET", "/api/keys");
  $("#keys").replaceChildren(
    ...data.map((k) =>
      el("li", {}, el("span", { class: "text" }, `${k.name} (${k.prefix}…)`), k.revoked_at ? el("span", { class: "badge" }, t("settings.revoked")) : button(t("settings.revoke"), () => api("DELETE", `/api/keys/${k.id}`).then(loaders.settings, fail), "link danger")),
    ),
  );
};

$("#settings-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  localStorage.setItem("pai.lang", $("#settings-language").value);
  await loadLanguage();
  const timezone = $("#settings-timezone").value.trim();
  if (timezone && timezone !== state.me.timezone) {
    try {
      state.me = { ...state.me, ...(await api("PATCH", "/api/me", { timezone })) };
    } catch (err) {
      return fail(err);
    }
  }
  toast(t("settings.saved"));
});

$("#key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const k = await api("POST", "/api/keys", { name: $("#key-name").value || "web" });
    const shown = $("#new-key");
    shown.hidden = false;
    shown.replaceChildren(t("settings.key_shown_once"), " ", el("code", {}, k.key));
    loaders.settings();
  } catch (err) {
    fail(err);
  }
});

// ---- admin ------------------------------------------------------------------

loaders.admin = async () => {
  if (!state.me.admin) return;
  const { data } = await api("GET", "/api/admin/users");
  $("#users").replaceChildren(
    ...data.map((u) =>
      el(
        "li",
        {},
        el("span", { class: "text" }, u.name),
        u.admin ? el("span", { class: "badge" }, t("admin.is_admin")) : null,
        u.id === state.me.id ? null : button(u.disabled ? t("admin.enable") : t("admin.disable"), () => api("PATCH", `/api/admin/users/${u.id}`, { disabled: !u.disabled }).then(loaders.admin, fail), "link"),
      ),
    ),
  );
};

$("#user-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/admin/users", { name: $("#user-name").value, password: $("#user-password").value, admin: $("#user-admin").checked });
    $("#user-name").value = "";
    $("#user-password").value = "";
    loaders.admin();
  } catch (err) {
    fail(err);
  }
});

start();
