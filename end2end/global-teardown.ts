import { eventually, GRACE_SECS, labelledContainers } from "./tests/helpers";

// Every tab the suite opened is closed: after the grace period, no container of ours may remain.
export default async function globalTeardown() {
  const before = Number(process.env.ROOTRESUME_LABELLED_BEFORE ?? "0");
  await eventually(
    () => labelledContainers().length <= before,
    (GRACE_SECS + 30) * 1000,
    `labelled containers to return to ${before} after the suite closed its tabs`,
  );
}
