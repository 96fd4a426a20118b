// Measures, against a running server, what a visitor waits for:
//  - first-load transfer of the home page with its shell started: HTML + JS + WASM + CSS, as sent
//    (compressed when the server compresses) and as gzip -9 of each body, from Chromium's own
//    network log;
//  - on /terminal, from navigation start to the prompt painted on the screen, over N fresh tabs
//    (a new browser context each: nothing cached), broken down into the steps on the way; and
//    the first typed command answered;
//  - on the home page, from the press of "Start your sandbox" to the prompt painted;
//  - on a post with runnable blocks (no terminal loaded yet), from the press of a C block's Run
//    button to the program's output painted;
//  - under them all, the first paint of /about and of a one-line page this script serves itself.
// Times are the page's own clock (performance.now(): 0 is navigation start). "Painted" is the
// first animation frame after the prompt's text entered the terminal's rows, so it is never
// earlier than the paint itself.
// Each tab comes as a lone visitor finds the server: once the warm pool's refill after the tab
// before it is done (a sandbox handed out is replaced by a container start, on the same cores as
// the browser here), read from the server's /metrics; visitors arriving together are the bursts
// bench's. RR_BENCH_BACK_TO_BACK=1 opens each tab as soon as the one before closed instead.
// Usage: node end2end/bench/first-load.mjs [BASE_URL] [TABS]
import { chromium } from "@playwright/test";
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const tabs = Number(process.argv[3] ?? "10");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});

