// One table of cases, each driven through both pam_mapi.so (through real libpam: build/pamdrive under
// pam_wrapper) and `pam-mapi check` (bin/pam-mapi.mjs as a subprocess), with the same configuration file, user,
// password and PAM service. Both must give the same PAM result, and where the module logs the cause, the same
// cause. So the CLI and the module cannot drift apart again (issue 13).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { makeConfdir, MODULE, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";
import { freePort } from "./helpers/ports.js";
import { repoRoot } from "./helpers/guest.js";
import { makeTestPki } from "./helpers/tls.js";

const bin = path.join(repoRoot, "bin/pam-mapi.mjs");
const { startEmulator, loadUserDb } = await import(path.join(repoRoot, "build/host/emulator/index.js"));

/** Linux-PAM's codes by number, as pamdrive prints them. */
const PAM_NAME: Record<number, string> = {
  0: "PAM_SUCCESS", 3: "PAM_SERVICE_ERR", 6: "PAM_PERM_DENIED", 7: "PAM_AUTH_ERR", 9: "PAM_AUTHINFO_UNAVAIL", 25: "PAM_IGNORE",
};
/** setpriv prefix that drops to nobody:nogroup with no supplementary groups. */
const AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

/** TODO(lead): set to true once w11-tls's native/transport.c logs the precise cause per server ("connection refused
 * (ECONNREFUSED)", "no such socket (ENOENT)", "permission denied (EACCES)", "timed out", "TLS: <reason>",
 * "HTTP status <n>", "this port speaks plain HTTP"); then every case marked sameWordsAfterTlsMerge compares the
 * module's log with check's cause as well. */
const MODULE_NAMES_TRANSPORT_CAUSES = false;

const tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-agree-"));
chmodSync(tmp, 0o755); // nobody must reach the configuration files, the sockets and the confdir
const pki = makeTestPki(path.join(tmp, "pki"));
const confdir = makeConfdir();
chmodSync(confdir, 0o755);

interface Case {
  name: string;
  /** the configuration file's text; the file is root-owned 0644 unless `prepare` changes it */
  config: string;
  user?: string;
  password?: string;
  service?: string;
  asNobody?: boolean;
  /** adjusts the files after they are written (symlinks, modes); gets the configuration path, returns the path to use */
  prepare?: (file: string) => string;
  pam: string;
  /** what libpam makes of the module's `pam` where they differ: a stack in which every module said PAM_IGNORE
   * is PAM_PERM_DENIED from pam_authenticate (the module's own PAM_IGNORE shows in its log) */
  throughLibpam?: string;
  /** the cause, matched in the module's log lines and in check's cause */
  cause?: RegExp;
  /** the cause on the CLI side only: the module's per-server line carries it only after the w11-tls merge */
  cliCause?: RegExp;
  /** cliCause is in the words w11-tls's module log line uses too: compared in both once MODULE_NAMES_TRANSPORT_CAUSES */
  sameWordsAfterTlsMerge?: boolean;
  /** a warning check prints (and the module cannot: it has no view of what the administrator meant) */
  cliWarning?: RegExp;
}

let emulator: { urls: string[]; close(): Promise<void> };
let selfSigned: { urls: string[]; close(): Promise<void> };
let wrongHost: { urls: string[]; close(): Promise<void> };
let expired: { urls: string[]; close(): Promise<void> };
const servers: Array<net.Server | http.Server> = [];
const url: Record<string, string> = {};

async function listen<T extends net.Server>(server: T, where: number | string): Promise<T> {
  servers.push(server);
  await new Promise<void>((resolve) => (typeof where === "number" ? server.listen(where, "127.0.0.1", resolve) : server.listen(where, resolve)));
  return server;
}

/** A TCP server that answers every request with `reply` (raw bytes), or does nothing when reply is null. */
async function rawServer(reply: ((socket: net.Socket) => void) | null): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    if (reply) socket.once("data", () => reply(socket));
  });
  const port = await freePort();
  await listen(server, port);
  return `http://127.0.0.1:${port}/`;
}

const users = () => loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
const https = (cert: string, key: string) => ({ https: { host: "127.0.0.1", port: 0, key: readFileSync(key), cert: readFileSync(cert) } });

