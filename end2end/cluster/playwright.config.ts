import { defineConfig } from "@playwright/test";

// The cluster suite: runs against a cluster started by `scripts/cluster.sh up` (scripts/test.sh
// does it), through its HAProxy. The browser is Debian's Chromium, as in ../playwright.config.ts.
export default defineConfig({
  testDir: ".",
  timeout: 240_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.RR_CLUSTER_URL ?? `http://127.0.0.1:${process.env.RR_CLUSTER_LB_PORT ?? "8080"}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
      ],
    },
    viewport: { width: 1200, height: 900 },
  },
});
