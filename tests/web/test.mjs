// The checks of the web-app issue, in a real browser against a real server:
// log in; chat and see the answer stream; "remember that my dog's name is
// Bori" shows up in the memory panel and can be deleted; the Korean UI; a
// second user sees none of the first one's conversations. A recording
// uploaded as a document suggests a reminder that is only scheduled when
// confirmed; the microphone (Chromium's fake one, playing a recording) fills
// the composer with what was said.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const url = process.env.PAI_URL;
const shots = process.env.SHOTS;
const root = fileURLToPath(new URL("../..", import.meta.url));
const fixtures = `${root}crates/pai-voice/tests/fixtures`;
const webDir = `${root}crates/pai-server/web`;
// The files the binary embeds, by the path it serves them at.
const webFiles = { "/": "index.html", "/app.js": "app.js", "/style.css": "style.css", "/i18n/en.json": "i18n/en.json", "/i18n/ko.json": "i18n/ko.json" };

// The binary embeds the web app when it is built: one older than the files
// here would test the old app. PAI_WEB_FROM_DISK=1 serves these files instead
// (with the server's own headers, its Content Security Policy included), to
// try the web app without rebuilding the server.
const fromDisk = process.env.PAI_WEB_FROM_DISK === "1";
if (!fromDisk) {
  for (const [path, file] of Object.entries(webFiles)) {
    const served = await (await fetch(`${url}${path}`)).text();
    if (served !== readFileSync(`${webDir}/${file}`, "utf8")) {
      console.error(`web: the server's ${path} is not crates/pai-server/web/${file}: rebuild target/release/pai, or run with PAI_WEB_FROM_DISK=1`);
      process.exit(1);
    }
  }
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    // A microphone that plays the English fixture once (then silence), allowed without asking.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${fixtures}/speech-en.wav%noloop`,
  ],
});
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
};

async function session(name, password, locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1100, height: 760 } });
  await context.grantPermissions(["microphone"], { origin: url });
  // Playwright's default is 30 s a wait; on a busy machine (CI, a build on
  // the same two cores) the small model's first answer can take longer.
  // Generous, since only a failing check waits this long.
  context.setDefaultTimeout(180_000);
  if (fromDisk) {
    await context.route(
      (u) => u.origin === new URL(url).origin && u.pathname in webFiles,
      async (route) => {
        const response = await route.fetch();
        const file = webFiles[new URL(route.request().url()).pathname];
        await route.fulfill({ response, body: readFileSync(`${webDir}/${file}`, "utf8") });
      },
    );
  }
  const page = await context.newPage();
  page.on("pageerror", (e) => check(false, `no script error (${e.message})`));
  await page.goto(url);
  const form = page.locator("#login-form");
  await form.getByLabel(locale === "ko-KR" ? "이름" : "Name").fill(name);
  await form.getByLabel(locale === "ko-KR" ? "비밀번호" : "Password").fill(password);
  await page.locator("#login-form button[type=submit]").click();
  await page.locator("#app").waitFor({ state: "visible" });
  return { context, page };
}

async function ask(page, text) {
  await page.locator("#prompt").fill(text);
  await page.locator("#send").click();
  const answer = page.locator(".msg.assistant").last();
  // Streaming: the bubble has text while it is still marked as streaming, or the answer was that quick.
  // The small default model can ramble for its whole token budget: allow minutes.
  let sawPartial = false;
  for (let i = 0; i < 3600; i++) {
    const sending = await page.locator("#stop").isVisible();
    // Read in one step: between a count and a read the answer can finish and
    // the streaming bubble go, and a locator would wait 30 s for it.
    const partial = await page.evaluate(() => document.querySelector(".msg.assistant.streaming .body")?.innerText ?? "");
    if (partial.trim()) sawPartial = true;
    if (!sending && i > 0) {
      if (process.env.DEBUG) console.log(`ask ${text}: done after ${i} polls`);
      return { text: (await answer.locator(".body").innerText()).trim(), sawPartial };
    }
    await page.waitForTimeout(50);
  }
  return { text: "", sawPartial };
}

