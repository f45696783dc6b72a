// The PAM result policy through real libpam (pamdrive, pam_start_confdir) with the real module build/pam_mapi.so
// against the Kopano emulator, over http, https and the unix socket. Each stack makes the module's own code
// visible: `[success=done ignore=ignore default=die]` passes every code through, and PAM_IGNORE falls through
// to pam_debug, which answers with a code nothing else produces (PAM_CRED_UNAVAIL / PAM_NEW_AUTHTOK_REQD).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator } from "../host/emulator/index.js";
import { makeTestPki } from "./helpers/tls.js";
import { MODULE, PAM, makeConfdir, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";
import { repoRoot } from "./helpers/guest.js";

const IGNORED_AUTH = 15; // PAM_CRED_UNAVAIL from pam_debug: the module said PAM_IGNORE
const IGNORED_ACCT = 12; // PAM_NEW_AUTHTOK_REQD from pam_debug: the module said PAM_IGNORE

let tmp: string;
let confdir: string;
let emulator: Emulator;
let cafile: string;
const urls: Record<string, string> = {};

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "pam-policy-"));
  confdir = makeConfdir();
  const pki = makeTestPki(path.join(tmp, "pki"));
  cafile = pki.caFile;
  emulator = await startEmulator({
    users: loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json")),
    listen: [
      { http: { host: "127.0.0.1", port: 0 } },
      { https: { host: "127.0.0.1", port: 0, key: readFileSync(pki.key), cert: readFileSync(pki.cert) } },
      { unix: { path: path.join(tmp, "server.sock"), mode: 0o666 } },
    ],
  });
  for (const u of emulator.urls) urls[u.split(":")[0]] = u;
});

afterAll(async () => {
  await emulator?.close();
  removeConfdir(confdir);
  rmSync(tmp, { recursive: true, force: true });
});

let serial = 0;
function stack(args: string[]): string {
  const service = `policy${++serial}`;
  const mod = `${MODULE} ${args.join(" ")}`;
  writeConfdir(confdir, service, [
    `auth [success=done ignore=ignore default=die] ${mod}`,
    "auth required pam_debug.so auth=cred_unavail",
    `account [success=done ignore=ignore default=die] ${mod}`,
    "account required pam_debug.so acct=new_authtok_reqd",
  ]);
  return service;
}

async function login(transport: string, user: string, password: string, extra: string[] = [], ops = ["auth", "acct"]) {
  const args = [`socket=${urls[transport]}`, ...(transport === "https" ? [`cafile=${cafile}`] : []), ...extra];
  const before = emulator.requests.length;
  const run = await runPamdrive(confdir, stack(args), user, ops, { input: [password] });
  return { ...run, requests: emulator.requests.slice(before) };
}

