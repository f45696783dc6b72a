// `pam-mapi check`'s "still waiting ... deadline in N" line: the time left must be what is left when the line is
// written, so elapsed + remaining stays the per-server timeout (it was one waiting interval too high).
import { afterAll, beforeAll, expect, it } from "vitest";
import net from "node:net";
import path from "node:path";
import { repoRoot } from "./helpers/guest.js";

const { SyncTransport } = await import(path.join(repoRoot, "build/host/transport/sync-transport.js"));
const { parseServerList } = await import(path.join(repoRoot, "build/host/server-url.js"));

// Accepts (the kernel completes the handshake from the backlog) and never answers.
const silent = net.createServer((socket) => socket.on("error", () => {}));
beforeAll(() => new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve)));
afterAll(() => { silent.close(); });

it("counts the deadline down from the timeout, not one interval above it", () => {
  const port = (silent.address() as net.AddressInfo).port;
  const timeoutMs = 2000;
  const seen: Array<{ elapsedMs: number; remainingMs: number }> = [];
  const transport = new SyncTransport({
    servers: parseServerList([`http://127.0.0.1:${port}/`]), timeoutMs, userAgent: "test", waitingIntervalMs: 400,
    onWaiting: (w: { elapsedMs: number; remainingMs: number }) => seen.push(w),
  });
  try {
    const result = transport.post(0, new Uint8Array(16));
    expect(result).toEqual({ tag: "err", val: "timeout" });
  } finally {
    transport.close();
  }
  expect(seen.length).toBeGreaterThanOrEqual(3);
  for (const w of seen.filter((x) => x.remainingMs > 0)) {
    // Before the fix the sum was timeout + 400 ms (the remaining time from before the wait).
    expect(w.elapsedMs + w.remainingMs).toBeGreaterThan(timeoutMs - 150);
    expect(w.elapsedMs + w.remainingMs).toBeLessThan(timeoutMs + 150);
  }
});
