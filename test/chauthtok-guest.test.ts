// The guest's chauthtok flow through the Node host (the same component pam_mapi.so runs): the setUser it sends is
// byte for byte the safe request of kopano-chauthtok.md §9 (t01), and every unusual server answer fails closed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./helpers/guest.js";
import { startEmulator, type Emulator } from "../host/emulator/index.js";
import { startCannedServer, type CannedServer } from "./helpers/canned-server.js";
import { chauthtokCaptures, pwtestUsers } from "./helpers/chauthtok-captures.js";

const captures = chauthtokCaptures();
const raw = (name: string) => captures.get(name)!.raw;
const element = (body: Buffer | string, op: string) => new RegExp(`<ns:${op}>[\\s\\S]*</ns:${op}>`).exec(body.toString())?.[0];
const sidOf = (body: Buffer | string) => /<ulSessionId>(\d+)<\/ulSessionId>/.exec(body.toString())![1];

/** A capture with body text replaced and Content-Length recomputed. */
function edited(capture: Buffer, from: string | RegExp, to: string): Buffer {
  const text = capture.toString("utf8");
  const split = text.indexOf("\r\n\r\n");
  const body = text.slice(split + 4).replace(from, to);
  const head = text.slice(0, split).replace(/Content-Length: \d+/, `Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${head}\r\n\r\n${body}`, "utf8");
}

const LOGON_OK = raw("t01-ok-tcp-pwtest1-1-logon.resp.raw");
const LOGON_FAILED = raw("e11-wrong-old-password-1-logon.resp.raw");
const GETUSER = raw("t01-ok-tcp-pwtest1-2-getUser.resp.raw");
const SETUSER_OK = raw("t01-ok-tcp-pwtest1-3-setUser.resp.raw");
const LOGOFF_OK = raw("t01-ok-tcp-pwtest1-4-logoff.resp.raw");
const FAULT_500 = raw("e01-e10-pwtest1-8-setUser-minus1.resp.raw");
const NO_ACCESS = raw("e01-e10-pwtest1-3-setUser-otheruser.resp.raw");

interface ChangeRequest { service: string; args: string[]; phase: "prelim" | "update"; user: string; oldPassword: Uint8Array; newPassword: Uint8Array }
function request(socket: string, phase: "prelim" | "update", user = "pwtest1", oldPw = "Old-pass1", newPw = "New-pass2"): ChangeRequest {
  return {
    service: "passwd", args: [`socket=${socket}`], phase, user,
    oldPassword: new TextEncoder().encode(oldPw), newPassword: new TextEncoder().encode(newPw),
  };
}

interface Outcome { verdict: { code: string; reason: string; user: string }; wiped: boolean }
/** The Node host's runChauthtok in a child process (it blocks its thread while the guest waits on the network). */
function runChauthtok(req: ChangeRequest): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "test/helpers/node-chauthtok-run.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`no outcome from the child: ${out}`));
      }
    });
    child.stdin.end(JSON.stringify({ ...req, oldPassword: [...req.oldPassword], newPassword: [...req.newPassword] }));
  });
}

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ users: pwtestUsers(), listen: [{ http: {} }] });
});
afterAll(async () => emulator?.close());

describe("against the emulator", () => {
  it("sends t01's getUser and setUser elements byte for byte, and succeeds only after the new password logs in", async () => {
    const before = emulator.requests.length;
    const outcome = await runChauthtok(request(emulator.urls[0], "update"));
    expect(outcome.verdict).toEqual({ code: "success", reason: "password changed", user: "pwtest1" });
    const sent = emulator.requests.slice(before);
    expect(sent.map((r) => r.operation)).toEqual(["logon", "getUser", "setUser", "logoff", "logon"]);
    const sid = sidOf(sent[1].body);
    const capSid = sidOf(raw("t01-ok-tcp-pwtest1-2-getUser.req.raw"));
    const fromCapture = (name: string, op: string) => element(raw(name), op)!.replace(capSid, sid);
    expect(element(sent[1].body, "getUser")).toBe(fromCapture("t01-ok-tcp-pwtest1-2-getUser.req.raw", "getUser"));
    expect(element(sent[2].body, "setUser")).toBe(fromCapture("t01-ok-tcp-pwtest1-3-setUser.req.raw", "setUser"));
    expect(element(sent[3].body, "logoff")).toBe(fromCapture("t01-ok-tcp-pwtest1-4-logoff.req.raw", "logoff"));
    expect(sent[0].body.toString()).toContain("<ulFlags>1</ulFlags>");
    expect(sent[4].body.toString()).toContain("<szPassword>New-pass2</szPassword>");
    expect(sent[4].body.toString()).toContain("<ulFlags>3</ulFlags>");
    expect(emulator.openSessions()).toBe(0);
    expect(emulator.user("pwtest1")).toMatchObject({ password: "New-pass2", enabledFeatures: ["imap"], disabledFeatures: ["mobile"] });
  });

  it("prelim: one password-only logon, no session left; a wrong password is auth-err", async () => {
    const before = emulator.requests.length;
    expect((await runChauthtok(request(emulator.urls[0], "prelim", "pwtest2"))).verdict.code).toBe("success");
    expect((await runChauthtok(request(emulator.urls[0], "prelim", "pwtest2", "wrong"))).verdict.code).toBe("auth-err");
    expect(emulator.requests.slice(before).map((r) => r.operation)).toEqual(["logon", "logon"]);
    expect(emulator.openSessions()).toBe(0);
  });

  it("zeroes both password buffers", async () => {
    expect((await runChauthtok(request(emulator.urls[0], "prelim", "pwtest3"))).wiped).toBe(true);
    expect((await runChauthtok(request(emulator.urls[0], "update", "pwtest3", "Old-pass1", "{2}:no"))).wiped).toBe(true);
  });
});

