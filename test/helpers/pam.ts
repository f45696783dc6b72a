// Running the native module through real libpam, for tests: private PAM configuration directories, the
// pamdrive/pamthreads tools (native/tools/) and pamtester, optionally under pam_wrapper so that the module's
// pam_syslog lines (there is no /dev/log here) come back as data. Everything is asynchronous: the servers the
// module talks to usually live in the test process itself.
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { repoRoot } from "./guest.js";

export { repoRoot };
/** The real module (guest from assembly/). */
export const MODULE = path.join(repoRoot, "build/pam_mapi.so");
/** The same loader around native/testguest/, a guest that misbehaves on request (test=NAME). */
export const TEST_MODULE = path.join(repoRoot, "build/test/pam_mapi_testguest.so");
export const PAMDRIVE = path.join(repoRoot, "build/pamdrive");
export const PAMTHREADS = path.join(repoRoot, "build/pamthreads");
export const PAM_WRAPPER = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";

/** PAM result codes (Linux-PAM values) used by the tests. */
export const PAM = {
  SUCCESS: 0, SERVICE_ERR: 3, SYSTEM_ERR: 4, BUF_ERR: 5, PERM_DENIED: 6, AUTH_ERR: 7, AUTHINFO_UNAVAIL: 9,
  USER_UNKNOWN: 10, CONV_ERR: 19, IGNORE: 25, ABORT: 26,
} as const;

let ownConfig: string | undefined;
let ownDir: string | undefined;

// Removed when the test file that made it is done (vitest's worker processes are reused and then killed, so a
// process "exit" handler alone would leave one directory per file behind); outside vitest (bench/run.mjs loads
// these helpers too) at process exit.
function removeOwnConfig(): void {
  if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  ownDir = ownConfig = undefined;
}
try {
  afterAll(removeOwnConfig);
} catch {
  process.once("exit", removeOwnConfig);
}

/** An empty configuration file of the tests' own (root-owned, 0644, in a 0755 directory so www-data can read
 * it), so no test depends on the machine's /etc/security/pam_mapi.conf, which `npm run install-module` creates.
 * One per test file. */
export function isolatedConfig(): string {
  if (ownConfig === undefined) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-testconf-"));
    chmodSync(dir, 0o755);
    ownDir = dir;
    ownConfig = path.join(dir, "empty.conf");
    writeFileSync(ownConfig, "", { mode: 0o644 });
  }
  return ownConfig;
}

/** Adds `config=<isolatedConfig()>` to every line that loads a build of pam_mapi without a config= of its own. */
export function isolateModuleLines(lines: string[]): string[] {
  return lines.map((line) =>
    (line.includes(MODULE) || line.includes(TEST_MODULE)) && !/\sconfig=/.test(line) ? `${line} config=${isolatedConfig()}` : line);
}

/** A fresh private PAM directory with an `other` that denies everything (pam_wrapper and pam_start_confdir
 * both look only there). Remove it with removeConfdir. */
export function makeConfdir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pamconf-"));
  const deny = ["auth", "account", "password", "session"].map((t) => `${t} required pam_deny.so`).join("\n");
  writeFileSync(path.join(dir, "other"), deny + "\n");
  return dir;
}

export function removeConfdir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes service file `service` in `dir` (one PAM line per entry); creates the `other` file if missing. */
export function writeConfdir(dir: string, service: string, lines: string[]): string {
  if (!existsSync(path.join(dir, "other"))) {
    const deny = ["auth", "account", "password", "session"].map((t) => `${t} required pam_deny.so`).join("\n");
    writeFileSync(path.join(dir, "other"), deny + "\n");
  }
  const file = path.join(dir, service);
  writeFileSync(file, isolateModuleLines(lines).join("\n") + "\n");
  return file;
}

/** The usual stack: `auth required MODULE ARGS…` and `account required MODULE`. */
export function moduleStack(module: string, args: string[]): string[] {
  return [`auth required ${module} ${args.join(" ")}`.trim(), `account required ${module}`];
}

export interface SyslogLine {
  priority: number; // syslog priority (3 err, 4 warning, 5 notice, 6 info, 7 debug)
  message: string;
}

export interface PamRun {
  code: number | null;       // exit code (null if killed by a signal)
  signal: NodeJS.Signals | null;
  ops: Record<string, number>;       // last result of each operation (pamdrive)
  results: Array<[string, number]>;  // every "op=CODE" line in order (all rounds)
  times: Record<string, number>;     // milliseconds the last call of each operation took inside pamdrive
  stdout: string;
  stderr: string;
  syslog: SyslogLine[];      // pam_syslog lines, when run under pam_wrapper
}

