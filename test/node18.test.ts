// The pam-mapi command under Debian 12's own Node.js 18 (the nodejs package the .deb recommends there), against the
// real Kopano emulator: every command gives the same output and exit code as under this machine's Node, and the
// emulator itself runs under 18. Debian's packages are fetched and unpacked by scripts/debian-node18.sh (cached in
// build/node18) and run in a private mount namespace (test/helpers/node18.ts); the machine's Node is untouched.
// Needs root (unshare -m, mount), apt with Debian 12's archive, `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./helpers/guest.js";
import { debianNode18Root, underNode18 } from "./helpers/node18.js";
import { freePort } from "./helpers/ports.js";
import { cliBin, startCliEmulator, type CliEmulator } from "./helpers/cli.js";
import { runProcess, type Outcome } from "./helpers/process.js";
import { makeTestPki } from "./helpers/tls.js";

const bin = cliBin;
const version: string = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;

type Node = "node18" | "machine";
type Run = Outcome;

let root = "";
let tmp = "";

/** `pam-mapi args` under Debian's Node 18 (inside the namespace) or this machine's Node. */
function commandFor(node: Node, args: string[]): [string, string[]] {
  return node === "node18" ? underNode18(root, "/usr/bin/node", [bin, ...args]) : [process.execPath, [bin, ...args]];
}
const clean = { cwd: repoRoot, env: { PATH: process.env.PATH } };
/** `pam-mapi args` under `node`, with a clean environment. */
function spawnWith(node: Node, args: string[]) {
  const [command, argv] = commandFor(node, args);
  return spawn(command, argv, { ...clean, stdio: ["pipe", "pipe", "pipe"] });
}
function run(node: Node, args: string[], input = ""): Promise<Run> {
  const [command, argv] = commandFor(node, args);
  return runProcess(command, argv, clean, input);
}
/** Timings, and the reply's length (the emulator's session ids vary in digits), differ from run to run; nothing else may. */
const steady = (text: string) => text.replace(/\d+(\.\d+)? ?(ms|s)\b/g, "N $2").replace(/\d+ received/g, "N received");

/** Runs `args` under both Nodes, expects `code` from both and the same output. */
async function same(args: string[], code: number, input = ""): Promise<Run> {
  const [old, machine] = [await run("node18", args, input), await run("machine", args, input)];
  expect({ code: old.code, stderr: steady(old.stderr) }, `Node 18: ${old.stdout}${old.stderr}`).toEqual({ code, stderr: steady(machine.stderr) });
  expect(machine.code, `this machine's Node: ${machine.stdout}${machine.stderr}`).toBe(code);
  expect(steady(old.stdout)).toBe(steady(machine.stdout));
  return old;
}

let emulator: CliEmulator;
let http = "";
let https = "";
let unix = "";
let cafile = "";
let empty = "";

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("this test runs Node 18 in a private mount namespace and must run as root");
  root = debianNode18Root();
  tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-node18-"));
  chmodSync(tmp, 0o755);
  const pki = makeTestPki(path.join(tmp, "pki"));
  cafile = pki.caFile;
  empty = path.join(tmp, "empty.conf");
  writeFileSync(empty, "", { mode: 0o644 });
  emulator = await startCliEmulator(tmp, pki);
  ({ http, https, unix } = emulator);
}, 300_000);

