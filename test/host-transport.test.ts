// The Node transport (host/transport), as built into build/host: the rules of docs/abi.md against real
// servers on loopback and unix sockets. httpPost is driven directly (servers in this thread); SyncTransport,
// which blocks this thread, talks to servers that run in a worker thread.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { Worker } from "node:worker_threads";
import { repoRoot } from "./helpers/guest.js";
import { freePort } from "./helpers/ports.js";

const built = (p: string) => import(path.join(repoRoot, "build/host", p));
const { httpPost, newAgent, SyncTransport, loadTrustAnchors, MAX_REPLY_BYTES } = await built("transport/index.js");
const { parseServerUrl, parseServerList } = await built("server-url.js");

const tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-transport-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---- a throwaway PKI (openssl): CA, good/expired/wrong-host leaf certificates, an untrusted self-signed one
interface Pki { caFile: string; caDir: string; good: { key: string; cert: string }; expired: { key: string; cert: string };
  wrongHost: { key: string; cert: string }; selfSigned: { key: string; cert: string } }
function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  writeFileSync(path.join(dir, "ca.cnf"), [
    "[ca]", "default_ca = ca_default", "[ca_default]", "dir = .", "database = index.txt", "new_certs_dir = .",
    "serial = serial", "default_md = sha256", "policy = policy_any", "copy_extensions = copy", "unique_subject = no",
    "[policy_any]", "commonName = supplied", ""].join("\n"));
  writeFileSync(path.join(dir, "index.txt"), "");
  writeFileSync(path.join(dir, "serial"), "01\n");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pam-mapi test CA");
  const leaf = (name: string, san: string, dates: string[]) => {
    run("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=localhost", "-addext", `subjectAltName=${san}`);
    run("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", ...dates, "-in", `${name}.csr`,
      "-out", `${name}.pem`, "-notext");
    return { key: readFileSync(path.join(dir, `${name}.key`), "utf8"), cert: readFileSync(path.join(dir, `${name}.pem`), "utf8") };
  };
  const good = leaf("good", "DNS:localhost,IP:127.0.0.1", ["-days", "2"]);
  const expired = leaf("expired", "DNS:localhost,IP:127.0.0.1", ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"]);
  const wrongHost = leaf("wrong", "DNS:mail.example.org", ["-days", "2"]);
  run("req", "-x509", ...ec, "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1");
  const selfSigned = { key: readFileSync(path.join(dir, "self.key"), "utf8"), cert: readFileSync(path.join(dir, "self.pem"), "utf8") };
  const caDir = path.join(dir, "capath");
  mkdirSync(caDir);
  copyFileSync(path.join(dir, "ca.pem"), path.join(caDir, "test-ca.pem"));
  writeFileSync(path.join(caDir, "README"), "not a certificate\n");
  return { caFile: path.join(dir, "ca.pem"), caDir, good, expired, wrongHost, selfSigned };
}
const pki = makePki(path.join(tmp, "pki"));
const testCa = loadTrustAnchors(pki.caFile, "");

// ---- servers in this thread, for httpPost
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;
const closers: (() => void)[] = [];
afterAll(() => closers.forEach((c) => c()));

