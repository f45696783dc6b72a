// One table of cases, each driven through both pam_mapi.so (through real libpam: build/pamdrive under
// pam_wrapper) and `pam-mapi check` (bin/pam-mapi.mjs as a subprocess), with the same configuration file, user,
// password and PAM service. Both must give the same PAM result, and where the module logs the cause, the same
// cause: for every transport error kind, the module's per-server warning line (`server N (URL): CAUSE`, logged
// without debug) and check's report of that server carry the same words, character for character. So the CLI
// and the module cannot drift apart again (issue 13).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import tls from "node:tls";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { makeConfdir, MODULE, readableCopy, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";
import { readableCliBin } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";
import { repoRoot } from "./helpers/guest.js";
import { makeTestPki } from "./helpers/tls.js";

const bin = path.join(repoRoot, "bin/pam-mapi.mjs");
const { startEmulator, loadUserDb } = await import(path.join(repoRoot, "build/host/emulator/index.js"));
const { errnoWords } = await import(path.join(repoRoot, "build/host/transport/cause.js"));

/** Linux-PAM's codes by number, as pamdrive prints them. */
const PAM_NAME: Record<number, string> = {
  0: "PAM_SUCCESS", 3: "PAM_SERVICE_ERR", 6: "PAM_PERM_DENIED", 7: "PAM_AUTH_ERR", 9: "PAM_AUTHINFO_UNAVAIL", 25: "PAM_IGNORE",
};
/** setpriv prefix that drops to nobody:nogroup with no supplementary groups. */
const AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

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
  /** a transport failure's exact words: the module logs `server 1 (URL): WORDS`, check reports them for server 1
   * (its `servers[0].detail`, and `server 1 (URL): WORDS` in its cause) */
  serverCause?: string;
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

/** Calls `then` once the whole request (head and Content-Length body) has arrived, so both clients have written
 * everything before the server acts: the module and Node then see the same thing (an EOF, a reset, ...). */
function afterRequest(socket: net.Socket, then: () => void) {
  let got = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    got = Buffer.concat([got, chunk]);
    const end = got.indexOf("\r\n\r\n");
    if (end < 0) return;
    const length = Number(/^content-length:\s*(\d+)/im.exec(got.subarray(0, end).toString("latin1"))?.[1] ?? 0);
    if (got.length < end + 4 + length) return;
    socket.off("data", onData);
    then();
  };
  socket.on("data", onData);
}

/** A TCP server that acts on every request with `reply` (after the whole request), or reads and never answers
 * when reply is null. */
async function rawServer(reply: ((socket: net.Socket) => void) | null): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    if (reply) afterRequest(socket, () => reply(socket));
    else socket.resume();
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
  url.closed = await rawServer((s) => s.end());
  url.closedMidReply = await rawServer((s) => s.end("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<soap:Envelope>"));
  url.reset = await rawServer((s) => s.resetAndDestroy());
  url.malformed = await rawServer((s) => s.end("HELLO THERE\r\n\r\n"));
  url.compressed = await rawServer((s) => s.end("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd"));
  url.redirect = await rawServer((s) => s.end(`HTTP/1.1 302 Found\r\nLocation: ${url.http}\r\nContent-Length: 0\r\n\r\n`));
  // The certificate names DNS:wrong.example only: by address, OpenSSL reports the address.
  url.ipMismatch = url.wrongHost.replace("localhost", "127.0.0.1");
  const oldTls = tls.createServer({ key: readFileSync(pki.key), cert: readFileSync(pki.cert), minVersion: "TLSv1", maxVersion: "TLSv1.1",
    ciphers: "DEFAULT:@SECLEVEL=0" }, (s) => s.destroy());
  oldTls.on("tlsClientError", () => {});
  const oldTlsPort = await freePort();
  await listen(oldTls, oldTlsPort);
  url.oldTls = `https://localhost:${oldTlsPort}/`;
  // Reads the ClientHello, then closes: an end of stream in the handshake.
  const handshakeClosed = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => s.end());
  });
  const handshakeClosedPort = await freePort();
  await listen(handshakeClosed, handshakeClosedPort);
  url.handshakeClosed = `https://localhost:${handshakeClosedPort}/`;
  // Answers the ClientHello with a plain-text banner that is not HTTP (an SMTP server, say).
  const banner = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => s.end("220 mail.example ESMTP\r\n"));
  });
  const bannerPort = await freePort();
  await listen(banner, bannerPort);
  url.banner = `https://localhost:${bannerPort}/`;
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

