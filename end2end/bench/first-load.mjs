// Measures, against a running server, what issue 2 asks for:
//  - time from page load to shell prompt on the terminal page, over N fresh tabs (median, min,
//    max);
//  - first-load transfer of the home page with its shell started: HTML + JS + WASM + CSS, as sent
//    (gzip when the server compresses) and as gzip -9 of each body, from Chromium's own network
//    log.
// Usage: node end2end/bench/first-load.mjs [BASE_URL] [TABS]
import { chromium } from "@playwright/test";
import { gzipSync } from "node:zlib";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const tabs = Number(process.argv[3] ?? "10");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});

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

async function timeToPrompt() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const started = performance.now();
  await page.goto(`${base}/terminal`);
  await page.locator('[data-testid="terminal-status"][data-state="ready"]').waitFor({ timeout: 60_000 });
  await page.locator(".xterm-rows", { hasText: "visitor@" }).waitFor({ timeout: 60_000 });
  const elapsed = performance.now() - started;
  await context.close();
  return elapsed;
}

const rows = await firstLoad();
const total = (key) => rows.reduce((sum, r) => sum + r[key], 0);
console.log("first load of", base);
for (const r of rows) console.log(`  ${r.type.padEnd(10)} ${String(r.raw).padStart(9)} raw ${String(r.sent).padStart(9)} sent ${String(r.gzip9).padStart(9)} gzip-9  ${r.url}`);
console.log(`  total: ${(total("raw") / 1024).toFixed(1)} KiB raw, ${(total("sent") / 1024).toFixed(1)} KiB sent, ${(total("gzip9") / 1024).toFixed(1)} KiB gzip -9`);

const times = [];
for (let i = 0; i < tabs; i++) times.push(await timeToPrompt());
times.sort((a, b) => a - b);
const median = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
console.log(`time from page load to prompt over ${tabs} tabs: median ${median.toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms`);
await browser.close();
