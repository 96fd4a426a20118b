import { defineConfig } from "@playwright/test";

// The debug server scripts/build-site.sh built, started here and stopped at the end with SIGTERM
// (the server then removes its sandboxes, the warm pool too; test.sh checks none is left). With
// ROOTRESUME_BASE_URL set, the suite runs against that server instead and starts none.
const baseURL = process.env.ROOTRESUME_BASE_URL ?? "http://127.0.0.1:3000";
const target = process.env.CARGO_TARGET_DIR ?? "target";

// Debian's Chromium, never a downloaded browser.
export default defineConfig({
  testDir: "./tests",
  timeout: 90_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  globalSetup: "./global-setup.ts",
  globalTeardown: "./global-teardown.ts",
  webServer: process.env.ROOTRESUME_BASE_URL
    ? undefined
    : {
        // `exec`, so the signal reaches the server and not only the shell Playwright starts.
        command: `exec "${target}/debug/server"`,
        cwd: "..",
        url: `${baseURL}/healthz`,
        // test.sh always starts its own; a developer's running server is used as it is.
        reuseExistingServer: process.env.ROOTRESUME_E2E_NEW_SERVER !== "1",
        timeout: 60_000,
        // The server removes every sandbox on SIGTERM; give it the time it may need.
        gracefulShutdown: { signal: "SIGTERM", timeout: 20_000 },
        stdout: "pipe",
        env: {
          LEPTOS_SITE_ROOT: "target/site",
          LEPTOS_SITE_PKG_DIR: "pkg",
          LEPTOS_SITE_ADDR: new URL(baseURL).host,
        },
      },
  use: {
    baseURL,
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
