import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { expectRow, openShell, typeCommand } from "./helpers";

/** The visible rows of the terminal under `selector`, as text. */
async function rowsIn(page: Page, selector: string): Promise<string[]> {
  const rows = await page.locator(`${selector} .xterm-rows > div`).allTextContents();
  return rows.map((row) => row.replace(/\u00a0/g, " ").trimEnd());
}

test("a downloaded recording is asciicast v3 with the terminal's size and output, and replays to the same screen", async ({ page }) => {
  await openShell(page);
  await typeCommand(page, "clear; stty size; echo replay-$((6*7)); printf '\\033[31mred\\033[0m done\\n'");
  await expectRow(page, /^red done$/);
  const live = await rowsIn(page, '[data-terminal="0"]');
  const [rows, cols] = (live.find((row) => /^\d+ \d+$/.test(row)) as string).split(" ").map(Number);

  await page.getByRole("button", { name: "Replay" }).click();
  const replay = page.getByRole("region", { name: "Replay of this sandbox's recording" });
  await expect(replay).toBeVisible();

  // The file: a v3 header, then events; the last size is the terminal's.
  const arriving = page.waitForEvent("download");
  await replay.getByRole("button", { name: "Download recording" }).click();
  const download = await arriving;
  expect(download.suggestedFilename()).toBe("sandbox.cast");
  const [headerLine, ...eventLines] = readFileSync(await download.path(), "utf8").trimEnd().split("\n");
  const header = JSON.parse(headerLine);
  expect(header.version).toBe(3);
  let size = [header.term.cols, header.term.rows];
  const events = eventLines.map((line) => JSON.parse(line));
  for (const [interval, code, data] of events) {
    expect(typeof interval).toBe("number");
    if (code === "r") size = data.split("x").map(Number);
  }
  expect(size).toEqual([cols, rows]);
  const output = events.filter((e) => e[1] === "o").map((e) => e[2]).join("");
  expect(output).toContain("replay-42");

  // Moved to its end, the replay shows the screen the terminal shows.
  const position = replay.getByRole("slider", { name: "Position" });
  await expect(async () => expect(Number(await position.getAttribute("max"))).toBeGreaterThan(0)).toPass();
  const end = Number(await position.getAttribute("max"));
  await position.fill(String(end));
  await expect(async () => {
    expect(await rowsIn(page, ".terminal-replay-screen")).toEqual(live);
  }).toPass({ timeout: 10_000 });

  // From the start at 16×, it plays to the same end by itself.
  const toggle = replay.getByRole("button", { name: /^(Play|Pause)$/ });
  if ((await toggle.textContent()) === "Pause") await toggle.click();
  await position.fill("0");
  expect(await rowsIn(page, ".terminal-replay-screen")).not.toEqual(live);
  await replay.getByRole("combobox", { name: "Speed" }).selectOption("1600");
  await toggle.click();
  await expect(async () => {
    expect(await rowsIn(page, ".terminal-replay-screen")).toEqual(live);
  }).toPass({ timeout: 20_000 });
  await expect(toggle).toHaveText("Play", { timeout: 20_000 });

  await replay.getByRole("button", { name: "Close replay" }).click();
  await expect(replay).toBeHidden();
  await page.close();
});
