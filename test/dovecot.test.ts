// Dovecot IMAP with passdb { driver = pam } and pam_mapi, driven by a real IMAP conversation over TCP (LOGIN with
// quoted strings, LOGIN with the password as a literal, AUTHENTICATE PLAIN), from the README's recipe files in
// docs/recipes/dovecot/ at the paths they name, inside a private mount namespace (test/helpers/dovecot.ts):
// /etc/pam.d/dovecot, /etc/security/pam_mapi.conf, pam_mapi.so by its bare name, the Kopano emulator on
// /var/run/kopano/server.sock, /dev/log read by the test. Where a test changes a recipe it says so (no server, a
// hanging server; many logins through one auth worker: max_requests and one worker). Each case logs in from its own
// 127.x address: Dovecot delays every further login from an address that failed. Needs root, dovecot-imapd
// (scripts/setup.sh) and `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadUserDb, type Emulator, type RecordedRequest } from "../host/emulator/index.js";
import { stopAll } from "./helpers/daemons.js";
import { startDaemonWorld, type DaemonWorld } from "./helpers/daemon-world.js";
import { imapLogin, processFootprint, startDovecot, type Dovecot, type ImapLogin } from "./helpers/dovecot.js";
import { repoRoot } from "./helpers/guest.js";
import { type SyslogCapture } from "./helpers/syslog-capture.js";
import { traced, tracedCalls } from "./helpers/pam-trace.js";

const recipe = (name: string) => readFileSync(path.join(repoRoot, "docs/recipes", name), "utf8");
const MODULE = path.join(repoRoot, "build/pam_mapi.so");
// demo-users.json (alice: IMAP off, bob "hunter2 ü": IMAP on) and erin, an IMAP user with an ASCII password.
const demo = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
const users = {
  ...demo,
  users: [...demo.users, {
    name: "erin", password: "Imap-Pa55", id: 7, fullName: "Erin", email: "erin@example.org", active: true, admin: 0,
    hidden: 0, capacity: 0, enabledFeatures: ["imap"], disabledFeatures: [],
  }],
};
const ERIN = { user: "erin", password: "Imap-Pa55" };
const BOB = { user: "bob", password: "hunter2 ü" };
const ALICE = { user: "alice", password: "Secr3t!" };
const FAILED = /^a1 NO \[AUTHENTICATIONFAILED\] Authentication failed\.$/;

let world: DaemonWorld | undefined;
let emulator: Emulator;
let kopanoSocket: string;
let syslog: SyslogCapture;
let hangPort: number;
let deadPort: number;
const stops: Array<() => Promise<unknown> | unknown> = [];

let sourceSerial = 0;
/** A fresh source address for each login that may fail (127.0.S.H). */
function source(): string {
  const n = ++sourceSerial;
  return `127.0.${Math.floor(n / 250) + 10}.${(n % 250) + 2}`;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the Dovecot tests start Dovecot in a mount namespace and must run as root");
  world = await startDaemonWorld("pam-mapi-dovecot-test-", users);
  ({ emulator, kopanoSocket, syslog, hangPort, deadPort } = world);
});

afterAll(async () => {
  await stopAll(...stops.reverse(), () => world?.close());
});

async function dovecot(o: { passdb?: string; authWorkers?: number } = {}): Promise<Dovecot> {
  const d = await startDovecot({
    module: MODULE, kopanoSocket, pamService: recipe("dovecot/pam.d-dovecot"), pamMapiConf: recipe("dovecot/pam_mapi.conf"),
    passdb: o.passdb ?? recipe("dovecot/passdb.conf"), authWorkers: o.authWorkers, syslog,
  });
  stops.push(() => d.stop());
  return d;
}

function logonsOf(seen: RecordedRequest[], user: string): RecordedRequest[] {
  return seen.filter((r) => r.operation === "logon" && r.body.toString("utf8").includes(`<szUsername>${user}</szUsername>`));
}

async function attempt(server: Dovecot, how: ImapLogin, user: string, password: string) {
  const before = emulator.requests.length;
  const mark = syslog.messages().length;
  const result = await imapLogin({ port: server.port, source: source(), user, password, how });
  const logged = syslog.since(mark).filter((m) => m.message.startsWith("pam_mapi(")).map((m) => ({ severity: m.severity, message: m.message }));
  return { ...result, seen: emulator.requests.slice(before), logged };
}

