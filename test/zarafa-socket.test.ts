// Zarafa before 7.1 has no ulFlags: on its unix socket it logs a root caller in as anyone with any password, whatever
// NO_UID_AUTH says. The module (through real libpam: pamdrive and pamtester) and the Node host refuse every logon
// such a server accepts over file:// with PAM_SERVICE_ERR (a configuration the administrator must change, which
// ignore_unavailable does not step past), and say why and what to use instead; over http:// the same server
// checks passwords and works. The emulator's zarafa-7.0 profile is that server (test/emulator.test.ts shows it
// answers like zarafa-7.1 except the version, and logs root in with a wrong password).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator, type Profile } from "../host/emulator/index.js";
import { MODULE, PAM, isolatedConfig, makeConfdir, removeConfdir, runPamdrive, runPamtester, writeConfdir } from "./helpers/pam.js";
import { repoRoot } from "./helpers/guest.js";
import { nodeHost } from "./helpers/node-host.js";

const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
const REFUSAL = /refusing user=alice service=\S+: server 1 \(file:\/\/\S+\) is Zarafa\/Kopano version "0,7,0,15,37056", older than 7\.1: it ignores NO_UID_AUTH on its unix socket and would log a root caller in with any password; use http:\/\/ or https:\/\/ to this server instead/;

let tmp: string;
let confdir: string;
const emulators: Partial<Record<Profile, Emulator>> = {};
const urls: Partial<Record<Profile, { http: string; file: string }>> = {};

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests need a root caller on the unix socket (run as root)");
  tmp = mkdtempSync(path.join(os.tmpdir(), "zarafa-socket-"));
  confdir = makeConfdir();
  for (const profile of ["zarafa-7.0", "zarafa-7.1"] as const) {
    const e = await startEmulator({
      profile, users,
      listen: [{ http: { host: "127.0.0.1", port: 0 } }, { unix: { path: path.join(tmp, `${profile}.sock`), mode: 0o666 } }],
    });
    emulators[profile] = e;
    urls[profile] = { http: e.urls.find((u) => u.startsWith("http:"))!, file: e.urls.find((u) => u.startsWith("file:"))! };
  }
});