beforeAll(async () => {
  emulator = await startEmulator({ profile: "kopano-11", users: users(),
    listen: [{ http: { host: "127.0.0.1", port: 0 } }, https(pki.cert, pki.key)] });
  selfSigned = await startEmulator({ profile: "kopano-11", users: users(), listen: [https(pki.selfSignedCert, pki.selfSignedKey)] });
  wrongHost = await startEmulator({ profile: "kopano-11", users: users(), listen: [https(pki.wrongHostCert, pki.wrongHostKey)] });
  expired = await startEmulator({ profile: "kopano-11", users: users(), listen: [https(pki.expiredCert, pki.expiredKey)] });
  url.http = emulator.urls.find((u) => u.startsWith("http:"))!;
  url.https = emulator.urls.find((u) => u.startsWith("https:"))!;
  url.selfSigned = selfSigned.urls[0];
  url.wrongHost = wrongHost.urls[0];
  url.expired = expired.urls[0];
  url.refused = `http://127.0.0.1:${await freePort()}/`;
  url.enoent = `file://${tmp}/absent.sock`;
  // A socket only root may open (mode 0600): nobody gets EACCES, as Apache's www-data would.
  const closedSocket = path.join(tmp, "root-only.sock");
  await listen(net.createServer((s) => s.destroy()), closedSocket);
  chmodSync(closedSocket, 0o600);
  url.eacces = `file://${closedSocket}`;
  url.resolve = "http://pam-mapi-agreement.invalid/";
  url.timeout = await rawServer(null);
  url.closed = await rawServer((s) => s.destroy());
  url.malformed = await rawServer((s) => s.end("HELLO THERE\r\n\r\n"));
  const status = http.createServer((_req, res) => { res.statusCode = 404; res.end("not here"); });
  const statusPort = await freePort();
  await listen(status, statusPort);
  url.httpStatus = `http://127.0.0.1:${statusPort}/`;
  // An HTTP server answers a TLS ClientHello with a plain-text 400 (OpenSSL: "wrong version number").
  url.plainHttp = `https://127.0.0.1:${statusPort}/`;
  const big = http.createServer((_req, res) => { res.setHeader("Content-Type", "text/xml"); res.end(Buffer.alloc(2 * 1024 * 1024, 0x20)); });
  const bigPort = await freePort();
  await listen(big, bigPort);
  url.tooLarge = `http://127.0.0.1:${bigPort}/`;
});

afterAll(async () => {
  await Promise.all([emulator, selfSigned, wrongHost, expired].map((e) => e?.close()));
  for (const s of servers) s.close();
  removeConfdir(confdir);
  rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
function writeConfig(text: string): string {
  const file = path.join(tmp, `case-${++counter}.conf`);
  writeFileSync(file, text, { mode: 0o644 });
  chmodSync(file, 0o644);
  return file;
}

interface Side { pam: string; cause: string; warnings?: string[] }

async function throughModule(c: Case, config: string, service: string): Promise<Side> {
  writeConfdir(confdir, service, [`auth required ${MODULE} config=${config}`]);
  chmodSync(path.join(confdir, service), 0o644);
  const r = await runPamdrive(confdir, service, c.user ?? "alice", ["auth"], {
    input: [c.password ?? "Secr3t!"], prefix: c.asNobody ? AS_NOBODY : undefined,
  });
  const noise = /^PWRAP_(DEBUG|TRACE)/;
  expect(r.ops.auth, `pamdrive gave no auth result (exit ${r.code}, signal ${r.signal}): ${r.stdout}\n` +
    r.stderr.split("\n").filter((l) => !noise.test(l)).join("\n")).toBeTypeOf("number");
  return { pam: PAM_NAME[r.ops.auth] ?? String(r.ops.auth), cause: r.syslog.map((l) => l.message).join("\n") };
}

function throughCli(c: Case, config: string, service: string): Promise<Side> {
  const argv = [bin, "check", c.user ?? "alice", "--service", service, "--config", config, "--password-stdin", "--json"];
  const [cmd, ...args] = c.asNobody ? [...AS_NOBODY, process.execPath, ...argv] : [process.execPath, ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", () => {
      try {
        const doc = JSON.parse(stdout);
        resolve({ pam: doc.result.pam, cause: doc.cause, warnings: doc.warnings });
      } catch {
        reject(new Error(`pam-mapi check gave no JSON document: ${stdout} ${stderr}`));
      }
    });
    child.stdin.end(`${c.password ?? "Secr3t!"}\n`);
  });
}

const ROOT_ONLY = (mode: number) => (file: string) => {
  chmodSync(file, mode);
  return file;
};

