// Password changes through real libpam (pam_sm_chauthtok in build/pam_mapi.so) against the Kopano emulator's
// setUser, which behaves like the real 11.0.2 server (kopano-chauthtok.md): pamdrive, pamtester and passwd(1)
// under pam_wrapper (and nss_wrapper, so passwd knows the user), over http and the unix socket.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { startEmulator, type Emulator, type EmulatorOptions, type UserDb } from "../host/emulator/index.js";
import { runCli } from "./helpers/cli.js";
import { MODULE, PAM, PAM_WRAPPER, makeConfdir, removeConfdir, runPamdrive, runPamtester, writeConfdir } from "./helpers/pam.js";

const PAM_AUTHTOK_ERR = 20;
const PAM_AUTHTOK_RECOVERY_ERR = 21;
const PAM_TRY_AGAIN = 24;
const NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

const FEATURES = { enabledFeatures: ["imap", "odd&<feature>"], disabledFeatures: ["mobile"] };
function users(): UserDb {
  const u = (name: string, extra: object = {}) => ({ name, password: "Old-pass1", fullName: `User ${name}`, email: `${name}@example.test`, ...FEATURES, ...extra });
  return {
    users: [
      u("chuck"), u("tester"), u("hidden1", { hidden: 1 }), u("admin1", { admin: 1 }), u("feat1", { capacity: 7 }),
      u("wrongold"), u("rootunix"), u("quality"), u("mismatch"), u("badnew"), u("pwuser"), u("pwquiet"), u("cliuser"), u("vguser"),
    ],
  };
}

let tmp: string;
let confdir: string;
let emulator: Emulator;
const urls: Record<string, string> = {};

async function emulatorWith(options: Partial<EmulatorOptions>, sock: string): Promise<Emulator> {
  return startEmulator({ users: users(), listen: [{ http: { host: "127.0.0.1", port: 0 } }, { unix: { path: path.join(tmp, sock), mode: 0o666 } }], ...options });
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "pam-chauthtok-"));
  confdir = makeConfdir();
  emulator = await emulatorWith({}, "server.sock");
  for (const u of emulator.urls) urls[u.split(":")[0]] = u;
});

afterAll(async () => {
  await emulator?.close();
  removeConfdir(confdir);
  rmSync(tmp, { recursive: true, force: true });
});

let serial = 0;
/** A service whose password stack is `lines` (MODULE expanded), plus an auth stack to log in with. */
function service(socket: string, args: string[] = [], passwordLines?: string[]): string {
  const name = `chauthtok${++serial}`;
  const mod = `${MODULE} socket=${socket} ${args.join(" ")}`.trim();
  writeConfdir(confdir, name, [
    `auth required ${mod}`,
    ...(passwordLines ? passwordLines.map((l) => l.replace("MODULE", mod)) : [`password required ${mod}`]),
  ]);
  return name;
}

async function change(user: string, input: string[], opts: { socket?: string; args?: string[]; lines?: string[]; emu?: Emulator } = {}) {
  const emu = opts.emu ?? emulator;
  const before = emu.requests.length;
  const run = await runPamdrive(confdir, service(opts.socket ?? urls.http, opts.args, opts.lines), user, ["chauthtok"], { input });
  return { ...run, requests: emu.requests.slice(before) };
}

async function login(user: string, password: string, socket = urls.http): Promise<number> {
  const run = await runPamdrive(confdir, service(socket), user, ["auth"], { input: [password] });
  return run.ops.auth;
}

/** Everything but the password, which is the only thing a change may touch. */
function attributes(emu: Emulator, user: string) {
  const { password: _password, ...rest } = emu.user(user)!;
  return rest;
}

const errors = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("pamdrive: error: ")).map((l) => l.slice(17));

