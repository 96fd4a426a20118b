import { expect, test } from "@playwright/test";
import { expectRow, openShell, runAndExpect, typeCommand } from "./helpers";

test("tab completion, history arrows and Ctrl-C behave as in a local terminal", async ({ page }) => {
  await openShell(page);
  const rows = page.locator(".xterm-rows");
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("cat abo");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await expect(rows).toContainText("Try `cat README`");

  await typeCommand(page, "echo history-$((40+2))");
  await expect(rows).toContainText("history-42");
  await typeCommand(page, "clear");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  await expect(rows).toContainText("history-42");

  await typeCommand(page, "sleep 600");
  await page.waitForTimeout(300);
  await page.keyboard.press("Control+C");
  await runAndExpect(page, "echo interrupted-ok", /^interrupted-ok$/);
  await page.close();
});

test("full-screen programs draw: less and vi", async ({ page }) => {
  await openShell(page);
  const rows = page.locator(".xterm-rows");
  // A pager over more lines than the screen holds: first page, then jump to the end.
  await typeCommand(page, "clear; seq 1 500 | less");
  await expectRow(page, /^1$/);
  await page.keyboard.press("G");
  await expectRow(page, /^500$/);
  await expectRow(page, "(END)");
  await page.keyboard.press("q");

  await typeCommand(page, "clear; vi note.txt");
  await expect(rows).toContainText("note.txt");
  await page.keyboard.type("iwritten in vi");
  await page.keyboard.press("Escape");
  await page.keyboard.type(":wq");
  await page.keyboard.press("Enter");
  await runAndExpect(page, "clear; cat note.txt", /^written in vi$/);
  await page.close();
});

test("non-ASCII text round-trips through the terminal", async ({ page }) => {
  await openShell(page);
  await runAndExpect(page, "echo 'héllo wörld → ✓'", /^héllo wörld → ✓$/);
  await page.close();
});
