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
  // A command's own options complete too: bash-completion's rules, loaded at the first Tab (the
  // one above), not at the shell's start. Plain bash has no rule for options and adds nothing.
  await page.keyboard.type("ls --colo");
  await page.keyboard.press("Tab");
  await expect(rows).toContainText("ls --color");
  await page.keyboard.press("Control+U");

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
  // A pager over more lines than the screen holds: first page, then jump to the end.
  await typeCommand(page, "clear; seq 1 500 | less");
  await expectRow(page, /^1$/);
  await page.keyboard.press("G");
  await expectRow(page, /^500$/);
  await expectRow(page, "(END)");
  await page.keyboard.press("q");

  // Each step waits for vi to show it took the last one: keys typed ahead while vi still holds
  // the terminal are read (and dropped) by vi when it quits, so the next command would lose them.
  await typeCommand(page, "clear; vi note.txt");
  await expectRow(page, /^"note\.txt"/);
  await page.keyboard.type("iwritten in vi");
  await expectRow(page, /^written in vi$/);
  await page.keyboard.press("Escape");
  await page.keyboard.type(":wq");
  await expectRow(page, /^:wq$/);
  await page.keyboard.press("Enter");
  // Back at an empty prompt: vi has quit and the shell reads the keys again.
  await expectRow(page, /^visitor@rr-[0-9a-f]{8}:~\$$/);
  await runAndExpect(page, "clear; cat note.txt", /^written in vi$/);
  await page.close();
});

test("non-ASCII text round-trips through the terminal", async ({ page }) => {
  await openShell(page);
  await runAndExpect(page, "echo 'héllo wörld → ✓'", /^héllo wörld → ✓$/);
  await page.close();
});
