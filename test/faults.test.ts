// Hostile and broken servers, through the real module (build/pam_mapi.so, real libpam via pamdrive) and, where it
// is cheap, through the Node host: each fault has an asserted PAM code and an asserted time bound. The servers are
// the Kopano emulator in its fault modes (host/emulator/faults.ts) and the test PKI (test/helpers/tls.ts).
// Bounds: the answer comes within the configured deadline (timeout=) plus 10%, measured around the whole pamdrive
// process for the native module, and around the runAuthentication call (inside its process) for the Node host.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadUserDb, startEmulator, type Emulator, type FaultMode } from "../host/emulator/index.js";
import { repoRoot } from "./helpers/guest.js";
import { MODULE, PAM, makeConfdir, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";
import { makeTestPki, type TestPki } from "./helpers/tls.js";
import { freePort as deadPort } from "./helpers/ports.js"; // free a moment ago: nothing listens there

const USERS = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
const PASSWORD = "Secr3t!"; // alice's in demo-users.json
const DEADLINE_S = 2;
const IGNORED = 15; // PAM_CRED_UNAVAIL from pam_debug: the module said PAM_IGNORE
const BOUND_MS = DEADLINE_S * 1000 * 1.1;

let tmp: string;
let confdir: string;
let pki: TestPki;
let emptyConfig: string; // ours: the default /etc/security/pam_mapi.conf may belong to another test
let faulty: Emulator; // its fault mode changes per test (tests in a file run one after another)
let good: Emulator;
const started: Emulator[] = [];
// bench/blackhole.c: dead servers the emulator cannot play (a TCP listener and a unix socket with full accept queues)
let blackhole: ChildProcess | undefined;
const dead = { synDropPort: 0, fullSocket: "" };

async function emulator(listen: Parameters<typeof startEmulator>[0]["listen"] = [{ http: {} }]): Promise<Emulator> {
  const e = await startEmulator({ users: USERS, listen });
  started.push(e);
  return e;
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "faults-"));
  confdir = makeConfdir();
  pki = makeTestPki(path.join(tmp, "pki"));
  emptyConfig = path.join(tmp, "pam_mapi.conf");
  writeFileSync(emptyConfig, "", { mode: 0o644 });
  faulty = await emulator();
  good = await emulator();
  const binary = path.join(tmp, "blackhole");
  execFileSync("gcc", ["-std=gnu11", "-O2", "-Wall", "-Werror", "-o", binary, path.join(repoRoot, "bench/blackhole.c")]);
  dead.fullSocket = path.join(tmp, "full.sock");
  blackhole = spawn(binary, [dead.fullSocket], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    blackhole!.stdout!.once("data", (d) => resolve(String(d)));
    blackhole!.once("exit", (code) => reject(new Error(`blackhole exited (${code})`)));
  });
  dead.synDropPort = Number(/drop (\d+)/.exec(line)?.[1]);
});
afterAll(async () => {
  blackhole?.kill();
  for (const e of started) await e.close();
  removeConfdir(confdir);
  rmSync(tmp, { recursive: true, force: true });
});


let serial = 0;
/** One authentication of alice through the real module; `ms` is how long pam_authenticate took, measured in
 * pamdrive around the call (the time the application waits, without process start-up, which a loaded CI machine
 * stretches); `wallMs` the whole process, checked only loosely. */
async function native(servers: string[], extra: string[] = [], password = PASSWORD) {
  const service = `fault${++serial}`;
  const args = [`socket=${servers.join(",")}`, `timeout=${DEADLINE_S}`, `cafile=${pki.caFile}`, "debug", `config=${emptyConfig}`, ...extra];
  // PAM_IGNORE alone in a stack reads as PAM_PERM_DENIED; let it fall through to pam_debug's PAM_CRED_UNAVAIL
  writeConfdir(confdir, service, [`auth [success=done ignore=ignore default=die] ${MODULE} ${args.join(" ")}`,
    "auth required pam_debug.so auth=cred_unavail"]);
  const t0 = performance.now();
  const r = await runPamdrive(confdir, service, "alice", ["auth"], { input: [password] });
  const wallMs = performance.now() - t0;
  expect(wallMs).toBeLessThan(BOUND_MS * 2 + 2000); // nothing outside the PAM call hangs either
  return { code: r.ops.auth, ms: r.times.auth, wallMs, syslog: r.syslog.map((l) => l.message) };
}

