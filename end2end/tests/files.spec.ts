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