// The server's pooled sandboxes still starting, from its /metrics (the bench's servers serve it
// on their own address, to loopback); null where it cannot be read.
async function starting() {
  try {
    const r = await fetch(`${base}/metrics`);
    if (!r.ok) return null;
    const m = (await r.text()).match(/^rootresume_pool_starting (\d+)$/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const backToBack = process.env.RR_BENCH_BACK_TO_BACK === "1";
let quietKnown = false;
// Waits until no pooled sandbox is starting (the last tab's refill is done), then a little
// more; at most 30 s.
async function settle() {
  if (backToBack || !quietKnown) return;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && ((await starting()) ?? 0) > 0) await sleep(50);
  await sleep(250);
}

async function firstLoad() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const sent = new Map();
  const kinds = new Map();
  cdp.on("Network.responseReceived", (e) => kinds.set(e.requestId, { url: e.response.url, type: e.type }));
  cdp.on("Network.loadingFinished", (e) => sent.set(e.requestId, e.encodedDataLength));
  const bodies = [];
  page.on("response", async (r) => {
    try { bodies.push({ url: r.url(), body: await r.body() }); } catch { /* websocket or redirect */ }
  });
  await page.goto(base, { waitUntil: "networkidle" });
  // The home page loads the terminal when the visitor starts it: count what that fetches too,
  // so the figure is the page with a working shell.
  await page.getByTestId("terminal-start").click();
  await page.locator('[data-testid="terminal-status"][data-state="ready"]').waitFor({ timeout: 60_000 });
  await page.waitForLoadState("networkidle");
  const rows = [];
  for (const [id, bytes] of sent) {
    const info = kinds.get(id);
    // Server-function calls are not the page; the WASM bundle is, though it arrives by fetch().
    const call = (info?.type === "Fetch" || info?.type === "XHR") && !info.url.endsWith(".wasm");
    if (!info || info.type === "WebSocket" || call) continue;
    const body = bodies.find((b) => b.url === info.url)?.body ?? Buffer.alloc(0);
    rows.push({ url: info.url.replace(base, ""), type: info.type, sent: bytes, gzip9: gzipSync(body, { level: 9 }).length, raw: body.length });
  }
  await context.close();
  return rows;
}

// Runs in the page before its own scripts: notes when each step happens, by the page's clock.
function instrument() {
  const marks = {};
  window.__rrMarks = marks;
  const mark = (name) => { if (!(name in marks)) marks[name] = performance.now(); };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      mark("socketCreated");
      this.addEventListener("open", () => mark("socketOpen"));
      this.addEventListener("message", (e) => {
        mark("firstFrame");
        if (e.data instanceof ArrayBuffer && new TextDecoder().decode(e.data).includes("visitor@")) mark("promptFrame");
      });
    }
  };
  addEventListener("pointerdown", (e) => {
    if (e.target.closest && e.target.closest('[data-testid="terminal-start"]')) mark("start");
    if (e.target.closest && e.target.closest("[data-run]")) mark("run");
  }, true);
  addEventListener("keydown", () => { if ("promptDom" in marks) mark("firstKey"); }, true);
  // The shell shows first as plain text (the first screen, `.terminal-first`), then in xterm.js.
  const watch = (selector, text, name) => {
    const shown = [...document.querySelectorAll(selector)].some((el) => el.textContent.includes(text));
    if (!(name in marks) && shown) {
      mark(name);
      requestAnimationFrame(() => mark(name.replace("Dom", "Painted")));
    }
  };
  const either = ".xterm-rows, .terminal-first";
  new MutationObserver(() => {
    watch(either, "visitor@", "promptDom");
    watch(".xterm-rows", "visitor@", "xtermPromptDom");
    watch(either, "rr42", "answerDom");
    watch(either, "3: hello, reader, from C", "runOutputDom");
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

// Where each resource finished, by the page's clock.
async function resourceTimes(page) {
  return page.evaluate(() => {
    const end = (suffix) => {
      const e = performance.getEntriesByType("resource").find((r) => r.name.split("?")[0].endsWith(suffix));
      return e ? { start: e.startTime, end: e.responseEnd } : null;
    };
    const nav = performance.getEntriesByType("navigation")[0];
    return {
      html: nav.responseEnd,
      firstPaint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
      script: end("/rootresume.js")?.end,
      xterm: end("/xterm.mjs")?.end,
      wasm: end(".wasm")?.end,
      sessionStart: end("/create_session")?.start,
      sessionEnd: end("/create_session")?.end,
      marks: window.__rrMarks,
    };
  });
}

async function waitForMark(page, name) {
  await page.waitForFunction((n) => window.__rrMarks && n in window.__rrMarks, name, { timeout: 60_000, polling: 10 });
}

// One fresh visitor on /terminal: navigation → prompt painted, then a typed command answered.
async function terminalTab() {
  await settle();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(instrument);
  await page.goto(`${base}/terminal`);
  await waitForMark(page, "promptPainted");
  await page.keyboard.type("echo rr$((6*7))\n");
  await waitForMark(page, "answerPainted");
  await waitForMark(page, "xtermPromptPainted");
  const times = await resourceTimes(page);
  await context.close();
  // A prompt that came with the page is in its first frame, whose animation frame callback
  // runs well before that frame is painted: it shows no sooner than the first contentful paint.
  times.marks.promptPainted = Math.max(times.marks.promptPainted, times.firstPaint ?? 0);
  return times;
}

// One fresh visitor on the home page: the press of "Start your sandbox" → prompt painted.
async function homeTab() {
  await settle();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(instrument);
  await page.goto(base, { waitUntil: "load" });
  await page.getByTestId("terminal-start").click();
  await waitForMark(page, "promptPainted");
  await waitForMark(page, "xtermPromptPainted");
  const times = await resourceTimes(page);
  await context.close();
  return times;
}

const quantile = (values, q) => {
  const v = values.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (!v.length) return NaN;
  const i = (v.length - 1) * q;
  return v[Math.floor(i)] + (v[Math.ceil(i)] - v[Math.floor(i)]) * (i - Math.floor(i));
};
// One fresh reader of a post: the press of a C block's Run button (nothing of the terminal
// loaded before it) → the program's last line painted.
async function runTab() {
  await settle();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(instrument);
  await page.goto(`${base}/blog/read-it-run-it`, { waitUntil: "networkidle" });
  await page.locator('.runnable[data-run-file="hello.c"] [data-run]').click();
  await waitForMark(page, "runOutputPainted");
  const times = await resourceTimes(page);
  await context.close();
  return times;
}

const ms = (x) => (Number.isNaN(x) ? "—" : `${x.toFixed(0)} ms`);
const spread = (values) => `p50 ${ms(quantile(values, 0.5))}, min ${ms(quantile(values, 0))}, max ${ms(quantile(values, 1))}`;

quietKnown = (await starting()) !== null;
console.log(backToBack || !quietKnown ? "tabs back to back" : "each tab once no pooled sandbox is starting");
const rows = await firstLoad();
const total = (key) => rows.reduce((sum, r) => sum + r[key], 0);
console.log("first load of", base);
for (const r of rows) console.log(`  ${r.type.padEnd(10)} ${String(r.raw).padStart(9)} raw ${String(r.sent).padStart(9)} sent ${String(r.gzip9).padStart(9)} gzip-9  ${r.url}`);
console.log(`  total: ${(total("raw") / 1024).toFixed(1)} KiB raw, ${(total("sent") / 1024).toFixed(1)} KiB sent, ${(total("gzip9") / 1024).toFixed(1)} KiB gzip -9`);

const terminal = [];
for (let i = 0; i < tabs; i++) terminal.push(await terminalTab());
const step = (pick) => quantile(terminal.map(pick), 0.5);
console.log(`/terminal over ${tabs} fresh tabs, by the page's clock from navigation start (p50 of each step):`);
const steps = [
  ["HTML received", (t) => t.html],
  ["page's first paint", (t) => t.firstPaint],
  ["rootresume.js received", (t) => t.script],
  ["xterm.mjs received", (t) => t.xterm],
  ["WASM received", (t) => t.wasm],
  // The page comes with its session (server/src/page_session.rs); a page that came without one
  // asks for it.
  ["session in (with the page, or asked for)", (t) => t.sessionEnd ?? t.html],
  ["socket created", (t) => t.marks.socketCreated],
  ["socket open", (t) => t.marks.socketOpen],
  ["first frame", (t) => t.marks.firstFrame],
  ["prompt's frame", (t) => t.marks.promptFrame],
  ["prompt on the screen", (t) => t.marks.promptDom],
  ["prompt painted", (t) => t.marks.promptPainted],
  ["prompt painted by xterm.js", (t) => t.marks.xtermPromptPainted],
];
for (const [name, pick] of steps) console.log(`  ${name.padEnd(34)} ${ms(step(pick)).padStart(8)}`);
console.log(`time to prompt (navigation start → prompt painted), /terminal: ${spread(terminal.map((t) => t.marks.promptPainted))}; in xterm.js: ${spread(terminal.map((t) => t.marks.xtermPromptPainted))}`);
console.log(`first typed command answered (navigation start → answer painted), /terminal: ${spread(terminal.map((t) => t.marks.answerPainted))}; from its first key: ${spread(terminal.map((t) => t.marks.answerPainted - t.marks.firstKey))}`);

// The floor under every figure above: when a fresh tab first paints a page with no terminal,
// and under that, the browser's own: a one-line page with nothing to fetch, served by this
// script (no server, no engine), so no part of RootResume is in its time. Their tabs alternate,
// so both meet the same machine (the pool refilling after the tabs above, say).
async function firstPaint(url) {
  await settle();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0, null, { timeout: 10_000 });
  const paint = await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0].startTime);
  await context.close();
  return paint;
}
const blank = createServer((_, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end("<!doctype html><html lang=en><meta charset=utf-8><title>floor</title><p>One line of text.</p>");
});
await new Promise((ok) => blank.listen(0, "127.0.0.1", ok));
const plain = [], blankPaints = [];
for (let i = 0; i < tabs; i++) {
  plain.push(await firstPaint(`${base}/about`));
  blankPaints.push(await firstPaint(`http://127.0.0.1:${blank.address().port}/`));
}
blank.close();
console.log(`first paint of a page with no terminal (navigation start → first contentful paint), /about: ${spread(plain)}`);
console.log(`first paint of a one-line page served by Node, no server (navigation start → first contentful paint): ${spread(blankPaints)}`);

const home = [];
for (let i = 0; i < tabs; i++) home.push(await homeTab());
console.log(`time to prompt (press of "Start your sandbox" → prompt painted), home page: ${spread(home.map((t) => t.marks.promptPainted - t.marks.start))}; in xterm.js: ${spread(home.map((t) => t.marks.xtermPromptPainted - t.marks.start))}`);

const runs = [];
for (let i = 0; i < tabs; i++) runs.push(await runTab());
console.log(`Run on a post's C block (press → program's output painted; the terminal loads on the press), /blog/read-it-run-it: ${spread(runs.map((t) => t.marks.runOutputPainted - t.marks.run))}`);
await browser.close();