describe.each(["http", "https", "file"])("over %s", (transport) => {
  it("the right password is PAM_SUCCESS, and the account step vouches for that user", async () => {
    const r = await login(transport, "alice", "Secr3t!");
    expect(r.results).toEqual([["auth", PAM.SUCCESS], ["acct", PAM.SUCCESS]]);
    expect(r.requests.map((q) => q.operation)).toEqual(["logon"]);
  });

  it("a UTF-8 password works (bob)", async () => {
    const r = await login(transport, "bob", "hunter2 ü");
    expect(r.ops.auth).toBe(PAM.SUCCESS);
  });

  it("a password that itself begins with {2}: works (dave)", async () => {
    const r = await login(transport, "dave", "{2}:literal");
    expect(r.ops.auth).toBe(PAM.SUCCESS);
  });

  it.each([
    ["a wrong password", "alice", "wrong"],
    ["an unknown user", "mallory", "Secr3t!"],
    ["an inactive user", "carol", "carol-pw"],
  ])("%s is PAM_AUTH_ERR, and the account step then does not vouch", async (_what, user, password) => {
    const r = await login(transport, user, password);
    expect(r.results).toEqual([["auth", PAM.AUTH_ERR], ["acct", IGNORED_ACCT]]);
    expect(r.requests.map((q) => q.operation)).toEqual(["logon"]);
    expect(r.syslog.some((l) => l.priority === 5 && l.message.includes("authentication failure"))).toBe(true);
  });

  it("quiet leaves no failure line for a wrong password", async () => {
    const r = await login(transport, "alice", "wrong", ["quiet"]);
    expect(r.ops.auth).toBe(PAM.AUTH_ERR);
    expect(r.syslog.filter((l) => l.message.includes("authentication failure"))).toEqual([]);
  });

  it("an empty password is PAM_AUTH_ERR without a request", async () => {
    const r = await login(transport, "alice", "");
    expect(r.ops.auth).toBe(PAM.AUTH_ERR);
    expect(r.requests).toEqual([]);
  });

  it("service=imap denies a user whose imap feature is disabled: PAM_AUTH_ERR, then PAM_PERM_DENIED", async () => {
    const r = await login(transport, "alice", "Secr3t!", ["service=imap"]);
    expect(r.results).toEqual([["auth", PAM.AUTH_ERR], ["acct", PAM.PERM_DENIED]]);
    expect(r.requests.map((q) => q.operation)).toEqual(["logon", "getUser", "logoff"]);
  });

  it("service=imap|pop3 admits a user with imap enabled, logging the session off", async () => {
    const r = await login(transport, "bob", "hunter2 ü", ["service=imap|pop3"]);
    expect(r.results).toEqual([["auth", PAM.SUCCESS], ["acct", PAM.SUCCESS]]);
    expect(r.requests.map((q) => q.operation)).toEqual(["logon", "getUser", "logoff"]);
    expect(emulator.openSessions()).toBe(0);
  });
});

describe("the unix socket and uid authentication", () => {
  it("a root caller with a wrong password still fails (NO_UID_AUTH is always sent)", async () => {
    expect(process.getuid?.()).toBe(0); // the emulator would log a root caller in without a password
    const r = await login("file", "alice", "wrong");
    expect(r.ops.auth).toBe(PAM.AUTH_ERR);
    expect(r.requests[0].body.toString()).toContain("<ulFlags>3</ulFlags>");
  });
});

