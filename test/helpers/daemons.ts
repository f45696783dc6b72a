// Real PAM consumers for end-to-end tests: saslauthd, Apache httpd with mod_authnz_pam, Postfix (SMTP AUTH through
// saslauthd). Nothing is written to /etc: PAM services live in a private directory that pam_wrapper puts in place of
// /etc/pam.d, and every daemon runs from its own generated configuration in a temp dir.
// Background and traps: /work/shared/docs/pam-consumers.md.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { freePort } from "./ports.js";
import { isolateModuleLines, readableCopy } from "./pam.js";
export { freePort };

export const PAM_WRAPPER_LIB = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
export const WWW_DATA_UID = 33;

// ---------------------------------------------------------------------------------------------------------------
// PAM services through pam_wrapper

/**
 * Daemons load modules as other users (Apache as www-data): every absolute module path on a PAM line becomes a
 * world-readable copy (readableCopy).
 */
function withReadableModules(line: string): string {
  return line.replace(/(^|\s)(\/\S+\.so)(?=\s|$)/g, (_all, space: string, file: string) => space + readableCopy(file));
}

/**
 * A directory that pam_wrapper uses instead of /etc/pam.d. Every daemon copies it at its first pam_start, so write it
 * before starting the daemon. World-readable: Apache workers copy it again as www-data after fork.
 */
export function writePamServiceDir(dir: string, services: Record<string, string>): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  // Without `other`, pam_start fails for unknown services; with Debian's it would load pam_unix. Deny everything.
  const files: Record<string, string> = {
    other: "auth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n",
    ...services,
  };
  for (const [name, text] of Object.entries(files)) {
    const lines = isolateModuleLines(text.replace(/\n$/, "").split("\n")).map(withReadableModules);
    writeFileSync(path.join(dir, name), lines.join("\n") + "\n", { mode: 0o644 });
  }
  return dir;
}

/** Environment that makes libpam read `serviceDir` instead of /etc/pam.d; module syslog lines go to stderr. */
export function pamWrapperEnv(serviceDir: string): Record<string, string> {
  return {
    LD_PRELOAD: PAM_WRAPPER_LIB,
    PAM_WRAPPER: "1",
    PAM_WRAPPER_SERVICE_DIR: serviceDir,
    // 2 = debug: pam_syslog() at LOG_NOTICE/INFO/DEBUG shows up too (there is no syslog daemon here).
    PAM_WRAPPER_DEBUGLEVEL: "2",
  };
}

/**
 * pam_wrapper copies the service dir to /tmp/pam.X (one character, so at most 62 of them) and removes it at normal
 * exit; processes killed by a signal leave theirs behind. Remove those whose owner (the `pid` file) is dead or a
 * zombie. Directories without a pid file may be in the middle of being created by someone else: leave them.
 */
export function removeDeadPamWrapperDirs(): string[] {
  const removed: string[] = [];
  for (const name of readdirSync("/tmp")) {
    if (!/^pam\.[A-Za-z0-9]$/.test(name)) continue;
    const dir = path.join("/tmp", name);
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(path.join(dir, "pid"), "utf8").trim(), 10);
    } catch {
      continue;
    }
    if (!Number.isInteger(pid) || pid <= 0 || isRunning(pid)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface ProcStat { pid: number; state: string; ppid: number; pgrp: number }

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { pid, state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie. */
export function isRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

/** Live (non-zombie) processes whose /proc stat matches. */
function liveProcesses(match: (stat: NonNullable<ReturnType<typeof procStat>>) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.state !== "Z" && stat.state !== "X" && match(stat)) found.push(stat.pid);
  }
  return found;
}

/** Live (non-zombie) processes of process group `pgrp`. */
export function processGroupMembers(pgrp: number): number[] {
  return liveProcesses((stat) => stat.pgrp === pgrp);
}

/** Live (non-zombie) children of `ppid`. */
export function childProcesses(ppid: number): number[] {
  return liveProcesses((stat) => stat.ppid === ppid);
}