describe.each([["LOGIN", "LOGIN-literal"], ["AUTHENTICATE PLAIN", "AUTHENTICATE-PLAIN"]] as const)("Dovecot IMAP (docs/recipes/dovecot), %s", (_name, how) => {
  let server: Dovecot;
  // LOGIN with quoted strings for ASCII passwords; a UTF-8 password goes in a literal, as an IMAP client must send it.
  const plain: ImapLogin = how === "LOGIN-literal" ? "LOGIN" : how;
  beforeAll(async () => {
    server = await dovecot();
  }, 60_000);

  it("the right password: OK, after asking the server over its socket (as root, from the auth worker)", async () => {
    const a = await attempt(server, plain, ERIN.user, ERIN.password);
    expect(a.reply).toMatch(/^a1 OK \[CAPABILITY [^\]]*\] Logged in$/);
    expect(a.seen.map((r) => r.operation)).toEqual(["logon", "getUser", "logoff"]); // [dovecot] service = imap
    expect(logonsOf(a.seen, "erin")[0].peer).toMatchObject({ uid: 0 });
    expect(a.logged.filter((m) => m.severity <= 5)).toEqual([]);
  });

  it("a UTF-8 password (bob, 'hunter2 ü')", async () => {
    const a = await attempt(server, how, BOB.user, BOB.password);
    expect(a.reply).toMatch(/^a1 OK /);
    expect(logonsOf(a.seen, "bob")).toHaveLength(1);
  });

  it("a wrong password: NO [AUTHENTICATIONFAILED], one 'authentication failure' line", async () => {
    const a = await attempt(server, plain, ERIN.user, "not-it");
    expect(a.reply).toMatch(FAILED);
    expect(logonsOf(a.seen, "erin")).toHaveLength(1);
    expect(a.logged).toEqual([{ severity: 5, message: expect.stringMatching(
      /^pam_mapi\(dovecot:auth\): authentication failure; user=erin rhost=127\.0\.\d+\.\d+ service=dovecot reason=wrong password or unknown user$/) }]);
  });

  it("an unknown user: NO [AUTHENTICATIONFAILED]", async () => {
    const a = await attempt(server, plain, "mallory", "whatever");
    expect(a.reply).toMatch(FAILED);
    expect(logonsOf(a.seen, "mallory")).toHaveLength(1);
  });

  it("the feature check (service = imap): alice, right password but IMAP disabled, is refused with the reason", async () => {
    const a = await attempt(server, plain, ALICE.user, ALICE.password);
    expect(a.reply).toMatch(FAILED);
    expect(a.seen.map((r) => r.operation)).toEqual(["logon", "getUser", "logoff"]);
    expect(a.logged.map((m) => m.message).join("\n")).toMatch(/reason=none of the required features \(imap\) is enabled for the user/);
  });

  it("no server (the recipe's socket changed to a closed port): NO, and an error line naming the outage", async () => {
    server.setConfig(recipe("dovecot/pam_mapi.conf").replace(/^socket = .*$/m, `socket = http://127.0.0.1:${deadPort}/`));
    try {
      const a = await attempt(server, plain, ERIN.user, ERIN.password);
      expect(a.reply).toMatch(FAILED);
      expect(a.logged.filter((m) => m.severity === 3).map((m) => m.message).join("\n"))
        .toMatch(/no Kopano server available for user=erin rhost=127\.0\.\d+\.\d+ service=dovecot; last: server 1 \(http:\/\/127\.0\.0\.1:\d+\/\): logon: /);
    } finally {
      server.setConfig(recipe("dovecot/pam_mapi.conf"));
    }
  });

  it("a server that never answers (socket changed, timeout = 1): NO within seconds, the outage in the log", async () => {
    server.setConfig(recipe("dovecot/pam_mapi.conf").replace(/^socket = .*$/m, `socket = http://127.0.0.1:${hangPort}/`)
      .replace(/^timeout = 2$/m, "timeout = 1"));
    try {
      const a = await attempt(server, plain, ERIN.user, ERIN.password);
      expect(a.reply).toMatch(FAILED);
      expect(a.logged.filter((m) => m.severity === 3).map((m) => m.message).join("\n"))
        .toMatch(/no Kopano server available for user=erin .*: logon: .*tim/i);
      expect(a.ms).toBeLessThan(15_000); // 1 s deadline + Dovecot's 2 s failure delay, with room for a loaded machine
    } finally {
      server.setConfig(recipe("dovecot/pam_mapi.conf"));
    }
  });
});

