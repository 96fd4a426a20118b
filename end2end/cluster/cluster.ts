import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Page } from "@playwright/test";

const SCRIPT = join(__dirname, "..", "..", "scripts", "cluster.sh");

/** Runs `scripts/cluster.sh ARGS…` (with this process's environment: the same cluster). */
export function cluster(...args: string[]): string {
  return execFileSync(SCRIPT, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** The replicas' names (r1, r2, …). */
export function replicas(): string[] {
  return cluster("replicas").split("\n").filter(Boolean);
}

/** A running part's pid. */
export function pidOf(part: string): number {
  return Number(cluster("pid", part));
}

/** The value of `rootresume_sessions_live` on a replica's own address (loopback: allowed), or
 *  null when it does not answer. */
export async function liveSessions(replica: string): Promise<number | null> {
  try {
    const response = await fetch(`http://${cluster("addr", replica)}/metrics`, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return null;
    const match = (await response.text()).match(/^rootresume_sessions_live(?:\{[^}]*\})?\s+([0-9.e+]+)\s*$/m);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** The tab's terminal sockets: each handshake's response headers (lower-case names), and how
 *  many sockets closed. Read through the DevTools protocol, the only way to see a WebSocket
 *  upgrade's response headers. Call before the page loads. */
export async function watchSockets(page: Page) {
  const sockets = { handshakes: [] as Record<string, string>[], closed: 0 };
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketHandshakeResponseReceived", (event) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(event.response.headers)) headers[name.toLowerCase()] = String(value);
    sockets.handshakes.push(headers);
  });
  page.on("websocket", (socket) => socket.on("close", () => sockets.closed++));
  return sockets;
}

export type Sockets = Awaited<ReturnType<typeof watchSockets>>;

/** Which replica holds the tab. First the metrics: the one replica with a live session (each
 *  test opens one tab at a time). If that is not conclusive (no replica, or several, e.g. when
 *  the count is cluster-wide), the replica that answered the tab's latest WebSocket upgrade: the
 *  server's `x-rootresume-replica` header, else the one HAProxy adds (`x-rootresume-lb-server`). */
export async function holder(sockets: Sockets): Promise<{ replica: string; how: string }> {
  const names = replicas();
  const counts = await Promise.all(names.map(liveSessions));
  const report = names.map((name, i) => `${name}=${counts[i] ?? "?"}`).join(" ");
  const withSessions = names.filter((_, i) => (counts[i] ?? 0) >= 1);
  if (withSessions.length === 1) return { replica: withSessions[0], how: `metrics (rootresume_sessions_live ${report})` };
  const last = sockets.handshakes.at(-1);
  const named = last?.["x-rootresume-replica"] ?? last?.["x-rootresume-lb-server"];
  if (named && names.includes(named)) {
    return { replica: named, how: `the socket's upgrade response (metrics inconclusive: ${report})` };
  }
  throw new Error(`cannot tell which replica holds the tab: rootresume_sessions_live ${report}, no replica header on the upgrade`);
}