// 1. Log in, chat, see the streamed answer.
const minji = await session("minji", "minji-password-1", "en-US");
await minji.page.screenshot({ path: `${shots}/01-start.png` });
const hello = await ask(minji.page, "Hello! Tell me a fun fact about the moon.");
check(hello.text.length > 0, `an answer arrived (${hello.text.length} characters)`);
check(hello.sawPartial, "the answer appeared while it was still streaming");
check((await minji.page.locator("#conversations li").count()) === 1, "the new conversation is listed");
await minji.page.screenshot({ path: `${shots}/02-chat.png` });

// 2. A memory from the chat appears in the memory panel; delete it.
await ask(minji.page, "Remember that my dog's name is Bori.");
await minji.page.goto(`${url}/#/memory`);
let found = false;
for (let i = 0; i < 60 && !found; i++) {
  await minji.page.locator("#memory-search button").click();
  await minji.page.waitForTimeout(500);
  found = (await minji.page.locator("#memories li", { hasText: "Bori" }).count()) > 0;
}
check(found, "the memory about Bori is in the memory panel");
await minji.page.screenshot({ path: `${shots}/03-memory.png` });
if (found) {
  // Where it came from: the link opens the conversation at the message.
  const bori = minji.page.locator("#memories li", { hasText: "Bori" }).first();
  await bori.getByRole("button", { name: "Where it came from" }).click();
  await bori.locator(".source a").first().click();
  await minji.page.locator(".msg.highlight", { hasText: "Bori" }).waitFor();
  check(true, "a memory links to the message it came from");
  await minji.page.goto(`${url}/#/memory`);
  await minji.page.locator("#memories li", { hasText: "Bori" }).first().waitFor();
  await minji.page.locator("#memories li", { hasText: "Bori" }).first().getByRole("button", { name: "Delete" }).click();
  await minji.page.waitForTimeout(500);
  check((await minji.page.locator("#memories li", { hasText: "Bori" }).count()) === 0, "deleting it removes it");
}

// 3. Reminders and documents panels.
await minji.page.goto(`${url}/#/reminders`);
await minji.page.locator("#reminder-text").fill("엄마한테 전화하기");
await minji.page.locator("#reminder-when").fill("내일 오전 9시");
await minji.page.locator("#reminder-form button").click();
await minji.page.locator("#reminders li", { hasText: "엄마한테 전화하기" }).waitFor();
await minji.page.locator("#reminder-text").fill("약 먹기");
await minji.page.locator("#reminder-when").fill("3시");
await minji.page.locator("#reminder-form button").click();
await minji.page.waitForFunction(() => document.querySelector("#reminder-question").textContent.includes("3"));
check(true, "a reminder is listed, an ambiguous time is asked back");
await minji.page.screenshot({ path: `${shots}/04-reminders.png` });
await minji.page.goto(`${url}/#/documents`);
await minji.page.locator("#upload-files").setInputFiles({ name: "lease.md", mimeType: "text/markdown", buffer: Buffer.from("# Lease\n\nPets need the landlord's written consent.\n") });
await minji.page.locator("#upload button").click();
await minji.page.locator("#documents li", { hasText: "Lease" }).waitFor();
check(true, "an uploaded document is listed");
await minji.page.screenshot({ path: `${shots}/05-documents.png` });
// An answer that used the document cites it; the citation opens the passage.
await minji.page.goto(`${url}/#/chat`);
await minji.page.locator("#new-chat").click();
await ask(minji.page, "Can I keep pets in my flat?");
const cite = minji.page.locator(".msg.assistant .sources a").first();
check((await cite.count()) === 1 && (await cite.innerText()).includes("Lease"), "the answer lists the lease as its source");
await minji.page.screenshot({ path: `${shots}/05b-cited.png` });
if (await cite.count()) {
  await cite.click();
  await minji.page.locator("#document .highlight", { hasText: "Pets need" }).waitFor();
  check(true, "the citation opens the document at its passage");
}

