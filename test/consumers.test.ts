// End to end through real PAM consumers: saslauthd -a pam (its socket protocol), Apache httpd with mod_authnz_pam
// (worker threads running as www-data) and Postfix SMTP AUTH through saslauthd, each loading build/pam_mapi.so
// through pam_wrapper and asking the Kopano emulator. Every verdict is checked against what the emulator saw, so
// it cannot come from anywhere else. Needs root, the Debian packages of scripts/setup.sh, and `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator, type RecordedRequest } from "../host/emulator/index.js";
import {
  childProcesses, httpStatus, processGroupMembers, processUids, sharedTempDir, startApache, startPostfix, startSaslauthd,
  stopAll, writePamServiceDir, WWW_DATA_UID, type Apache, type Postfix, type Saslauthd,
} from "./helpers/daemons.js";
import { smtpAuthPlain } from "./helpers/smtp.js";
import { repoRoot } from "./helpers/guest.js";

// PAM_MAPI_MODULE: run the same tests against another build (an installed module, a sanitizer build).
const MODULE = process.env.PAM_MAPI_MODULE ?? path.join(repoRoot, "build/pam_mapi.so");
const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
// From demo-users.json: alice has the default feature set (imap and pop3 disabled), bob has imap and pop3 enabled.
const ALICE = { user: "alice", password: "Secr3t!" };
const BOB = { user: "bob", password: "hunter2 ü" };
const WRONG = "not-the-password";
const SECRETS = [ALICE.password, BOB.password, WRONG];

let dir: string;
let emulator: Emulator;
/** A second server that the unavailability test stops. */
let doomed: Emulator;
const emulatorLog: string[] = [];
let saslauthd: Saslauthd;
let apache: Apache;
let apacheAccount: Apache;
let postfix: Postfix;

function service(socket: string, ...options: string[]): string {
  return [
    `auth required ${MODULE} socket=${socket} ${options.join(" ")}`.trim(),
    `account required ${MODULE}`,
  ].join("\n");
}

/** Run `action` and return what the emulator received meanwhile. */
async function observe<T>(server: Emulator, action: () => Promise<T>): Promise<{ result: T; seen: RecordedRequest[] }> {
  const before = server.requests.length;
  const result = await action();
  return { result, seen: server.requests.slice(before) };
}

/** The ns:logon requests among `seen` that carry `user` as the user name. */
function logonsOf(seen: RecordedRequest[], user: string): RecordedRequest[] {
  return seen.filter((r) => r.operation === "logon" && r.body.toString("utf8").includes(`<szUsername>${user}</szUsername>`));
}

beforeAll(async () => {
  // saslauthd runs PAM as root, Apache switches to www-data, postfix -c needs root: no way around it.
  if (process.getuid?.() !== 0) throw new Error("the consumer tests start system daemons and must run as root");
  if (!existsSync(MODULE)) throw new Error(`${MODULE} is missing: run npm run build first`);
  dir = sharedTempDir("pam-mapi-consumers-");
  const unixSocket = path.join(dir, "kopano.sock");
  emulator = await startEmulator({
    users,
    listen: [{ http: { host: "127.0.0.1", port: 0 } }, { unix: { path: unixSocket, mode: 0o666 } }],
    log: (line) => emulatorLog.push(line),
  });
  doomed = await startEmulator({ users, listen: [{ http: { host: "127.0.0.1", port: 0 } }] });
  const [httpUrl, unixUrl] = emulator.urls;
  // Apache's service takes its server from a config file: root-owned, 0644, read by the module as www-data.
  const configFile = path.join(dir, "pam_mapi.conf");
  writeFileSync(configFile, `timeout = 5\n\n[mapi-unix]\nsocket = ${unixUrl}\n`, { mode: 0o644 });
  const serviceDir = writePamServiceDir(path.join(dir, "pam.d"), {
    "mapi-http": service(httpUrl),
    "mapi-unix": [`auth required ${MODULE} config=${configFile}`, `account required ${MODULE}`].join("\n"),
    "mapi-imap": service(httpUrl, "service=imap"),
    "mapi-doomed": service(doomed.urls[0], "timeout=5"),
  });
  saslauthd = await startSaslauthd({ serviceDir });
  apache = await startApache({ serviceDir, pamService: "mapi-unix", mpm: "event" });
  apacheAccount = await startApache({ serviceDir, pamService: "mapi-http", requireAccount: true, mpm: "worker" });
  postfix = await startPostfix({ saslSocket: saslauthd.socketPath, pamService: "mapi-http" });
});

afterAll(async () => {
  const leaders = [saslauthd?.pid(), apache?.pid(), apacheAccount?.pid(), postfix?.pid()].filter((p) => p !== undefined);
  await stopAll(
    () => postfix?.stop(),
    () => apacheAccount?.stop(),
    () => apache?.stop(),
    () => saslauthd?.stop(),
    () => emulator?.close(),
    () => doomed?.close(),
    async () => dir && rmSync(dir, { recursive: true, force: true }),
  );
  for (const pid of leaders) expect(processGroupMembers(pid)).toEqual([]);
});

