import { expect, test, type Page } from "@playwright/test";
import { expectRow, lines, openShell, runAndExpect } from "./helpers";

/** The owner shares the terminal shown and returns the read-only link. */
async function share(owner: Page): Promise<string> {
  await owner.getByRole("button", { name: "Share", exact: true }).click();
  const link = owner.getByRole("textbox", { name: "Watch link" });
  await expect(link).toHaveValue(/\/watch\/[0-9a-f]{32}$/);
  return link.inputValue();
}

/** Opens `link` in `viewer` and waits until it watches live. */
async function openLink(viewer: Page, link: string, state = "watching") {
  await viewer.goto(link);
  await expect(viewer.getByTestId("watch-status")).toHaveAttribute("data-state", state, { timeout: 30_000 });
}

/**
 * Records, for each `tick-N-MS-end` line, how long after the shell printed it (MS: the
 * sandbox's clock in ms, the same clock as the browser's on this machine) a row first showed it.
 */
async function recordTicks(page: Page) {
  await page.evaluate(() => {
    const seen: Record<string, number> = {};
    (window as unknown as { ticks: Record<string, number> }).ticks = seen;
    const rows = document.querySelector(".xterm-rows");
    if (!rows) throw new Error("no terminal rows");
    new MutationObserver(() => {
      const now = Date.now();
      for (const match of (rows.textContent ?? "").matchAll(/tick-(\d+)-(\d{13})-end/g)) {
        seen[match[1]] ??= now - Number(match[2]);
      }
    }).observe(rows, { childList: true, subtree: true, characterData: true });
  });
}

/** The `q` quantile of `values`, sorted in place. */
function quantile(values: number[], q: number): number {
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.floor(q * values.length))];
}

test("a spectator watches live, drives nothing, and Stop sharing closes it", async ({ page, browser }) => {
  await openShell(page);
  await runAndExpect(page, "echo before-$((2+3))", /^before-5$/);
  const link = await share(page);

  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  const dialogs: string[] = [];
  viewer.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const popups: string[] = [];
  viewerContext.on("page", (opened) => popups.push(opened.url()));
  await openLink(viewer, link);
  // The recent screen first, then live output within a second of the owner seeing it.
  await expectRow(viewer, /^before-5$/);
  await expect(page.getByTestId("viewers")).toHaveText("1 watching");
  await runAndExpect(page, "echo live-$((40+2))", /^live-42$/);
  await expectRow(viewer, /^live-42$/, 1_000);

  // Keys, a paste and a resize on the viewer's page change nothing in the shell.
  await viewer.locator(".xterm-helper-textarea").focus();
  await viewer.keyboard.type("touch /tmp/viewer-typed");
  await viewer.keyboard.press("Enter");
  await viewer.locator(".xterm-helper-textarea").evaluate((area) => {
    const data = new DataTransfer();
    data.setData("text/plain", "touch /tmp/viewer-pasted\r");
    area.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await viewer.setViewportSize({ width: 420, height: 300 });
  const size = await page.evaluate(() => document.querySelector(".xterm-rows")?.childElementCount ?? 0);
  await runAndExpect(page, "clear; ls /tmp/viewer-* 2>/dev/null | wc -l; stty size", /^0$/);
  await expectRow(page, new RegExp(`^${size} \\d+$`));

  // The owner's output cannot make the viewer's page open a link or ask to: clicking an
  // OSC 8 hyperlink does nothing there.
  await runAndExpect(page, "clear; printf '\\e]8;;https://example.com/\\e\\\\click-here\\e]8;;\\e\\\\\\n'", /^click-here$/);
  await expectRow(viewer, /^click-here$/);
  // xterm.js takes the pointer on its screen above the rows: click where the link's row is.
  const row = viewer.locator(".xterm-rows > div", { hasText: /^click-here\s*$/ });
  await row.scrollIntoViewIfNeeded();
  const box = await row.boundingBox();
  if (!box) throw new Error("the link's row has no box");
  await viewer.mouse.move(box.x + 20, box.y + box.height / 2);
  await viewer.mouse.click(box.x + 20, box.y + box.height / 2);
  await viewer.waitForTimeout(500);
  expect(popups, "pages opened by the owner's output").toEqual([]);
  expect(dialogs, "dialogs opened by the owner's output").toEqual([]);

  // Viewer latency: the shell printing a line → the line on each screen, for 40 lines 100 ms apart.
  await recordTicks(page);
  await recordTicks(viewer);
  await runAndExpect(page, "clear; for i in $(seq 1 40); do echo tick-$i-$(date +%s%3N)-end; sleep 0.1; done; echo ticks-done", /^ticks-done$/);
  await expectRow(viewer, /^ticks-done$/);
  const read = (p: Page) => p.evaluate(() => Object.values((window as unknown as { ticks: Record<string, number> }).ticks));
  const [owner, watching] = [await read(page), await read(viewer)];
  expect(watching.length, "lines seen on the viewer's screen").toBeGreaterThanOrEqual(35);
  console.log(
    `viewer latency (shell output → screen, ${watching.length} lines): viewer p50 ${quantile(watching, 0.5)} ms, p99 ${quantile(watching, 0.99)} ms; ` +
      `owner p50 ${quantile(owner, 0.5)} ms, p99 ${quantile(owner, 0.99)} ms`,
  );

  // Stop sharing closes the viewer at once, with the reason; the link then shows nothing.
  await page.getByRole("button", { name: "Stop sharing" }).click();
  await expect(viewer.getByTestId("watch-status")).toHaveAttribute("data-state", "ended");
  await expect(viewer.getByTestId("watch-message")).toContainText("stopped sharing");
  await expect(page.getByRole("textbox", { name: "Watch link" })).toBeHidden();
  await openLink(viewer, link, "invalid");
  await expect(viewer.getByTestId("watch-message")).toContainText("does not show anything");
  await viewerContext.close();
  await page.close();
});

test("a forged link shows a clear page", async ({ page }) => {
  await openLink(page, "/watch/0123456789abcdef0123456789abcdef", "invalid");
  await expect(page.getByTestId("watch-message")).toContainText("does not show anything");
  await expect(page.getByRole("heading", { name: "A shared terminal" })).toBeVisible();
});

test("the pair link lets its viewer type; dropping it stops that", async ({ page, browser }) => {
  await openShell(page);
  await share(page);
  await page.getByLabel("Let viewers type (pair link)").check();
  const pair = page.getByRole("textbox", { name: "Pair link" });
  await expect(pair).toHaveValue(/\/watch\/[0-9a-f]{32}$/);
  const context = await browser.newContext();
  const typist = await context.newPage();
  await openLink(typist, await pair.inputValue(), "typing");
  await typist.locator(".xterm-helper-textarea").focus();
  await typist.keyboard.type("echo paired-$((3*3))");
  await typist.keyboard.press("Enter");
  await expectRow(page, /^paired-9$/);
  expect((await lines(typist)).some((row) => row === "paired-9")).toBe(true);

  await page.getByLabel("Let viewers type (pair link)").uncheck();
  await expect(typist.getByTestId("watch-status")).toHaveAttribute("data-state", "ended");
  await expect(pair).toBeHidden();
  await context.close();
  await page.close();
});