function track<T extends net.Server>(server: T): T {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  server.on("secureConnection", (s: net.Socket) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  closers.push(() => { sockets.forEach((s) => s.destroy()); server.close(); });
  return server;
}
function withBody(handler: Handler) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks)));
  };
}
async function httpServer(handler: Handler): Promise<string> {
  const server = track(http.createServer(withBody(handler)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/kopano`;
}
async function httpsServer(identity: { key: string; cert: string }, handler: Handler, extra: https.ServerOptions = {}): Promise<number> {
  const server = track(https.createServer({ ...identity, ...extra }, withBody(handler)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as net.AddressInfo).port;
}
/** A raw TCP server that answers every connection with `reply` bytes (then maybe closes). */
async function rawServer(reply: Buffer, close = true): Promise<string> {
  const server = track(net.createServer((s) => {
    s.once("data", () => { s.write(reply); if (close) s.end(); });
    s.on("error", () => {});
  }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

const body = new TextEncoder().encode("<soap:Envelope>logon</soap:Envelope>");
async function post(url: string, options: { ca?: string[]; timeoutMs?: number } = {}) {
  const target = parseServerUrl(url);
  const started = Date.now();
  const result = await httpPost(target, body, {
    deadline: started + (options.timeoutMs ?? 5000), agent: newAgent(target), userAgent: "pam_mapi/test", ca: options.ca,
  });
  return { ...result, elapsed: Date.now() - started };
}
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

describe("httpPost over http", () => {
  it("posts text/xml and returns status 200 with the body", async () => {
    let seen: { method?: string; url?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
    const url = await httpServer((req, res, b) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body: b.toString() };
      res.setHeader("Content-Type", "text/xml; charset=utf-8");
      res.end("<ok/>");
    });
    const r = await post(url);
    expect(r.outcome).toEqual({ ok: true, status: 200, body: new TextEncoder().encode("<ok/>") });
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/kopano");
    expect(seen.body).toBe("<soap:Envelope>logon</soap:Envelope>");
    expect(seen.headers!["content-type"]).toBe("text/xml; charset=utf-8");
    expect(seen.headers!["accept-encoding"]).toBe("identity");
    expect(r.connectMs).toBeGreaterThanOrEqual(0);
  });

  it("delivers a 500 reply (a SOAP fault) as ok with status 500", async () => {
    const url = await httpServer((_q, res) => { res.statusCode = 500; res.end("<soap:Fault/>"); });
    const r = await post(url);
    expect(r.outcome).toMatchObject({ ok: true, status: 500 });
    expect(text((r.outcome as { body: Uint8Array }).body)).toBe("<soap:Fault/>");
  });

  it("never follows a redirect: http-status, and the target is never contacted", async () => {
    let targetHit = false;
    const target = await httpServer((_q, res) => { targetHit = true; res.end("<ok/>"); });
    const url = await httpServer((_q, res) => { res.writeHead(302, { Location: target }); res.end(); });
    const r = await post(url);
    expect(r.outcome).toMatchObject({ ok: false, error: "http-status" });
    expect((r.outcome as { detail: string }).detail).toBe("HTTP status 302"); // the module's words
    expect(targetHit).toBe(false);
  });

  it.each([401, 404, 503])("status %i is http-status", async (status) => {
    const url = await httpServer((_q, res) => { res.statusCode = status; res.end("no"); });
    expect((await post(url)).outcome).toMatchObject({ ok: false, error: "http-status" });
  });

  it("rejects a gzip-encoded reply as malformed", async () => {
    const url = await httpServer((_q, res) => {
      res.writeHead(200, { "Content-Encoding": "gzip" });
      res.end(gzipSync("<ok/>"));
    });
    expect((await post(url)).outcome).toMatchObject({ ok: false, error: "malformed" });
  });

  it("accepts Content-Encoding: identity", async () => {
    const url = await httpServer((_q, res) => { res.writeHead(200, { "Content-Encoding": "identity" }); res.end("<ok/>"); });
    expect((await post(url)).outcome).toMatchObject({ ok: true, status: 200 });
  });

  it("decodes a chunked reply", async () => {
    const url = await httpServer((_q, res) => {
      res.writeHead(200, { "Transfer-Encoding": "chunked" });
      res.write("<soap:Envelope>");
      setTimeout(() => res.end("<er>0</er></soap:Envelope>"), 20);
    });
    const r = await post(url);
    expect(r.outcome).toMatchObject({ ok: true, status: 200 });
    expect(text((r.outcome as { body: Uint8Array }).body)).toBe("<soap:Envelope><er>0</er></soap:Envelope>");
  });

  it("rejects broken chunking as malformed", async () => {
    const url = await rawServer(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"));
    expect((await post(url)).outcome).toMatchObject({ ok: false, error: "malformed" });
  });

  it("rejects a reply that is not HTTP as malformed", async () => {
    const url = await rawServer(Buffer.from("SSH-2.0-OpenSSH_9.2\r\n"));
    expect((await post(url)).outcome).toMatchObject({ ok: false, error: "malformed" });
  });

  it("caps replies at 1 MiB: by Content-Length and while streaming chunks", async () => {
    expect(MAX_REPLY_BYTES).toBe(1024 * 1024);
    const declared = await httpServer((_q, res) => { res.writeHead(200, { "Content-Length": MAX_REPLY_BYTES + 1 }); res.end(Buffer.alloc(MAX_REPLY_BYTES + 1, 0x61)); });
    expect((await post(declared)).outcome).toMatchObject({ ok: false, error: "too-large" });
    const streamed = await httpServer((_q, res) => {
      res.writeHead(200, { "Transfer-Encoding": "chunked" });
      for (let i = 0; i < 17; i++) res.write(Buffer.alloc(64 * 1024, 0x62));
      res.end();
    });
    expect((await post(streamed)).outcome).toMatchObject({ ok: false, error: "too-large" });
    const exact = await httpServer((_q, res) => res.end(Buffer.alloc(MAX_REPLY_BYTES, 0x63)));
    const r = await post(exact);
    expect(r.outcome).toMatchObject({ ok: true, status: 200 });
    expect((r.outcome as { body: Uint8Array }).body.length).toBe(MAX_REPLY_BYTES);
  });

  it("reports a connection closed mid-reply as closed", async () => {
    const url = await rawServer(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<soap:Envelope>"));
    expect((await post(url)).outcome).toMatchObject({ ok: false, error: "closed", detail: "the server closed the connection before the reply was complete" });
  });

  it("reports a connection closed before any reply as closed", async () => {
    const url = await rawServer(Buffer.alloc(0));
    expect((await post(url)).outcome).toMatchObject({ ok: false, error: "closed" });
  });

  it("reports a refused connection as refused", async () => {
    const r = await post(`http://127.0.0.1:${await freePort()}/`);
    expect(r.outcome).toMatchObject({ ok: false, error: "refused", detail: "connection refused (ECONNREFUSED)" });
  });

  it("reports an unresolvable host name as resolve", async () => {
    const r = await post("http://no-such-host.invalid:236/");
    expect(r.outcome).toMatchObject({ ok: false, error: "resolve", detail: "the host name does not resolve" });
  });

  it("times out at the deadline (connect included), within 10%", async () => {
    const url = await rawServer(Buffer.alloc(0), false); // accepts, reads, never answers
    const r = await post(url, { timeoutMs: 2000 });
    expect(r.outcome).toMatchObject({ ok: false, error: "timeout" });
    expect(r.elapsed).toBeGreaterThanOrEqual(1990);
    expect(r.elapsed).toBeLessThanOrEqual(2200);
  });

  it("fails at once when the deadline has already passed", async () => {
    const url = await httpServer((_q, res) => res.end("<ok/>"));
    expect((await post(url, { timeoutMs: 0 })).outcome).toMatchObject({ ok: false, error: "timeout" });
  });
});

