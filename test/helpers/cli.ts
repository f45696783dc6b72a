// The pam-mapi command (bin/pam-mapi.mjs, the built host) as a child process, and the in-process Kopano emulator the
// CLI tests check against: the run, emulate-banner and emulator start-up code the CLI test files share.
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./guest.js";
import { runProcess, type Outcome } from "./process.js";

export const cliBin = path.join(repoRoot, "bin/pam-mapi.mjs");

let readableBin: string | undefined;

/** The command as another user (nobody, www-data) runs it: `make install`'s self-contained copy (scripts/install.sh
 *  with DESTDIR) in a world-readable directory, made once per process, since the checkout may sit where only root
 *  can enter. */
export function readableCliBin(): string {
  if (readableBin === undefined) {
    const root = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-cli-"));
    chmodSync(root, 0o755);
    execFileSync("bash", [path.join(repoRoot, "scripts/install.sh")], {
      cwd: repoRoot, env: { ...process.env, DESTDIR: root, PREFIX: "/usr" }, stdio: "ignore",
    });
    process.once("exit", () => rmSync(root, { recursive: true, force: true }));
    readableBin = path.join(root, "usr/lib/pam-mapi/bin/pam-mapi.mjs");
  }
  return readableBin;
}

/** `pam-mapi args` under this machine's Node, with only PATH (plus `env`) in its environment. */
export function runCli(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return runProcess(process.execPath, [cliBin, ...args], { env: { PATH: process.env.PATH, ...env } }, input);
}

/** Resolves with everything `pam-mapi emulate` (already spawned as `child`) printed once its banner says it is up;
 *  rejects if it exits first. */
export function emulateBanner(child: ChildProcess, what = "emulate"): Promise<string> {
  let stdout = "";
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (c) => {
      stdout += c;
      if (stdout.includes("stop with Ctrl-C")) resolve(stdout);
    });
    child.on("exit", (code) => reject(new Error(`${what} exited with ${code}: ${stdout}`)));
  });
}

export interface CliEmulator { close(): Promise<void>; http: string; https: string; unix: string }

/** The built Kopano emulator (profile kopano-11, the demo users) in this process, on http, https (the test PKI's key
 *  and certificate) and a unix socket in `dir`. */
export async function startCliEmulator(dir: string, pki: { key: string; cert: string }): Promise<CliEmulator> {
  const { startEmulator, loadUserDb } = await import(path.join(repoRoot, "build/host/emulator/index.js"));
  const emulator: { urls: string[]; close(): Promise<void> } = await startEmulator({
    profile: "kopano-11",
    users: loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json")),
    listen: [
      { http: { host: "127.0.0.1", port: 0 } },
      { https: { host: "127.0.0.1", port: 0, key: readFileSync(pki.key), cert: readFileSync(pki.cert) } },
      { unix: { path: path.join(dir, "server.sock") } },
    ],
  });
  const url = (scheme: string) => emulator.urls.find((u) => u.startsWith(scheme))!;
  return { close: () => emulator.close(), http: url("http:"), https: url("https:"), unix: url("file:") };
}
