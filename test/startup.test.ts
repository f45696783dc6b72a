// What each `pam-mapi` command loads at start-up (docs/performance.md, "The pam-mapi command's start-up"): the
// timings themselves are a benchmark (bench/cli.mjs), but what keeps them low is structural and is pinned here —
// `--version` and `help` load no command, `config` never loads TLS or crypto, and `check` against an http:// server
// loads neither in the main thread (the system CA store is not parsed). Node's own list of the built-in modules a
// process loaded (process.moduleLoadList) is written out at exit by a preload.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./helpers/guest.js";

const bin = path.join(repoRoot, "bin/pam-mapi.mjs");
const { startEmulator, loadUserDb } = await import(path.join(repoRoot, "build/host/emulator/index.js"));

let tmp = "";
let emulator: { urls: string[]; close(): Promise<void> };
let empty = "";

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-startup-"));
  writeFileSync(path.join(tmp, "record.cjs"),
    'process.on("exit", () => require("fs").writeFileSync(process.env.PAM_MAPI_TEST_MODULES, JSON.stringify(process.moduleLoadList)));\n');
  empty = path.join(tmp, "empty.conf");
  writeFileSync(empty, "", { mode: 0o644 });
  emulator = await startEmulator({ users: loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json")), listen: [{ http: { host: "127.0.0.1", port: 0 } }] });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs pam-mapi ARGS; resolves with its exit code and the built-in modules its main thread loaded (names only). */
function builtinsLoadedBy(args: string[], input = ""): Promise<{ code: number | null; builtins: string[]; output: string }> {
  const out = path.join(tmp, `modules-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--require", path.join(tmp, "record.cjs"), bin, ...args],
      { env: { PATH: process.env.PATH, PAM_MAPI_TEST_MODULES: out }, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const list: string[] = JSON.parse(readFileSync(out, "utf8"));
      resolve({ code, output, builtins: list.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice("NativeModule ".length)) });
    });
    child.stdin.end(input);
  });
}

const TLS_AND_CRYPTO = ["crypto", "tls", "https", "internal/crypto/x509"];

describe("what a command loads", () => {
  it("--version and help load no command: no transport, no crypto", async () => {
    // (node:net is there anyway: stdout is a pipe here, which Node drives through a net.Socket.)
    for (const args of [["--version"], ["help"], ["--help"]]) {
      const r = await builtinsLoadedBy(args);
      expect(r.code, r.output).toBe(0);
      for (const m of ["worker_threads", ...TLS_AND_CRYPTO]) expect(r.builtins, `${args.join(" ")} loaded ${m}`).not.toContain(m);
    }
  });

  it("config with an http:// server loads no TLS and no crypto", async () => {
    const r = await builtinsLoadedBy(["config", "--config", empty, "--arg", `socket=${emulator.urls[0]}`]);
    expect(r.code, r.output).toBe(0);
    for (const m of TLS_AND_CRYPTO) expect(r.builtins, `config loaded ${m}`).not.toContain(m);
  });

  it("check against an http:// server loads no TLS and no crypto in the main thread, and succeeds", async () => {
    const r = await builtinsLoadedBy(["check", "alice", "--password-stdin", "--config", empty, "--arg", `socket=${emulator.urls[0]}`], "Secr3t!\n");
    expect(r.code, r.output).toBe(0);
    expect(r.builtins).toContain("worker_threads"); // the transport ran
    for (const m of TLS_AND_CRYPTO) expect(r.builtins, `check loaded ${m}`).not.toContain(m);
  });

  it("config with an https:// server does load crypto (the control: the list shows what a command loads)", async () => {
    const r = await builtinsLoadedBy(["config", "--config", empty, "--arg", "socket=https://127.0.0.1:1/"]);
    expect(r.code, r.output).toBe(0);
    expect(r.builtins).toContain("crypto");
  });
});
