import { expect, type Page, test } from "@playwright/test";
import { expectRow, labelledContainers, sessionId } from "./helpers";

const POST = "/blog/read-it-run-it";

/** The Run button of the block saved as `file` (or, for shell blocks, whose text has `text`). */
function runButton(page: Page, block: { file?: string; text?: string }) {
  const blocks = block.file
    ? page.locator(`.runnable[data-run-file="${block.file}"]`)
    : page.locator(".runnable").filter({ hasText: block.text as string });
  return blocks.getByRole("button", { name: "Run" });
}

async function ready(page: Page) {
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
}

test("a post's C block runs in the reader's sandbox, and the terminal loads only on Run", async ({ page }) => {
  const fetched: string[] = [];
  page.on("request", (request) => fetched.push(request.url()));
  await page.goto(POST);
  await page.waitForLoadState("networkidle");
  // Reading: no bundle, no terminal, no session.
  expect(fetched.filter((url) => /\.(wasm|mjs)$|\/pkg\/.*\.js$|xterm\.css$/.test(url))).toEqual([]);
  await expect(page.locator("[data-terminal-dock]")).toBeHidden();
  expect(await page.evaluate(() => sessionStorage.getItem("rootresume.session"))).toBeNull();

  const run = runButton(page, { file: "hello.c" });
  await expect(run).toBeVisible();
  await run.click();
  await expect(page.locator("[data-terminal-dock]")).toBeVisible();
  await ready(page);
  await expectRow(page, "3: hello, reader, from C");
  await expect(page.locator('.runnable[data-run-file="hello.c"] .run-note')).toHaveText("running in your terminal");
  expect(labelledContainers(await sessionId(page))).toHaveLength(1);

  // The reader can edit and rerun what the block left in their home.
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("sed -i 's/reader/editor/' hello.c && gcc hello.c -o hello && ./hello | tail -1");
  await page.keyboard.press("Enter");
  await expectRow(page, "3: hello, editor, from C");
  await page.close();
});

test("Run interrupts what runs in the foreground, and blocks arrive byte for byte", async ({ page }) => {
  await page.goto(POST);
  await runButton(page, { text: "sleep 100" }).click();
  await ready(page);
  await expectRow(page, /^sleeping for 100 seconds$/);
  await runButton(page, { file: "primes.py" }).click();
  await expectRow(page, "primes below 50: 2 3 5 7 11 13");

  // `$(id)`, `</script>`, quotes and a backslash: the page neither runs nor rewrites them.
  await runButton(page, { text: "literally" }).click();
  await expectRow(page, /^literally: \$\(id\) <\/script> "quotes" \\n$/);
  await page.close();
});

test("Run works from the keyboard and shows where focus is", async ({ page }) => {
  await page.goto(POST);
  const run = runButton(page, { text: "hello from" });
  await run.focus();
  await page.keyboard.press("Enter");
  await ready(page);
  await expectRow(page, /^hello from rr-[0-9a-f]{8}$/);
  // Back to the button with the keyboard: its focus ring shows.
  await run.focus();
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Tab");
  await expect(run).toBeFocused();
  const outline = await run.evaluate((button) => getComputedStyle(button).outlineStyle);
  expect(outline).not.toBe("none");
  await page.close();
});

test("when no sandbox can be had, the Run button says why", async ({ page }) => {
  await page.route("**/api/create_session*", (route) =>
    // As the server's create_session answers a refusal (a server function's error).
    route.fulfill({ status: 503, contentType: "text/plain", body: "ServerError|all sandboxes are in use; please wait for one to free up" }),
  );
  await page.goto(POST);
  await runButton(page, { file: "hello.c" }).click();
  const note = page.locator('.runnable[data-run-file="hello.c"] .run-note');
  await expect(note).toHaveAttribute("data-kind", "error", { timeout: 30_000 });
  await expect(note).toContainText("all sandboxes are in use; please wait for one to free up");
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "unavailable");
  expect(await page.evaluate(() => sessionStorage.getItem("rootresume.session"))).toBeNull();
  await page.close();
});

test("a challenge fails before the work and after `echo PASS`, passes after the work, and a reload shows it", async ({ page }) => {
  await page.goto(POST);
  const challenge = page.locator('[data-challenge="hello-name"]');
  const note = challenge.locator(".run-note");
  const check = challenge.getByRole("button", { name: "Check" });
  await check.click();
  await ready(page);
  await expect(note).toHaveText(/^Not yet: There is no ~\/hello yet/);

  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("echo PASS");
  await page.keyboard.press("Enter");
  await expectRow(page, /^PASS$/);
  await note.evaluate((element) => { element.textContent = ""; });
  await check.click();
  await expect(note).toHaveText(/^Not yet: /);
  await expect(challenge).not.toHaveAttribute("data-passed", "");

  await runButton(page, { file: "hello.c" }).click();
  await expectRow(page, "3: hello, reader, from C");
  await check.click();
  await expect(note).toHaveText(/^Not yet: .*your own name/);

  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("sed -i 's/reader/Grace/' hello.c && gcc -o hello hello.c && ./hello | tail -1");
  await page.keyboard.press("Enter");
  await expectRow(page, "3: hello, Grace, from C");
  await check.click();
  await expect(note).toHaveText(/^✓ Passed: ~\/hello says: 1: hello, Grace, from C$/);
  await expect(challenge).toHaveAttribute("data-passed", "");

  // The dock was open: a reload reattaches the terminal and shows the pass again.
  await page.reload();
  await ready(page);
  await expect(page.locator("[data-terminal-dock]")).toBeVisible();
  await expect(challenge).toHaveAttribute("data-passed", "");
  await expect(note).toHaveText(/^✓ passed$/);
  await page.close();
});

test("the home page's block runs in the shell below it, started by the press", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "waiting");
  await page.locator(".home-block").getByRole("button", { name: "Run" }).click();
  await ready(page);
  await expectRow(page, /^hello from rr-[0-9a-f]{8}, as visitor$/);
  await page.close();
});
