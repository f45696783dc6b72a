// The README's recipes, run end to end from their files in docs/recipes/ (README.md contains each file verbatim,
// checked below). Each runs unchanged at the paths it names: the PAM service files through pam_wrapper (in place
// of /etc/pam.d), and inside a private mount namespace (test/helpers/system-view.ts) `pam_mapi.so` by its bare
// name, /etc/security/pam_mapi.conf, the server socket /var/run/kopano/server.sock (the Kopano emulator) and, for
// pam_unix, /etc/passwd and /etc/shadow with a throwaway system user. Nothing on the machine changes.
// Where a test adds to a recipe, it says so: Postfix runs unchrooted from a private directory, so its
// smtpd.conf gets saslauthd_path; saslauthd runs in the foreground (-d) with two processes (-n 2).
// Needs root, the Debian packages of scripts/setup.sh and `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator, type RecordedRequest } from "../host/emulator/index.js";
import {
  httpStatus, sharedTempDir, startApache, startPostfix, startSaslauthd, stopAll, writePamServiceDir, WWW_DATA_UID,
  type Apache, type CommandWrapper, type Postfix, type Saslauthd,
} from "./helpers/daemons.js";
import { smtpAuthPlain } from "./helpers/smtp.js";
import { makeSystemView, type SystemView } from "./helpers/system-view.js";
import { PAM_WRAPPER } from "./helpers/pam.js";
import { repoRoot } from "./helpers/guest.js";

const RECIPES = path.join(repoRoot, "docs/recipes");
const recipe = (name: string) => readFileSync(path.join(RECIPES, name), "utf8");
const MODULE = path.join(repoRoot, "build/pam_mapi.so");
const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
// demo-users.json: alice has imap and pop3 disabled (Kopano's default), bob has both enabled.
const ALICE = { user: "alice", password: "Secr3t!" };
const BOB = { user: "bob", password: "hunter2 ü" };
const SYSUSER = { user: "sysuser", password: "Sys-Pa55" };

let dir: string;
let emulator: Emulator;
let kopanoSocket: string;
const views: SystemView[] = [];
const stops: Array<() => Promise<unknown> | unknown> = [];

function logonsOf(seen: RecordedRequest[], user: string): RecordedRequest[] {
  return seen.filter((r) => r.operation === "logon" && r.body.toString("utf8").includes(`<szUsername>${user}</szUsername>`));
}
async function observe<T>(action: () => Promise<T>): Promise<{ result: T; seen: RecordedRequest[] }> {
  const before = emulator.requests.length;
  const result = await action();
  return { result, seen: emulator.requests.slice(before) };
}
function view(options: Parameters<typeof makeSystemView>[0]): SystemView {
  const v = makeSystemView(options);
  views.push(v);
  return v;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the recipe tests start system daemons in mount namespaces and must run as root");
  dir = sharedTempDir("pam-mapi-recipes-");
  kopanoSocket = path.join(dir, "kopano.sock");
  emulator = await startEmulator({ users, listen: [{ unix: { path: kopanoSocket, mode: 0o666 } }] });
});

afterAll(async () => {
  await stopAll(...stops.reverse(), () => emulator?.close(), ...views.map((v) => () => v.close()),
    async () => dir && rmSync(dir, { recursive: true, force: true }));
});

describe("the README carries every recipe file verbatim", () => {
  const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
  it.each([
    "smtp/pam.d-smtp", "smtp/pam_mapi.conf", "smtp/saslauthd", "smtp/main.cf", "smtp/smtpd.conf",
    "apache/pam.d-webmail", "apache/pam.d-webmail-access", "apache/webmail.conf", "stacking/pam.d-system-or-kopano",
    // run by test/sshd.test.ts and test/dovecot.test.ts
    "sshd/pam.d-sshd", "sshd/sshd_config", "sshd/pam_mapi.conf",
    "dovecot/pam.d-dovecot", "dovecot/passdb.conf", "dovecot/pam_mapi.conf",
  ])("%s", (name) => {
    expect(readme).toContain(recipe(name));
  });

  it("and the pam-auth-update profile", () => {
    expect(readme).toContain(readFileSync(path.join(repoRoot, "debian/pam-configs/mapi"), "utf8"));
  });
});