/** Real, effective, saved and filesystem uid of a process, from /proc/PID/status. */
export function processUids(pid: number): number[] {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const line = /^Uid:\s+(.*)$/m.exec(status);
  if (!line) throw new Error(`no Uid line for pid ${pid}`);
  return line[1].trim().split(/\s+/).map(Number);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// Process groups of daemons that are running. If the test process dies without stopping them (a crash, a killed
// worker), SIGKILL them on the way out rather than leave them behind.
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pgrp of liveGroups) killGroup(pgrp);
});

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal name) once the process has been reaped. */
  exited: Promise<number | string>;
}

/**
 * Start a daemon in its own session and process group (setsid): saslauthd's master kills its whole process group on
 * SIGTERM and must not take the test runner with it. stdout and stderr go to `logPath`.
 */
export function spawnDetached(command: string, args: string[], env: Record<string, string>, logPath: string): Spawned {
  const log = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, { env: { ...process.env, ...env }, detached: true, stdio: ["ignore", log, log] });
  } finally {
    closeSync(log);
  }
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  liveGroups.add(child.pid);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    child.once("error", () => resolve("spawn-error"));
  });
  return { child, pid: child.pid, exited };
}

/** Rewrites a daemon's command line, e.g. to start it inside a private mount namespace (test/helpers/system-view.ts). */
export type CommandWrapper = (command: string, args: string[]) => [string, string[]];
const asIs: CommandWrapper = (command, args) => [command, args];

/** Run a short command to completion; output goes to `logPath`. */
async function run(command: string, args: string[], logPath: string, env: Record<string, string> = {}): Promise<number> {
  const log = openSync(logPath, "a");
  try {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", log, log] });
    const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
    return code ?? (signal ? 128 : 1);
  } finally {
    closeSync(log);
  }
}

/**
 * Stop a daemon that leads its own process group: `signal` to the leader, SIGKILL after `graceMs`, then SIGKILL to
 * whatever is left in the group (preforked children whose master is gone). Only ever signals our own group.
 */
export async function stopProcessGroup(leader: number, exited: Promise<unknown> | undefined, signal: NodeJS.Signals, graceMs = 5000) {
  const pgrp = leader;
  liveGroups.add(pgrp);
  try {
    process.kill(leader, signal);
  } catch {
    /* already gone */
  }
  const leaderGone = exited
    ? Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])
    : waitFor("leader exit", graceMs, () => (isRunning(leader) ? undefined : true)).catch(() => false);
  if (!(await leaderGone)) killGroup(pgrp);
  if (exited) await exited;
  await waitFor(`process group ${pgrp} to exit`, graceMs, () => {
    if (processGroupMembers(pgrp).length === 0) return true;
    killGroup(pgrp);
    return undefined;
  });
  liveGroups.delete(pgrp);
}

/**
 * saslauthd's master kills its process group and exits at once on SIGTERM: its preforked children outlive it, are
 * re-parented to PID 1 and linger as zombies. Stopping the children first lets the master reap them.
 */
async function stopChildrenFirst(leader: number, graceMs = 3000) {
  const children = childProcesses(leader);
  for (const pid of children) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      /* already gone */
    }
  }
  await waitFor("the master to reap its children", graceMs, () => (children.every((pid) => procStat(pid) === undefined) ? true : undefined))
    .catch(() => undefined); // the group stop that follows deals with stragglers
}

/** Run every stop function even if some fail (for afterAll), then rethrow the first failure. */
export async function stopAll(...stops: Array<() => Promise<unknown> | unknown>): Promise<void> {
  const failures: unknown[] = [];
  for (const stop of stops) {
    try {
      await stop();
    } catch (error) {
      failures.push(error);
    }
  }
  removeDeadPamWrapperDirs();
  if (failures.length) throw failures[0];
}

function killGroup(pgrp: number) {
  try {
    process.kill(-pgrp, "SIGKILL");
  } catch {
    /* empty group */
  }
}

/** A fresh temp dir that other users can enter: Apache workers (www-data) and Postfix's smtpd (postfix) must reach
 * PAM service files, sockets and documents in it. */
export function sharedTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Fail early, with a reason, if an unprivileged process could not read `file`: a pam_wrapper that cannot copy its
 * service dir in an Apache worker calls exit(1), which looks like a dropped connection.
 */