/** `cause`: the module's log lines, or check's cause; `serverCause`: check's words for server 1's failure. */
interface Side { pam: string; cause: string; warnings?: string[]; serverCause?: string }

async function throughModule(c: Case, config: string, service: string): Promise<Side> {
  writeConfdir(confdir, service, [`auth required ${c.asNobody ? readableCopy(MODULE) : MODULE} config=${config}`]);
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
  // As nobody, the installed layout in a directory nobody can reach (the checkout may be root's alone).
  const argv = [c.asNobody ? readableCliBin() : bin, "check", c.user ?? "alice", "--service", service, "--config", config,
    "--password-stdin", "--json"];
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
        resolve({ pam: doc.result.pam, cause: doc.cause, warnings: doc.warnings, serverCause: doc.servers?.[0]?.detail });
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
  // Transport failures, one case per cause the module's per-server line can give (docs/security.md, "Why a server
  // failed"); EPIPE, EHOSTUNREACH and the other errno names share native/cause.c's table with check (see below).
  { name: "connection refused", config: "socket = REFUSED\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "connection refused (ECONNREFUSED)" },
  { name: "no such socket", config: "socket = ENOENT\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "no such socket (ENOENT)" },
  { name: "a socket nobody may open, as nobody", config: "socket = EACCES\n", asNobody: true, pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "permission denied (EACCES)" },
  { name: "a host name that does not resolve", config: "socket = RESOLVE\ntimeout = 3\n", pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "the host name does not resolve" },
  { name: "a server that never answers", config: "socket = TIMEOUT\ntimeout = 1\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "timed out" },
  { name: "an HTTP error status", config: "socket = HTTPSTATUS\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "HTTP status 404" },
  { name: "a redirect (never followed)", config: "socket = REDIRECT\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "HTTP status 302" },
  { name: "a reply over the size cap", config: "socket = TOOLARGE\n", pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "the reply is larger than the module accepts" },
  { name: "a connection closed before the reply", config: "socket = CLOSED\n", pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "the server closed the connection before the reply was complete" },
  { name: "a connection closed in the middle of the reply", config: "socket = CLOSEDMIDREPLY\n", pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "the server closed the connection before the reply was complete" },
  { name: "a connection reset by the server", config: "socket = RESET\n", pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "connection reset by the server (ECONNRESET)" },
  { name: "a malformed reply", config: "socket = MALFORMED\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "the reply is not acceptable HTTP/1.1" },
  { name: "a compressed reply", config: "socket = COMPRESSED\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "the reply is not acceptable HTTP/1.1" },
  { name: "TLS: a self-signed certificate", config: "socket = SELFSIGNED\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "TLS: self-signed certificate" },
  { name: "TLS: the wrong host name", config: `socket = WRONGHOST\ncafile = ${pki.caFile}\n`, pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "TLS: hostname mismatch" },
  { name: "TLS: the wrong IP address", config: `socket = IPMISMATCH\ncafile = ${pki.caFile}\n`, pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "TLS: IP address mismatch" },
  { name: "TLS: an expired certificate", config: `socket = EXPIRED\ncafile = ${pki.caFile}\n`, pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "TLS: certificate has expired" },
  { name: "TLS: a CA that is not trusted (the system store)", config: "socket = HTTPS\n", pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "TLS: unable to get local issuer certificate" },
  { name: "TLS: a server that offers at most TLS 1.1", config: `socket = OLDTLS\ncafile = ${pki.caFile}\n`, pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "TLS: tlsv1 alert protocol version" },
  { name: "TLS: a server that closes in the handshake", config: `socket = HANDSHAKECLOSED\ncafile = ${pki.caFile}\n`, pam: "PAM_AUTHINFO_UNAVAIL",
    serverCause: "TLS: the server closed the connection during the handshake" },
  { name: "https:// at a plain HTTP port", config: "socket = PLAINHTTP\n", pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "this port speaks plain HTTP" },
  { name: "https:// at a port that answers in plain text, not HTTP", config: `socket = BANNER\ncafile = ${pki.caFile}\n`,
    pam: "PAM_AUTHINFO_UNAVAIL", serverCause: "TLS: wrong version number" },
  { name: "an unavailable server with ignore_unavailable", config: "socket = REFUSED\nignore_unavailable\n", pam: "PAM_IGNORE",
    throughLibpam: "PAM_PERM_DENIED", serverCause: "connection refused (ECONNREFUSED)" },
];

const PLACEHOLDERS: Record<string, string> = {
  HTTPSTATUS: "httpStatus", HTTPS: "https", HTTP: "http", REFUSED: "refused", ENOENT: "enoent", EACCES: "eacces",
  RESOLVE: "resolve", TIMEOUT: "timeout", TOOLARGE: "tooLarge", CLOSED: "closed", MALFORMED: "malformed",
  SELFSIGNED: "selfSigned", WRONGHOST: "wrongHost", EXPIRED: "expired", PLAINHTTP: "plainHttp", REDIRECT: "redirect",
  CLOSEDMIDREPLY: "closedMidReply", RESET: "reset", COMPRESSED: "compressed", IPMISMATCH: "ipMismatch", OLDTLS: "oldTls",
  HANDSHAKECLOSED: "handshakeClosed", BANNER: "banner",
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
    let server = "";
    const text = c.config.replace(/socket = ([A-Z]+)/, (_m, key: string) => `socket = ${(server = url[PLACEHOLDERS[key]])}`);
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
    if (c.serverCause) {
      const line = `server 1 (${server}): ${c.serverCause}`;
      expect(moduleSide.cause.split("\n"), "the module's per-server warning line").toContain(line);
      expect(cliSide.serverCause, "check's words for server 1").toBe(c.serverCause);
      expect(cliSide.cause, "check's cause").toContain(line);
    }
    if (c.cliWarning) expect(cliSide.warnings?.join("\n")).toMatch(c.cliWarning);
  }, 30_000);
});

describe("the errno words no test server can provoke (EPIPE, EHOSTUNREACH, ...)", () => {
  // native/cause.c's table and check's (host/transport/cause.ts) are one list in two languages: each errno name
  // has the same words in both. Two exceptions, by what each side can see: the module's EAGAIN and EINPROGRESS are
  // an expired socket timeout ("timed out"), which Node never reports by those names; Node's EAGAIN comes only
  // from a connect to a unix socket whose listen queue is full, for which native/http_client.c has its own words.
  const source = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
  const moduleTable = new Map([...source("native/cause.c").matchAll(/\{(E[A-Z0-9]+), "([^"]+)"\}/g)].map((m) => [m[1], m[2]]));
  const moduleOnly = new Set(["EAGAIN", "EINPROGRESS"]);

  it("native/cause.c's table is read (a change of its layout must not make this test empty)", () => {
    expect(moduleTable.get("ECONNREFUSED")).toBe("connection refused (ECONNREFUSED)");
    expect(moduleTable.size).toBeGreaterThan(15);
  });

  it.each([...moduleTable].filter(([name]) => !moduleOnly.has(name)))("%s: %s", (name, words) => {
    expect((errnoWords as Record<string, string>)[name]).toBe(words);
  });

  it("check names no errno the module does not (or names it in the module's words)", () => {
    const native = source("native/http_client.c");
    for (const [name, words] of Object.entries(errnoWords as Record<string, string>))
      expect(moduleTable.get(name) === words || native.includes(`"${words}"`), `${name}: ${words}`).toBe(true);
  });
});
