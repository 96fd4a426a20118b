import { expect, test, type Page, type Route, type WebSocket } from "@playwright/test";
import { expectRow, runAndExpect } from "./helpers";

// The first screen (FIRST_SCREEN in app/src/lib.rs) shows the shell before the WASM bundle and
// xterm.js are ready. These tests hold the bundle back so that moment lasts.

/** Holds every request for the WASM bundle until the returned function is called. */
async function holdWasm(page: Page): Promise<() => void> {
  const held: Route[] = [];
  let released = false;
  await page.route("**/*.wasm", (route) => (released ? route.continue() : void held.push(route)));
  return () => {
    released = true;
    for (const route of held.splice(0)) void route.continue();
  };
}

const first = (page: Page) => page.locator(".terminal-first");

test("the first screen shows the prompt, takes keys as text, and hands its socket to xterm.js", async ({ page }) => {
  const sockets: string[] = [];
  page.on("websocket", (socket) => sockets.push(socket.url()));
  const release = await holdWasm(page);
  await page.goto("/terminal");
  await expect(first(page)).toContainText("visitor@", { timeout: 30_000 });
  await expect(first(page)).toBeFocused();
  // Markup in the shell's output is shown as text, never parsed.
  await page.keyboard.type("echo '<b id=bold>x</b>' first-$((40+2))");
  await page.keyboard.press("Enter");
  await expect(first(page)).toContainText("<b id=bold>x</b> first-42");
  await expect(page.locator("#bold")).toHaveCount(0);
  // Readline's own editing: a typed word taken back with Backspace is gone from the line.
  await page.keyboard.type("echo oops");
  for (let i = 0; i < 4; i++) await page.keyboard.press("Backspace");
  await page.keyboard.type("kept-$((6*7))");
  await page.keyboard.press("Enter");
  await expect(first(page)).toContainText("kept-42");
  await expect(first(page)).not.toContainText("echo oopskept");

  release();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expect(first(page)).toHaveCount(0);
  // xterm.js shows what the first screen showed, from the same socket: one socket in all.
  await expectRow(page, "first-42");
  await expectRow(page, /^kept-42$/);
  await runAndExpect(page, "echo after-$((50+1))", /^after-51$/);
  expect(sockets).toHaveLength(1);
  await page.close();
});

test("on the home page the first screen appears on Start, over the button", async ({ page }) => {
  const release = await holdWasm(page);
  await page.goto("/");
  await page.getByTestId("terminal-start").click();
  await expect(first(page)).toContainText("visitor@", { timeout: 30_000 });
  await expect(first(page)).toBeFocused();
  await page.keyboard.type("echo home-$((1+1))");
  await page.keyboard.press("Enter");
  await expect(first(page)).toContainText("home-2");
  release();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expect(first(page)).toHaveCount(0);
  await expectRow(page, /^home-2$/);
  await page.close();
});

test("a refused session leaves no first screen, and its socket is closed", async ({ page }) => {
  const sockets: WebSocket[] = [];
  page.on("websocket", (socket) => sockets.push(socket));
  const release = await holdWasm(page);
  await page.route("**/api/create_session*", (route) =>
    route.fulfill({ status: 503, contentType: "text/plain", body: "ServerError|all sandboxes are in use; please wait for one to free up" }),
  );
  await page.goto("/terminal");
  await expect.poll(() => sockets.length).toBe(1);
  await expect.poll(() => sockets[0].isClosed()).toBe(true);
  await expect(first(page)).toHaveCount(0);
  release();
  await expect(page.locator(".xterm-rows")).toContainText("all sandboxes are in use", { timeout: 30_000 });
  await page.close();
});
