// su and sudo — setuid programs that run PAM with an unprivileged caller's environment — against pam_mapi, for
// real: the caller is `nobody` (su) or the throwaway local account itself (sudo), a pty answers the password
// prompt, and the module talks to the Kopano emulator over http://, https:// and its unix socket. Each run is in
// a private mount namespace (test/helpers/setuid.ts): nothing on the machine changes, and the /etc files the runs
// see privately are checked byte for byte at the end. Needs root, sudo (scripts/setup.sh) and `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator, type RecordedRequest } from "../host/emulator/index.js";
import { freePort, sharedTempDir, stopAll } from "./helpers/daemons.js";
import { MODULE, repoRoot } from "./helpers/pam.js";
import { makeTestPki, type TestPki } from "./helpers/tls.js";
import { makeSetuidWorld, moduleLines, NOBODY, type Caller, type SessionResult, type SetuidWorld } from "./helpers/setuid.js";

const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
// demo-users.json: alice has IMAP disabled, bob (UTF-8 password) has it enabled; zed is a local account only.
const ALICE = { user: "alice", password: "Secr3t!" };
const BOB = { user: "bob", password: "hunter2 ü" };
const ZED = { user: "zed", password: "zed-pw" };
const MACHINE_FILES = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/pam.d/su", "/etc/pam.d/su-l",
  "/etc/pam.d/sudo", "/etc/pam.d/common-auth"];

type Transport = "http" | "https" | "unix";
const TRANSPORTS: Transport[] = ["http", "https", "unix"];

interface Program {
  name: "su" | "sudo";
  service: string;                     // the PAM service the program starts
  caller(world: SetuidWorld, user: string): Caller;
  argv(user: string): string[];
  ranAs(user: string): string;         // what the command prints when the program let the caller through
  refusal: string;                     // what the program prints when PAM said no
}

const PROGRAMS: Program[] = [
  {
    name: "su", service: "su-l",
    caller: () => NOBODY,
    argv: (user) => ["/usr/bin/su", "-", user, "-c", "echo ran-as-$(id -un)"],
    ranAs: (user) => `ran-as-${user}`,
    refusal: "su: Authentication failure",
  },
  {
    name: "sudo", service: "sudo",
    caller: (world, user) => world.account(user),
    argv: () => ["/usr/bin/sudo", "-u", "root", "/bin/sh", "-c", "echo ran-as-$(id -un)"],
    ranAs: () => "ran-as-root",
    refusal: "sudo: 1 incorrect password attempt",
  },
];

let dir: string;
let pki: TestPki;
let emulator: Emulator;
let world: SetuidWorld;
const urls = {} as Record<Transport, string>;
const noServer = {} as Record<Transport, string>;
const hanging = {} as Record<Transport, string>;
const machineBefore = new Map<string, string>();
const stops: Array<() => Promise<unknown> | unknown> = [];

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** A listener that accepts and then never says a word (TCP: not even a TLS handshake). */
async function silentListener(options: { port: number; host: string } | { path: string }): Promise<void> {
  const held = new Set<net.Socket>();
  const server = net.createServer((s) => {
    held.add(s);
    s.on("error", () => {});
    s.on("close", () => held.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(options, resolve));
  stops.push(() => new Promise<void>((resolve) => {
    for (const s of held) s.destroy();
    server.close(() => resolve());
  }));
}

function configFor(transport: Transport, socket: string, extra = ""): string {
  return `socket = ${socket}\ntimeout = 2\n${transport === "https" ? `cafile = ${pki.caFile}\n` : ""}${extra}`;
}

async function observe(action: () => Promise<SessionResult>): Promise<{ result: SessionResult; seen: RecordedRequest[] }> {
  const before = emulator.requests.length;
  const result = await action();
  return { result, seen: emulator.requests.slice(before) };
}
const logons = (seen: RecordedRequest[], user: string) =>
  seen.filter((r) => r.operation === "logon" && r.body.toString("utf8").includes(`<szUsername>${user}</szUsername>`));

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the setuid tests run su and sudo in mount namespaces and must run as root");
  for (const file of MACHINE_FILES) machineBefore.set(file, sha256(file));
  dir = sharedTempDir("pam-mapi-setuid-test-");
  pki = makeTestPki(path.join(dir, "pki"));
  emulator = await startEmulator({
    users,
    listen: [{ http: {} }, { https: { key: readFileSync(pki.key), cert: readFileSync(pki.cert) } },
      { unix: { path: path.join(dir, "kopano.sock"), mode: 0o666 } }],
  });
  stops.push(() => emulator.close());
  [urls.http, urls.https, urls.unix] = emulator.urls;
  const closed = await freePort();
  noServer.http = `http://127.0.0.1:${closed}/`;
  noServer.https = `https://localhost:${closed}/`;
  noServer.unix = `file://${dir}/nothing-listens-here.sock`;
  const silentPort = await freePort();
  await silentListener({ host: "127.0.0.1", port: silentPort });
  await silentListener({ path: path.join(dir, "silent.sock") });
  hanging.http = `http://127.0.0.1:${silentPort}/`;
  hanging.https = `https://localhost:${silentPort}/`;
  hanging.unix = `file://${dir}/silent.sock`;
  world = makeSetuidWorld({ module: MODULE, accounts: [{ name: "alice", uid: 61001 }, { name: "bob", uid: 61002 }, { name: "zed", uid: 61003 }] });
  stops.push(() => world.close());
});

