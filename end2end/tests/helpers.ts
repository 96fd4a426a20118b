import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { expect, type Page } from "@playwright/test";

/** Seconds a session waits for its tab to come back; test.sh sets it for the server too. */
export const GRACE_SECS = Number(process.env.ROOTRESUME_SESSIONS_GRACE_SECS ?? "30");

/** The server's deployment name (test.sh sets it), so counts ignore other users of the engine. */
export const INSTANCE = process.env.ROOTRESUME_INSTANCE ?? "default";

/**
 * The label value of a session's containers: SHA-256 of the id's 16 bytes, first 16 bytes as
 * hex (the server's `SessionId::hash`). The id itself is on no container.
 */
export function sessionHash(session: string): string {
  const bytes = Buffer.from(session.replace(/-/g, ""), "hex");
  return createHash("sha256").update(bytes).digest("hex").slice(0, 32);
}

/** Ids of this instance's containers carrying our label (optionally for one session, by id). */
export function labelledContainers(session?: string): string[] {
  const label = session ? `rootresume.session=${sessionHash(session)}` : "rootresume.session";
  const filters = ["--filter", `label=${label}`, "--filter", `label=rootresume.instance=${INSTANCE}`];
  const out = execFileSync("docker", ["ps", "-aq", ...filters], { encoding: "utf8" });
  return out.split("\n").filter((line) => line.trim() !== "");
}

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Opens the terminal page (which starts the shell on load) and waits for the prompt. */
export async function openShell(page: Page) {
  await page.goto("/terminal");
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await expect(page.locator(".xterm-rows")).toContainText("visitor@", { timeout: 30_000 });
}

/** The terminal's visible rows, as text (xterm.js renders one element per row). */
export async function lines(page: Page): Promise<string[]> {
  const rows = await page.locator(".xterm-rows > div").allTextContents();
  return rows.map((row) => row.replace(/\u00a0/g, " ").trimEnd());
}

/** The terminal's visible text, one line per row. */
export async function screen(page: Page): Promise<string> {
  return (await lines(page)).join("\n");
}

/** Waits until some row contains `expected` (a string) or matches it (a pattern, per row). */
export async function expectRow(page: Page, expected: string | RegExp, timeout = 20_000) {
  await expect(async () => {
    const rows = await lines(page);
    const found = rows.some((row) => (typeof expected === "string" ? row.includes(expected) : expected.test(row)));
    expect(found, `no row matches ${expected} in:\n${rows.join("\n")}`).toBe(true);
  }).toPass({ timeout });
}

/** Types a command line and presses Enter. */
export async function typeCommand(page: Page, command: string) {
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
}

/** Runs a command and waits for `expected` to show on the screen. */
export async function runAndExpect(page: Page, command: string, expected: string | RegExp) {
  await typeCommand(page, command);
  await expectRow(page, expected);
}

/** This tab's session id, as kept in sessionStorage. */
export async function sessionId(page: Page): Promise<string> {
  const id = await page.evaluate(() => sessionStorage.getItem("rootresume.session"));
  expect(id, "the tab keeps its session id").toBeTruthy();
  return id as string;
}

/** The container's hostname, read from the prompt (`visitor@rr-xxxxxxxx`). */
export async function hostname(page: Page): Promise<string> {
  const match = (await screen(page)).match(/visitor@(rr-[0-9a-f]{8})/);
  expect(match, "the prompt shows the hostname").not.toBeNull();
  return (match as RegExpMatchArray)[1];
}