describe("Postfix SMTP AUTH through saslauthd (docs/recipes/smtp)", () => {
  let saslauthd: Saslauthd;
  let postfix: Postfix;

  beforeAll(async () => {
    const defaults = spawnSync("bash", ["-c", 'set -a; . "$1"; printf "%s\\n" "$START" "$MECHANISMS" "$OPTIONS"', "bash",
      path.join(RECIPES, "smtp/saslauthd")], { encoding: "utf8" }).stdout.split("\n");
    const [start, mechanisms, options] = defaults;
    expect(start).toBe("yes");
    expect(mechanisms).toBe("pam");
    const optionWords = options.split(/\s+/).filter(Boolean);
    expect(optionWords).not.toContain("-c"); // the credential cache would outlive a password change
    const muxTarget = optionWords[optionWords.indexOf("-m") + 1];
    expect(muxTarget).toMatch(/^\/var\/spool\/postfix\//);

    const system = view({ module: MODULE, kopanoSocket, etcSecurity: { "pam_mapi.conf": { text: recipe("smtp/pam_mapi.conf"), mode: 0o644 } } });
    // saslauthd as /etc/default/saslauthd starts it, its socket directory (-m) shared with the test's Postfix.
    const asDebianStartsIt: CommandWrapper = (command, args) => {
      const muxDir = args[args.indexOf("-m") + 1];
      system.bindDirectory(muxDir, muxTarget);
      return system.wrap(command, ["-a", mechanisms, "-d", "-n", "2", ...optionWords]);
    };
    const serviceDir = writePamServiceDir(path.join(dir, "pam.d-smtp"), { smtp: recipe("smtp/pam.d-smtp") });
    saslauthd = await startSaslauthd({ serviceDir, wrap: asDebianStartsIt });
    stops.push(() => saslauthd.stop());
    postfix = await startPostfix({ saslSocket: saslauthd.socketPath, pamService: "smtp", saslConf: recipe("smtp/smtpd.conf"), mainCfExtra: recipe("smtp/main.cf") });
    stops.push(() => postfix.stop());
  }, 60_000);

  it("accepts bob (IMAP enabled) with 235: the module asked the server over its unix socket, as root", async () => {
    const { result, seen } = await observe(() => smtpAuthPlain({ port: postfix.port, ...BOB }));
    expect(result.code).toBe(235);
    const [logon] = logonsOf(seen, "bob");
    expect(logon.listener).toBe("unix");
    expect(logon.peer).toMatchObject({ uid: 0 });
    expect(seen.map((r) => r.operation)).toContain("getUser"); // the [smtp] section's service=imap|pop3
  });

  it("refuses alice, whose password is right but who has neither IMAP nor POP3, with 535", async () => {
    const { result, seen } = await observe(() => smtpAuthPlain({ port: postfix.port, ...ALICE }));
    expect(result.code).toBe(535);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    expect(saslauthd.log()).toMatch(/SYSLOG\(5\): authentication failure; user=alice service=smtp .*imap/);
  });

  it("refuses a wrong password with 535 even for a root peer on the socket (NO_UID_AUTH)", async () => {
    const { result, seen } = await observe(() => smtpAuthPlain({ port: postfix.port, user: "bob", password: "not-it" }));
    expect(result.code).toBe(535);
    expect(logonsOf(seen, "bob")[0].peer).toMatchObject({ uid: 0 });
  });
});

describe("Apache Basic auth with mod_authnz_pam and Require pam-account (docs/recipes/apache)", () => {
  let apache: Apache;
  const secret = () => `${apache.url}/private/secret.txt`;

  beforeAll(async () => {
    const system = view({
      module: MODULE, kopanoSocket, etcSecurity: {
        // The same configuration file as the SMTP recipe, with the mode its header says (www-data reads it).
        "pam_mapi.conf": { text: recipe("smtp/pam_mapi.conf"), mode: 0o644 },
        "webmail-users": { text: recipe("apache/webmail-users"), mode: 0o644 },
      },
    });
    const serviceDir = writePamServiceDir(path.join(dir, "pam.d-apache"), {
      "webmail": recipe("apache/pam.d-webmail"),
      "webmail-access": recipe("apache/pam.d-webmail-access"),
    });
    apache = await startApache({ serviceDir, pamService: "webmail", location: recipe("apache/webmail.conf"), wrap: system.wrap });
    stops.push(() => apache.stop());
  }, 60_000);

  it("returns 200 for alice (a Kopano user on the list); pam_mapi ran as www-data", async () => {
    const { result, seen } = await observe(() => httpStatus(secret(), ALICE));
    expect(result).toBe(200);
    expect(logonsOf(seen, "alice")[0].peer).toMatchObject({ uid: WWW_DATA_UID });
  });

  it("returns 401 for bob: the server accepted his password, but webmail-access does not list him", async () => {
    const { result, seen } = await observe(() => httpStatus(secret(), BOB));
    expect(result).toBe(401);
    expect(logonsOf(seen, "bob")).toHaveLength(1);
    expect(apache.errorLog()).toMatch(/PAM authentication passed for user bob/);
    expect(apache.errorLog()).toMatch(/PAM account validation failed for user bob/);
  });

  it("returns 401 for a wrong password, after asking the server", async () => {
    const { result, seen } = await observe(() => httpStatus(secret(), { user: "alice", password: "not-it" }));
    expect(result).toBe(401);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    expect(apache.errorLog()).toMatch(/PAM authentication failed for user alice/);
  });
});

/** /etc/passwd and /etc/shadow with one more (throwaway) system user, for binding over the real ones. */
function withSystemUser(): Record<string, string> {
  const hash = spawnSync("openssl", ["passwd", "-6", "-stdin"], { input: `${SYSUSER.password}\n`, encoding: "utf8" }).stdout.trim();
  expect(hash).toMatch(/^\$6\$/);
  const passwd = path.join(dir, "passwd");
  const shadow = path.join(dir, "shadow");
  cpSync("/etc/passwd", passwd);
  cpSync("/etc/shadow", shadow);
  writeFileSync(passwd, `${SYSUSER.user}:x:2001:2001:pam_mapi recipe test:/nonexistent:/usr/sbin/nologin\n`, { flag: "a" });
  writeFileSync(shadow, `${SYSUSER.user}:${hash}:20000:0:99999:7:::\n`, { flag: "a", mode: 0o640 });
  return { "/etc/passwd": passwd, "/etc/shadow": shadow };
}

interface PamtesterRun { code: number | null; output: string }
/** pamtester under pam_wrapper (service files from `serviceDir`), inside `system`. */
function pamtester(system: SystemView, serviceDir: string, service: string, user: string, password: string): Promise<PamtesterRun> {
  const [command, args] = system.wrap("pamtester", ["-v", service, user, "authenticate", "acct_mgmt"]);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH, LD_PRELOAD: PAM_WRAPPER, PAM_WRAPPER: "1", PAM_WRAPPER_SERVICE_DIR: serviceDir, PAM_WRAPPER_DEBUGLEVEL: "2" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end(`${password}\n`);
  });
}
const loggedIn = (r: PamtesterRun) => r.code === 0 && /successfully authenticated/.test(r.output) && /account management done/.test(r.output);

