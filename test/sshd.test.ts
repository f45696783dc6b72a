// OpenSSH sshd with pam_mapi, driven by the real ssh client (sshpass types the password), from the README's
// recipes in docs/recipes/sshd/ (and docs/recipes/stacking/ for pam_unix stacking) at the paths they name, inside a
// private mount namespace (test/helpers/sshd.ts): /etc/pam.d/sshd, /etc/security/pam_mapi.conf, pam_mapi.so by its
// bare name, the Kopano emulator on /var/run/kopano/server.sock, throwaway local users in private copies of
// /etc/passwd, shadow and group, and /dev/log read by the test. The machine's /etc stays byte for byte as it was.
// Where a test changes a recipe it says so: the feature check, no-server and hanging-server cases rewrite
// pam_mapi.conf. Needs root, openssh-server, openssh-client and sshpass (scripts/setup.sh) and `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadUserDb, type Emulator, type RecordedRequest } from "../host/emulator/index.js";
import { stopAll } from "./helpers/daemons.js";
import { startDaemonWorld, type DaemonWorld } from "./helpers/daemon-world.js";
import { repoRoot } from "./helpers/guest.js";
import { accountFiles, shadowHash, sshLogin, startSshd, type LocalUser, type Sshd, type SshResult } from "./helpers/sshd.js";
import { type SyslogCapture, type SyslogMessage } from "./helpers/syslog-capture.js";
import { traced, tracedCalls } from "./helpers/pam-trace.js";

const recipe = (name: string) => readFileSync(path.join(repoRoot, "docs/recipes", name), "utf8");
const MODULE = path.join(repoRoot, "build/pam_mapi.so");
const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
// demo-users.json: alice has IMAP and POP3 disabled (Kopano's default), bob has them enabled.
const ALICE = { user: "alice", password: "Secr3t!" };
const BOB = { user: "bob", password: "hunter2 ü" };
const SYSUSER = { user: "sysuser", password: "Sys-Pa55" };
const COMMAND = 'echo "pam-mapi-session-ran-for-$(id -un)"';

let world: DaemonWorld | undefined;
let emulator: Emulator;
let kopanoSocket: string;
let syslog: SyslogCapture;
let hangPort: number;
let deadPort: number;
let accountsBefore: Record<string, string>;
const stops: Array<() => Promise<unknown> | unknown> = [];

let localUsers: LocalUser[];

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the sshd tests start sshd in a mount namespace and must run as root");
  accountsBefore = accountFiles();
  world = await startDaemonWorld("pam-mapi-sshd-test-", users);
  ({ emulator, kopanoSocket, syslog, hangPort, deadPort } = world);
  // Throwaway local accounts, as `useradd -M` leaves them (locked shadow password), and one system user.
  localUsers = [
    { name: "alice", uid: 61001, shadow: "!" },
    { name: "bob", uid: 61002, shadow: "!" },
    { name: "mallory", uid: 61003, shadow: "!" }, // local, but unknown to the Kopano server
    { name: "sysuser", uid: 61004, shadow: shadowHash(SYSUSER.password) },
  ];
});

afterAll(async () => {
  await stopAll(...stops.reverse(), () => world?.close());
  // Nothing touched the machine's account files (the users lived in the namespace only).
  expect(accountFiles()).toEqual(accountsBefore);
});

async function sshd(pamService: string): Promise<Sshd> {
  const d = await startSshd({
    module: MODULE, kopanoSocket, pamService, config: recipe("sshd/sshd_config"), pamMapiConf: recipe("sshd/pam_mapi.conf"),
    users: localUsers, syslog,
  });
  stops.push(() => d.stop());
  return d;
}

function logonsOf(seen: RecordedRequest[], user: string): RecordedRequest[] {
  return seen.filter((r) => r.operation === "logon" && r.body.toString("utf8").includes(`<szUsername>${user}</szUsername>`));
}