export function assertReadableByOthers(file: string) {
  const resolved = path.resolve(file);
  for (let dir = path.dirname(resolved); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) throw new Error(`${dir} is not searchable by other users (needed for ${resolved})`);
    if (dir === "/") break;
  }
  const stat = statSync(resolved);
  const needed = stat.isDirectory() ? 0o005 : 0o004;
  if ((stat.mode & needed) !== needed) throw new Error(`${resolved} is not readable by other users`);
  if (stat.isDirectory()) {
    for (const name of readdirSync(resolved)) {
      if ((statSync(path.join(resolved, name)).mode & 0o004) === 0) throw new Error(`${resolved}/${name} is not readable by other users`);
    }
  }
}

export function readIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// saslauthd

export type SaslauthdReply = "OK" | `NO${string}`;

/**
 * One request over saslauthd's unix socket: four counted strings (uint16 big-endian length + bytes, no NUL) —
 * login, password, service, realm — answered by one counted string, "OK" or "NO <reason>". One request per
 * connection; the server closes after replying.
 */
export function saslauthdRequest(socketPath: string, login: string, password: string, service: string, realm = ""): Promise<SaslauthdReply> {
  const counted = (s: string) => {
    const bytes = Buffer.from(s, "utf8");
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return [length, bytes];
  };
  const request = Buffer.concat([login, password, service, realm].flatMap(counted));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(socketPath);
    socket.setTimeout(30_000, () => socket.destroy(new Error("saslauthd did not answer within 30 s")));
    socket.once("connect", () => socket.end(request));
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.once("error", reject);
    socket.once("close", () => {
      request.fill(0);
      const reply = Buffer.concat(chunks);
      if (reply.length < 2 || reply.length !== 2 + reply.readUInt16BE(0)) {
        reject(new Error(`malformed saslauthd reply (${reply.length} bytes)`));
        return;
      }
      const text = reply.subarray(2).toString("utf8");
      if (text === "OK" || text.startsWith("NO")) resolve(text as SaslauthdReply);
      else reject(new Error(`unexpected saslauthd reply ${JSON.stringify(text)}`));
    });
  });
}