describe("unavailable servers and configuration errors", () => {
  it("a dead server is PAM_AUTHINFO_UNAVAIL, and PAM_IGNORE with ignore_unavailable", async () => {
    const dead = "socket=http://127.0.0.1:1/";
    let r = await runPamdrive(confdir, stack([dead]), "alice", ["auth"], { input: ["Secr3t!"] });
    expect(r.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
    expect(r.syslog.some((l) => l.priority === 3 && l.message.includes("no Kopano server available"))).toBe(true);
    r = await runPamdrive(confdir, stack([dead, "ignore_unavailable"]), "alice", ["auth"], { input: ["Secr3t!"] });
    expect(r.ops.auth).toBe(IGNORED_AUTH);
  });

  it("fails over from a dead server to a live one, but never after a wrong password", async () => {
    const both = `socket=http://127.0.0.1:1/,${urls.http}`;
    let r = await runPamdrive(confdir, stack([both]), "alice", ["auth"], { input: ["Secr3t!"] });
    expect(r.ops.auth).toBe(PAM.SUCCESS);
    const before = emulator.requests.length;
    r = await runPamdrive(confdir, stack([`socket=${urls.http},${urls.file}`]), "alice", ["auth"], { input: ["wrong"] });
    expect(r.ops.auth).toBe(PAM.AUTH_ERR);
    expect(emulator.requests.length - before).toBe(1);
  });

  it("https without the test CA fails verification: PAM_AUTHINFO_UNAVAIL", async () => {
    const r = await runPamdrive(confdir, stack([`socket=${urls.https}`]), "alice", ["auth"], { input: ["Secr3t!"] });
    expect(r.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
  });

  it("an unknown option is PAM_SERVICE_ERR with the reason in the log", async () => {
    const r = await runPamdrive(confdir, stack([`socket=${urls.http}`, "sockett=x"]), "alice", ["auth"], { input: ["Secr3t!"] });
    expect(r.ops.auth).toBe(PAM.SERVICE_ERR);
    expect(r.syslog.some((l) => l.priority === 3 && l.message.includes("sockett"))).toBe(true);
  });
});

describe("the credential and session steps (pam_unix's answers)", () => {
  // Each module line passes its code through or, on PAM_IGNORE, falls through to pam_debug, which answers with a
  // code no other path gives: PAM_CRED_EXPIRED for setcred, PAM_ACCT_EXPIRED / PAM_CRED_ERR for the session.
  const IGNORED_SETCRED = 16; // PAM_CRED_EXPIRED
  const IGNORED_OPEN = 13; // PAM_ACCT_EXPIRED
  const IGNORED_CLOSE = 17; // PAM_CRED_ERR
  function stageStack(): string {
    const service = `stages${++serial}`;
    const mod = `${MODULE} socket=${urls.http}`;
    writeConfdir(confdir, service, [
      `auth [success=done ignore=ignore default=die] ${mod}`,
      "auth required pam_debug.so auth=cred_unavail cred=cred_expired",
      `account [success=done ignore=ignore default=die] ${mod}`,
      "account required pam_debug.so acct=new_authtok_reqd",
      `session [success=done ignore=ignore default=die] ${mod}`,
      "session required pam_debug.so open_session=acct_expired close_session=cred_err",
    ]);
    return service;
  }

  it("the stack tells PAM_IGNORE from PAM_SUCCESS (pam_debug answers where the module ignores)", async () => {
    const r = await runPamdrive(confdir, stageStack(), "alice", ["acct"]);
    expect(r.ops.acct).toBe(IGNORED_ACCT);
  });

  it("setcred after a successful login is PAM_SUCCESS", async () => {
    const r = await runPamdrive(confdir, stageStack(), "alice", ["auth", "setcred"], { input: ["Secr3t!"] });
    expect(r.results).toEqual([["auth", PAM.SUCCESS], ["setcred", PAM.SUCCESS]]);
  });

  it("setcred in a handle where the module authenticated nobody (sshd's parent process) is PAM_SUCCESS", async () => {
    const before = emulator.requests.length;
    const r = await runPamdrive(confdir, stageStack(), "alice", ["setcred"]);
    expect(r.results).toEqual([["setcred", PAM.SUCCESS]]);
    expect(emulator.requests.length).toBe(before); // it asks no server: it sets no credentials
  });

  it("open_session and close_session are PAM_SUCCESS for a named user, with or without a login", async () => {
    let r = await runPamdrive(confdir, stageStack(), "alice", ["auth", "acct", "setcred", "open", "close"], { input: ["Secr3t!"] });
    expect(r.results).toEqual([["auth", 0], ["acct", 0], ["setcred", 0], ["open", 0], ["close", 0]]);
    r = await runPamdrive(confdir, stageStack(), "mallory", ["open", "close"]);
    expect(r.results).toEqual([["open", PAM.SUCCESS], ["close", PAM.SUCCESS]]);
  });

  it("open_session and close_session are PAM_SESSION_ERR in a handle that names nobody (pam_unix's answer)", async () => {
    const SESSION_ERR = 14;
    const before = emulator.requests.length;
    const r = await runPamdrive(confdir, stageStack(), "", ["open", "close"]);
    expect(r.results).toEqual([["open", SESSION_ERR], ["close", SESSION_ERR]]);
    expect(emulator.requests.length).toBe(before);
  });

  it("the stack's fall-through codes are what an ignoring module would give", async () => {
    // pam_permit-free proof that the pam_debug lines answer when reached: a stack without the module.
    const service = `stages${++serial}`;
    writeConfdir(confdir, service, [
      "auth required pam_debug.so auth=cred_unavail cred=cred_expired",
      "session required pam_debug.so open_session=acct_expired close_session=cred_err",
    ]);
    const r = await runPamdrive(confdir, service, "alice", ["setcred", "open", "close"]);
    expect(r.results).toEqual([["setcred", IGNORED_SETCRED], ["open", IGNORED_OPEN], ["close", IGNORED_CLOSE]]);
  });
});

describe("the account step", () => {
  it("without a prior authentication in the same handle, it does not vouch (PAM_IGNORE)", async () => {
    const r = await runPamdrive(confdir, stack([`socket=${urls.http}`]), "alice", ["acct"]);
    expect(r.ops.acct).toBe(IGNORED_ACCT);
  });

  it("no session is left open on the emulator", () => {
    expect(emulator.openSessions()).toBe(0);
  });
});