export interface RunOptions {
  /** Lines fed to stdin, one per prompt (pamdrive) — usually the password. */
  input?: string[] | string;
  /** Run under pam_wrapper to collect syslog lines (default true). */
  wrapper?: boolean;
  /** pam_wrapper debug level: 2 shows LOG_DEBUG lines too (default 2). Never 3: it traces PAM_AUTHTOK. */
  debugLevel?: number;
  /** Command prefix such as ["valgrind", "--leak-check=full"]. */
  prefix?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function parseSyslog(stderr: string): SyslogLine[] {
  const out: SyslogLine[] = [];
  for (const line of stderr.split("\n")) {
    const m = /^PWRAP_\w+\[[^\]]*\] - SYSLOG\((\d+)\): (.*)$/.exec(line);
    if (m) out.push({ priority: Number(m[1]), message: m[2] });
  }
  return out;
}

function runProcess(confdir: string, argv: string[], options: RunOptions): Promise<PamRun> {
  const wrapper = options.wrapper ?? true;
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C", ...options.env };
  if (wrapper) {
    Object.assign(env, {
      LD_PRELOAD: PAM_WRAPPER,
      PAM_WRAPPER: "1",
      PAM_WRAPPER_SERVICE_DIR: confdir,
      PAM_WRAPPER_DEBUGLEVEL: String(options.debugLevel ?? 2),
    });
    if (options.prefix?.length) env.PAM_WRAPPER_DISABLE_DEEPBIND = "1";
  }
  const [cmd, ...args] = [...(options.prefix ?? []), ...argv];
  const input = options.input === undefined ? "" : Array.isArray(options.input) ? options.input.map((l) => l + "\n").join("") : options.input;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const results: Array<[string, number]> = [];
      const times: Record<string, number> = {};
      for (const line of stdout.split("\n")) {
        const t = /^(\w+)_us=(\d+)$/.exec(line);
        if (t) times[t[1]] = Number(t[2]) / 1000;
        const m = t ? null : /^(\w+)=(-?\d+)$/.exec(line);
        if (m) results.push([m[1], Number(m[2])]);
      }
      resolve({ code, signal, ops: Object.fromEntries(results), results, times, stdout, stderr, syslog: parseSyslog(stderr) });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

export interface PamdriveOptions extends RunOptions {
  repeat?: number;
  checkSignals?: boolean;
}

const readableCopies = new Map<string, string>();

/**
 * A copy of `file` (the module, pamdrive) in a world-readable directory, made once per process and file: a login run
 * as another user (nobody, www-data, Apache's workers) must load it, and the checkout may sit in a directory only
 * root can enter (nothing promises CI's clone more). The basename stays, so logs still name pam_mapi.so.
 */
export function readableCopy(file: string): string {
  let copy = readableCopies.get(file);
  if (copy === undefined) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-readable-"));
    chmodSync(dir, 0o755);
    copy = path.join(dir, path.basename(file));
    copyFileSync(file, copy);
    chmodSync(copy, 0o755);
    readableCopies.set(file, copy);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return copy;
}

/** pamdrive CONFDIR SERVICE USER OP… (ops: auth, acct, setcred, open, close, chauthtok). */
export function runPamdrive(confdir: string, service: string, user: string, ops: string[], options: PamdriveOptions = {}): Promise<PamRun> {
  const flags = [
    ...(options.repeat ? ["--repeat", String(options.repeat)] : []),
    ...(options.checkSignals ? ["--check-signals"] : []),
  ];
  // Under setpriv (another user) the tool comes from a copy that user can reach.
  const pamdrive = options.prefix?.[0] === "setpriv" ? readableCopy(PAMDRIVE) : PAMDRIVE;
  return runProcess(confdir, [pamdrive, ...flags, confdir, service, user, ...ops], options);
}

/** pamtester under pam_wrapper (it only knows pam_start, so the wrapper supplies the directory). */
export function runPamtester(confdir: string, service: string, user: string, ops: string[], options: RunOptions = {}): Promise<PamRun> {
  return runProcess(confdir, ["pamtester", "-v", service, user, ...ops], { ...options, wrapper: true });
}

/** pamthreads CONFDIR SERVICE THREADS ITERATIONS (USER PASSWORD EXPECT)…; EXPECT "A" or "A/B". */
export function runPamthreads(confdir: string, service: string, threads: number, iterations: number,
  cases: Array<[string, string, string]>, options: RunOptions = {}): Promise<PamRun> {
  return runProcess(confdir, [PAMTHREADS, confdir, service, String(threads), String(iterations), ...cases.flat()],
    { wrapper: false, ...options });
}