describe("unusual server answers (canned replies)", () => {
  let server: CannedServer | undefined;
  afterAll(async () => server?.close());

  /** A server answering by operation; `verify` is the reply to the second logon. */
  async function scripted(replies: Record<string, Buffer>, verify = LOGON_OK): Promise<CannedServer> {
    await server?.close();
    let logons = 0;
    server = await startCannedServer({
      reply: (req) => {
        const op = /<ns:(\w+)>/.exec(req.body.toString())?.[1] ?? "";
        if (op === "logon") return ++logons === 1 ? replies.logon ?? LOGON_OK : verify;
        return replies[op] ?? LOGOFF_OK;
      },
    });
    return server;
  }
  const ops = (s: CannedServer) => s.requests.map((r) => /<ns:(\w+)>/.exec(r.body.toString())?.[1]);

  it("a getUser reply without lpsMVPropmap: no setUser is sent (it would delete the features)", async () => {
    const s = await scripted({ getUser: edited(GETUSER, /<lpsMVPropmap>.*<\/lpsMVPropmap>/, ""), setUser: SETUSER_OK });
    const v = (await runChauthtok(request(s.url, "update"))).verdict;
    expect(v.code).toBe("authinfo-unavail");
    expect(v.reason).toContain("without lpsMVPropmap");
    expect(ops(s)).toEqual(["logon", "getUser", "logoff"]);
  });

  it("a getUser reply without the user's id, or with er != 0: no setUser", async () => {
    for (const reply of [edited(GETUSER, "<ulUserId>6</ulUserId>", ""), edited(GETUSER, "<er>0</er>", "<er>2147483650</er>")]) {
      const s = await scripted({ getUser: reply, setUser: SETUSER_OK });
      expect((await runChauthtok(request(s.url, "update"))).verdict.code).toBe("authinfo-unavail");
      expect(ops(s)).toEqual(["logon", "getUser", "logoff"]);
    }
  });

  it("setUser refused (NO_ACCESS) is authtok-err, with no verification logon", async () => {
    const s = await scripted({ getUser: GETUSER, setUser: NO_ACCESS });
    const v = (await runChauthtok(request(s.url, "update"))).verdict;
    expect(v).toMatchObject({ code: "authtok-err", reason: "The Kopano server refused the password change (KCERR_NO_ACCESS)." });
    expect(ops(s)).toEqual(["logon", "getUser", "setUser", "logoff"]);
  });

  it("an unconfirmed setUser (SOAP fault): the verification logon decides", async () => {
    let s = await scripted({ getUser: GETUSER, setUser: FAULT_500 }, LOGON_FAILED);
    const v = (await runChauthtok(request(s.url, "update"))).verdict;
    expect(v.code).toBe("authtok-err");
    expect(v.reason).toContain("did not confirm");
    s = await scripted({ getUser: GETUSER, setUser: FAULT_500 }, LOGON_OK);
    expect((await runChauthtok(request(s.url, "update"))).verdict.code).toBe("success");
  });

  it("a change on the first server that fails before setUser falls over to the next; after setUser it never does", async () => {
    const s = await scripted({ getUser: edited(GETUSER, "<er>0</er>", "<er>2147483650</er>") });
    const before = emulator.requests.length;
    const both = request(`${s.url},${emulator.urls[0]}`, "update", "pwtest4");
    expect((await runChauthtok(both)).verdict.code).toBe("success");
    expect(emulator.requests.slice(before).map((r) => r.operation)).toEqual(["logon", "getUser", "setUser", "logoff", "logon"]);
    const refused = await scripted({ getUser: GETUSER, setUser: NO_ACCESS });
    const again = emulator.requests.length;
    expect((await runChauthtok(request(`${refused.url},${emulator.urls[0]}`, "update", "pwtest4", "New-pass2", "X-pass3"))).verdict.code).toBe("authtok-err");
    expect(emulator.requests.length).toBe(again);
  });

  it("refuses new passwords locally: empty, {1}:/{2}:, NUL, not UTF-8 — nothing is sent", async () => {
    const s = await scripted({});
    for (const bad of [new Uint8Array(0), new TextEncoder().encode("{1}:abc"), new Uint8Array([0x61, 0, 0x62]), new Uint8Array([0xff, 0x61])]) {
      const req = request(s.url, "update");
      req.newPassword = bad;
      expect((await runChauthtok(req)).verdict.code).toBe("authtok-err");
    }
    expect(s.requests.length).toBe(0);
  });
});