describe("the PAM stages Dovecot calls (a tracing module in front of the recipe's lines)", () => {
  it("authenticate and acct_mgmt in an auth worker, nothing else (no setcred, no session by default)", async () => {
    const server = await startDovecot({
      module: MODULE, kopanoSocket, pamService: traced(recipe("dovecot/pam.d-dovecot")), pamMapiConf: recipe("dovecot/pam_mapi.conf"),
      passdb: recipe("dovecot/passdb.conf"), syslog,
    });
    stops.push(() => server.stop());
    const mark = syslog.messages().length;
    const r = await imapLogin({ port: server.port, source: source(), user: ERIN.user, password: ERIN.password, how: "LOGIN" });
    expect(r.ok).toBe(true);
    const calls = tracedCalls(syslog.since(mark));
    expect(calls.map((c) => c.stage)).toEqual(["authenticate", "acct_mgmt"]);
    expect(server.authWorkers()).toContain(calls[0].pid);
    expect(calls[1].pid).toBe(calls[0].pid);
  }, 60_000);
});

describe("Dovecot under load", () => {
  it("8 logins at once, each from its own address, all answered correctly", async () => {
    const server = await dovecot();
    const logins = Array.from({ length: 8 }, (_, i) => i % 2 === 0
      ? { ...ERIN, expect: true } : { user: "erin", password: `wrong-${i}`, expect: false });
    const results = await Promise.all(logins.map((l) => imapLogin({ port: server.port, source: source(), user: l.user, password: l.password, how: "AUTHENTICATE-PLAIN" })));
    expect(results.map((r) => r.ok)).toEqual(logins.map((l) => l.expect));
    // More than one auth worker served them (Dovecot runs blocking passdbs in a pool).
    expect(server.authWorkers().length).toBeGreaterThan(1);
  }, 120_000);

  it("200 logins through one auth worker: its VmRSS and open descriptors stay flat", async () => {
    // The recipe's passdb changed: max_requests=1000, so the one worker (auth-worker process_limit = 1) is not
    // replaced after Dovecot's default 100 logins and serves every login of the test.
    const passdb = recipe("dovecot/passdb.conf").replace(/^ {2}args = dovecot$/m, "  args = max_requests=1000 dovecot");
    expect(passdb).toContain("max_requests=1000");
    const server = await dovecot({ passdb, authWorkers: 1 });
    const login = (i: number) => imapLogin({
      port: server.port, source: source(), user: "erin", password: i % 20 === 7 ? "wrong" : ERIN.password, how: "AUTHENTICATE-PLAIN",
    }).then((r) => expect(r.ok).toBe(i % 20 !== 7)); // a few failures too: that path must not leak either
    // Warm-up: libpam, the module, malloc arenas, and the syslog socket the first failure line opens (kept open).
    for (let i = 0; i < 20; i++) await login(i);
    const [worker] = server.authWorkers();
    expect(server.authWorkers()).toEqual([worker]);
    const before = processFootprint(worker);
    for (let i = 0; i < 200; i++) await login(i);
    expect(server.authWorkers()).toEqual([worker]); // the same process served all of them
    const after = processFootprint(worker);
    console.log(`auth-worker ${worker}: VmRSS ${before.rssKiB} -> ${after.rssKiB} KiB, descriptors ${before.fds} -> ${after.fds} over 200 logins`);
    expect(after.fds).toBe(before.fds);
    expect(after.rssKiB - before.rssKiB).toBeLessThan(512); // bounded: under 2.6 KiB a login
    expect(emulator.openSessions()).toBe(0);
  }, 300_000);
});
