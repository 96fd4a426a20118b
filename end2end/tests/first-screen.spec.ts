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

test("the terminal page comes with its session: its first paint shows the prompt, and no session is asked for", async ({ page }) => {
  const asked: string[] = [];
  page.on("request", (request) => {
    if (request.url().includes("/api/create_session")) asked.push(request.url());
  });
  const release = await holdWasm(page);
  // The socket reaches no server: whatever the first screen shows came with the page.
  const sent: Buffer[] = [];
  await page.routeWebSocket("**/ws/terminal", (ws) => {
    ws.onMessage((message) => void sent.push(Buffer.from(message)));
  });
  const response = await page.goto("/terminal");
  expect(response?.headers()["cache-control"]).toBe("no-store");
  const id = await page.evaluate(() => sessionStorage.getItem("rootresume.session"));
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  await expect(first(page)).toContainText("visitor@");
  // The page's socket names the page's session, and takes keys typed at its prompt.
  await first(page).press("x");
  await expect.poll(() => sent.length).toBe(2);
  expect([...sent[0].subarray(0, 3)]).toEqual([2, 7, 0]);
  expect(sent[0].subarray(3).toString()).toBe(id);
  expect([...sent[1]]).toEqual([2, 1, "x".charCodeAt(0)]);
  release();
  await page.waitForTimeout(500);
  expect(asked).toEqual([]);
  await page.close();
});

test("a refused session leaves no first screen, and its socket is closed", async ({ page }) => {
  const sockets: WebSocket[] = [];
  page.on("websocket", (socket) => sockets.push(socket));
  const release = await holdWasm(page);
  // As a reload: the page comes without a session, and the loader asks for one.
  await page.setExtraHTTPHeaders({ "cache-control": "max-age=0" });
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

test("a tab that has its shell keeps it on coming back to the terminal page, and gives back the page's own session", async ({ page }) => {
  const status = page.getByTestId("terminal-status");
  await page.goto("/terminal");
  await expect(status).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await runAndExpect(page, "echo mine-$((3*3))", /^mine-9$/);
  const id = await page.evaluate(() => sessionStorage.getItem("rootresume.session"));
  expect(id).toMatch(/^[0-9a-f-]{36}$/);

  await page.goto("/about");
  const released = page.waitForRequest((r) => r.url().includes("/api/release_session"));
  await page.goto("/terminal");
  const request = await released;
  expect(request.postData()).toMatch(/^id=[0-9a-f-]{36}$/);
  expect(request.postData()).not.toContain(id);
  expect((await request.response())?.status()).toBe(200);
  // The tab's own shell, with what was typed into it.
  await expect(status).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expectRow(page, /^mine-9$/);
  expect(await page.evaluate(() => sessionStorage.getItem("rootresume.session"))).toBe(id);
  await page.close();
});
