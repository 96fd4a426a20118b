import { expect, test, type Page } from "@playwright/test";
import { labelledContainers, openShell, sessionId } from "./helpers";

/** The visible rows of terminal `number` of the panel, as text. */
async function rowsOf(page: Page, number: number): Promise<string[]> {
  const rows = await page.locator(`[data-terminal="${number}"] .xterm-rows > div`).allTextContents();
  return rows.map((row) => row.replace(/\u00a0/g, " ").trimEnd());
}

/** Types into terminal `number` (which must be shown) and waits for a row matching `expected`. */
async function runIn(page: Page, number: number, command: string, expected: RegExp): Promise<RegExpMatchArray> {
  await page.locator(`[data-terminal="${number}"] .xterm-helper-textarea`).focus();
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
  let found: RegExpMatchArray | undefined;
  await expect(async () => {
    const rows = await rowsOf(page, number);
    found = rows.map((row) => row.match(expected)).find((m): m is RegExpMatchArray => m !== null);
    expect(found, `no row of terminal ${number} matches ${expected} in:\n${rows.join("\n")}`).toBeTruthy();
  }).toPass({ timeout: 20_000 });
  return found as RegExpMatchArray;
}

test("two terminals in one panel have different shells in the same container", async ({ page }) => {
  await openShell(page);
  const session = await sessionId(page);
  const first = await runIn(page, 0, "echo one:$$:$(hostname):$(readlink /proc/$$/fd/0)", /^one:(\d+):(rr-[0-9a-f]{8}):(\S+)$/);

  await page.getByRole("button", { name: "New terminal" }).click();
  await expect(page.getByRole("button", { name: "Terminal 2", exact: true })).toHaveAttribute("aria-pressed", "true");
  await expect(page.locator('[data-terminal="1"]')).toBeVisible();
  await expect(page.locator('[data-terminal="0"]')).toBeHidden();
  await expect(page.locator('[data-terminal="1"] .xterm-rows')).toContainText("visitor@", { timeout: 30_000 });
  const second = await runIn(page, 1, "echo two:$$:$(hostname):$(readlink /proc/$$/fd/0)", /^two:(\d+):(rr-[0-9a-f]{8}):(\S+)$/);
  expect(second[1], "a second shell (another pid)").not.toBe(first[1]);
  expect(second[3], "its own pty").not.toBe(first[3]);
  expect(second[2], "the same container").toBe(first[2]);
  expect(labelledContainers(session)).toHaveLength(1);

  // Each its own size: the panel's first terminal keeps its own while the second is shown.
  const size = await runIn(page, 1, "stty size", /^(\d+) (\d+)$/);
  expect(Number(size[2])).toBeGreaterThan(20);

  // A reload brings both back, with their screens and their shells.
  await page.reload();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expect(page.getByRole("button", { name: "Terminal 2", exact: true })).toBeVisible();
  await page.getByRole("button", { name: "Terminal 2", exact: true }).click();
  await expect(page.locator('[data-terminal="1"] .xterm-rows')).toContainText(`two:${second[1]}:`, { timeout: 30_000 });
  const again = await runIn(page, 1, "echo again:$$", /^again:(\d+)$/);
  expect(again[1], "the same shell after the reload").toBe(second[1]);
  await page.getByRole("button", { name: "Terminal 1", exact: true }).click();
  await expect(page.locator('[data-terminal="0"] .xterm-rows')).toContainText(`one:${first[1]}:`);

  // Closing the second leaves the first.
  await page.getByRole("button", { name: "Close terminal 2" }).click();
  await expect(page.getByRole("button", { name: "Terminal 2", exact: true })).toHaveCount(0);
  await expect(page.locator('[data-terminal="1"]')).toHaveCount(0);
  await runIn(page, 0, "echo still:$$", new RegExp(`^still:${first[1]}$`));
  await page.close();
});
