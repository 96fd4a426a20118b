import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { expectRow, lines, openShell, typeCommand } from "./helpers";

test("`download FILE` gives the browser the file byte for byte, and says why when it cannot", async ({ page }) => {
  await openShell(page);
  await typeCommand(page, "clear; head -c 1048576 /dev/urandom > r.bin && sha256sum r.bin");
  await expectRow(page, /^[0-9a-f]{64}  r\.bin$/);
  const inSandbox = (await lines(page)).map((row) => row.match(/^([0-9a-f]{64})  r\.bin$/)).find(Boolean)?.[1];

  const started = Date.now();
  const arriving = page.waitForEvent("download");
  await typeCommand(page, "download r.bin");
  const download = await arriving;
  const path = await download.path();
  console.log(`1 MiB download: ${Date.now() - started} ms from typing the command to the file saved`);
  expect(download.suggestedFilename()).toBe("r.bin");
  const saved = readFileSync(path);
  expect(saved.length).toBe(1048576);
  expect(createHash("sha256").update(saved).digest("hex")).toBe(inSandbox);
  await expectRow(page, "r.bin: 1048576 bytes saved by your browser");

  await typeCommand(page, "download no-such-file");
  await expectRow(page, "download: no-such-file: no such file");
  await typeCommand(page, "download /tmp");
  await expectRow(page, "download: /tmp is a folder");
  await typeCommand(page, "head -c 11000000 /dev/zero > big.bin; download big.bin");
  await expectRow(page, "a download may be 10 MiB");
  await page.close();
});

test("Download home gives the home folder as a .tar.gz", async ({ page }) => {
  await openShell(page);
  await typeCommand(page, "echo kept-$((6*7)) > mine.txt");
  const arriving = page.waitForEvent("download");
  await page.getByTestId("download-home").click();
  const download = await arriving;
  expect(download.suggestedFilename()).toBe("home.tar.gz");
  const listing = execFileSync("tar", ["tzf", await download.path()], { encoding: "utf8" }).split("\n");
  expect(listing).toContain("./mine.txt");
  expect(listing).toContain("./about.md");
  const mine = execFileSync("tar", ["xzOf", await download.path(), "./mine.txt"], { encoding: "utf8" });
  expect(mine).toBe("kept-42\n");
  await page.close();
});

test("an upload lands in the home and a download of it keeps its sha256; oversized files are refused", async ({ page }) => {
  await openShell(page);
  const random = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  const digest = createHash("sha256").update(random).digest("hex");
  await page.getByLabel("Upload").setInputFiles({ name: "rand.bin", mimeType: "application/octet-stream", buffer: random });
  await expectRow(page, "[uploaded rand.bin: ~/rand.bin]");
  await typeCommand(page, "clear; sha256sum rand.bin");
  await expectRow(page, `${digest}  rand.bin`);
  const arriving = page.waitForEvent("download");
  await typeCommand(page, "download rand.bin");
  const saved = readFileSync(await (await arriving).path());
  expect(createHash("sha256").update(saved).digest("hex")).toBe(digest);

  // Dropped on the terminal: the same.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(["dropped here\n"], "dropped.txt"));
    document.querySelector(".terminal-host")?.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await expectRow(page, "[uploaded dropped.txt: ~/dropped.txt]");
  await typeCommand(page, "cat dropped.txt");
  await expectRow(page, /^dropped here$/);

  // 10 MiB, the most an upload may be, and back: the figures for the closing note.
  const big = Buffer.alloc(10 * 1024 * 1024, 7);
  let started = Date.now();
  await page.getByLabel("Upload").setInputFiles({ name: "ten.bin", mimeType: "application/octet-stream", buffer: big });
  await expectRow(page, "[uploaded ten.bin: ~/ten.bin]", 120_000);
  const up = (Date.now() - started) / 1000;
  started = Date.now();
  const back = page.waitForEvent("download");
  await typeCommand(page, "download ten.bin");
  expect(readFileSync(await (await back).path()).length).toBe(big.length);
  const down = (Date.now() - started) / 1000;
  console.log(`10 MiB: upload ${up.toFixed(1)} s (${(10 / up).toFixed(2)} MiB/s), download ${down.toFixed(1)} s (${(10 / down).toFixed(2)} MiB/s)`);

  await page.getByLabel("Upload").setInputFiles({ name: "over.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
  await expectRow(page, "files of up to 10 MiB can be uploaded");
  await page.close();
});

test("a downloaded home restores into a fresh sandbox; hostile archives are refused whole", async ({ browser }) => {
  const first = await browser.newPage();
  await openShell(first);
  await typeCommand(first, "mkdir -p proj && echo restored-$((6*7)) > proj/mine.txt");
  const arriving = first.waitForEvent("download");
  await first.getByTestId("download-home").click();
  const scratch = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
  const archive = `${scratch}/home.tar.gz`;
  await (await arriving).saveAs(archive);
  await first.close();

  // Another tab: another, fresh sandbox.
  const context = await browser.newContext();
  const page = await context.newPage();
  await openShell(page);
  await page.getByLabel("Restore home").setInputFiles(archive);
  await expectRow(page, /\[restored home\.tar\.gz into your home: \d+ files and folders/);
  await typeCommand(page, "cat proj/mine.txt");
  await expectRow(page, /^restored-42$/);

  execFileSync("sh", ["-c", `cd ${scratch} && tar czPf absolute.tar.gz /etc/hostname 2>/dev/null; ln -s /etc escape && tar czf link.tar.gz escape`]);
  await page.getByLabel("Restore home").setInputFiles(`${scratch}/absolute.tar.gz`);
  await expectRow(page, "/etc/hostname has an absolute path");
  await page.getByLabel("Restore home").setInputFiles(`${scratch}/link.tar.gz`);
  await expectRow(page, "escape is a link leaving the home");
  execFileSync("rm", ["-rf", scratch]);
  await typeCommand(page, "clear; ls -A ~ /tmp | grep -c -e escape -e hostname -e rootresume-restore");
  await expectRow(page, /^0$/);
  await context.close();
});
