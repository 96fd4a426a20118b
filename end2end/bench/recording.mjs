// Measures how big a session's recording (asciicast v3) grows in a minute of typical use:
// against a running server, one tab on /terminal types commands at a person's pace (about
// eight keys a second, with pauses): listing and reading files, compiling and running a C
// program, Python, an editor opened and quit, `top` once. Prints the recording's size, its
// events and its size per minute. Asserts nothing.
// Usage: node end2end/bench/recording.mjs [BASE_URL] [SECONDS]
import { chromium } from "@playwright/test";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const seconds = Number(process.argv[3] ?? "60");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage();
await page.goto(`${base}/terminal`);
await page.locator(".xterm-rows").filter({ hasText: "visitor@" }).first().waitFor({ timeout: 60_000 });
const textarea = page.locator('[data-terminal="0"] .xterm-helper-textarea');
await textarea.focus();

const commands = [
  "ls -la",
  "cat README.md | head -20",
  "printf '#include <stdio.h>\\nint main(void){puts(\"hi\");return 0;}\\n' > hi.c",
  "gcc -Wall -o hi hi.c && ./hi",
  "python3 -c 'print(sum(range(100)))'",
  "vi hi.c",
  ":q",
  "top -b -n 1 | head -15",
  "echo $((6*7)); date",
  "history | tail -5",
];
const started = Date.now();
let typed = 0;
while (Date.now() - started < seconds * 1000) {
  const command = commands[typed % commands.length];
  await page.keyboard.type(command, { delay: 125 });
  await page.keyboard.press("Enter");
  typed++;
  await page.waitForTimeout(2000);
}
const minutes = (Date.now() - started) / 60_000;
const session = await page.evaluate(() => sessionStorage.getItem("rootresume.session"));
const cast = await page.evaluate(async (session) => {
  const response = await fetch("/api/recording", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ session }),
  });
  return response.text();
}, session);
const lines = cast.trimEnd().split("\n");
const bytes = Buffer.byteLength(cast);
console.log(`recording after ${minutes.toFixed(2)} min of typical use (${typed} commands typed): ${bytes} bytes, ${lines.length - 1} events`);
console.log(`recording size per minute: ${(bytes / minutes / 1024).toFixed(1)} KiB/min; the 5 MiB cap lasts about ${(5 * 1024 * 1024 / (bytes / minutes)).toFixed(0)} min of such use`);
await browser.close();