const cases: Case[] = [
  { name: "a good password", config: "socket = HTTP\n", pam: "PAM_SUCCESS" },
  { name: "a wrong password", config: "socket = HTTP\n", password: "wrong", pam: "PAM_AUTH_ERR" },
  // The CR stays part of the password in both (pamdrive, like pamtester and saslauthd, strips only the LF).
  { name: "a CR at the end of the password", config: "socket = HTTP\n", password: "Secr3t!\r", pam: "PAM_AUTH_ERR" },
  { name: "a user without the required feature", config: "socket = HTTP\nservice = imap\n", pam: "PAM_AUTH_ERR",
    cause: /required feature/ },
  { name: "a symlinked configuration file", config: "socket = HTTP\n", pam: "PAM_SERVICE_ERR", cause: /is a symbolic link/,
    prepare: (file) => {
      const link = `${file}.link`;
      symlinkSync(file, link);
      return link;
    } },
  { name: "a configuration file nobody may read, as nobody", config: "socket = HTTP\n", asNobody: true, pam: "PAM_SERVICE_ERR",
    cause: /permission denied \(EACCES\)/, prepare: ROOT_ONLY(0o600) },
  { name: "a missing cafile", config: `socket = HTTPS\ncafile = ${path.join(tmp, "absent-ca.pem")}\n`, pam: "PAM_SERVICE_ERR",
    cause: /cafile=\S*absent-ca\.pem: no such file or directory \(ENOENT\)/ },
  { name: "a cafile nobody may read, as nobody", asNobody: true, pam: "PAM_SERVICE_ERR",
    config: `socket = HTTPS\ncafile = ${path.join(tmp, "root-only-ca.pem")}\n`, cause: /cafile=\S*: permission denied \(EACCES\)/ },
  { name: "a cafile that is a FIFO", config: `socket = HTTPS\ncafile = ${path.join(tmp, "ca.fifo")}\n`, pam: "PAM_SERVICE_ERR",
    cause: /cafile=\S*ca\.fifo: not a regular file/ },
  { name: "a cafile that is a directory", config: `socket = HTTPS\ncafile = ${path.join(tmp, "pki")}\n`, pam: "PAM_SERVICE_ERR",
    cause: /cafile=\S*pki: is a directory \(EISDIR\)/ },
  { name: "a missing capath", config: `socket = HTTPS\ncapath = ${path.join(tmp, "absent-ca.d")}\n`, pam: "PAM_SERVICE_ERR",
    cause: /capath=\S*absent-ca\.d: no such file or directory \(ENOENT\)/ },
  { name: "a capath nobody may read, as nobody", asNobody: true, pam: "PAM_SERVICE_ERR",
    config: `socket = HTTPS\ncapath = ${path.join(tmp, "root-only-ca.d")}\n`, cause: /capath=\S*: permission denied \(EACCES\)/ },
  { name: "a missing cafile with ignore_unavailable is still a configuration error", pam: "PAM_SERVICE_ERR",
    config: `socket = HTTPS\nignore_unavailable\ncafile = ${path.join(tmp, "absent-ca.pem")}\n`, cause: /no such file or directory \(ENOENT\)/ },
  // A mistyped section applies to nothing, in both: the service= restriction is silently gone (`pam-mapi config`
  // warns about it: test/cli.test.ts "warns about a section that names no PAM service").
  { name: "a mistyped section ([smpt] for smtp)", config: "socket = HTTP\n[smpt]\nservice = imap\n", service: "smtp", pam: "PAM_SUCCESS",
    cliWarning: /no \[smtp\] section, but \[smpt\] is a near miss/ },
  { name: "a line-numbered error for a 4 KiB timeout=", config: `socket = HTTP\ntimeout = ${"1".repeat(4100)}\n`, pam: "PAM_SERVICE_ERR",
    cause: /:2: timeout: '1{20}/ },
  { name: "a line-numbered error for a 4 KiB socket=", config: `\nsocket = http://h/${"a".repeat(4100)}\n`, pam: "PAM_SERVICE_ERR",
    cause: /:2: socket: 'http:\/\/h\/a+\.\.\.' is longer than 2048 bytes/ },
  { name: "a line-numbered error for a 4 KiB cafile=", config: `socket = HTTP\n\ncafile = /${"a".repeat(4100)}\n`, pam: "PAM_SERVICE_ERR",
    cause: /:3: cafile: '\/a+\.\.\.' is longer than 4095 bytes/ },
  // Transport failures: the same PAM result now; the module's per-server warning line names the precise cause
  // only once w11-tls's log lines are merged: see MODULE_NAMES_TRANSPORT_CAUSES. The words for resolve, too large,
  // closed and malformed are not fixed across both yet, so those stay CLI-only.
  { name: "connection refused", config: "socket = REFUSED\n", pam: "PAM_AUTHINFO_UNAVAIL", cause: /connection refused/,
    cliCause: /connection refused \(ECONNREFUSED\)/, sameWordsAfterTlsMerge: true },
  { name: "no such socket", config: "socket = ENOENT\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /no such socket \(ENOENT\)/, sameWordsAfterTlsMerge: true },
  { name: "a socket nobody may open, as nobody", config: "socket = EACCES\n", asNobody: true, pam: "PAM_AUTHINFO_UNAVAIL",
    cliCause: /permission denied \(EACCES\)/, sameWordsAfterTlsMerge: true },
  { name: "a host name that does not resolve", config: "socket = RESOLVE\ntimeout = 3\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /cannot resolve/ },
  { name: "a server that never answers", config: "socket = TIMEOUT\ntimeout = 1\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /timed out/, sameWordsAfterTlsMerge: true },
  { name: "an HTTP error status", config: "socket = HTTPSTATUS\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /HTTP status 404/, sameWordsAfterTlsMerge: true },
  { name: "a reply over the size cap", config: "socket = TOOLARGE\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /1048576-byte cap/ },
  { name: "a connection closed before the reply", config: "socket = CLOSED\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /ECONNRESET|socket hang up|closed/ },
  { name: "a malformed reply", config: "socket = MALFORMED\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /Parse Error|HPE_|malformed|Expected HTTP/i },
  { name: "TLS: a self-signed certificate", config: "socket = SELFSIGNED\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /TLS: self-signed certificate/, sameWordsAfterTlsMerge: true },
  { name: "TLS: the wrong host name", config: `socket = WRONGHOST\ncafile = ${pki.caFile}\n`, pam: "PAM_AUTHINFO_UNAVAIL",
    cliCause: /TLS: hostname mismatch/, sameWordsAfterTlsMerge: true },
  { name: "TLS: an expired certificate", config: `socket = EXPIRED\ncafile = ${pki.caFile}\n`, pam: "PAM_AUTHINFO_UNAVAIL",
    cliCause: /TLS: certificate has expired/, sameWordsAfterTlsMerge: true },
  { name: "https:// at a plain HTTP port", config: "socket = PLAINHTTP\n", pam: "PAM_AUTHINFO_UNAVAIL", cliCause: /this port speaks plain HTTP/, sameWordsAfterTlsMerge: true },
  { name: "an unavailable server with ignore_unavailable", config: "socket = REFUSED\nignore_unavailable\n", pam: "PAM_IGNORE",
    throughLibpam: "PAM_PERM_DENIED", cause: /connection refused/, cliCause: /connection refused \(ECONNREFUSED\)/ },
];

const PLACEHOLDERS: Record<string, string> = {
  HTTPSTATUS: "httpStatus", HTTPS: "https", HTTP: "http", REFUSED: "refused", ENOENT: "enoent", EACCES: "eacces",
  RESOLVE: "resolve", TIMEOUT: "timeout", TOOLARGE: "tooLarge", CLOSED: "closed", MALFORMED: "malformed",
  SELFSIGNED: "selfSigned", WRONGHOST: "wrongHost", EXPIRED: "expired", PLAINHTTP: "plainHttp",
};

describe("pam_mapi.so and pam-mapi check agree", () => {
  beforeAll(() => {
    // Trust anchors only root may read, for the as-nobody cases.
    writeFileSync(path.join(tmp, "root-only-ca.pem"), readFileSync(pki.caFile), { mode: 0o600 });
    mkdirSync(path.join(tmp, "root-only-ca.d"), { mode: 0o700 });
    chownSync(path.join(tmp, "root-only-ca.d"), 0, 0);
    execFileSync("mkfifo", [path.join(tmp, "ca.fifo")]);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const text = c.config.replace(/socket = ([A-Z]+)/, (_m, key: string) => `socket = ${url[PLACEHOLDERS[key]]}`);
    let config = writeConfig(text);
    if (c.prepare) config = c.prepare(config);
    const service = c.service ?? `agree${counter}`;
    const moduleSide = await throughModule(c, config, service);
    const cliSide = await throughCli(c, config, service);
    expect({ module: moduleSide.pam, cli: cliSide.pam }).toEqual({ module: c.throughLibpam ?? c.pam, cli: c.pam });
    if (c.cause) {
      expect(moduleSide.cause, "the module's log").toMatch(c.cause);
      expect(cliSide.cause, "check's cause").toMatch(c.cause);
    }
    if (c.cliCause) expect(cliSide.cause, "check's cause").toMatch(c.cliCause);
    if (c.cliCause && c.sameWordsAfterTlsMerge && MODULE_NAMES_TRANSPORT_CAUSES) expect(moduleSide.cause, "the module's log").toMatch(c.cliCause);
    if (c.cliWarning) expect(cliSide.warnings?.join("\n")).toMatch(c.cliWarning);
  }, 30_000);
});