describe("a system user or a Kopano user: stacking with pam_unix (docs/recipes/stacking)", () => {
  const service = "system-or-kopano";
  let serviceDir: string;
  let system: SystemView;
  let kopanoDown: SystemView;

  beforeAll(() => {
    const files = withSystemUser();
    const etcSecurity = { "pam_mapi.conf": { text: recipe("smtp/pam_mapi.conf"), mode: 0o644 } };
    system = view({ module: MODULE, kopanoSocket, etcSecurity, files });
    // No Kopano server: the socket path exists but nothing listens there (connection refused).
    const deadSocket = path.join(dir, "nothing-listens.sock");
    writeFileSync(deadSocket, "");
    kopanoDown = view({ module: MODULE, kopanoSocket: deadSocket, etcSecurity, files });
    serviceDir = writePamServiceDir(path.join(dir, "pam.d-stacking"), { [service]: recipe("stacking/pam.d-system-or-kopano") });
  });

  it("logs the system user in through pam_unix without asking Kopano", async () => {
    const { result, seen } = await observe(() => pamtester(system, serviceDir, service, SYSUSER.user, SYSUSER.password));
    expect(loggedIn(result), result.output).toBe(true);
    expect(seen).toEqual([]);
  });

  it("logs a Kopano user in through pam_mapi, reusing the password pam_unix asked for", async () => {
    const { result, seen } = await observe(() => pamtester(system, serviceDir, service, ALICE.user, ALICE.password));
    expect(loggedIn(result), result.output).toBe(true);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    expect(result.output.match(/Password:/g)).toHaveLength(1);
  });

  it("refuses wrong passwords for both", async () => {
    for (const user of [SYSUSER.user, ALICE.user]) {
      const { result, seen } = await observe(() => pamtester(system, serviceDir, service, user, "not-it"));
      expect(result.code, result.output).not.toBe(0);
      expect(result.output).toMatch(/Authentication failure/);
      expect(logonsOf(seen, user)).toHaveLength(1);
    }
  });

  it("still logs the system user in when no Kopano server answers, and nobody else", async () => {
    expect(loggedIn(await pamtester(kopanoDown, serviceDir, service, SYSUSER.user, SYSUSER.password))).toBe(true);
    const alice = await pamtester(kopanoDown, serviceDir, service, ALICE.user, ALICE.password);
    expect(alice.code).not.toBe(0);
    expect(alice.output).toMatch(/Authentication failure/);
    expect(alice.output).toMatch(/no Kopano server available for user=alice/);
  });
});

