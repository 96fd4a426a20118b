import { labelledContainers } from "./tests/helpers";

// Remember how many labelled containers existed before the suite, for the teardown's check.
export default async function globalSetup() {
  process.env.ROOTRESUME_LABELLED_BEFORE = String(labelledContainers().length);
}