// 3b. A recording as a document: its transcript, and the reminder it
// suggests, scheduled only when confirmed.
const reminderTexts = () => minji.page.evaluate(async () => (await (await fetch("/api/reminders")).json()).data.map((r) => r.text));
await minji.page.goto(`${url}/#/documents`);
await minji.page.locator("#upload-files").setInputFiles(`${fixtures}/speech-en.mp3`);
await minji.page.locator("#upload button").click();
// Transcribed within the upload: minutes on a busy machine.
const heard = minji.page.locator("#upload-results .suggestions li", { hasText: /friday/i }).first();
await heard.waitFor();
check(true, "an uploaded recording suggests a reminder on Friday");
const remind = heard.getByRole("button", { name: "Remind me" });
check((await remind.count()) === 1, "the suggestion has a Remind-me button");
check((await minji.page.locator("#upload-results li", { hasText: "speech-en.mp3" }).first().innerText()).includes("Recording heard: en"), "the result says what language was heard");
check(/meet on friday/i.test(await minji.page.locator("#upload-results .summary .line").first().innerText()), "the result sums the recording up in a line");
check((await minji.page.locator("#upload-results .learned").count()) === 0, "nothing is learned from a recording unless asked");
const beforeClick = await reminderTexts();
check(!beforeClick.some((text) => /friday|meet/i.test(text)), `nothing is scheduled before the click (${beforeClick.length} reminders)`);
await minji.page.screenshot({ path: `${shots}/05c-recording.png` });
if (await remind.count()) {
  await remind.click();
  await heard.getByRole("button", { name: "Reminder scheduled" }).waitFor();
  check(await heard.getByRole("button", { name: "Reminder scheduled" }).isDisabled(), "the button says it was scheduled, and is done");
  const afterClick = await reminderTexts();
  check(afterClick.filter((text) => /meet on friday/i.test(text)).length === 1, "clicking it schedules the reminder, once");
  await minji.page.goto(`${url}/#/reminders`);
  await minji.page.locator("#reminders li", { hasText: /meet on friday/i }).waitFor();
  check(true, "the reminders page lists it");
  await minji.page.screenshot({ path: `${shots}/05d-recording-reminder.png` });
}
// The recording's document: passages headed by when they were said, and the same suggestions.
await minji.page.goto(`${url}/#/documents`);
await minji.page.locator("#documents li a", { hasText: "speech-en.mp3" }).click();
await minji.page.locator("#document .passages .hint", { hasText: "00:00:00" }).first().waitFor();
check(true, "the recording's passages are headed by their time");
await minji.page.locator("#document .suggestions li", { hasText: /friday/i }).first().waitFor();
// Confirmed above: shown as scheduled, not offered again.
const shownAgain = minji.page.locator("#document .suggestions li", { hasText: /friday/i }).getByRole("button", { name: "Reminder scheduled" });
check((await shownAgain.count()) === 1 && (await shownAgain.isDisabled()), "the document shows its suggestions too, the confirmed one as scheduled");
check(/meet on friday/i.test(await minji.page.locator("#document .summary .line").innerText()), "the document shows its summary line");
await minji.page.screenshot({ path: `${shots}/05e-recording-document.png` });

// A voice memo learned from, when asked: its memories say they came from a recording.
await minji.page.goto(`${url}/#/documents`);
await minji.page.locator("#upload-files").setInputFiles(`${fixtures}/memo-en.mp3`);
await minji.page.locator("#upload-learn").check();
await minji.page.locator("#upload button").click();
await minji.page.locator("#upload-results li", { hasText: "memo-en.mp3" }).locator(".learned").waitFor();
check(true, "a recording uploaded to learn from is kept as a conversation");
await minji.page.goto(`${url}/#/memory`);
let london = false;
for (let i = 0; i < 120 && !london; i++) {
  await minji.page.locator("#memory-search button").click();
  await minji.page.waitForTimeout(500);
  london = (await minji.page.locator("#memories li", { hasText: "London" }).count()) > 0;
}
check(london, "what the owner said in the memo becomes a memory");
if (london) {
  const memory = minji.page.locator("#memories li", { hasText: "London" }).first();
  await memory.getByRole("button", { name: "Where it came from" }).click();
  await memory.locator(".source a .badge", { hasText: "from a recording" }).waitFor();
  check(true, "its source says it came from a recording");
  await minji.page.screenshot({ path: `${shots}/05g-memory-from-recording.png` });
}