describe("pam_chauthtok through libpam", () => {
  it("changes the password over http: old one asked once, new one twice; then only the new one logs in", async () => {
    const before = attributes(emulator, "chuck");
    const r = await change("chuck", ["Old-pass1", "New-pass2", "New-pass2"]);
    expect(r.ops.chauthtok).toBe(PAM.SUCCESS);
    expect(r.stderr).not.toContain("New-pass2");
    // prelim: a password-only logon; update: logon (registered, NO_UID_AUTH), getUser, setUser, logoff, verification
    expect(r.requests.map((q) => q.operation)).toEqual(["logon", "logon", "getUser", "setUser", "logoff", "logon"]);
    const flags = r.requests.filter((q) => q.operation === "logon").map((q) => /<ulFlags>(\d+)<\/ulFlags>/.exec(q.body.toString())![1]);
    expect(flags).toEqual(["3", "1", "3"]);
    expect(emulator.user("chuck")!.password).toBe("New-pass2");
    expect(attributes(emulator, "chuck")).toEqual(before);
    expect(await login("chuck", "New-pass2")).toBe(PAM.SUCCESS);
    expect(await login("chuck", "Old-pass1")).toBe(PAM.AUTH_ERR);
  });

  it("keeps an admin's admin flag, a hidden user's hidden flag, capacity, class and explicit features (with XML characters)", async () => {
    for (const user of ["admin1", "hidden1", "feat1"]) {
      const before = attributes(emulator, user);
      const r = await change(user, ["Old-pass1", "Chg-pass3", "Chg-pass3"], { socket: urls.file });
      expect(r.ops.chauthtok, user).toBe(PAM.SUCCESS);
      expect(emulator.user(user)!.password).toBe("Chg-pass3");
      expect(attributes(emulator, user), user).toEqual(before);
    }
    expect(attributes(emulator, "admin1")).toMatchObject({ admin: 1, hidden: 0, active: true, ...FEATURES });
    expect(attributes(emulator, "hidden1")).toMatchObject({ admin: 0, hidden: 1, active: true, ...FEATURES });
    expect(attributes(emulator, "feat1")).toMatchObject({ capacity: 7, ...FEATURES });
  });

  it("pamtester chauthtok changes the password over the unix socket", async () => {
    const r = await runPamtester(confdir, service(urls.file), "tester", ["chauthtok"], { input: ["Old-pass1", "Tester-pass2", "Tester-pass2"] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain("authentication token altered successfully");
    expect(await login("tester", "Tester-pass2", urls.file)).toBe(PAM.SUCCESS);
  });

  it("a wrong current password is PAM_AUTH_ERR in the preliminary check, also for root over the unix socket", async () => {
    for (const [user, socket] of [["wrongold", urls.http], ["rootunix", urls.file]]) {
      const r = await change(user, ["certainly-wrong", "Hijack-1", "Hijack-1"], { socket });
      expect(r.ops.chauthtok, user).toBe(PAM.AUTH_ERR);
      expect(r.requests.map((q) => q.operation)).toEqual(["logon"]);
      expect(r.requests[0].body.toString()).toContain("<ulFlags>3</ulFlags>");
      expect(emulator.user(user)!.password).toBe("Old-pass1");
    }
    // use_first_pass without a current password from an earlier module fails closed instead of asking
    const r = await change("rootunix", ["Hijack-2", "Hijack-2"], {
      socket: urls.file, args: ["use_first_pass"],
      lines: ["password optional pam_debug.so", "password required MODULE"],
    });
    expect(r.ops.chauthtok).toBe(PAM_AUTHTOK_RECOVERY_ERR);
    expect(emulator.user("rootunix")!.password).toBe("Old-pass1");
  });

  it("refuses a retyped password that differs, an empty one and a {2}: one, with a message, touching nothing", async () => {
    const mismatch = await change("mismatch", ["Old-pass1", "New-pass2", "New-pass3"]);
    expect(mismatch.ops.chauthtok).toBe(PAM_AUTHTOK_ERR);
    expect(errors(mismatch.stderr)).toEqual(["Sorry, passwords do not match."]);
    for (const [bad, message] of [["", "The new password is empty."], ["{2}:4MvGiNXE1taQ", "The new password must not begin with {1}: or {2}:."]]) {
      const r = await change("badnew", ["Old-pass1", bad, bad]);
      expect(r.ops.chauthtok, bad).toBe(PAM_AUTHTOK_ERR);
      expect(errors(r.stderr)).toEqual([message]);
      expect(r.requests.map((q) => q.operation)).toEqual(["logon"]); // only the preliminary check
    }
    expect(emulator.user("mismatch")!.password).toBe("Old-pass1");
    expect(emulator.user("badnew")!.password).toBe("Old-pass1");
  });
});

describe("what the server says", () => {
  it("LDAP plugin: PAM_AUTHTOK_ERR, passwords live in the directory; Unix plugin: use the system passwd", async () => {
    for (const [userPlugin, message] of [["ldap", "LDAP/Active Directory"], ["unix", "use the system passwd"]] as const) {
      const emu = await emulatorWith({ userPlugin }, `${userPlugin}.sock`);
      try {
        const r = await change("chuck", ["Old-pass1", "New-pass2", "New-pass2"], { socket: emu.urls[0], emu });
        expect(r.ops.chauthtok, userPlugin).toBe(PAM_AUTHTOK_ERR);
        expect(errors(r.stderr).join("\n")).toContain(message);
        expect(r.requests.map((q) => q.operation)).toEqual(["logon", "logon", "getUser", "setUser", "logoff"]);
        expect(emu.user("chuck")!.password).toBe("Old-pass1");
        expect(emu.openSessions()).toBe(0);
      } finally {
        await emu.close();
      }
    }
  });

  it("auth_method=pam: setUser 'succeeds' but the new password does not log in: PAM_AUTHTOK_ERR", async () => {
    const emu = await emulatorWith({ authMethod: "pam" }, "pam.sock");
    try {
      const r = await change("chuck", ["Old-pass1", "New-pass2", "New-pass2"], { socket: emu.urls[0], emu });
      expect(r.ops.chauthtok).toBe(PAM_AUTHTOK_ERR);
      expect(errors(r.stderr).join("\n")).toContain("auth_method = pam or kerberos");
      expect(r.requests.map((q) => q.operation)).toEqual(["logon", "logon", "getUser", "setUser", "logoff", "logon"]);
    } finally {
      await emu.close();
    }
  });

  it("no server: PAM_TRY_AGAIN from the preliminary check (PAM_IGNORE with ignore_unavailable)", async () => {
    const dead = `file://${path.join(tmp, "nothing-here.sock")}`;
    const r = await change("chuck", ["Old-pass1", "x", "x"], { socket: dead });
    expect(r.ops.chauthtok).toBe(PAM_TRY_AGAIN);
    const ignored = await change("chuck", ["Old-pass1", "x", "x"], {
      socket: dead, args: ["ignore_unavailable"], lines: ["password [ignore=ignore default=die] MODULE", "password required pam_permit.so"],
    });
    expect(ignored.ops.chauthtok).toBe(PAM.SUCCESS); // pam_permit decided: the module stepped aside
  });
});

describe("stacking", () => {
  it("after pam_pwquality with use_authtok: a weak password never reaches the server, a good one is set", async () => {
    const lines = ["password requisite pam_pwquality.so retry=1 minlen=10 dictcheck=0 enforce_for_root", "password required MODULE use_authtok"];
    const weak = await change("quality", ["Old-pass1", "abc", "abc"], { lines });
    expect(weak.ops.chauthtok).toBe(PAM_AUTHTOK_ERR);
    expect(weak.requests.map((q) => q.operation)).toEqual(["logon"]);
    expect(emulator.user("quality")!.password).toBe("Old-pass1");
    const good = await change("quality", ["Old-pass1", "Zebra-Mango-4417", "Zebra-Mango-4417"], { lines });
    expect(good.ops.chauthtok, good.stderr).toBe(PAM.SUCCESS);
    expect(emulator.user("quality")!.password).toBe("Zebra-Mango-4417");
  });

  it("use_authtok without an earlier module's password fails closed", async () => {
    const r = await change("quality", ["Zebra-Mango-4417"], { args: ["use_authtok"] });
    expect(r.ops.chauthtok).toBe(PAM_AUTHTOK_ERR);
    expect(emulator.user("quality")!.password).toBe("Zebra-Mango-4417");
  });
});

describe("memory", () => {
  it("valgrind: three password changes in one process, no errors, nothing definitely lost", async () => {
    const valgrind = ["valgrind", "--leak-check=full", "--keep-debuginfo=yes", "--errors-for-leak-kinds=definite", "--error-exitcode=99"];
    const input = ["Old-pass1", "Vg-pass2", "Vg-pass2", "Vg-pass2", "Vg-pass3", "Vg-pass3", "Vg-pass3", "Vg-pass4", "Vg-pass4"];
    const r = await runPamdrive(confdir, service(urls.file), "vguser", ["chauthtok"],
      { input, repeat: 3, prefix: valgrind, wrapper: false, timeoutMs: 240_000 });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stderr).toContain("ERROR SUMMARY: 0 errors");
    expect(r.results).toEqual([["chauthtok", 0], ["chauthtok", 0], ["chauthtok", 0]]);
    expect(emulator.user("vguser")!.password).toBe("Vg-pass4");
  }, 300_000);
});

/** passwd(1) [ARGS] USER under pam_wrapper (service "passwd" from confdir) and nss_wrapper (USER in a private
 * passwd file, since passwd refuses names it cannot look up). */
async function passwd(args: string[], user: string, input: string[]): Promise<{ code: number | null; out: string }> {
  const passwdFile = path.join(tmp, "passwd");
  const groupFile = path.join(tmp, "group");
  writeFileSync(passwdFile, `root:x:0:0:root:/root:/bin/sh\n${user}:x:4242:4242:PW User:/nonexistent:/bin/sh\n`);
  writeFileSync(groupFile, `root:x:0:\n${user}:x:4242:\n`);
  writeConfdir(confdir, "passwd", [`password required ${MODULE} socket=${urls.file}`]);
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C",
    LD_PRELOAD: `${PAM_WRAPPER} ${NSS_WRAPPER}`, PAM_WRAPPER: "1", PAM_WRAPPER_SERVICE_DIR: confdir, PAM_WRAPPER_DEBUGLEVEL: "2",
    NSS_WRAPPER_PASSWD: passwdFile, NSS_WRAPPER_GROUP: groupFile,
  };
  return new Promise((resolve, reject) => {
    const child = spawn("passwd", [...args, user], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
    child.stdin.end(input.map((l) => l + "\n").join(""));
  });
}

describe("passwd(1)", () => {
  it("changes the password of a user that nss_wrapper adds to its private passwd file", async () => {
    const run = await passwd([], "pwuser", ["Old-pass1", "Passwd-pass2", "Passwd-pass2"]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain("password updated successfully");
    // the module's notice (pam_wrapper prints it right after the last prompt, on the same line)
    expect(run.out).toContain("SYSLOG(5): password changed for user=pwuser service=passwd");
    expect(emulator.user("pwuser")!.password).toBe("Passwd-pass2");
    expect(await login("pwuser", "Passwd-pass2", urls.file)).toBe(PAM.SUCCESS);
  });

  it("shows why a new password is refused, except with -q (PAM_SILENT)", async () => {
    const message = "The new password must not begin with {1}: or {2}:.";
    const loud = await passwd([], "pwquiet", ["Old-pass1", "{2}:abc", "{2}:abc"]);
    expect(loud.code).not.toBe(0);
    // a line of its own through the conversation (the syslog notice quotes it too, after "reason=")
    const shown = (out: string) => out.split("\n").some((line) => line.trim() === message);
    expect(shown(loud.out)).toBe(true);
    expect(loud.out).toContain("Authentication token manipulation error");
    const quiet = await passwd(["-q"], "pwquiet", ["Old-pass1", "{2}:abc", "{2}:abc"]);
    expect(quiet.code).not.toBe(0);
    expect(shown(quiet.out)).toBe(false);
    expect(quiet.out).toContain("reason=" + message); // still logged
    expect(emulator.user("pwquiet")!.password).toBe("Old-pass1");
  });
});

/** bin/pam-mapi.mjs (the built host) as a child process. */
const cli = runCli;

describe("pam-mapi passwd", () => {
  it("changes a password from two stdin lines, keeping every other attribute; a wrong current password is exit 1", async () => {
    const empty = path.join(tmp, "empty.conf");
    writeFileSync(empty, "");
    const before = attributes(emulator, "cliuser");
    const wrong = await cli(["passwd", "cliuser", "--config", empty, "--stdin", "--arg", `socket=${urls.file}`], "nope\nCli-pass2\n");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("PAM_AUTH_ERR: wrong current password or unknown user");
    const r = await cli(["passwd", "cliuser", "--config", empty, "--stdin", "--arg", `socket=${urls.http}`], "Old-pass1\nCli-pass2\n");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("pam-mapi passwd: password changed for cliuser\n");
    expect(r.stdout + r.stderr).not.toContain("Cli-pass2");
    expect(emulator.user("cliuser")!.password).toBe("Cli-pass2");
    expect(attributes(emulator, "cliuser")).toEqual(before);
    const refused = await cli(["passwd", "cliuser", "--config", empty, "--stdin", "--arg", `socket=${urls.http}`], "Cli-pass2\n{1}:x\n");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("PAM_AUTHTOK_ERR: The new password must not begin with {1}: or {2}:.");
  });
});
