import { expect, test } from "@playwright/test";
import { openShell, runAndExpect } from "./helpers";

test("the resource meter shows CPU, memory, disk and processes, and rises with the load", async ({ page }) => {
  await openShell(page);
  const meter = page.getByTestId("meter");
  await expect(meter).toBeVisible();
  await expect(meter).toHaveAttribute("aria-label", "Resources of this sandbox");
  for (const term of ["CPU", "Memory", "Disk", "Processes"]) {
    await expect(meter.getByRole("term").filter({ hasText: term })).toBeVisible();
  }
  const figure = (name: string) => page.locator(`[data-meter="${name}"]`);
  await expect(figure("memory")).toHaveText(/^\d+\.\d of 128\.0 MiB$/);
  await expect(figure("processes")).toHaveText(/^\d+ of 128$/);
  await expect(figure("disk")).toHaveText(/^home \d+\.\d of 50\.0 MiB, \/tmp 0\.0 of 50\.0 MiB$/, { timeout: 20_000 });

  await runAndExpect(page, "yes > /dev/null & echo started-$!", /^started-\d+$/);
  await expect(async () => {
    const cpu = Number((await figure("cpu").textContent())?.replace(" %", ""));
    expect(cpu, "CPU under yes").toBeGreaterThanOrEqual(80);
  }).toPass({ timeout: 20_000 });
  await runAndExpect(page, "kill %1; head -c 20M /dev/zero > /tmp/twenty && echo written", /^written$/);
  await expect(figure("disk")).toHaveText(/\/tmp 20\.0 of 50\.0 MiB$/, { timeout: 20_000 });
  await page.close();
});