describe("httpPost over a unix socket (file://)", () => {
  it("speaks HTTP over the socket, with the socket path in the request line", async () => {
    const socketPath = path.join(tmp, "server.sock");
    let requestLine = "";
    const server = track(http.createServer(withBody((req, res) => { requestLine = `${req.method} ${req.url}`; res.end("<unix/>"); })));
    await new Promise<void>((r) => server.listen(socketPath, r));
    const r = await post(`file://${socketPath}`);
    expect(r.outcome).toMatchObject({ ok: true, status: 200 });
    expect(text((r.outcome as { body: Uint8Array }).body)).toBe("<unix/>");
    expect(requestLine).toBe(`POST ${socketPath}`);
  });

  it("reports a missing socket file as refused", async () => {
    expect((await post(`file://${tmp}/nothing-here.sock`)).outcome).toMatchObject({ ok: false, error: "refused" });
  });
});

describe("httpPost over https", () => {
  const ok: Handler = (_q, res) => res.end("<tls/>");

  it("verifies the server against cafile= and works", async () => {
    const port = await httpsServer(pki.good, ok);
    const r = await post(`https://127.0.0.1:${port}/`, { ca: testCa });
    expect(r.outcome).toMatchObject({ ok: true, status: 200 });
    expect(r.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    const byName = await post(`https://localhost:${port}/`, { ca: testCa });
    expect(byName.outcome).toMatchObject({ ok: true, status: 200 });
  });

  it("takes anchors from capath= (every certificate in the directory)", async () => {
    const port = await httpsServer(pki.good, ok);
    const anchors = loadTrustAnchors("", pki.caDir);
    expect(anchors).toHaveLength(1);
    expect((await post(`https://127.0.0.1:${port}/`, { ca: anchors })).outcome).toMatchObject({ ok: true });
  });

  it("fails with tls when the certificate names another host", async () => {
    const port = await httpsServer(pki.wrongHost, ok);
    expect((await post(`https://127.0.0.1:${port}/`, { ca: testCa })).outcome).toMatchObject({ ok: false, error: "tls", detail: "TLS: IP address mismatch" });
  });

  it("fails with tls for a self-signed certificate", async () => {
    const port = await httpsServer(pki.selfSigned, ok);
    expect((await post(`https://127.0.0.1:${port}/`, { ca: testCa })).outcome).toMatchObject({ ok: false, error: "tls", detail: "TLS: self-signed certificate" });
  });

  it("fails with tls for an expired certificate", async () => {
    const port = await httpsServer(pki.expired, ok);
    const r = await post(`https://127.0.0.1:${port}/`, { ca: testCa });
    expect(r.outcome).toMatchObject({ ok: false, error: "tls" });
    expect((r.outcome as { detail: string }).detail).toBe("TLS: certificate has expired");
  });

  it("does not trust the test CA without cafile= (Node's default store)", async () => {
    const port = await httpsServer(pki.good, ok);
    expect((await post(`https://127.0.0.1:${port}/`)).outcome).toMatchObject({ ok: false, error: "tls" });
  });

  it("fails with tls against a server that speaks plain HTTP", async () => {
    const url = await httpServer(ok);
    expect((await post(url.replace("http:", "https:"), { ca: testCa })).outcome).toMatchObject({ ok: false, error: "tls", detail: "this port speaks plain HTTP" });
  });

  it("refuses TLS below 1.2", async () => {
    const port = await httpsServer(pki.good, ok, { maxVersion: "TLSv1.1", minVersion: "TLSv1", ciphers: "DEFAULT:@SECLEVEL=0" });
    expect((await post(`https://127.0.0.1:${port}/`, { ca: testCa })).outcome).toMatchObject({ ok: false, error: "tls", detail: "TLS: tlsv1 alert protocol version" });
  });

  it("never presents a client certificate, even when the server asks for one", async () => {
    let presented: unknown = "not called";
    const port = await httpsServer(pki.good, (req, res) => {
      presented = (req.socket as import("node:tls").TLSSocket).getPeerCertificate();
      res.end("<tls/>");
    }, { requestCert: true, rejectUnauthorized: false, ca: [readFileSync(pki.caFile, "utf8")] });
    expect((await post(`https://127.0.0.1:${port}/`, { ca: testCa })).outcome).toMatchObject({ ok: true });
    expect(presented).toEqual({});
  });
});

describe("trust anchors", () => {
  it("reads cafile= and rejects a file without certificates", () => {
    expect(loadTrustAnchors(pki.caFile, "")).toHaveLength(1);
    // Without cafile/capath: the system store that pam_mapi.so uses, not Node's compiled-in bundle.
    expect(loadTrustAnchors("", "")).toEqual(loadTrustAnchors("/etc/ssl/certs/ca-certificates.crt", ""));
    const junk = path.join(tmp, "junk.pem");
    writeFileSync(junk, "hello\n");
    expect(() => loadTrustAnchors(junk, "")).toThrow(/no PEM certificate/);
    expect(() => loadTrustAnchors(path.join(tmp, "missing.pem"), "")).toThrow(/ENOENT/);
    expect(() => loadTrustAnchors("", path.join(tmp, "pki", "index.txt.attr-missing"))).toThrow(/capath/);
  });
});

describe("server URLs", () => {
  it.each([
    ["file:///var/run/kopano/server.sock", { kind: "unix", socketPath: "/var/run/kopano/server.sock" }],
    ["http://127.0.0.1:236/", { kind: "http", host: "127.0.0.1", port: 236, path: "/" }],
    ["https://mail.example.org:237/kopano", { kind: "https", host: "mail.example.org", port: 237, path: "/kopano" }],
    ["https://mail.example.org", { kind: "https", port: 443, path: "/" }],
    ["HTTP://[::1]:236/zarafa", { kind: "http", host: "::1", port: 236, url: "http://[::1]:236/zarafa" }],
  ])("accepts %s", (url, expected) => {
    expect(parseServerUrl(url)).toMatchObject(expected);
  });

  it.each([
    "ftp://host/", "file://host/sock", "file:relative.sock", "http://user:pw@host/", "http://user@host/",
    "http://host/?q=1", "http://host/#f", "http://host/%2e", "http://host:0/", "http://host:65536/", "http://host:x/",
    "http:///path", "http://ho st/", "http://host\n/", "https://[::1/", "https://[zz::1]/", "http://-bad-/",
    `file:///${"a".repeat(107)}`, "file:///run/../etc/sock", "file:///run/dir/", "http://host/a/../b", "http://host/./x", "", "http://999.1.1.1/",
  ])("rejects %j", (url) => {
    expect(() => parseServerUrl(url)).toThrow(/invalid server URL/);
  });

  it("accepts a socket path of exactly 107 bytes", () => {
    expect(parseServerUrl(`file:///${"a".repeat(106)}`)).toMatchObject({ kind: "unix" });
  });

  it("takes the list all or nothing", () => {
    expect(() => parseServerList(["http://127.0.0.1:236/", "gopher://x/"])).toThrow(/gopher/);
    expect(() => parseServerList([])).toThrow(/empty/);
  });
});

// ---- SyncTransport: the guest's synchronous post; the servers must live in another thread
const serverWorkerCode = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const connections = new Set();
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const m = /^\\/(\\w+)(?:\\/(\\d+))?/.exec(req.url) || [];
    const reply = () => res.end("<reply n=\\"" + Buffer.concat(chunks).length + "\\" port=\\"" + req.socket.remotePort + "\\"/>");
    if (m[1] === "slow") setTimeout(reply, Number(m[2]));
    else if (m[1] === "silent") {}
    else reply();
  });
});
server.on("connection", (s) => connections.add(s));
server.listen(workerData.listen, () => parentPort.postMessage(server.address()));
parentPort.on("message", () => { for (const s of connections) s.destroy(); server.close(() => process.exit(0)); });
`;
async function serverInWorker(listen: unknown): Promise<{ address: net.AddressInfo | string; stop: () => Promise<void> }> {
  const worker = new Worker(serverWorkerCode, { eval: true, workerData: { listen } });
  const address = await new Promise<net.AddressInfo | string>((r) => worker.once("message", r));
  return { address, stop: async () => { worker.postMessage("stop"); await new Promise((r) => worker.once("exit", r)); } };
}

describe("SyncTransport", () => {
  let base = "";
  let socketPath = "";
  let stops: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    const tcp = await serverInWorker({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(tcp.address as net.AddressInfo).port}`;
    socketPath = path.join(tmp, "sync.sock");
    const unix = await serverInWorker({ path: socketPath });
    stops = [tcp.stop, unix.stop];
  });
  afterAll(async () => { for (const stop of stops) await stop(); });

  const transport = (urls: string[], timeoutMs = 5000, extra = {}) =>
    new SyncTransport({ servers: parseServerList(urls), timeoutMs, userAgent: "pam_mapi/test", ...extra });
  const bytes = (s: string) => new TextEncoder().encode(s);
  const replyText = (r: { tag: string; val: unknown }) => text((r.val as { body: Uint8Array }).body);

  it("posts synchronously, keeps one connection alive within a call, and wipes the guest's body", () => {
    const t = transport([`${base}/ok`]);
    try {
      const request = bytes("<logon/>");
      const first = t.post(0, request);
      expect(first.tag).toBe("ok");
      expect(replyText(first)).toMatch(/^<reply n="8" port="\d+"\/>$/);
      expect(Array.from(request)).toEqual(new Array(8).fill(0));
      const second = t.post(0, bytes("<logoff/>"));
      expect(replyText(second).match(/port="(\d+)"/)![1]).toBe(replyText(first).match(/port="(\d+)"/)![1]);
      expect(t.records.map((r: { reusedConnection: boolean }) => r.reusedConnection)).toEqual([false, true]);
      expect(t.records[0]).toMatchObject({ server: 0, url: `${base}/ok`, status: 200, requestBytes: 8, replyBytes: expect.any(Number) });
    } finally {
      t.close();
    }
  });

  it("never reuses a connection across calls", () => {
    const ports = [1, 2].map(() => {
      const t = transport([`${base}/ok`]);
      try {
        return replyText(t.post(0, bytes("x"))).match(/port="(\d+)"/)![1];
      } finally {
        t.close();
      }
    });
    expect(ports[0]).not.toBe(ports[1]);
  });

  it("posts over a unix socket", () => {
    const t = transport([`file://${socketPath}`]);
    try {
      expect(replyText(t.post(0, bytes("<logon/>")))).toMatch(/^<reply n="8"/);
    } finally {
      t.close();
    }
  });

  it("answers no-such-server for an index outside the pinned list", () => {
    const t = transport([`${base}/ok`]);
    try {
      expect(t.post(1, bytes("x"))).toEqual({ tag: "err", val: "no-such-server" });
      expect(t.post(-1, bytes("x"))).toEqual({ tag: "err", val: "no-such-server" });
    } finally {
      t.close();
    }
  });

  it("holds one deadline per server per call, started by the first post, within 10%", () => {
    const t = transport([`${base}/slow/800`, `${base}/ok`], 1500);
    try {
      const started = Date.now();
      expect(t.post(0, bytes("a")).tag).toBe("ok"); // 800 ms of the 1500
      expect(t.post(1, bytes("b")).tag).toBe("ok"); // another server: its own deadline
      expect(t.post(0, bytes("c"))).toEqual({ tag: "err", val: "timeout" }); // 800 more would pass 1500
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(1490);
      expect(elapsed).toBeLessThanOrEqual(1650);
    } finally {
      t.close();
    }
  });

  it("times out a silent server within the deadline + 10% and reports progress while waiting", () => {
    const waits: number[] = [];
    const t = transport([`${base}/silent`], 2000, { waitingIntervalMs: 500, onWaiting: (w: { elapsedMs: number }) => waits.push(w.elapsedMs) });
    try {
      const started = Date.now();
      expect(t.post(0, bytes("x"))).toEqual({ tag: "err", val: "timeout" });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(1990);
      expect(elapsed).toBeLessThanOrEqual(2200);
      expect(waits.length).toBeGreaterThanOrEqual(3);
      expect(t.records[0]).toMatchObject({ error: "timeout", connectMs: expect.any(Number) });
    } finally {
      t.close();
    }
  });

  it("reports refused and keeps going with the next server", () => {
    const t = transport([`file://${tmp}/absent.sock`, `${base}/ok`]);
    try {
      expect(t.post(0, bytes("x"))).toEqual({ tag: "err", val: "refused" });
      expect(t.post(1, bytes("x")).tag).toBe("ok");
      expect(t.records.map((r: { error?: string }) => r.error)).toEqual(["refused", undefined]);
    } finally {
      t.close();
    }
  });
});