/** One authentication through the Node host (build/host) in its own process (the host blocks its thread while it
 * waits, so the emulator must live elsewhere); `ms` is the time of the call itself, measured inside that process. */
const NODE_RUN = path.join(repoRoot, "test/faults-node-host.mjs");
async function nodeHost(servers: string[], extra: string[] = [], password = PASSWORD): Promise<{ code: string; ms: number }> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [NODE_RUN], { stdio: ["pipe", "pipe", "inherit"] });
    let s = "";
    child.stdout.on("data", (d) => (s += d));
    child.on("error", reject);
    child.on("close", () => resolve(s));
    child.stdin.end(JSON.stringify({ password,
      args: [`socket=${servers.join(",")}`, `timeout=${DEADLINE_S}`, `cafile=${pki.caFile}`, `config=${emptyConfig}`, ...extra] }));
  });
  return JSON.parse(out);
}

const within = (ms: number) => expect(ms).toBeLessThan(BOUND_MS);
/** A fault that is only detected by the deadline: at least the deadline, at most 10% more. */
const atDeadline = (ms: number) => {
  expect(ms).toBeGreaterThanOrEqual(DEADLINE_S * 1000 * 0.95);
  expect(ms).toBeLessThan(BOUND_MS);
};

async function withFault<T>(f: FaultMode, run: () => Promise<T>): Promise<T> {
  faulty.setFault(f);
  try {
    return await run();
  } finally {
    faulty.setFault({ kind: "none" });
  }
}