interface Attempt { result: SshResult; seen: RecordedRequest[]; logged: SyslogMessage[]; sshdLog: string }
async function attempt(server: Sshd, method: "password" | "keyboard-interactive", user: string, password: string): Promise<Attempt> {
  const before = emulator.requests.length;
  const mark = syslog.messages().length;
  const logMark = server.log().length;
  const result = await sshLogin({ port: server.port, user, password, method, command: COMMAND });
  // sshd writes its verdict line after the client has gone; give it a moment.
  await new Promise((r) => setTimeout(r, 300));
  return { result, seen: emulator.requests.slice(before), logged: syslog.since(mark), sshdLog: server.log().slice(logMark) };
}

function expectLoggedIn(a: Attempt, user: string, method: string) {
  expect(a.result.code, a.result.output + a.sshdLog).toBe(0);
  expect(a.result.prompts).toBe(1);
  expect(a.result.output).toMatch(new RegExp(`^[^\\n]*\\r?\\n?pam-mapi-session-ran-for-${user}\\r\\n$`));
  expect(a.sshdLog).toMatch(new RegExp(`Accepted ${method === "password" ? "password" : "keyboard-interactive/pam"} for ${user} from 127\\.0\\.0\\.1`));
  expect(a.sshdLog).not.toMatch(/fatal/);
}

