// https through the module's own HTTP client and OpenSSL's libssl (native/tls.c), against Node TLS servers that
// each get one thing wrong, through the real libpam (pamdrive): what is refused, with which cause on the
// per-server line, what the client sends (SNI, no certificate), that renegotiation is refused and the deadline
// covers the handshake; and the per-process session cache: a second login to the same server resumes, while other
// trust settings, another server or a restarted server with a new certificate never get a session made under
// other settings.
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, httpReply, type CannedServer, type CannedServerOptions, startCannedServer } from "./helpers/canned-server.js";
import { sharedTempDir } from "./helpers/daemons.js";
import { MODULE, PAM, makeConfdir, readableCopy, removeConfdir, runPamdrive, runPamthreads, writeConfdir } from "./helpers/pam.js";
import { makeTestPki, type TestPki } from "./helpers/tls.js";

const OK = capture("tcp-a-logon-ok-alice.resp.raw");
const WRONG = capture("tcp-b-logon-wrong-password.resp.raw");
const DEADLINE_S = 2;

let dir: string;
let confdir: string;
let pki: TestPki;
let emptyConfig: string;
const servers: CannedServer[] = [];

beforeAll(() => {
  dir = sharedTempDir("pam-mapi-tls-");
  confdir = makeConfdir();
  pki = makeTestPki(path.join(dir, "pki"));
  emptyConfig = path.join(dir, "pam_mapi.conf");
  writeFileSync(emptyConfig, "", { mode: 0o644 });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  removeConfdir(confdir);
  rmSync(dir, { recursive: true, force: true });
});

async function serve(identity: { key: string; cert: string }, options: Partial<CannedServerOptions> = {}) {
  const s = await startCannedServer({
    reply: OK,
    tls: { key: readFileSync(identity.key, "utf8"), cert: readFileSync(identity.cert, "utf8") },
    ...options,
  });
  servers.push(s);
  return s;
}

const good = () => ({ key: pki.key, cert: pki.cert });

let serial = 0;
/** One or more pam_mapi lines (each `optional`, then pam_permit), so every line runs whatever the others say. */
async function login(lines: string[][], repeat = 1) {
  const service = `tls${++serial}`;
  const stack = lines.map((args) =>
    `auth optional ${MODULE} ${[...args, `timeout=${DEADLINE_S}`, "debug", `config=${emptyConfig}`].join(" ")}`);
  writeConfdir(confdir, service, [...stack, "auth required pam_permit.so"]);
  const r = await runPamdrive(confdir, service, "alice", ["auth"], { input: Array(repeat * lines.length).fill("secret"), repeat });
  return r.syslog.map((l) => l.message);
}

/** The module's result per connection, in order: "full", "resumed", or the cause of a failed TLS handshake. */
function handshakes(log: string[]): string[] {
  return log.flatMap((l) => {
    if (/bytes received in \d+ ms, TLSv1\.[23] full handshake$/.test(l)) return ["full"];
    if (/bytes received in \d+ ms, TLSv1\.[23] session resumed$/.test(l)) return ["resumed"];
    const m = /server \d+ \(https:[^)]*\): (TLS: .*)$/.exec(l);
    return m ? [m[1]] : [];
  });
}

function said(log: string[], text: string) {
  expect(log.some((l) => l.endsWith(text)), log.join("\n")).toBe(true);
}

/** A login against `url` with timeout=DEADLINE_S: unavailable at the deadline (not before, not much after), logged as
 * timed out. */
