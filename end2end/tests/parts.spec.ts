import { expect, test } from "@playwright/test";
import { openShell, runAndExpect } from "./helpers";

// The bundle's parts loaded on first use (app/src/terminal/lazy.rs): the first load fetches
// none of them, the feature that needs one fetches it, and a part that cannot be fetched is a
// clear note while the shell goes on.

/** The names of the parts a page fetched, by their file names (split_*, chunk_*). */
function partsOf(urls: string[]): string[] {
  return urls.map((url) => new URL(url).pathname.split("/").pop() as string).filter((name) => /^(split|chunk)_/.test(name));
}

test("the first load fetches no part; Replay fetches its own, and only once", async ({ page }) => {
  const fetched: string[] = [];
  page.on("request", (request) => fetched.push(request.url()));
  await openShell(page);
  await runAndExpect(page, "echo parts-$((2*3))", /^parts-6$/);
  expect(partsOf(fetched)).toEqual([]);
  // The loader of the parts comes with the bundle (its script imports it), the parts do not.
  expect(fetched.some((url) => url.includes("__wasm_split."))).toBe(true);

  const replay = page.getByRole("region", { name: "Replay of this sandbox's recording" });
  await page.getByRole("button", { name: "Replay" }).click();
  await expect(replay.getByRole("button", { name: "Close replay" })).toBeVisible();
  const afterReplay = partsOf(fetched);
  expect(afterReplay.some((name) => name.startsWith("split_replay."))).toBe(true);
  expect(afterReplay.some((name) => name.startsWith("split_sharing."))).toBe(false);
  await replay.getByRole("button", { name: "Close replay" }).click();
  await expect(replay).toBeHidden();
  // Opened again: drawn again, from the part already loaded.
  await page.getByRole("button", { name: "Replay" }).click();
  await expect(replay.getByRole("button", { name: "Close replay" })).toBeVisible();
  expect(partsOf(fetched)).toEqual(afterReplay);
  await page.close();
});

test("a part that cannot be fetched is a clear note, the shell goes on, and the next press loads it", async ({ page }) => {
  // Refused until the network "comes back": the fetch a pointer over the button starts, and the
  // press's own.
  let refusing = true;
  let refused = 0;
  await page.route("**/split_replay.*.wasm", (route) => (refusing ? (refused++, route.abort()) : route.continue()));
  await openShell(page);
  await page.getByRole("button", { name: "Replay" }).click();
  await expect(page.getByTestId("terminal-status")).toHaveText(/could not be loaded/);
  expect(refused).toBeGreaterThan(0);
  await runAndExpect(page, "echo still-$((4*5))", /^still-20$/);
  refusing = false;
  await page.getByRole("button", { name: "Replay" }).click();
  const replay = page.getByRole("region", { name: "Replay of this sandbox's recording" });
  await expect(replay.getByRole("button", { name: "Close replay" })).toBeVisible();
  await page.close();
});

test("a pointer over Replay starts fetching its part before the press", async ({ page }) => {
  const fetched: string[] = [];
  page.on("request", (request) => fetched.push(request.url()));
  await openShell(page);
  expect(partsOf(fetched)).toEqual([]);
  await page.getByRole("button", { name: "Replay" }).hover();
  await expect.poll(() => partsOf(fetched).some((name) => name.startsWith("split_replay."))).toBe(true);
  expect(partsOf(fetched).some((name) => name.startsWith("split_sharing."))).toBe(false);
  await page.close();
});