afterAll(async () => {
  await stopAll(...stops.reverse(), () => dir && rmSync(dir, { recursive: true, force: true }));
});

describe.each(PROGRAMS)("$name, run by an unprivileged caller on a pty", (program) => {
  const run = (user: string, password: string) =>
    world.run({ caller: program.caller(world, user), argv: program.argv(user), password });
  const expectLetThrough = (r: SessionResult, user: string) => {
    expect(r.timedOut).toBe(false);
    expect(r.prompts).toBe(1);
    expect(r.transcript).toContain(program.ranAs(user));
    expect(r.exitCode).toBe(0);
  };
  const expectRefused = (r: SessionResult) => {
    expect(r.timedOut).toBe(false);
    expect(r.transcript).toContain(program.refusal);
    expect(r.transcript).not.toMatch(/ran-as-/);
    expect(r.exitCode).toBe(1);
  };
  const where = (user: string) => `user=${user} service=${program.service}`;

  describe.each(TRANSPORTS)("over %s", (transport) => {
    it("the right password lets the caller through; the module asked the server as root (euid 0)", async () => {
      world.writeConfig(configFor(transport, urls[transport]));
      const { result, seen } = await observe(() => run(ALICE.user, ALICE.password));
      expectLetThrough(result, ALICE.user);
      const [logon] = logons(seen, ALICE.user);
      expect(logon.listener).toBe(transport);
      if (transport === "unix") expect(logon.peer).toMatchObject({ uid: 0 });
      expect(moduleLines(result)).toEqual([]);
    });

    it("a wrong password is refused, and the module says why", async () => {
      world.writeConfig(configFor(transport, urls[transport]));
      const { result, seen } = await observe(() => run(ALICE.user, "not-it"));
      expectRefused(result);
      expect(logons(seen, ALICE.user)).toHaveLength(1);
      expect(moduleLines(result)).toEqual([`5 pam_mapi(${program.service}:auth): authentication failure; ${where("alice")} reason=wrong password or unknown user`]);
    });

    it("a local account Kopano does not know is refused", async () => {
      world.writeConfig(configFor(transport, urls[transport]));
      const { result, seen } = await observe(() => run(ZED.user, ZED.password));
      expectRefused(result);
      expect(logons(seen, ZED.user)).toHaveLength(1);
      expect(moduleLines(result)).toEqual([`5 pam_mapi(${program.service}:auth): authentication failure; ${where("zed")} reason=wrong password or unknown user`]);
    });

    it("a UTF-8 password typed on the terminal arrives intact", async () => {
      world.writeConfig(configFor(transport, urls[transport]));
      const { result, seen } = await observe(() => run(BOB.user, BOB.password));
      expectLetThrough(result, BOB.user);
      expect(logons(seen, BOB.user)[0].body.toString("utf8")).toContain("hunter2 ü");
    });

    it("a feature check (service=imap): bob has IMAP and gets through, alice with her right password does not", async () => {
      world.writeConfig(configFor(transport, urls[transport], `[${program.service}]\nservice = imap\n`));
      const bob = await observe(() => run(BOB.user, BOB.password));
      expectLetThrough(bob.result, BOB.user);
      expect(bob.seen.map((r) => r.operation)).toContain("getUser");
      const alice = await observe(() => run(ALICE.user, ALICE.password));
      expectRefused(alice.result);
      expect(alice.seen.map((r) => r.operation)).toContain("getUser");
      expect(moduleLines(alice.result).join("\n")).toMatch(new RegExp(`^5 pam_mapi\\(${program.service}:auth\\): authentication failure; ${where("alice")} .*imap`));
    });

    it("no server listening: the right password is refused and the module logs that no server answered", async () => {
      world.writeConfig(configFor(transport, noServer[transport]));
      const result = await run(ALICE.user, ALICE.password);
      expectRefused(result);
      expect(moduleLines(result)).toContainEqual(expect.stringMatching(
        new RegExp(`^3 pam_mapi\\(${program.service}:auth\\): no Kopano server available for ${where("alice")}; last: `)));
    });

    it("a server that accepts and never answers: refused once timeout= (1 s) has passed", async () => {
      world.writeConfig(configFor(transport, hanging[transport]).replace("timeout = 2", "timeout = 1"));
      const started = Date.now();
      const result = await run(ALICE.user, ALICE.password);
      expectRefused(result);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(moduleLines(result)).toContainEqual(expect.stringMatching(
        new RegExp(`^3 pam_mapi\\(${program.service}:auth\\): no Kopano server available for ${where("alice")}; last: `)));
    });
  });
});

describe("su for a name with no local account", () => {
  it("fails in su itself: PAM and the module are never asked", async () => {
    world.writeConfig(configFor("http", urls.http));
    const { result, seen } = await observe(() => world.run({ caller: NOBODY, argv: PROGRAMS[0].argv("ghost"), password: "x" }));
    expect(result.prompts).toBe(0);
    expect(result.transcript).toContain("su: user ghost does not exist");
    expect(result.exitCode).toBe(1);
    expect(seen).toEqual([]);
  });
});

describe("the machine", () => {
  it("has the same /etc files, byte for byte, as before the runs", () => {
    for (const [file, hash] of machineBefore) expect(sha256(file), file).toBe(hash);
  });

  it("su's records of the failed attempts went to the namespace's private btmp, not the machine's", () => {
    expect(statSync(path.join(world.dir, "btmp")).size).toBeGreaterThan(0);
  });
});