afterAll(async () => {
  await emulator?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("Debian 12's Node.js 18 in the namespace", () => {
  it("is /usr/bin/node there, while this machine's node stays as it is", async () => {
    const [command, args] = underNode18(root, "/usr/bin/node", ["-p", "process.version + ' ' + process.execPath"]);
    const inside = (await runProcess(command, args, { stdio: ["ignore", "pipe", "inherit"] })).stdout.trim();
    expect(inside).toMatch(/^v18\.\d+\.\d+ \/usr\/bin\/node$/);
    expect(readFileSync(path.join(repoRoot, "build/node18/version"), "utf8")).toMatch(/^nodejs 18\.\S+\+dfsg\S* \(v18\./);
    expect(process.version).not.toBe(inside.split(" ")[0]);
  });

  it("is the node the installed launcher runs (scripts/pam-mapi.launcher.sh, the `node` on PATH)", async () => {
    const launcher = path.join(tmp, "pam-mapi");
    writeFileSync(launcher, readFileSync(path.join(repoRoot, "scripts/pam-mapi.launcher.sh"), "utf8").replaceAll("@LIBDIR@", repoRoot), { mode: 0o755 });
    const [command, args] = underNode18(root, launcher, ["--version"]);
    const r = await runProcess(command, args, { env: { PATH: "/usr/bin:/bin" }, stdio: ["ignore", "pipe", "pipe"] });
    expect(r).toEqual({ code: 0, stdout: `pam-mapi ${version}\n`, stderr: "" });
  });
});

describe("pam-mapi under Node 18 and under this machine's Node", () => {
  it("--version", async () => {
    const r = await same(["--version"], 0);
    expect(r.stdout).toBe(`pam-mapi ${version}\n`);
  });

  it("config: the effective settings, and a configuration error with its line", async () => {
    const good = path.join(tmp, "good.conf");
    writeFileSync(good, `socket = ${http}\ntimeout = 5\n\n[imap]\nsocket = ${https}\ncafile = ${cafile}\n`, { mode: 0o644 });
    const r = await same(["config", "--config", good], 0);
    expect(r.stdout).toContain("configuration is valid");
    const bad = path.join(tmp, "bad.conf");
    writeFileSync(bad, `socket = ${http}\n\nno_such_key = 1\n`, { mode: 0o644 });
    expect((await same(["config", "--config", bad], 3)).stdout).toMatch(/bad\.conf:3: unknown key/);
  });

  it.each([
    ["the right password over http", "alice", "Secr3t!", () => [`socket=${http}`], 0, /result: PAM_SUCCESS/],
    ["a wrong password", "alice", "wrong", () => [`socket=${http}`], 1, /result: PAM_AUTH_ERR/],
    ["the right password over https (cafile=)", "alice", "Secr3t!", () => [`socket=${https}`, `cafile=${cafile}`], 0, /TLSv1\.[23]/],
    ["the right password over the unix socket", "bob", "hunter2 ü", () => [`socket=${unix}`], 0, /result: PAM_SUCCESS/],
  ])("check: %s", async (_what, user, password, moduleArgs, code, shows) => {
    const args = moduleArgs().flatMap((a) => ["--arg", a]);
    const r = await same(["check", user, "--config", empty, "--password-stdin", ...args], code, `${password}\n`);
    expect(r.stdout).toMatch(shows);
  });

  it("check: a server that is down (exit 4)", async () => {
    const port = await freePort();
    const r = await same(["check", "alice", "--config", empty, "--password-stdin", "--arg", `socket=http://127.0.0.1:${port}/`], 4, "Secr3t!\n");
    expect(r.stdout).toMatch(/result: PAM_AUTHINFO_UNAVAIL/);
    expect(r.stdout).toContain("ECONNREFUSED");
  });
});

describe("pam-mapi emulate under Node 18", () => {
  /** Starts `emulate` under `node`; resolves with its banner once it listens. */
  function emulate(node: Node) {
    const child = spawnWith(node, ["emulate", "--http", "127.0.0.1:0"]);
    child.stdin.end();
    let stdout = "";
    const banner = new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c) => {
        stdout += c;
        if (stdout.includes("stop with Ctrl-C")) resolve(stdout);
      });
      child.on("exit", (code) => reject(new Error(`emulate under ${node} exited with ${code}: ${stdout}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, banner, exited, output: () => stdout };
  }

  it("serves the demo users (checked under both Nodes), prints the same banner and stops cleanly on SIGTERM", async () => {
    const old = emulate("node18");
    const machine = emulate("machine");
    try {
      const [oldBanner, machineBanner] = await Promise.all([old.banner, machine.banner]);
      const port = (text: string) => text.replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT");
      expect(port(oldBanner)).toBe(port(machineBanner));
      const url = /^listening: (\S+)$/m.exec(oldBanner)![1];
      for (const node of ["node18", "machine"] as const) {
        const r = await run(node, ["check", "alice", "--config", empty, "--password-stdin", "--arg", `socket=${url}`], "Secr3t!\n");
        expect(r.code, `${node}: ${r.stdout}${r.stderr}`).toBe(0);
        const wrong = await run(node, ["check", "alice", "--config", empty, "--password-stdin", "--arg", `socket=${url}`], "wrong\n");
        expect(wrong.code, `${node}: ${wrong.stdout}${wrong.stderr}`).toBe(1);
      }
    } finally {
      old.child.kill("SIGTERM");
      machine.child.kill("SIGTERM");
    }
    expect(await old.exited).toBe(0);
    expect(await machine.exited).toBe(0);
    expect(old.output()).toContain("emulator stopped");
  });
});

describe("the version gate in bin/pam-mapi.mjs", () => {
  /** This machine's Node made to report `reported` (a preload redefines process.version and process.versions.node). */
  function runReporting(reported: string) {
    const fake = path.join(tmp, `reports-${reported}.cjs`);
    writeFileSync(fake, `Object.defineProperty(process.versions, "node", { value: ${JSON.stringify(reported)} });\n` +
      `Object.defineProperty(process, "version", { value: ${JSON.stringify(`v${reported}`)} });\n`);
    return runProcess(process.execPath, ["--require", fake, bin, "--version"], { env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] });
  }

  it.each(["18.18.2", "16.20.2", "12.22.12"])("refuses Node %s with a cause and a fix (exit 5), loading nothing else", async (reported) => {
    const r = await runReporting(reported);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`pam-mapi: Node.js v${reported} is too old; pam-mapi needs Node.js 18.19 or later\nfix: apt install nodejs`);
  });

  it.each(["18.19.0", "18.20.4", "20.19.0", "24.0.0"])("runs under Node %s", async (reported) => {
    const r = await runReporting(reported);
    expect(r).toEqual({ code: 0, stdout: `pam-mapi ${version}\n`, stderr: "" });
  });

  it("agrees with package.json engines", () => {
    expect(JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).engines).toEqual({ node: ">=18.19.0" });
    expect(readFileSync(bin, "utf8")).toContain("const MINIMUM = [18, 19];");
  });
});