describe("saslauthd -a pam", () => {
  it("answers OK for alice's password, checked by the server over http", async () => {
    const { result, seen } = await observe(emulator, () => saslauthd.auth(ALICE.user, ALICE.password, "mapi-http"));
    expect(result).toBe("OK");
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    expect(seen[0].listener).toBe("http");
  });

  it("answers OK for a UTF-8 password over the unix socket, as root", async () => {
    const { result, seen } = await observe(emulator, () => saslauthd.auth(BOB.user, BOB.password, "mapi-unix"));
    expect(result).toBe("OK");
    const [logon] = logonsOf(seen, "bob");
    expect(logon.listener).toBe("unix");
    expect(logon.peer).toMatchObject({ uid: 0 });
  });

  // Over the unix socket the server trusts a root peer without a password unless NO_UID_AUTH is sent.
  it("answers NO for a wrong password even for a root peer on the unix socket", async () => {
    const { result, seen } = await observe(emulator, () => saslauthd.auth(ALICE.user, WRONG, "mapi-unix"));
    expect(result).toMatch(/^NO/);
    const [logon] = logonsOf(seen, "alice");
    expect(logon.peer).toMatchObject({ uid: 0 });
    expect(saslauthd.log()).toMatch(/auth failure: \[user=alice\] \[service=mapi-unix\]/);
  });

  it("answers NO for a wrong password and for an unknown user over http", async () => {
    const wrong = await observe(emulator, () => saslauthd.auth(ALICE.user, WRONG, "mapi-http"));
    expect(wrong.result).toMatch(/^NO/);
    expect(logonsOf(wrong.seen, "alice")).toHaveLength(1);
    const unknown = await observe(emulator, () => saslauthd.auth("mallory", ALICE.password, "mapi-http"));
    expect(unknown.result).toMatch(/^NO/);
    expect(logonsOf(unknown.seen, "mallory")).toHaveLength(1);
  });

  it("with service=imap: OK for bob (imap enabled), NO for alice (imap disabled), after asking for the user", async () => {
    const bob = await observe(emulator, () => saslauthd.auth(BOB.user, BOB.password, "mapi-imap"));
    expect(bob.result).toBe("OK");
    expect(bob.seen.map((r) => r.operation)).toEqual(expect.arrayContaining(["logon", "getUser"]));
    const alice = await observe(emulator, () => saslauthd.auth(ALICE.user, ALICE.password, "mapi-imap"));
    expect(alice.result).toMatch(/^NO/);
    expect(logonsOf(alice.seen, "alice")).toHaveLength(1);
    expect(alice.seen.map((r) => r.operation)).toContain("getUser");
    expect(saslauthd.log()).toMatch(/SYSLOG\(5\): authentication failure; user=alice service=mapi-imap .*imap/);
  });

  it("answers NO once the server is gone (unavailable), OK while it was there", async () => {
    const before = await observe(doomed, () => saslauthd.auth(ALICE.user, ALICE.password, "mapi-doomed"));
    expect(before.result).toBe("OK");
    expect(logonsOf(before.seen, "alice")).toHaveLength(1);
    await doomed.close();
    const logBefore = saslauthd.log().length;
    const after = await observe(doomed, () => saslauthd.auth(ALICE.user, ALICE.password, "mapi-doomed"));
    expect(after.result).toMatch(/^NO/);
    expect(after.seen).toEqual([]);
    const log = saslauthd.log().slice(logBefore);
    expect(log).toMatch(/auth failure: \[user=alice\] \[service=mapi-doomed\]/);
    // The module's own reason (pam_syslog at LOG_ERR, through pam_wrapper): no server, connection refused.
    expect(log).toMatch(/SYSLOG\(3\): .*user=alice service=mapi-doomed.*refused/);
  });
});

