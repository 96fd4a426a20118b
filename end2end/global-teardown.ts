import { eventually, GRACE_SECS, labelledContainers } from "./tests/helpers";

// Every tab the suite opened is closed: after the grace period, only the warm pool may remain
// (the server removes it when Playwright stops it, see playwright.config.ts; test.sh checks that).
export default async function globalTeardown() {
  const pool = Number(process.env.ROOTRESUME_SESSIONS_POOL_SIZE ?? "4");
  const before = Number(process.env.ROOTRESUME_LABELLED_BEFORE ?? "0") + pool;
  await eventually(
    () => labelledContainers().length <= before,
    (GRACE_SECS + 30) * 1000,
    `labelled containers to return to ${before} after the suite closed its tabs`,
  );
}