describe("the pam-auth-update profile (debian/pam-configs/mapi)", () => {
  let generated: string;
  let system: SystemView;

  beforeAll(() => {
    // pam-auth-update itself, on copies of /etc/pam.d, its state and debconf's, with the profile added.
    const copies = Object.fromEntries(["/etc/pam.d", "/usr/share/pam-configs", "/var/lib/pam", "/var/cache/debconf"].map((p) => {
      const copy = path.join(dir, "pam-auth-update", p.replace(/\//g, "_"));
      cpSync(p, copy, { recursive: true, verbatimSymlinks: true });
      return [p, copy];
    }));
    cpSync(path.join(repoRoot, "debian/pam-configs/mapi"), path.join(copies["/usr/share/pam-configs"], "mapi"));
    system = view({ module: MODULE, kopanoSocket, etcSecurity: { "pam_mapi.conf": { text: recipe("smtp/pam_mapi.conf"), mode: 0o644 } }, files: withSystemUser() });
    for (const [target, source] of Object.entries(copies)) system.bindDirectory(source, target);
    const [command, args] = system.wrap("pam-auth-update", ["--enable", "mapi"]);
    const r = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    generated = copies["/etc/pam.d"];
  });

  it("is off until selected, and then puts pam_mapi after pam_unix in common-auth and common-account", () => {
    expect(recipeProfile()).toMatch(/^Default: no$/m);
    const auth = readFileSync(path.join(generated, "common-auth"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
    const expected = [
      /^auth\s+\[success=2 default=ignore\]\s+pam_unix\.so nullok$/,
      /^auth\s+\[success=1 default=ignore\]\s+pam_mapi\.so try_first_pass ignore_unavailable$/,
      /^auth\s+requisite\s+pam_deny\.so$/,
      /^auth\s+required\s+pam_permit\.so$/,
    ];
    expected.forEach((line, i) => expect(auth[i]).toMatch(line));
    const account = readFileSync(path.join(generated, "common-account"), "utf8");
    expect(account).toMatch(/\[success=2 [^\]]*\]\s+pam_unix\.so\s*\n[^\n]*\[success=1 default=ignore\]\s+pam_mapi\.so\s*\n(#[^\n]*\n)*account\s+requisite\s+pam_deny\.so/);
  });

  it("lets a system user and a Kopano user log in to a service that includes common-auth and common-account", async () => {
    const serviceDir = writePamServiceDir(path.join(dir, "pam.d-common"), {
      "common-auth": readFileSync(path.join(generated, "common-auth"), "utf8"),
      "common-account": readFileSync(path.join(generated, "common-account"), "utf8"),
      "mail": "@include common-auth\n@include common-account\n",
    });
    expect(loggedIn(await pamtester(system, serviceDir, "mail", SYSUSER.user, SYSUSER.password))).toBe(true);
    const { result, seen } = await observe(() => pamtester(system, serviceDir, "mail", ALICE.user, ALICE.password));
    expect(loggedIn(result), result.output).toBe(true);
    expect(logonsOf(seen, "alice")).toHaveLength(1);
    const wrong = await pamtester(system, serviceDir, "mail", ALICE.user, "not-it");
    expect(wrong.code).not.toBe(0);
  });
});

function recipeProfile(): string {
  return readFileSync(path.join(repoRoot, "debian/pam-configs/mapi"), "utf8");
}
