// Compares versions of one page's HTML against the same running server, tab by tab: each fresh
// tab (a new browser context) loads the next version in turn, so the drift between runs on a
// busy two-core machine (often larger than the change measured) falls on every version alike.
// A proxy on a free loopback port answers `GET /ab/<n>` with the n-th file given and passes
// every other connection (the page's files, the session request, the socket) to the server
// untouched. For each version: first contentful paint, the prompt painted on the first screen
// (`.terminal-first`), and the prompt painted by xterm.js (a page with no terminal: its first
// paint alone); p50, mean and p90 in ms by the page's clock (0 = navigation start). The files are pages saved from the server (`curl BASE/terminal`),
// edited as the experiment needs; they are served without the server's headers (no CSP). A
// version may instead be the server's own page, asked for live: `/PATH`, or `/PATH|NAME: VALUE`
// to add a request header to the page's request (e.g. `/terminal|Cache-Control: max-age=0`,
// the terminal page as a reload gets it: without its session); or a whole URL, which the tab
// loads directly (another server, e.g. an earlier build's, beside the first).
// Usage: node end2end/bench/ab-page.mjs BASE_URL TABS VERSION [VERSION...]
//   VERSION: PAGE.html | /PATH | /PATH|NAME: VALUE | http://HOST:PORT/PATH
import { chromium } from "@playwright/test";
import { readFileSync } from "node:fs";
import net from "node:net";
import { basename } from "node:path";

const [base, tabsArg, ...files] = process.argv.slice(2);
if (!base || !files.length) {
  console.error("usage: node end2end/bench/ab-page.mjs BASE_URL TABS VERSION [VERSION...]");
  process.exit(2);
}
const tabs = Number(tabsArg);
const upstream = new URL(base);
const direct = (f) => /^https?:\/\//.test(f);
const pages = files.map((f) => (f.startsWith("/") || direct(f) ? null : readFileSync(f)));
// A live version's path on the server and the header line it adds ("" for none).
const live = files.map((f) => {
  if (!f.startsWith("/")) return null;
  const [path, header] = f.split("|");
  return { path, header: header ? `${header.trim()}\r\n` : "" };
});

const proxy = net.createServer((client) => {
  client.on("error", () => {});
  client.once("data", (head) => {
    const line = head.toString("latin1", 0, Math.min(head.length, 200)).split("\r\n")[0];
    const n = /^GET \/ab\/(\d+) /.exec(line)?.[1];
    let forward = head;
    if (n !== undefined && live[n]) {
      // The request line names the server's page instead, with the version's header after it.
      const text = head.toString("latin1");
      const end = text.indexOf("\r\n");
      forward = Buffer.from(`GET ${live[n].path} HTTP/1.1\r\n${live[n].header}${text.slice(end + 2)}`, "latin1");
    } else if (n !== undefined && pages[n]) {
      client.end(Buffer.concat([
        Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${pages[n].length}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n`),
        pages[n],
      ]));
      return;
    }
    const server = net.connect(Number(upstream.port || 80), upstream.hostname, () => {
      server.write(forward);
      client.pipe(server).pipe(client);
    });
    server.on("error", () => client.destroy());
    client.on("close", () => server.destroy());
  });
});
await new Promise((ok) => proxy.listen(0, "127.0.0.1", ok));
const origin = `http://127.0.0.1:${proxy.address().port}`;

// Runs in the page before its own scripts: when each prompt reached the screen.
function instrument() {
  const marks = {};
  window.__ab = marks;
  const painted = (name, selector) => {
    if (name in marks) return;
    const el = document.querySelector(selector);
    if (el && el.textContent.includes("visitor@")) {
      marks[name] = null;
      requestAnimationFrame(() => { marks[name] = performance.now(); });
    }
  };
  new MutationObserver(() => {
    painted("first", ".terminal-first");
    painted("xterm", ".xterm-rows");
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});
const results = files.map(() => ({ fcp: [], first: [], xterm: [], failed: 0 }));
for (let i = 0; i < tabs; i++) {
  for (const [n, r] of results.entries()) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(instrument);
    await page.goto(direct(files[n]) ? files[n] : `${origin}/ab/${n}`);
    try {
      await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0, null, { timeout: 15_000 });
      // A page with a terminal (its loader script names the WASM) is followed to its prompt; a
      // page without one (/about, a plain file) is done at its first paint.
      if (await page.evaluate(() => !!document.querySelector("script[data-wasm]"))) {
        await page.waitForFunction(() => window.__ab.xterm > 0, null, { timeout: 15_000 });
      }
      const m = await page.evaluate(() => ({
        fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
        ...window.__ab,
      }));
      // A prompt in the page's first frame shows no sooner than that frame's paint (its
      // animation frame callback runs before it).
      if (m.first > 0) m.first = Math.max(m.first, m.fcp ?? 0);
      for (const k of ["fcp", "first", "xterm"]) if (m[k] > 0) r[k].push(m[k]);
    } catch {
      r.failed++;
    }
    await context.close();
  }
}
await browser.close();
proxy.close();

const stats = (a) => {
  if (!a.length) return "-";
  const s = [...a].sort((x, y) => x - y);
  const mean = s.reduce((x, y) => x + y, 0) / s.length;
  return `p50 ${s[Math.floor(s.length / 2)].toFixed(0)} mean ${mean.toFixed(0)} p90 ${s[Math.floor(s.length * 0.9)].toFixed(0)} (${s.length})`;
};
console.log(`${tabs} fresh tabs per version, interleaved, against ${base}`);
for (const [n, r] of results.entries()) {
  console.log(`${live[n] || direct(files[n]) ? files[n] : basename(files[n])}: first paint ${stats(r.fcp)}; prompt painted ${stats(r.first)}; by xterm.js ${stats(r.xterm)}${r.failed ? `; ${r.failed} tabs showed no paint or no prompt in 15 s` : ""}`);
}
if (results.some((r) => r.failed)) process.exitCode = 1;
