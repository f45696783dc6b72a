// The tracing PAM module of test/fixtures/pam_trace.c: built once per test process into a world-readable
// directory, and the reading of its lines from a syslog capture.
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import path from "node:path";
import { sharedTempDir } from "./daemons.js";
import { repoRoot } from "./guest.js";
import type { SyslogMessage } from "./syslog-capture.js";

let built: string | undefined;

export function pamTraceModule(): string {
  if (built === undefined) {
    const dir = sharedTempDir("pam-mapi-trace-");
    const out = path.join(dir, "pam_trace.so");
    const r = spawnSync("gcc", ["-O2", "-Wall", "-Werror", "-fPIC", "-shared", "-o", out, path.join(repoRoot, "test/fixtures/pam_trace.c"), "-lpam"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building pam_trace.so failed: ${r.stderr}`);
    chmodSync(out, 0o644);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    built = out;
  }
  return built;
}

/** `lines` of a PAM service file with a tracing line in front of each of the four stacks. */
export function traced(lines: string): string {
  const module = pamTraceModule();
  return ["auth", "account", "session", "password"].map((type) => `${type} optional ${module}`).join("\n") + "\n" + lines;
}

export interface TracedCall { stage: string; flags: number; pid: number; ppid: number }

export function tracedCalls(messages: SyslogMessage[]): TracedCall[] {
  return messages.flatMap((m) => {
    const t = /pam_trace (\w+) flags=0x([0-9a-f]+) pid=(\d+) ppid=(\d+)$/.exec(m.message);
    return t ? [{ stage: t[1], flags: parseInt(t[2], 16), pid: Number(t[3]), ppid: Number(t[4]) }] : [];
  });
}