afterAll(async () => {
  for (const e of Object.values(emulators)) await e?.close();
  if (confdir) removeConfdir(confdir);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

let serial = 0;
function service(args: string[]): string {
  const name = `zarafa${++serial}`;
  writeConfdir(confdir, name, [`auth required ${MODULE} ${args.join(" ")}`, `account required ${MODULE}`]);
  return name;
}

function logonsSince(profile: Profile, from: number) {
  return emulators[profile]!.requests.slice(from).filter((r) => r.operation === "logon");
}

describe("the module through libpam (pamdrive, as root)", () => {
  it.each([["the right password", "Secr3t!"], ["a wrong password", "wrong"]])(
    "zarafa-7.0 over file://: %s is PAM_SERVICE_ERR, with the reason and the fix in the log", async (_what, password) => {
      const before = emulators["zarafa-7.0"]!.requests.length;
      const r = await runPamdrive(confdir, service([`socket=${urls["zarafa-7.0"]!.file}`]), "alice", ["auth", "acct"], { input: [password] });
      expect(r.results).toEqual([["auth", PAM.SERVICE_ERR], ["acct", PAM.PERM_DENIED]]); // acct: nobody to vouch for, a stack of ignores
      // The server did log root in (it ignores the flag): the module refused a logon the server accepted.
      const [logon] = logonsSince("zarafa-7.0", before);
      expect(logon.listener).toBe("unix");
      expect(logon.peer).toMatchObject({ uid: 0 });
      expect(logon.body.toString()).toContain("<ulFlags>3</ulFlags>");
      expect(r.syslog.some((l) => l.priority === 3 && REFUSAL.test(l.message)), JSON.stringify(r.syslog)).toBe(true);
      expect(emulators["zarafa-7.0"]!.openSessions()).toBe(0); // the session it opened anyway was logged off
    });

  it("ignore_unavailable does not step past it, and no next server is tried", async () => {
    const before = emulators["zarafa-7.1"]!.requests.length;
    const r = await runPamdrive(confdir, service([`socket=${urls["zarafa-7.0"]!.file},${urls["zarafa-7.1"]!.http}`, "ignore_unavailable"]),
      "alice", ["auth"], { input: ["wrong"] });
    expect(r.ops.auth).toBe(PAM.SERVICE_ERR);
    expect(emulators["zarafa-7.1"]!.requests.length).toBe(before);
  });

  it("zarafa-7.0 over http:// checks the password: right PAM_SUCCESS, wrong PAM_AUTH_ERR", async () => {
    const svc = service([`socket=${urls["zarafa-7.0"]!.http}`]);
    expect((await runPamdrive(confdir, svc, "alice", ["auth", "acct"], { input: ["Secr3t!"] })).results).toEqual([["auth", 0], ["acct", 0]]);
    expect((await runPamdrive(confdir, svc, "alice", ["auth"], { input: ["wrong"] })).ops.auth).toBe(PAM.AUTH_ERR);
  });

  it("zarafa-7.1 over file:// keeps working: right PAM_SUCCESS, wrong PAM_AUTH_ERR for a root caller", async () => {
    const svc = service([`socket=${urls["zarafa-7.1"]!.file}`]);
    expect((await runPamdrive(confdir, svc, "alice", ["auth", "acct"], { input: ["Secr3t!"] })).results).toEqual([["auth", 0], ["acct", 0]]);
    expect((await runPamdrive(confdir, svc, "alice", ["auth"], { input: ["wrong"] })).ops.auth).toBe(PAM.AUTH_ERR);
  });

  it("pamtester (another libpam program) refuses the wrong password on zarafa-7.0's socket", async () => {
    const r = await runPamtester(confdir, service([`socket=${urls["zarafa-7.0"]!.file}`]), "alice", ["authenticate"], { input: ["wrong"] });
    expect(r.code).toBe(1);
    expect(r.stderr, r.stderr).toMatch(/pamtester: Error in service module/);
    expect(r.stderr).toMatch(REFUSAL); // the prompt shares the line with pam_wrapper's SYSLOG copy
  });
});

describe("the Node host (the same guest, as root)", () => {
  it("refuses a wrong password on zarafa-7.0's socket with service-err and the reason", async () => {
    const before = emulators["zarafa-7.0"]!.requests.length;
    const out = await nodeHost({ service: "imap", user: "alice", password: "wrong", args: [`socket=${urls["zarafa-7.0"]!.file}`] });
    expect(out.verdict.code).toBe("service-err");
    expect(out.verdict.reason).toMatch(/older than 7\.1: it ignores NO_UID_AUTH .* use http:\/\/ or https:\/\//);
    expect(logonsSince("zarafa-7.0", before)[0].peer).toMatchObject({ uid: 0 });
  });

  it("pam-mapi check says so, with the fix, and exits 3 (a configuration to change)", async () => {
    const out = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(repoRoot, "bin/pam-mapi.mjs"), "check", "alice", "--password-stdin",
        "--config", isolatedConfig(), "--arg", `socket=${urls["zarafa-7.0"]!.file}`], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
      let text = "";
      child.stdout.on("data", (d) => (text += d));
      child.stderr.on("data", (d) => (text += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, text }));
      child.stdin.end("wrong\n");
    });
    expect(out.code, out.text).toBe(3);
    expect(out.text).toMatch(/result: PAM_SERVICE_ERR/);
    expect(out.text).toMatch(/fix: +point socket= for this server at its http:\/\/ or https:\/\/ port instead of its unix socket/);
  });

  it("accepts the right password on zarafa-7.1's socket and refuses a wrong one", async () => {
    const args = [`socket=${urls["zarafa-7.1"]!.file}`];
    expect((await nodeHost({ service: "imap", user: "alice", password: "Secr3t!", args })).verdict.code).toBe("success");
    expect((await nodeHost({ service: "imap", user: "alice", password: "wrong", args })).verdict.code).toBe("auth-err");
  });
});