/** ssh's refusal; `prompts`: how many times the user was asked (2 where try_first_pass asks again). */
function expectRefused(a: Attempt, prompts = 1) {
  expect(a.result.code, a.result.output + a.sshdLog).toBe(255);
  expect(a.result.output).toMatch(/Permission denied \(/);
  expect(a.result.output).not.toMatch(/pam-mapi-session-ran/);
  expect(a.result.prompts).toBe(prompts);
  expect(a.sshdLog).not.toMatch(/fatal/);
}

const moduleLines = (a: Attempt) => a.logged.filter((m) => m.message.startsWith("pam_mapi("));

describe.each(["password", "keyboard-interactive"] as const)("sshd, the plain pair (docs/recipes/sshd), %s", (method) => {
  let server: Sshd;
  beforeAll(async () => {
    server = await sshd(recipe("sshd/pam.d-sshd"));
  }, 60_000);

  it("the right password: the session runs the command (exit 0); the module asked the server over its socket", async () => {
    const a = await attempt(server, method, ALICE.user, ALICE.password);
    expectLoggedIn(a, "alice", method);
    const [logon] = logonsOf(a.seen, "alice");
    expect(logon.listener).toBe("unix");
    expect(logon.peer).toMatchObject({ uid: 0 });
    expect(moduleLines(a).filter((m) => m.severity <= 5)).toEqual([]); // no failure, no error
  });

  it("a UTF-8 password (bob, 'hunter2 ü')", async () => {
    const a = await attempt(server, method, BOB.user, BOB.password);
    expectLoggedIn(a, "bob", method);
    expect(logonsOf(a.seen, "bob")).toHaveLength(1);
  });

  it("a wrong password: Permission denied, exit 255, one 'authentication failure' line", async () => {
    const a = await attempt(server, method, ALICE.user, "not-it");
    expectRefused(a);
    expect(logonsOf(a.seen, "alice")).toHaveLength(1);
    expect(moduleLines(a).map((m) => m.message)).toEqual([
      expect.stringMatching(/^pam_mapi\(sshd:auth\): authentication failure; user=alice rhost=127\.0\.0\.1 service=sshd reason=wrong password or unknown user$/),
    ]);
  });

  it("a local user the Kopano server does not know: Permission denied after asking the server", async () => {
    const a = await attempt(server, method, "mallory", "whatever");
    expectRefused(a);
    expect(logonsOf(a.seen, "mallory")).toHaveLength(1);
  });

  it("a name without a local account: Permission denied; sshd never lets PAM succeed for it", async () => {
    const a = await attempt(server, method, "dave", "{2}:literal"); // a Kopano user with the right password
    expectRefused(a);
    expect(a.sshdLog).toMatch(/Invalid user dave from 127\.0\.0\.1/);
  });
});

describe.each(["password", "keyboard-interactive"] as const)("sshd, the plain pair, the recipe's configuration changed, %s", (method) => {
  let server: Sshd;
  const base = () => recipe("sshd/pam_mapi.conf");
  beforeAll(async () => {
    server = await sshd(recipe("sshd/pam.d-sshd"));
  }, 60_000);

  it("service=imap|pop3 (a feature check): bob (IMAP on) gets in, alice (IMAP off) is refused with the reason", async () => {
    server.setConfig(`${base()}service = imap|pop3\n`);
    expectLoggedIn(await attempt(server, method, BOB.user, BOB.password), "bob", method);
    const a = await attempt(server, method, ALICE.user, ALICE.password);
    expectRefused(a);
    expect(a.seen.map((r) => r.operation)).toEqual(["logon", "getUser", "logoff"]);
    expect(moduleLines(a).map((m) => m.message).join("\n"))
      .toMatch(/authentication failure; user=alice rhost=127\.0\.0\.1 service=sshd reason=none of the required features \(imap\|pop3\)/);
  });

  it("no server (connection refused): Permission denied, and an error line that names the outage", async () => {
    server.setConfig(base().replace(/^socket = .*$/m, `socket = http://127.0.0.1:${deadPort}/`));
    const a = await attempt(server, method, ALICE.user, ALICE.password);
    expectRefused(a);
    const errors = moduleLines(a).filter((m) => m.severity === 3).map((m) => m.message);
    expect(errors.join("\n")).toMatch(/no Kopano server available for user=alice rhost=127\.0\.0\.1 service=sshd; last: server 1 \(http:\/\/127\.0\.0\.1:\d+\/\): logon: /);
  });

  it("a server that never answers, timeout = 1: Permission denied after about a second, the outage in the log", async () => {
    server.setConfig(base().replace(/^socket = .*$/m, `socket = http://127.0.0.1:${hangPort}/`).replace(/^timeout = 3$/m, "timeout = 1"));
    const a = await attempt(server, method, ALICE.user, ALICE.password);
    expectRefused(a);
    expect(moduleLines(a).filter((m) => m.severity === 3).map((m) => m.message).join("\n"))
      .toMatch(/no Kopano server available for user=alice .*: logon: .*tim/i);
    expect(a.result.ms).toBeLessThan(20_000);
  });
});

describe.each(["password", "keyboard-interactive"] as const)("sshd, stacking with pam_unix (docs/recipes/stacking as /etc/pam.d/sshd), %s", (method) => {
  let server: Sshd;
  beforeAll(async () => {
    // The stacking recipe has no session lines: sshd's session step comes from Debian's `other` (common-session).
    server = await sshd(recipe("stacking/pam.d-system-or-kopano"));
  }, 60_000);

  it("the system user logs in through pam_unix without asking Kopano", async () => {
    const a = await attempt(server, method, SYSUSER.user, SYSUSER.password);
    expectLoggedIn(a, "sysuser", method);
    expect(a.seen).toEqual([]);
  });

  it("a Kopano user logs in through pam_mapi with the password pam_unix asked for", async () => {
    const a = await attempt(server, method, ALICE.user, ALICE.password);
    expectLoggedIn(a, "alice", method);
    expect(logonsOf(a.seen, "alice")).toHaveLength(1);
  });

  it("a UTF-8 Kopano password", async () => {
    expectLoggedIn(await attempt(server, method, BOB.user, BOB.password), "bob", method);
  });

  // After a wrong password pam_mapi's try_first_pass asks once more (as pam_unix's would). With keyboard-interactive
  // the user sees that second prompt; with password authentication sshd answers it with the same password, so the
  // server is asked twice.
  const retry = method === "keyboard-interactive" ? { prompts: 2, logons: 2 } : { prompts: 1, logons: 2 };

  it("wrong passwords are refused for both kinds of user", async () => {
    for (const user of [SYSUSER.user, ALICE.user]) {
      const a = await attempt(server, method, user, "not-it");
      expectRefused(a, retry.prompts);
      expect(logonsOf(a.seen, user)).toHaveLength(retry.logons);
    }
  });

  it("an unknown user (local account, not a Kopano user, no local password) is refused", async () => {
    const a = await attempt(server, method, "mallory", "whatever");
    expectRefused(a, retry.prompts);
    expect(logonsOf(a.seen, "mallory")).toHaveLength(retry.logons);
  });

  it("service=imap|pop3 (the recipe's configuration changed): alice (IMAP off) is refused without a second prompt", async () => {
    server.setConfig(`${recipe("sshd/pam_mapi.conf")}service = imap|pop3\n`);
    try {
      const a = await attempt(server, method, ALICE.user, ALICE.password);
      expectRefused(a); // a refused feature is not a wrong password: try_first_pass does not ask again
      expect(logonsOf(a.seen, "alice")).toHaveLength(1);
      expect(moduleLines(a).map((m) => m.message).join("\n")).toMatch(/reason=none of the required features \(imap\|pop3\)/);
      expectLoggedIn(await attempt(server, method, BOB.user, BOB.password), "bob", method);
    } finally {
      server.setConfig(recipe("sshd/pam_mapi.conf"));
    }
  });

  it("a hanging Kopano server (socket changed, timeout = 1): a Kopano user is refused, the system user gets in", async () => {
    server.setConfig(recipe("sshd/pam_mapi.conf").replace(/^socket = .*$/m, `socket = http://127.0.0.1:${hangPort}/`)
      .replace(/^timeout = 3$/m, "timeout = 1"));
    try {
      const a = await attempt(server, method, ALICE.user, ALICE.password);
      expectRefused(a);
      expect(moduleLines(a).map((m) => m.message).join("\n")).toMatch(/no Kopano server available for user=alice .*: logon: .*tim/i);
      expectLoggedIn(await attempt(server, method, SYSUSER.user, SYSUSER.password), "sysuser", method);
    } finally {
      server.setConfig(recipe("sshd/pam_mapi.conf"));
    }
  });

  it("no Kopano server: the system user still gets in, a Kopano user does not", async () => {
    server.setConfig(recipe("sshd/pam_mapi.conf").replace(/^socket = .*$/m, `socket = http://127.0.0.1:${deadPort}/`));
    try {
      expectLoggedIn(await attempt(server, method, SYSUSER.user, SYSUSER.password), "sysuser", method);
      const a = await attempt(server, method, ALICE.user, ALICE.password);
      expectRefused(a);
      expect(moduleLines(a).map((m) => m.message).join("\n")).toMatch(/no Kopano server available for user=alice/);
    } finally {
      server.setConfig(recipe("sshd/pam_mapi.conf"));
    }
  });
});

describe("the PAM stages sshd calls, and in which process (a tracing module in front of the recipe's lines)", () => {
  let server: Sshd;
  const ESTABLISH = 0x2;
  beforeAll(async () => {
    server = await sshd(traced(recipe("sshd/pam.d-sshd")));
  }, 60_000);

  async function callsOf(method: "password" | "keyboard-interactive") {
    const mark = syslog.messages().length;
    const a = await attempt(server, method, ALICE.user, ALICE.password);
    expectLoggedIn(a, "alice", method);
    return tracedCalls(syslog.since(mark));
  }

  it("password: authenticate, acct_mgmt, setcred and open_session in one process (the monitor)", async () => {
    const calls = await callsOf("password");
    const [auth, acct, setcred, open] = calls;
    expect([auth, acct, setcred, open].map((c) => c?.stage)).toEqual(["authenticate", "acct_mgmt", "setcred", "open_session"]);
    expect(setcred.flags & ESTABLISH).toBe(ESTABLISH);
    expect(new Set([auth.pid, acct.pid, setcred.pid, open.pid]).size).toBe(1);
  });

  it("keyboard-interactive: authenticate and acct_mgmt in a child, setcred and open_session in its parent", async () => {
    const calls = await callsOf("keyboard-interactive");
    const [auth, acct, setcred, open] = calls;
    expect([auth, acct, setcred, open].map((c) => c?.stage)).toEqual(["authenticate", "acct_mgmt", "setcred", "open_session"]);
    expect(acct.pid).toBe(auth.pid);
    expect(setcred.pid).not.toBe(auth.pid);
    expect(auth.ppid).toBe(setcred.pid); // the monitor, where pam_mapi authenticated nobody: PAM_SUCCESS lets it through
    expect(open.pid).toBe(setcred.pid);
  });
});
