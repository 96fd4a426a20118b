// Measures how long a miner runs in a sandbox before the abuse watchdog stops it, with the
// server's own settings (10 s checks by default): against a running server, one tab on
// /terminal starts a fake miner (`yes` copied to ~/xmrig, which burns the CPU as a miner would)
// N times, each a while after the last, and times from pressing Enter to the terminal saying it
// was stopped. Prints each time, the median and the longest. Asserts nothing.
// Usage: node end2end/bench/miner.mjs [BASE_URL] [RUNS]
import { chromium } from "@playwright/test";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const runs = Number(process.argv[3] ?? "5");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage();
await page.goto(`${base}/terminal`);
const rows = page.locator(".xterm-rows").first();
await rows.filter({ hasText: "visitor@" }).waitFor({ timeout: 60_000 });
await page.locator('[data-terminal="0"] .xterm-helper-textarea').focus();
await page.keyboard.type("cp /usr/bin/yes ~/xmrig");
await page.keyboard.press("Enter");

const times = [];
for (let run = 1; run <= runs; run++) {
  // A clear screen first, so the last run's notice is not taken for this one's.
  await page.keyboard.type("clear");
  await page.keyboard.press("Enter");
  await rows.filter({ hasText: "[stopped xmrig" }).waitFor({ state: "detached", timeout: 10_000 });
  await page.keyboard.type("~/xmrig > /dev/null");
  const started = Date.now();
  await page.keyboard.press("Enter");
  await rows.filter({ hasText: "[stopped xmrig" }).waitFor({ timeout: 120_000 });
  const seconds = (Date.now() - started) / 1000;
  times.push(seconds);
  console.log(`run ${run}: stopped after ${seconds.toFixed(1)} s`);
  // A pause of a few seconds that is not a multiple of the checks, so each run starts at
  // another point of the watchdog's period.
  await page.waitForTimeout(3_000 + run * 1_700);
}
times.sort((a, b) => a - b);
console.log(`miner start → stop over ${runs} runs: median ${times[Math.floor(runs / 2)].toFixed(1)} s, longest ${times[runs - 1].toFixed(1)} s`);
await browser.close();