describe("faults through the real module", () => {
  it("a healthy server: PAM_SUCCESS, well within the deadline (the baseline)", async () => {
    const r = await native([good.urls[0]]);
    expect(r.code).toBe(PAM.SUCCESS);
    within(r.ms);
  });

  it("connection refused: PAM_AUTHINFO_UNAVAIL at once", async () => {
    const r = await native([`http://127.0.0.1:${await deadPort()}/`]);
    expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
    expect(r.ms).toBeLessThan(1000);
  });

  it.each<[string, FaultMode]>([
    ["accept and never answer", { kind: "hang" }],
    ["slow headers (one byte a second)", { kind: "slow-headers" }],
    ["slow body (one byte a second)", { kind: "slow-body" }],
  ])("%s: PAM_AUTHINFO_UNAVAIL at the deadline, within +10%%", async (_name, mode) => {
    const r = await withFault(mode, () => native([faulty.urls[0]]));
    expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
    atDeadline(r.ms);
    expect(r.syslog.some((l) => l.includes("timeout"))).toBe(true);
  });

  it.each<[string, FaultMode, number]>([
    ["truncated reply (Content-Length longer than the body)", { kind: "truncated" }, PAM.AUTHINFO_UNAVAIL],
    ["reset mid-reply", { kind: "reset" }, PAM.AUTHINFO_UNAVAIL],
    ["oversized reply (1 MiB + 1 byte)", { kind: "oversized", bytes: (1 << 20) + 1 }, PAM.AUTHINFO_UNAVAIL],
    ["a reply of exactly 1 MiB (the cap) is still read", { kind: "oversized", bytes: 1 << 20 }, PAM.SUCCESS],
    ["HTTP 500 with a SOAP fault", { kind: "soap-fault" }, PAM.AUTHINFO_UNAVAIL],
    ["HTTP 500 whose body says er 0", { kind: "er0-in-500" }, PAM.AUTHINFO_UNAVAIL],
    ["302 redirect (never followed)", { kind: "status", status: 302 }, PAM.AUTHINFO_UNAVAIL],
    ["301 redirect (never followed)", { kind: "status", status: 301 }, PAM.AUTHINFO_UNAVAIL],
    ["HTTP 404", { kind: "status", status: 404 }, PAM.AUTHINFO_UNAVAIL],
    ["unsolicited gzip Content-Encoding", { kind: "gzip" }, PAM.AUTHINFO_UNAVAIL],
    ["a body that is not XML", { kind: "garbage" }, PAM.AUTHINFO_UNAVAIL],
    ["chunked framing (decoded)", { kind: "chunked" }, PAM.SUCCESS],
    // Content-Type is not a verdict input: the body is read and checked by its shape, whatever it is labelled
    ["wrong Content-Type (text/html) over a correct body", { kind: "content-type", value: "text/html" }, PAM.SUCCESS],
    ["no Content-Type value (empty)", { kind: "content-type", value: "" }, PAM.SUCCESS],
  ])("%s: PAM code as asserted, within the deadline", async (_name, mode, code) => {
    const before = faulty.requests.length;
    const r = await withFault(mode, () => native([faulty.urls[0]]));
    expect(r.code).toBe(code);
    within(r.ms);
    if (mode.kind === "status")
      expect(r.syslog.some((l) => l.endsWith(`server 1 (${faulty.urls[0]}): HTTP status ${mode.status}`)), r.syslog.join("\n")).toBe(true);
    // one logon, never a second request (a redirect is not followed; nothing is retried on the same server)
    expect(faulty.requests.length - before).toBe(1);
  });

  describe("TLS", () => {
    async function https(key: string, cert: string): Promise<string> {
      const e = await emulator([{ https: { key: readFileSync(key), cert: readFileSync(cert) } }]);
      return e.urls[0];
    }
    it("a certificate from the configured CA works (the baseline)", async () => {
      const r = await native([await https(pki.key, pki.cert)]);
      expect(r.code).toBe(PAM.SUCCESS);
      within(r.ms);
    });
    it.each<[string, keyof TestPki, keyof TestPki, string]>([
      ["self-signed", "selfSignedKey", "selfSignedCert", "TLS: self-signed certificate"],
      ["expired", "expiredKey", "expiredCert", "TLS: certificate has expired"],
      ["for another host name", "wrongHostKey", "wrongHostCert", "TLS: hostname mismatch"],
    ])("a %s certificate: PAM_AUTHINFO_UNAVAIL, no request sent, the verify reason logged", async (_name, key, cert, cause) => {
      const url = await https(pki[key], pki[cert]);
      const e = started[started.length - 1];
      const r = await native([url]);
      expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
      within(r.ms);
      expect(e.requests).toHaveLength(0);
      expect(r.syslog.some((l) => l.includes("tls"))).toBe(true);
      expect(r.syslog.some((l) => l.endsWith(`server 1 (${url}): ${cause}`)), r.syslog.join("\n")).toBe(true);
    });
    it("a handshake failure (the server answers the ClientHello with HTTP): PAM_AUTHINFO_UNAVAIL at once", async () => {
      const server = net.createServer((s) => {
        s.on("error", () => {}); // the client resets the connection once it sees the answer
        s.once("data", () => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      try {
        const url = `https://localhost:${(server.address() as net.AddressInfo).port}/`;
        const r = await native([url]);
        expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
        expect(r.ms).toBeLessThan(1000);
        expect(r.syslog.some((l) => l.includes("tls"))).toBe(true);
        expect(r.syslog.some((l) => l.endsWith(`server 1 (${url}): this port speaks plain HTTP`)), r.syslog.join("\n")).toBe(true);
      } finally {
        server.close();
      }
    });
    it("a handshake that stalls (the port speaks HTTP and waits for a request): PAM_AUTHINFO_UNAVAIL at the deadline", async () => {
      const url = `https://localhost:${new URL(good.urls[0]).port}/`;
      const r = await native([url]);
      expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
      atDeadline(r.ms);
      expect(r.syslog.some((l) => l.endsWith(`server 1 (${url}): timed out`)), r.syslog.join("\n")).toBe(true);
    });
  });

  describe("several servers", () => {
    it("every server down: PAM_AUTHINFO_UNAVAIL (PAM_IGNORE with ignore_unavailable)", async () => {
      const dead = [`http://127.0.0.1:${await deadPort()}/`, `http://127.0.0.1:${await deadPort()}/`, `file://${tmp}/absent.sock`];
      const r = await native(dead);
      expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
      within(r.ms);
      // one line per server with the precise cause (the words the pam-mapi CLI uses too: docs/security.md)
      const said = (text: string) => expect(r.syslog.some((l) => l.endsWith(text)), r.syslog.join("\n")).toBe(true);
      said(`server 1 (${dead[0]}): connection refused (ECONNREFUSED)`);
      said(`server 2 (${dead[1]}): connection refused (ECONNREFUSED)`);
      said(`server 3 (file://${tmp}/absent.sock): no such socket (ENOENT)`);
      const ignored = await native(dead, ["ignore_unavailable"]);
      expect(ignored.code).toBe(IGNORED);
    });

    // The connect itself is what the deadline has to stop here (a blocking connect bounded by SO_SNDTIMEO).
    it("a TCP server whose accept queue is full (SYNs dropped): its own deadline, then the next server", async () => {
      const r = await native([`http://127.0.0.1:${dead.synDropPort}/`, good.urls[0]]);
      expect(r.code).toBe(PAM.SUCCESS);
      atDeadline(r.ms);
      expect(r.syslog.some((l) => l.includes("server 1") && l.includes("timed out"))).toBe(true);
    });

    it("a unix socket whose accept queue is full: no answer now, the next server at once", async () => {
      const r = await native([`file://${dead.fullSocket}`, good.urls[0]]);
      expect(r.code).toBe(PAM.SUCCESS);
      expect(r.ms).toBeLessThan(1000);
    });

    it("failover in order: refused, then a hanging server (its own deadline), then a good one", async () => {
      const goodBefore = good.requests.length;
      const refused = `http://127.0.0.1:${await deadPort()}/`;
      const r = await withFault({ kind: "hang" }, () => native([refused, faulty.urls[0], good.urls[0]]));
      expect(r.code).toBe(PAM.SUCCESS);
      // one deadline per server: the hanging one costs one deadline, plus 10%
      atDeadline(r.ms);
      expect(good.requests.length - goodBefore).toBe(1);
      const order = r.syslog.filter((l) => /^server \d+ /.test(l) || l.includes("server 1 (") || l.includes("server 2 (")).join("\n");
      const first = order.indexOf("server 1"), second = order.indexOf("server 2");
      expect(first, order).toBeGreaterThanOrEqual(0); // both named: indexOf -1 would pass the comparison below
      expect(first).toBeLessThan(second);
    });

    it("the first good server answers; later ones are never contacted", async () => {
      const before = faulty.requests.length;
      const r = await native([good.urls[0], faulty.urls[0]]);
      expect(r.code).toBe(PAM.SUCCESS);
      expect(faulty.requests.length).toBe(before);
    });

    it("no failover after a wrong password: PAM_AUTH_ERR from the first server, the second never contacted", async () => {
      const before = faulty.requests.length;
      const r = await native([good.urls[0], faulty.urls[0]], [], "wrong password");
      expect(r.code).toBe(PAM.AUTH_ERR);
      within(r.ms);
      expect(faulty.requests.length).toBe(before);
    });
  });
});

describe("faults through the Node host", () => {
  it("a healthy server: success", async () => {
    const r = await nodeHost([good.urls[0]]);
    expect(r.code).toBe("success");
    within(r.ms);
  });

  it.each<[string, FaultMode]>([
    ["accept and never answer", { kind: "hang" }],
    ["slow body", { kind: "slow-body" }],
  ])("%s: authinfo-unavail at the deadline, within +10%%", async (_name, mode) => {
    const r = await withFault(mode, () => nodeHost([faulty.urls[0]]));
    expect(r.code).toBe("authinfo-unavail");
    atDeadline(r.ms);
  });

  it.each<[string, FaultMode, string]>([
    ["HTTP 500 whose body says er 0", { kind: "er0-in-500" }, "authinfo-unavail"],
    ["302 redirect", { kind: "status", status: 302 }, "authinfo-unavail"],
    ["unsolicited gzip", { kind: "gzip" }, "authinfo-unavail"],
    ["reset mid-reply", { kind: "reset" }, "authinfo-unavail"],
    ["oversized reply", { kind: "oversized", bytes: (1 << 20) + 1 }, "authinfo-unavail"],
    ["chunked", { kind: "chunked" }, "success"],
    ["wrong Content-Type", { kind: "content-type", value: "text/html" }, "success"],
  ])("%s: %s", async (_name, mode, code) => {
    const r = await withFault(mode, () => nodeHost([faulty.urls[0]]));
    expect(r.code).toBe(code);
    within(r.ms);
  });

  it("a self-signed certificate: authinfo-unavail", async () => {
    const e = await emulator([{ https: { key: readFileSync(pki.selfSignedKey), cert: readFileSync(pki.selfSignedCert) } }]);
    const r = await nodeHost([e.urls[0]]);
    expect(r.code).toBe("authinfo-unavail");
    within(r.ms);
    expect(e.requests).toHaveLength(0);
  });

  it("failover past a silent server costs one deadline", async () => {
    const r = await withFault({ kind: "hang" }, () => nodeHost([faulty.urls[0], good.urls[0]]));
    expect(r.code).toBe("success");
    atDeadline(r.ms);
  });

  it("no failover after a wrong password", async () => {
    const before = faulty.requests.length;
    const r = await nodeHost([good.urls[0], faulty.urls[0]], [], "wrong");
    expect(r.code).toBe("auth-err");
    within(r.ms);
    expect(faulty.requests.length).toBe(before);
  });
});