async function timesOutAtDeadline(url: string) {
  const service = `tls${++serial}`;
  writeConfdir(confdir, service, [`auth required ${MODULE} socket=${url} cafile=${pki.caFile} timeout=${DEADLINE_S} config=${emptyConfig}`]);
  const r = await runPamdrive(confdir, service, "alice", ["auth"], { input: ["secret"] });
  expect(r.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
  expect(r.times.auth).toBeGreaterThanOrEqual(DEADLINE_S * 1000 - 50);
  expect(r.times.auth).toBeLessThan(DEADLINE_S * 1000 * 1.5 + 500);
  said(r.syslog.map((l) => l.message), `server 1 (${url}): timed out`);
}

describe("what is refused, and the cause on the server's line", () => {
  it("the baseline: a certificate from the configured CA, by name (SNI sent) and by address (no SNI)", async () => {
    const s = await serve(good());
    const byName = await login([[`socket=https://localhost:${s.port}/`, `cafile=${pki.caFile}`]]);
    expect(handshakes(byName)).toEqual(["full"]);
    const byAddress = await login([[`socket=https://127.0.0.1:${s.port}/`, `capath=${pki.caDir}`]]);
    expect(handshakes(byAddress)).toEqual(["full"]);
    expect(s.tlsSockets.map((t) => (t as unknown as { servername: string | false }).servername)).toEqual(["localhost", false]);
  });

  it("an IP literal is checked against the certificate's IP addresses", async () => {
    const s = await serve({ key: pki.wrongHostKey, cert: pki.wrongHostCert }); // DNS:wrong.example only
    const url = `https://127.0.0.1:${s.port}/`;
    const log = await login([[`socket=${url}`, `cafile=${pki.caFile}`]]);
    said(log, `server 1 (${url}): TLS: IP address mismatch`);
    expect(s.requests).toHaveLength(0);
  });

  it("self-signed, expired, another host's name, a CA nobody named: refused before any request", async () => {
    const cases: Array<[{ key: string; cert: string }, string[], string]> = [
      [{ key: pki.selfSignedKey, cert: pki.selfSignedCert }, [`cafile=${pki.caFile}`], "TLS: self-signed certificate"],
      [{ key: pki.expiredKey, cert: pki.expiredCert }, [`cafile=${pki.caFile}`], "TLS: certificate has expired"],
      [{ key: pki.wrongHostKey, cert: pki.wrongHostCert }, [`cafile=${pki.caFile}`], "TLS: hostname mismatch"],
      [good(), [], "TLS: unable to get local issuer certificate"], // the system store does not know the test CA
    ];
    for (const [identity, trust, cause] of cases) {
      const s = await serve(identity);
      const url = `https://localhost:${s.port}/`;
      said(await login([[`socket=${url}`, ...trust]]), `server 1 (${url}): ${cause}`);
      expect(s.requests).toHaveLength(0);
    }
  });

  it("a server that offers at most TLS 1.1 is refused", async () => {
    const s = await serve(good(), { tlsOptions: { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" } });
    const url = `https://localhost:${s.port}/`;
    const log = await login([[`socket=${url}`, `cafile=${pki.caFile}`]]);
    expect(log.some((l) => l.startsWith(`server 1 (${url}): TLS: `) || l.includes(`server 1 (${url}): TLS: `)), log.join("\n")).toBe(true);
    expect(log.join("\n")).toMatch(/protocol version|unsupported protocol/);
    expect(s.requests).toHaveLength(0);
  });

  it("a server that asks for a client certificate gets none, and the login goes on", async () => {
    const s = await serve(good(), { tlsOptions: { requestCert: true, rejectUnauthorized: false } });
    const presented: unknown[] = [];
    s.tlsServer!.on("secureConnection", (socket: tls.TLSSocket) => presented.push(socket.getPeerCertificate()));
    const log = await login([[`socket=https://localhost:${s.port}/`, `cafile=${pki.caFile}`]]);
    expect(handshakes(log)).toEqual(["full"]);
    expect(presented).toEqual([{}]); // asked (requestCert), and no certificate came
  });

  it("a this-port-speaks-HTTP cause for an http server named https", async () => {
    // a real HTTP server answers the ClientHello (not a request it can parse) with 400 Bad Request
    const server = http.createServer((_q, res) => res.end("<plain/>"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
      said(await login([[`socket=${url}`, `cafile=${pki.caFile}`]]), `server 1 (${url}): this port speaks plain HTTP`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("renegotiation asked for by the server (TLS 1.2) is refused", async () => {
    const outcomes: string[] = [];
    const server = tls.createServer({ key: readFileSync(pki.key), cert: readFileSync(pki.cert), maxVersion: "TLSv1.2" }, (socket) => {
      socket.on("error", (err) => outcomes.push(`error: ${err.message}`));
      socket.once("data", () => {
        const asked = socket.renegotiate({ rejectUnauthorized: false }, (err) => {
          outcomes.push(err ? `refused: ${err.message}` : "renegotiated");
          if (!socket.destroyed) socket.end(OK);
        });
        if (!asked) outcomes.push("not asked");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `https://localhost:${(server.address() as net.AddressInfo).port}/`;
      const log = await login([[`socket=${url}`, `cafile=${pki.caFile}`]]);
      await new Promise((r) => setTimeout(r, 200)); // the server's side of the story may come a moment later
      expect(outcomes.length, log.join("\n")).toBeGreaterThan(0);
      expect(outcomes).not.toContain("renegotiated");
      expect(outcomes).not.toContain("not asked");
      // the client said no (no_renegotiation), the server gave up on the connection: the login fails closed
      expect(log.some((l) => new RegExp(`server 1 \\(${url}\\): TLS: `).test(l)), log.join("\n")).toBe(true);
    } finally {
      server.close();
    }
  });

  it("a server that drops the connection after the handshake: no SIGPIPE (the socket BIO sends with MSG_NOSIGNAL)", async () => {
    const key = readFileSync(pki.key), cert = readFileSync(pki.cert);
    const server = net.createServer((raw) => {
      raw.on("error", () => {});
      const socket = new tls.TLSSocket(raw, { isServer: true, key, cert });
      socket.on("error", () => {});
      socket.once("data", () => raw.resetAndDestroy()); // RST: every later write of the client fails with EPIPE
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `https://localhost:${(server.address() as net.AddressInfo).port}/`;
      const service = `tls${++serial}`;
      writeConfdir(confdir, service, [`auth required ${MODULE} socket=${url} cafile=${pki.caFile} timeout=${DEADLINE_S} debug config=${emptyConfig}`]);
      const r = await runPamdrive(confdir, service, "alice", ["auth"], { input: ["secret", "secret", "secret"], repeat: 3 });
      expect(r.signal, r.stderr).toBeNull();
      expect(r.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
    } finally {
      server.close();
    }
  });

  it("the deadline covers a handshake that stalls half way (a record header, then silence)", async () => {
    const held: net.Socket[] = [];
    const server = net.createServer((socket) => {
      held.push(socket);
      socket.on("error", () => {});
      socket.once("data", () => socket.write(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x7a, 0x02]))); // a ServerHello begins
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      await timesOutAtDeadline(`https://localhost:${(server.address() as net.AddressInfo).port}/`);
    } finally {
      for (const s of held) s.destroy();
      server.close();
    }
  });
});

describe("the deadline and threads over https", () => {
  it("a server that completes the handshake and never answers: timed out at the deadline", async () => {
    const s = await serve(good(), { delayMs: 60_000 });
    await timesOutAtDeadline(`https://localhost:${s.port}/`);
    expect(s.requests).toHaveLength(1); // the request went out over TLS; the reply never came
  });

  it("8 threads share the process's TLS state: every verdict right, sessions resumed", async () => {
    const s = await serve(good(), { reply: (req) => (req.body.includes("good-passw0rd") ? OK : WRONG) });
    let reused = 0;
    s.tlsServer!.on("secureConnection", (t: tls.TLSSocket) => (reused += t.isSessionReused() ? 1 : 0));
    const service = `tls${++serial}`;
    const args = `socket=https://localhost:${s.port}/ cafile=${pki.caFile} timeout=5 config=${emptyConfig}`;
    writeConfdir(confdir, service, [`auth required ${MODULE} ${args}`, `account required ${MODULE} config=${emptyConfig}`]);
    const r = await runPamthreads(confdir, service, 8, 6, [["alice", "good-passw0rd", "0"], ["alice", "wrong-passw0rd", "7"]]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/correct=48 wrong=0/);
    expect(s.tlsSockets).toHaveLength(48);
    expect(reused).toBeGreaterThan(0);
  });
});

describe("the cause words for a unix socket the caller may not use", () => {
  it("permission denied (EACCES), for a caller that is not root", async () => {
    // a socket in a directory only root may enter, tried by a login running as nobody
    const locked = path.join(dir, "locked");
    mkdirSync(locked, { mode: 0o700 });
    chmodSync(dir, 0o755);
    const sock = path.join(locked, "kopano.sock");
    const server = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(sock, r));
    const own = makeConfdir();
    try {
      chmodSync(own, 0o755);
      writeConfdir(own, "eacces", [`auth required ${readableCopy(MODULE)} socket=file://${sock} timeout=${DEADLINE_S} config=${emptyConfig}`]);
      const r = await runPamdrive(own, "eacces", "alice", ["auth"], {
        input: ["secret"], prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
      });
      expect(r.ops.auth, r.stderr).toBe(PAM.AUTHINFO_UNAVAIL);
      said(r.syslog.map((l) => l.message), `server 1 (file://${sock}): permission denied (EACCES)`);
    } finally {
      server.close();
      removeConfdir(own);
    }
  });
});

describe("https replies go through the same strict HTTP client as http", () => {
  const body = OK.subarray(OK.indexOf("\r\n\r\n") + 4);
  const chunked = Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]);
  it.each<[string, Buffer, number, string]>([
    ["chunked framing, decoded", chunked, PAM.SUCCESS, ""],
    ["a Content-Encoding", httpReply(200, body, { "Content-Encoding": "gzip" }), PAM.AUTHINFO_UNAVAIL, "the reply is not acceptable HTTP/1.1"],
    ["a reply over 1 MiB", httpReply(200, Buffer.alloc(1024 * 1024 + 1, 0x20)), PAM.AUTHINFO_UNAVAIL, "the reply is larger than the module accepts"],
    ["a redirect", httpReply(302, "", { Location: "https://elsewhere.example/" }), PAM.AUTHINFO_UNAVAIL, "HTTP status 302"],
  ])("%s", async (_name, reply, code, cause) => {
    const s = await serve(good(), { reply });
    const url = `https://localhost:${s.port}/`;
    const service = `tls${++serial}`;
    writeConfdir(confdir, service, [`auth required ${MODULE} socket=${url} cafile=${pki.caFile} timeout=${DEADLINE_S} config=${emptyConfig}`]);
    const r = await runPamdrive(confdir, service, "alice", ["auth"], { input: ["secret"] });
    expect(r.ops.auth).toBe(code);
    if (cause) said(r.syslog.map((l) => l.message), `server 1 (${url}): ${cause}`);
  });
});

describe("cafile= and capath= are checked when the module is configured", () => {
  it("a missing or unreadable cafile=, or one without a certificate, is a configuration error: PAM_SERVICE_ERR, no connection", async () => {
    const s = await serve(good());
    const url = `https://localhost:${s.port}/`;
    const notPem = path.join(dir, "not-a-certificate.pem");
    writeFileSync(notPem, "this is not PEM\n");
    const cases: Array<[string, string]> = [
      [`cafile=${dir}/absent-ca.pem`, `configuration error: cafile=${dir}/absent-ca.pem: no such file or directory (ENOENT)`],
      [`capath=${dir}/absent-ca.d`, `configuration error: capath=${dir}/absent-ca.d: no such file or directory (ENOENT)`],
      [`cafile=${notPem}`, `configuration error: cafile=${notPem}: no PEM certificate could be read`],
    ];
    for (const [trust, error] of cases) {
      const service = `tls${++serial}`;
      writeConfdir(confdir, service, [`auth required ${MODULE} socket=${url} ${trust} timeout=${DEADLINE_S} config=${emptyConfig}`]);
      const r = await runPamdrive(confdir, service, "alice", ["auth"], { input: ["secret"] });
      expect(r.ops.auth).toBe(PAM.SERVICE_ERR);
      expect(r.syslog.some((l) => l.priority === 3 && l.message.includes(error)), r.syslog.map((l) => l.message).join("\n")).toBe(true);
    }
    expect(s.connections).toBe(0);
  });
});

describe("the per-process session cache", () => {
  it("a second login to the same server resumes; the same server under another cafile= never gets that session", async () => {
    const s = await serve(good());
    const url = `https://localhost:${s.port}/`;
    const otherCa = path.join(dir, "same-ca-other-path.pem");
    copyFileSync(pki.caFile, otherCa);
    // two logins in one process, each through two pam_mapi lines that differ only in cafile=
    const log = await login([[`socket=${url}`, `cafile=${pki.caFile}`], [`socket=${url}`, `cafile=${otherCa}`]], 2);
    expect(handshakes(log)).toEqual(["full", "full", "resumed", "resumed"]);
  });

  it("TLS 1.2 (session ids or tickets) resumes too", async () => {
    const s = await serve(good(), { tlsOptions: { maxVersion: "TLSv1.2" } });
    const log = await login([[`socket=https://localhost:${s.port}/`, `cafile=${pki.caFile}`]], 2);
    expect(handshakes(log)).toEqual(["full", "resumed"]);
    expect(log.join("\n")).toMatch(/TLSv1\.2 session resumed/);
  });

  it("another server never gets a session made with the first, even one that would accept it (shared ticket keys)", async () => {
    const ticketKeys = randomBytes(48);
    const a = await serve(good(), { tlsOptions: { ticketKeys } });
    const b = await serve(good(), { tlsOptions: { ticketKeys } });
    const log = await login([[`socket=https://localhost:${a.port}/`, `cafile=${pki.caFile}`], [`socket=https://localhost:${b.port}/`, `cafile=${pki.caFile}`]]);
    expect(handshakes(log)).toEqual(["full", "full"]);
    // the name used is part of the key as well: the same server by address is another entry
    const again = await login([[`socket=https://localhost:${a.port}/`, `cafile=${pki.caFile}`], [`socket=https://127.0.0.1:${a.port}/`, `cafile=${pki.caFile}`]], 2);
    expect(handshakes(again)).toEqual(["full", "full", "resumed", "resumed"]);
  });

  it("a server restarted with a new certificate (new ticket keys) gets a full handshake, and its certificate is checked", async () => {
    // once the first login's request is answered, new connections meet a self-signed certificate and new ticket
    // keys, as after a restart
    let s: CannedServer | undefined;
    s = await serve(good(), {
      reply: () => {
        s!.tlsServer!.setSecureContext({ key: readFileSync(pki.selfSignedKey), cert: readFileSync(pki.selfSignedCert) });
        s!.tlsServer!.setTicketKeys(randomBytes(48));
        return OK;
      },
    });
    const url = `https://localhost:${s.port}/`;
    const log = await login([[`socket=${url}`, `cafile=${pki.caFile}`], [`socket=${url}`, `cafile=${pki.caFile}`]]);
    expect(handshakes(log)).toEqual(["full", "TLS: self-signed certificate"]);
  });
});