// 3c. Voice input: what the microphone heard lands in the composer, unsent.
// In the last conversation (the Korean chat below shows it again).
await minji.page.goto(`${url}/#/chat`);
await minji.page.locator(".msg.user").first().waitFor();
const messagesBefore = await minji.page.locator(".msg").count();
await minji.page.locator("#prompt").fill("Note:");
const mic = minji.page.locator("#mic");
await mic.click();
await minji.page.locator('#mic[aria-pressed="true"]').waitFor();
check(await minji.page.locator("#mic-status").isVisible(), "the microphone shows it is recording");
await minji.page.screenshot({ path: `${shots}/05f-mic-recording.png` });
// Let the fake microphone play its recording (about 2.4 s) through.
await minji.page.waitForTimeout(6000);
await mic.click();
await minji.page.waitForFunction(() => /friday/i.test(document.querySelector("#prompt").value));
const said = await minji.page.locator("#prompt").inputValue();
check(said.startsWith("Note: ") && /friday/i.test(said), `the words said are added to the message (${JSON.stringify(said)})`);
check((await mic.getAttribute("aria-pressed")) === "false" && (await minji.page.locator("#mic-status").isHidden()), "the microphone is off again");
check((await minji.page.locator(".msg").count()) === messagesBefore, "nothing was sent");
await minji.page.screenshot({ path: `${shots}/05g-mic-text.png` });
await minji.page.locator("#prompt").fill("");

// 4. Switch to Korean: the whole UI follows.
await minji.page.goto(`${url}/#/settings`);
await minji.page.locator("#settings-language").selectOption("ko");
await minji.page.locator("#settings-form button").click();
await minji.page.locator("nav a", { hasText: "대화" }).waitFor();
check((await minji.page.locator("html").getAttribute("lang")) === "ko", "the page is Korean");
check((await minji.page.locator("#logout").innerText()) === "로그아웃", "the buttons are Korean");
await minji.page.screenshot({ path: `${shots}/06-settings-ko.png` });
await minji.page.goto(`${url}/#/chat`);
await minji.page.locator(".msg.user .who", { hasText: "나" }).first().waitFor();
check(await minji.page.locator("#view-memory").isHidden(), "only the current panel is shown");
await minji.page.screenshot({ path: `${shots}/07-chat-ko.png` });
await minji.page.setViewportSize({ width: 390, height: 800 });
await minji.page.screenshot({ path: `${shots}/08-phone-ko.png` });
await minji.context.close();

// 5. Another user sees none of it; a Korean browser gets the Korean UI by default.
const tom = await session("tom", "tom-password-123", "ko-KR");
check((await tom.page.locator("#logout").innerText()) === "로그아웃", "a Korean browser gets Korean by default");
await tom.page.waitForTimeout(300);
check((await tom.page.locator("#conversations li").count()) === 0, "tom sees no conversation of minji's");
await tom.page.goto(`${url}/#/reminders`);
await tom.page.waitForTimeout(500);
check((await tom.page.locator("#reminders li", { hasText: "엄마한테" }).count()) === 0, "tom sees none of minji's reminders");
// A microphone the browser refuses: said so, in Korean.
await tom.page.goto(`${url}/#/chat`);
await tom.page.evaluate(() => {
  navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("denied", "NotAllowedError"));
});
await tom.page.locator("#mic").click();
await tom.page.locator(".toast.error", { hasText: "마이크가 차단되어" }).waitFor();
check((await tom.page.locator("#mic").getAttribute("aria-pressed")) === "false", "a refused microphone is said so, in Korean");
await tom.page.screenshot({ path: `${shots}/09-mic-denied-ko.png` });
await tom.context.close();

await browser.close();
if (failures) {
  console.error(`web: ${failures} check(s) failed`);
  process.exit(1);
}