export interface Saslauthd {
  socketPath: string;
  auth(user: string, password: string, service: string, realm?: string): Promise<SaslauthdReply>;
  pid(): number;
  /** stderr of every saslauthd process, pam_wrapper's SYSLOG lines (the module's log) included. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * `saslauthd -a pam -d` in the foreground (no -c: its credential cache would hide repeated logins from PAM).
 * `processes` is saslauthd's -n: the master plus N-1 preforked children, all serving.
 */
export async function startSaslauthd(options: {
  serviceDir: string; env?: Record<string, string>; processes?: number; wrap?: CommandWrapper;
}): Promise<Saslauthd> {
  const dir = sharedTempDir("pam-mapi-saslauthd-");
  const muxDir = path.join(dir, "mux");
  mkdirSync(muxDir, { mode: 0o755 });
  const socketPath = path.join(muxDir, "mux");
  const logPath = path.join(dir, "saslauthd.log");
  const [command, args] = (options.wrap ?? asIs)("saslauthd", ["-a", "pam", "-d", "-n", String(options.processes ?? 2), "-m", muxDir]);
  const daemon = spawnDetached(command, args, { ...pamWrapperEnv(options.serviceDir), ...options.env }, logPath);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await stopChildrenFirst(daemon.pid);
      await stopProcessGroup(daemon.pid, daemon.exited, "SIGTERM");
    } finally {
      removeDeadPamWrapperDirs();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await waitFor("saslauthd to listen", 15_000, () => {
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
        throw new Error(`saslauthd exited during start-up:\n${readIfExists(logPath)}`);
      }
      return readIfExists(logPath).includes("listening on socket") && existsSync(socketPath) ? true : undefined;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    socketPath,
    auth: (user, password, service, realm) => saslauthdRequest(socketPath, user, password, service, realm),
    pid: () => daemon.pid,
    log: () => readIfExists(logPath),
    stop,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Apache httpd + mod_authnz_pam

export interface Apache {
  /** Base URL; /public.txt is open, /private/secret.txt needs PAM Basic auth. */
  url: string;
  pid(): number;
  errorLog(): string;
  /** One line per request: `<worker pid> <thread id> <user> <status> "<request line>"`. */
  accessLog(): string;
  stop(): Promise<void>;
}

const MODULES = "/usr/lib/apache2/modules";
const START_SERVERS = 2;
/** A PAM-protected path of every generated httpd.conf whose service is not in the service dir (`other`: pam_deny). */
const PAM_WRAPPER_INIT_PATH = "/pam-wrapper-init";

function httpdConf(o: { dir: string; port: number; mpm: string; pamService: string; requireAccount: boolean; location?: string }): string {
  const require = o.requireAccount ? `Require pam-account ${o.pamService}` : "Require valid-user";
  const location = o.location ?? `<Location /private>
  AuthType Basic
  AuthName "pam_mapi"
  AuthBasicProvider PAM
  AuthPAMService ${o.pamService}
  ${require}
</Location>`;
  return `# generated by test/helpers/daemons.ts
ServerRoot "/etc/apache2"
ServerName consumers.localhost
PidFile ${o.dir}/run/httpd.pid
DefaultRuntimeDir ${o.dir}/run
Mutex file:${o.dir}/run default
ErrorLog ${o.dir}/logs/error.log
LogLevel info authnz_pam:debug
Listen 127.0.0.1:${o.port}
User www-data
Group www-data
KeepAlive Off
Timeout 30
GracefulShutdownTimeout 3
LoadModule mpm_${o.mpm}_module ${MODULES}/mod_mpm_${o.mpm}.so
StartServers ${START_SERVERS}
ServerLimit 2
ThreadLimit 4
ThreadsPerChild 4
MinSpareThreads 4
MaxSpareThreads 8
MaxRequestWorkers 8
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule auth_basic_module ${MODULES}/mod_auth_basic.so
LoadModule authnz_pam_module ${MODULES}/mod_authnz_pam.so
LogFormat "%P %{tid}P %u %>s \\"%r\\"" workers
CustomLog ${o.dir}/logs/access.log workers
DocumentRoot ${o.dir}/htdocs
<Directory />
  Require all denied
</Directory>
<Directory ${o.dir}/htdocs>
  Require all granted
</Directory>
${location}
# For initPamWrapperInWorkers: no such service, so the service dir's other (pam_deny) answers; no module of ours runs.
<Location ${PAM_WRAPPER_INIT_PATH}>
  AuthType Basic
  AuthName "pam_wrapper init"
  AuthBasicProvider PAM
  AuthPAMService pam-wrapper-init
  Require valid-user
</Location>
`;
}

/**
 * pam_wrapper sets itself up again in every forked process (its atfork child handler clears `initialised`), lazily
 * at the process's first pam_start and without a lock: it marks itself initialised before it has copied the service
 * dir to /tmp/pam.X. The first concurrent requests in a fresh Apache worker therefore run pam_start against a missing
 * or half-copied dir (libpam falls back to `other` = pam_deny, finds no module, or aborts: 401 for a good password),
 * or two threads copy at once and one exit(1)s the worker. Make that first pam_start in every worker here, one request
 * at a time, before anyone else talks to Apache. (Only the test harness has this: libpam itself copies nothing.)
 */
async function initPamWrapperInWorkers(url: string, parent: number, accessLogPath: string, workers: number): Promise<void> {
  const initialised = () => new Set(readIfExists(accessLogPath).split("\n")
    .filter((line) => line.includes(`"GET ${PAM_WRAPPER_INIT_PATH} `)).map((line) => Number(line.split(" ")[0])));
  await waitFor(`pam_wrapper set up in all ${workers} Apache workers`, 15_000, async () => {
    const children = childProcesses(parent);
    const done = initialised();
    if (children.length >= workers && children.every((pid) => done.has(pid))) return true;
    // One at a time: which worker accepts is up to the kernel, so repeat until the access log names each of them.
    await httpStatus(url + PAM_WRAPPER_INIT_PATH, { user: "pam-wrapper-init", password: "-" }).catch(() => undefined);
    return undefined;
  });
}

/** A daemon's stop(): stop it, then remove its directory whatever happened. */
function stopThenRemove(stop: () => Promise<void>, dir: string): () => Promise<void> {
  return async () => {
    try {
      await stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/**
 * Apache from a private httpd.conf, in the foreground (-DFOREGROUND) with its real MPM: the PAM module runs as
 * www-data in threads of the worker processes. `requireAccount` uses `Require pam-account SERVICE` instead of
 * `Require valid-user` (an extra account check in a PAM handle of its own).
 */
export async function startApache(options: {
  serviceDir: string;
  pamService: string;
  requireAccount?: boolean;
  mpm?: "event" | "worker";
  /** the whole <Location /private> block instead of the generated one (a README recipe) */
  location?: string;
  wrap?: CommandWrapper;
}): Promise<Apache> {
  assertReadableByOthers(options.serviceDir);
  const dir = sharedTempDir("pam-mapi-apache-");
  for (const sub of ["run", "logs", "htdocs/private"]) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o755 });
  writeFileSync(path.join(dir, "htdocs/public.txt"), "public\n", { mode: 0o644 });
  writeFileSync(path.join(dir, "htdocs/private/secret.txt"), "secret\n", { mode: 0o644 });
  const conf = path.join(dir, "httpd.conf");
  const errorLogPath = path.join(dir, "logs/error.log");
  const accessLogPath = path.join(dir, "logs/access.log");
  const startupLog = path.join(dir, "startup.log");

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    writeFileSync(conf, httpdConf({
      dir, port, mpm: options.mpm ?? "event", pamService: options.pamService, requireAccount: options.requireAccount ?? false,
      location: options.location,
    }));
    const [command, args] = (options.wrap ?? asIs)("apache2", ["-f", conf, "-DFOREGROUND"]);
    const daemon = spawnDetached(command, args, pamWrapperEnv(options.serviceDir), startupLog);
    const url = `http://127.0.0.1:${port}`;
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      try {
        await stopProcessGroup(daemon.pid, daemon.exited, "SIGTERM", 8000);
      } finally {
        removeDeadPamWrapperDirs();
      }
    };
    try {
      await waitFor("apache to serve /public.txt", 15_000, async () => {
        if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
          throw new Error(`apache2 exited during start-up:\n${readIfExists(startupLog)}${readIfExists(errorLogPath)}`);
        }
        const status = await httpStatus(`${url}/public.txt`).catch(() => undefined);
        return status === 200 ? true : undefined;
      });
      await initPamWrapperInWorkers(url, daemon.pid, accessLogPath, START_SERVERS);
      return {
        url,
        pid: () => daemon.pid,
        errorLog: () => readIfExists(errorLogPath),
        accessLog: () => readIfExists(accessLogPath),
        stop: stopThenRemove(stop, dir),
      };
    } catch (error) {
      lastError = error;
      await stop();
      // Someone else took the port between freePort() and Listen: try another one.
      if (!/Address already in use/.test(readIfExists(startupLog) + readIfExists(errorLogPath))) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/** GET `url` on a fresh connection, optionally with Basic credentials; resolves with the status code. */
export function httpStatus(url: string, credentials?: { user: string; password: string }): Promise<number> {
  const headers: Record<string, string> = {};
  if (credentials) {
    headers.authorization = "Basic " + Buffer.from(`${credentials.user}:${credentials.password}`, "utf8").toString("base64");
  }
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, headers, timeout: 30_000 }, (response) => {
      response.resume();
      response.once("end", () => resolve(response.statusCode ?? 0));
    });
    request.once("timeout", () => request.destroy(new Error(`no answer from ${url} within 30 s`)));
    request.once("error", reject);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Postfix

export interface Postfix {
  port: number;
  /** The master daemon (it leads its own process group). */
  pid(): number;
  /** Postfix's own log (maillog_file): smtpd's SASL verdicts among others. */
  maillog(): string;
  stop(): Promise<void>;
}

// Only what an SMTP AUTH test needs, nothing chrooted (smtpd must reach the saslauthd socket in our temp dir).
function masterCf(port: number): string {
  const services = [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "proxywrite unix - - n - 1 proxymap",
    "smtp unix - - n - - smtp",
    "relay unix - - n - - smtp",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "local unix - n n - - local",
    "virtual unix - n n - - virtual",
    "lmtp unix - - n - - lmtp",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
  ];
  return `# generated by test/helpers/daemons.ts\n${services.join("\n")}\n`;
}

function mainCf(o: { etc: string; spool: string; data: string; maillog: string; pamService: string }): string {
  return `# generated by test/helpers/daemons.ts
compatibility_level = 3.6
queue_directory = ${o.spool}
data_directory = ${o.data}
myhostname = consumers.localhost
mydestination = consumers.localhost, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
# Without syslog, Postfix's errors are invisible unless it logs to a file (the prefix list must allow it).
maillog_file_prefixes = /var, /dev/stdout, ${path.dirname(o.maillog)}
maillog_file = ${o.maillog}
smtpd_tls_security_level = none
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
# = the PAM service saslauthd will use
smtpd_sasl_service = ${o.pamService}
cyrus_sasl_config_path = ${o.etc}/sasl
smtpd_relay_restrictions = permit_sasl_authenticated, reject
`;
}

/**
 * Postfix from a private config dir (`postfix -c DIR start`), smtpd on 127.0.0.1:<free port>, SMTP AUTH PLAIN/LOGIN
 * handed to saslauthd at `saslSocket` with PAM service `pamService`.
 */
export async function startPostfix(options: {
  saslSocket: string; pamService: string;
  /** sasl/smtpd.conf instead of the generated one (a README recipe); saslauthd_path is appended */
  saslConf?: string;
  /** lines appended to the generated main.cf (a README recipe; later settings win in Postfix) */
  mainCfExtra?: string;
}): Promise<Postfix> {
  const dir = sharedTempDir("pam-mapi-postfix-");
  const etc = path.join(dir, "etc");
  const spool = path.join(dir, "spool");
  const data = path.join(dir, "data");
  const maillogPath = path.join(dir, "log/maillog");
  const commandLog = path.join(dir, "postfix-command.log");
  for (const d of [etc, path.join(etc, "sasl"), spool, data, path.dirname(maillogPath)]) mkdirSync(d, { recursive: true, mode: 0o755 });
  await run("chown", ["postfix:postfix", data], commandLog);
  writeFileSync(
    path.join(etc, "sasl/smtpd.conf"),
    options.saslConf !== undefined
      ? `${options.saslConf.replace(/\n?$/, "\n")}saslauthd_path: ${options.saslSocket}\n`
      : `pwcheck_method: saslauthd\nsaslauthd_path: ${options.saslSocket}\nmech_list: PLAIN LOGIN\n`,
    { mode: 0o644 },
  );
  writeFileSync(path.join(etc, "main.cf"),
    mainCf({ etc, spool, data, maillog: maillogPath, pamService: options.pamService }) + (options.mainCfExtra ?? ""));

  const masterPid = () => {
    const text = readIfExists(path.join(spool, "pid/master.pid")).trim();
    return text ? Number.parseInt(text, 10) : undefined;
  };
  const stop = async () => {
    const pid = masterPid();
    await run("postfix", ["-c", etc, "stop"], commandLog);
    // `postfix stop` waits for the master; make sure nothing of its process group (master setsid()s) survives.
    if (pid !== undefined) await stopProcessGroup(pid, undefined, "SIGTERM");
  };

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    writeFileSync(path.join(etc, "master.cf"), masterCf(port));
    const started = await run("postfix", ["-c", etc, "start"], commandLog);
    try {
      if (started !== 0) {
        throw new Error(`postfix start failed (${started}):\n${readIfExists(commandLog)}${readIfExists(maillogPath)}`);
      }
      await waitFor("postfix smtpd to accept connections", 15_000, async () => ((await canConnect(port)) ? true : undefined));
      const master = masterPid();
      if (master === undefined) throw new Error("postfix started without a master.pid");
      liveGroups.add(master);
      return {
        port,
        pid: () => master,
        maillog: () => readIfExists(maillogPath),
        stop: stopThenRemove(stop, dir),
      };
    } catch (error) {
      lastError = error;
      await stop();
      if (!/Address already in use/.test(readIfExists(maillogPath))) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

