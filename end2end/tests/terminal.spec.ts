import { expect, test } from "@playwright/test";
import {
  eventually, expectRow, GRACE_SECS, hostname, labelledContainers, openShell, runAndExpect, screen, sessionId,
  typeCommand,
} from "./helpers";

test("the page is rendered on the server before any script runs", async ({ request }) => {
  const response = await request.get("/");
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain("Ada Quill");
  expect(html).toContain("Start your sandbox");
  expect(html).toContain('type="importmap"');
  const terminalPage = await (await request.get("/terminal")).text();
  expect(terminalPage).toContain("starting your sandbox");
});

test("the home page loads no WASM and makes no sandbox until the visitor starts the shell", async ({ page }) => {
  const fetched: string[] = [];
  page.on("request", (request) => fetched.push(request.url()));
  const sockets: string[] = [];
  page.on("websocket", (socket) => sockets.push(socket.url()));
  await page.goto("/");
  await page.waitForLoadState("networkidle");
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "waiting");
  expect(fetched.filter((url) => /\.(wasm|mjs)$|\/pkg\/.*\.js$|xterm\.css$/.test(url))).toEqual([]);
  expect(sockets).toEqual([]);
  expect(await page.evaluate(() => sessionStorage.getItem("rootresume.session"))).toBeNull();

  await page.getByTestId("terminal-start").click();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expect(page.locator(".xterm-rows")).toContainText("visitor@", { timeout: 30_000 });
  expect(fetched.some((url) => url.endsWith(".wasm"))).toBe(true);
  // The start button hands the keyboard to the terminal: typing goes straight to the shell.
  await page.keyboard.type("echo started-$((20+22))");
  await page.keyboard.press("Enter");
  await expectRow(page, /^started-42$/);
  const id = await sessionId(page);
  expect(labelledContainers(id)).toHaveLength(1);

  // A reload of the same tab gets the same shell back without asking again.
  await page.reload();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  expect(await sessionId(page)).toBe(id);
  await page.close();
});

test("if the terminal cannot load, the panel says so and the next press tries again", async ({ page }) => {
  let refused = 0;
  await page.route("**/*.wasm", (route) => (refused++ === 0 ? route.abort() : route.continue()));
  await page.goto("/");
  await page.getByTestId("terminal-start").click();
  await expect(page.getByRole("alert")).toHaveText(/could not load/);
  // The first screen has the shell meanwhile, over the Start button: a press on it tries again.
  await expect(page.locator(".terminal-first")).toContainText("visitor@", { timeout: 30_000 });
  await page.keyboard.type("echo meanwhile-$((3*3))");
  await page.keyboard.press("Enter");
  await expect(page.locator(".terminal-first")).toContainText("meanwhile-9");
  await page.locator(".terminal-first").click();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expect(page.getByRole("alert")).toHaveCount(0);
  expect(refused).toBe(2);
  // The bundle loaded on the second try still loads its parts (they link to the same script).
  await page.getByRole("button", { name: "Replay" }).click();
  await expect(page.getByRole("button", { name: "Close replay" })).toBeVisible();
  expect(refused).toBeGreaterThan(2);
  await page.close();
});

test("unknown pages answer 404", async ({ request }) => {
  const response = await request.get("/no-such-page");
  expect(response.status()).toBe(404);
});

test("a prompt appears, and python, gcc and id work as a normal user", async ({ page }) => {
  await openShell(page);
  await runAndExpect(page, "python3 -c 'print(6*7)'", /^42$/);
  await typeCommand(page, "printf '#include <stdio.h>\\nint main(void){puts(\"hi from gcc\");}\\n' > hello.c");
  await runAndExpect(page, "gcc hello.c -o hello && ./hello", "hi from gcc");
  await runAndExpect(page, "echo uid=$(id -u)", "uid=1000");
  await runAndExpect(page, "clear; head -3 about.md", "systems engineer");
  await page.close();
});

test("the pty follows the visible terminal size", async ({ page }) => {
  await openShell(page);
  await typeCommand(page, "stty size");
  await expectRow(page, /^\d+ \d+$/);
  const before = (await screen(page)).match(/^(\d+) (\d+)$/m);
  expect(before).not.toBeNull();
  await page.setViewportSize({ width: 800, height: 700 });
  await page.waitForTimeout(500);
  await typeCommand(page, "clear; stty size");
  await expect(async () => {
    const after = (await screen(page)).match(/^(\d+) (\d+)$/m);
    expect(after).not.toBeNull();
    expect(Number(after![2])).toBeLessThan(Number(before![2]));
  }).toPass();
  await page.close();
});

test("two tabs get two containers; a reload keeps its container", async ({ context }) => {
  const first = await context.newPage();
  await openShell(first);
  const second = await context.newPage();
  await openShell(second);

  const [idA, idB] = [await sessionId(first), await sessionId(second)];
  expect(idA).not.toBe(idB);
  const [hostA, hostB] = [await hostname(first), await hostname(second)];
  expect(hostA).not.toBe(hostB);
  expect(labelledContainers(idA)).toHaveLength(1);
  expect(labelledContainers(idB)).toHaveLength(1);

  await typeCommand(first, "echo only-in-a > mine.txt");
  await runAndExpect(second, "ls mine.txt 2>&1 | head -1", "No such file");

  await first.reload();
  await expect(first.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready");
  expect(await sessionId(first)).toBe(idA);
  await runAndExpect(first, "cat mine.txt; hostname", hostA);
  await expect(first.locator(".xterm-rows")).toContainText("only-in-a");

  await first.close();
  await second.close();
});

test("closing a tab removes its container after the grace period", async ({ page }) => {
  await openShell(page);
  const id = await sessionId(page);
  expect(labelledContainers(id)).toHaveLength(1);
  const closedAt = Date.now();
  await page.close();
  await eventually(() => labelledContainers(id).length === 0, (GRACE_SECS + 20) * 1000, `container of ${id} to go`);
  const lived = (Date.now() - closedAt) / 1000;
  console.log(`container removed ${lived.toFixed(1)} s after its tab closed (grace ${GRACE_SECS} s)`);
  expect(lived).toBeGreaterThanOrEqual(GRACE_SECS - 1);
});

test("a stale session id in the tab gets a fresh sandbox", async ({ page }) => {
  await page.goto("/terminal");
  // Once the tab has stored its own id: set earlier, the stale id would be overwritten by it.
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await page.evaluate(() => sessionStorage.setItem("rootresume.session", "00000000-0000-4000-8000-000000000000"));
  await page.reload();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  expect(await sessionId(page)).not.toBe("00000000-0000-4000-8000-000000000000");
  await expect(page.locator(".xterm-rows")).toContainText("unknown or has expired");
  await page.close();
});

test("a reload restores the screen: recent output is replayed", async ({ page }) => {
  await openShell(page);
  await runAndExpect(page, "echo replayed-$((6*7))-line", "replayed-42-line");
  await page.reload();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready");
  await expectRow(page, "replayed-42-line");
  await page.close();
});
