import { expect, test } from "@playwright/test";
import { eventually, expectRow, labelledContainers, openShell, sessionId, typeCommand } from "./helpers";

/** Seconds shown by the countdown ("59:58 left" or "1:00:00 left"). */
async function secondsLeft(page: import("@playwright/test").Page): Promise<number> {
  const text = (await page.getByTestId("terminal-time-left").textContent()) ?? "";
  const match = text.match(/^(?:(\d+):)?(\d+):(\d\d) left$/);
  expect(match, `countdown reads like a clock: "${text}"`).not.toBeNull();
  const [, hours, minutes, seconds] = match as RegExpMatchArray;
  return Number(hours ?? 0) * 3600 + Number(minutes) * 60 + Number(seconds);
}

test("the page counts down the sandbox's time left", async ({ page }) => {
  await openShell(page);
  const first = await secondsLeft(page);
  // The default lifetime is an hour, and the session was made moments ago.
  expect(first).toBeLessThanOrEqual(3600);
  expect(first).toBeGreaterThan(3500);
  await expect.poll(() => secondsLeft(page), { timeout: 5_000 }).toBeLessThan(first);
  await page.close();
});

test("exit ends the session, removes its container, and offers a new sandbox", async ({ page }) => {
  await openShell(page);
  const first = await sessionId(page);
  await typeCommand(page, "exit");
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ended");
  await expectRow(page, "[sandbox ended: the shell exited]");
  await expect(page.getByTestId("terminal-time-left")).toHaveText("");
  await eventually(() => labelledContainers(first).length === 0, 15_000, "the ended session's container to go");

  await page.getByTestId("terminal-restart").click();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expect(page.getByTestId("terminal-restart")).toHaveCount(0);
  expect(await sessionId(page)).not.toBe(first);
  await typeCommand(page, "echo fresh-$((6*7))");
  await expectRow(page, /^fresh-42$/);
  await page.close();
});

test.describe("on a phone-sized screen", () => {
  test.use({ viewport: { width: 360, height: 740 }, hasTouch: true });

  test("the key bar sends Tab, arrows and Ctrl", async ({ page }) => {
    await openShell(page);
    const bar = page.getByRole("toolbar", { name: "Keys a phone keyboard lacks" });
    await expect(bar).toBeVisible();
    // The whole panel fits: nothing scrolls sideways at 360 px.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    await page.locator(".xterm-helper-textarea").focus();
    await page.keyboard.type("cat abo");
    await bar.getByRole("button", { name: "Tab" }).tap();
    await page.keyboard.press("Enter");
    await expectRow(page, "Try `cat README`");

    await typeCommand(page, "echo from-the-bar-$((40+2))");
    await expectRow(page, /^from-the-bar-42$/);
    await typeCommand(page, "clear");
    await bar.getByRole("button", { name: "Up arrow" }).tap();
    await bar.getByRole("button", { name: "Up arrow" }).tap();
    await page.keyboard.press("Enter");
    await expectRow(page, /^from-the-bar-42$/);

    await typeCommand(page, "sleep 600");
    const ctrl = bar.getByRole("button", { name: "Ctrl" });
    await ctrl.tap();
    await expect(ctrl).toHaveAttribute("aria-pressed", "true");
    // The focus stayed in the terminal, so the (phone) keyboard is still up.
    await expect(page.locator(".xterm-helper-textarea")).toBeFocused();
    await page.keyboard.type("c");
    await expect(ctrl).toHaveAttribute("aria-pressed", "false");
    await typeCommand(page, "echo after-ctrl-c");
    await expectRow(page, /^after-ctrl-c$/);
    await page.close();
  });
});