describe("Apache mod_authnz_pam (mpm_event, Require valid-user, unix socket from a config file)", () => {
  const secret = () => `${apache.url}/private/secret.txt`;

  it("returns 200 for alice; the module ran as www-data in a worker process", async () => {
    const { result, seen } = await observe(emulator, () => httpStatus(secret(), ALICE));
    expect(result).toBe(200);
    const [logon] = logonsOf(seen, "alice");
    expect(logon.listener).toBe("unix");
    const peer = logon.peer as { pid: number; uid: number };
    expect(peer.uid).toBe(WWW_DATA_UID);
    expect(childProcesses(apache.pid())).toContain(peer.pid);
    expect(processUids(peer.pid)).toEqual([WWW_DATA_UID, WWW_DATA_UID, WWW_DATA_UID, WWW_DATA_UID]);
  });

  it("returns 200 for a UTF-8 password", async () => {
    const { result, seen } = await observe(emulator, () => httpStatus(secret(), BOB));
    expect(result).toBe(200);
    expect(logonsOf(seen, "bob")).toHaveLength(1);
  });

  it("returns 401 for a wrong password and for an unknown user", async () => {
    const wrong = await observe(emulator, () => httpStatus(secret(), { user: "alice", password: WRONG }));
    expect(wrong.result).toBe(401);
    expect(logonsOf(wrong.seen, "alice")).toHaveLength(1);
    const unknown = await observe(emulator, () => httpStatus(secret(), { user: "mallory", password: WRONG }));
    expect(unknown.result).toBe(401);
    expect(logonsOf(unknown.seen, "mallory")).toHaveLength(1);
    expect(apache.errorLog()).toMatch(/PAM authentication failed for user mallory/);
  });

  it("returns 401 without credentials, without asking the server", async () => {
    const { result, seen } = await observe(emulator, () => httpStatus(secret()));
    expect(result).toBe(401);
    expect(seen).toEqual([]);
  });

  it("gives every one of concurrent requests its own verdict (threads in two worker processes)", async () => {
    const attempts = Array.from({ length: 12 }, (_, i) => (i % 3 === 2 ? { user: "alice", password: WRONG } : i % 3 ? BOB : ALICE));
    const { result, seen } = await observe(emulator, () => Promise.all(attempts.map((a) => httpStatus(secret(), a))));
    expect(result).toEqual(attempts.map((a) => (a.password === WRONG ? 401 : 200)));
    expect(logonsOf(seen, "alice")).toHaveLength(8);
    expect(logonsOf(seen, "bob")).toHaveLength(4);
  });
});

// mod_authnz_pam's `Require pam-account SERVICE` runs pam_acct_mgmt once more, in a PAM handle of its own. pam_mapi
// vouches only for a user it authenticated in the same handle, so that check fails closed: with pam_mapi, use
// `Require valid-user` (Basic auth through PAM already runs auth + account).
describe("Apache mod_authnz_pam (mpm_worker, Require pam-account, http)", () => {
  const secret = () => `${apacheAccount.url}/private/secret.txt`;

  it("authenticates alice, then fails closed (401) in the separate account check", async () => {
    const logBefore = apacheAccount.errorLog().length;
    const { result, seen } = await observe(emulator, () => httpStatus(secret(), ALICE));
    expect(result).toBe(401);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    const log = apacheAccount.errorLog().slice(logBefore);
    expect(log).toMatch(/PAM authentication passed for user alice/);
    expect(log).toMatch(/PAM account validation failed for user alice: Permission denied/);
  });

  it("returns 401 for a wrong password after asking the server", async () => {
    const { result, seen } = await observe(emulator, () => httpStatus(secret(), { user: "alice", password: WRONG }));
    expect(result).toBe(401);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    expect(apacheAccount.errorLog()).toMatch(/PAM authentication failed for user alice: Authentication failure/);
  });
});

describe("Postfix SMTP AUTH through saslauthd", () => {
  it("accepts alice with 235", async () => {
    const { result, seen } = await observe(emulator, () => smtpAuthPlain({ port: postfix.port, ...ALICE }));
    expect(result.code).toBe(235);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
  });

  it("accepts a UTF-8 password with 235", async () => {
    const { result, seen } = await observe(emulator, () => smtpAuthPlain({ port: postfix.port, ...BOB }));
    expect(result.code).toBe(235);
    expect(logonsOf(seen, "bob")).toHaveLength(1);
  });

  it("accepts user@realm: libsasl splits off the realm and saslauthd hands PAM the bare user name", async () => {
    const { result, seen } = await observe(emulator, () => smtpAuthPlain({ port: postfix.port, user: "alice@example.org", password: ALICE.password }));
    expect(result.code).toBe(235);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    expect(saslauthd.log()).toMatch(/auth success: \[user=alice\] \[service=mapi-http\] \[realm=example\.org\]/);
  });

  it("rejects a wrong password and an unknown user with 535", async () => {
    const wrong = await observe(emulator, () => smtpAuthPlain({ port: postfix.port, user: "alice", password: WRONG }));
    expect(wrong.result.code).toBe(535);
    expect(logonsOf(wrong.seen, "alice")).toHaveLength(1);
    const unknown = await observe(emulator, () => smtpAuthPlain({ port: postfix.port, user: "mallory", password: WRONG }));
    expect(unknown.result.code).toBe(535);
    expect(logonsOf(unknown.seen, "mallory")).toHaveLength(1);
    expect(postfix.maillog()).toMatch(/SASL PLAIN authentication failed: authentication failure, sasl_username=mallory/);
  });
});

describe("after all consumers", () => {
  it("left no Kopano session open", () => {
    expect(emulator.openSessions()).toBe(0);
  });

  it("never wrote a password to any log", () => {
    const logs = [saslauthd.log(), apache.errorLog(), apacheAccount.errorLog(), postfix.maillog(), emulatorLog.join("\n")];
    for (const secret of SECRETS) for (const log of logs) expect(log).not.toContain(secret);
  });
});
