// Installing pam_mapi as an administrator does: scripts/install.sh into a staging DESTDIR (layout, modes, an
// existing configuration never overwritten, uninstall), and the Debian package built by scripts/build-deb.sh
// installed on this machine with dpkg -i, a login through `pam_mapi.so` named by its bare name (as /etc/pam.d
// lines do) against the Kopano emulator, then dpkg -P and nothing left behind.
//
// The machine's own state is kept: files this test would replace (a module from `npm run install-module`, an
// existing /etc/security/pam_mapi.conf, ...) are copied aside first and put back byte for byte afterwards. A
// libpam-mapi package that is already installed is refused with a clear error rather than replaced.
// Needs root, dpkg, `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator } from "../host/emulator/index.js";
import { makeConfdir, PAM, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";
import { repoRoot } from "./helpers/guest.js";
import { isRunning } from "./helpers/daemons.js";
import { makeSystemView } from "./helpers/system-view.js";

const version: string = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;
const MODULE_PATH = "/lib/x86_64-linux-gnu/security/pam_mapi.so";
const CONFIG_PATH = "/etc/security/pam_mapi.conf";
/** Everything the package puts on the machine (directories as such). */
const PACKAGE_PATHS = [
  MODULE_PATH, "/usr/sbin/pam-mapi", "/usr/lib/pam-mapi", "/usr/share/pam-configs/mapi",
  "/usr/share/man/man8/pam_mapi.8.gz", "/usr/share/man/man5/pam_mapi.conf.5.gz", "/usr/share/man/man1/pam-mapi.1.gz",
  "/usr/share/doc/libpam-mapi",
];
/** Single files this test may replace on this machine; saved and restored around it. */
const SAVED_FILES = [MODULE_PATH, CONFIG_PATH, "/usr/share/pam-configs/mapi", "/usr/sbin/pam-mapi",
  "/usr/share/man/man8/pam_mapi.8.gz", "/usr/share/man/man5/pam_mapi.conf.5.gz", "/usr/share/man/man1/pam-mapi.1.gz"];

function sh(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(command, args, { encoding: "utf8", input: options.input ?? "", env: { ...process.env, ...options.env }, cwd: repoRoot });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}${r.stderr}` };
}
/** The same without blocking the event loop: for commands that talk to the emulator in this process. */
function shAsync(command: string, args: string[], input: string): Promise<{ code: number | null; stdout: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, output: stdout + stderr }));
    child.stdin.end(input);
  });
}
const exists = (p: string) => existsSync(p) || (() => { try { lstatSync(p); return true; } catch { return false; } })();
const mode = (p: string) => statSync(p).mode & 0o7777;
/** The one mode of /etc/security/pam_mapi.conf: no secret in it, and Apache's www-data must read it (docs/security.md). */
const CONFIG_MODE = 0o644;
/** A gzipped man page as text. */
const manText = (file: string) => sh("gzip", ["-dc", file]).stdout;
/** Every documentation path (…/share/doc/…) a man page names, e.g. /usr/share/doc/libpam-mapi/recipes. */
const docPathsIn = (text: string) => [...new Set([...text.matchAll(/\/\S*\/share\/doc\/[^\s"\\]+/g)].map((m) => m[0].replace(/[.,;)]+$/, "")))];
const packageStatus = () => sh("dpkg-query", ["-W", "-f=${Status}", "libpam-mapi"]).stdout;

/**
 * One packaging run per machine at a time (two test runs side by side would install and purge the same
 * package under each other): a lock directory holding the owner's pid; a dead owner's lock is taken over.
 */
const LOCK = "/run/lock/pam-mapi-packaging-test";
async function takeMachineLock(timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(path.join(LOCK, "pid"), String(process.pid));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let owner = 0;
    try { owner = Number(readFileSync(path.join(LOCK, "pid"), "utf8")); } catch { /* being written */ }
    if (owner > 0 && !isRunning(owner)) rmSync(LOCK, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`${LOCK} is held by pid ${owner}: another packaging test run on this machine`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
let locked = false;

let tmp: string;
let emulator: Emulator;
let deb: string;
const saved = new Map<string, string>();

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the packaging test installs a Debian package and must run as root");
  await takeMachineLock();
  locked = true;
  if (/install ok installed|config-files/.test(packageStatus())) {
    throw new Error("libpam-mapi is already installed on this machine; this test installs and purges its own build and " +
      "will not replace yours. Remove it first (dpkg -P libpam-mapi) and run the test again.");
  }
  if (exists("/usr/lib/pam-mapi")) {
    throw new Error("/usr/lib/pam-mapi exists (an install with PREFIX=/usr?); this test would replace it. " +
      "Remove it first (PREFIX=/usr npm run uninstall-module) and run the test again.");
  }
  tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-packaging-"));
  for (const file of SAVED_FILES) {
    if (!exists(file)) continue;
    const copy = path.join(tmp, "saved", file);
    cpSync(file, copy, { preserveTimestamps: true, verbatimSymlinks: true, recursive: true });
    saved.set(file, copy);
  }
  emulator = await startEmulator({
    users: loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json")),
    listen: [{ http: { host: "127.0.0.1", port: 0 } }],
  });
  const built = sh("bash", ["scripts/build-deb.sh", path.join(tmp, "deb")]);
  expect(built.code, built.output).toBe(0);
  deb = built.stdout.trim().split("\n").pop()!;
}, 120_000);

afterAll(async () => {
  try {
    if (/install ok installed|config-files|half/.test(packageStatus())) sh("dpkg", ["-P", "libpam-mapi"]);
  } finally {
    // Put back exactly what was there: remove what the package left, restore the saved copies.
    for (const file of SAVED_FILES) {
      const copy = saved.get(file);
      if (copy) {
        rmSync(file, { force: true, recursive: true });
        renameSync(copy, file);
      }
    }
    await emulator?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (locked) rmSync(LOCK, { recursive: true, force: true });
  }
  for (const [file] of saved) expect(exists(file)).toBe(true);
});

describe("scripts/install.sh with DESTDIR and PREFIX", () => {
  it("installs the module, the command (in sbin), the man pages, the docs, the profile and a 0644 configuration", () => {
    const dest = path.join(tmp, "stage");
    const r = sh("bash", ["scripts/install.sh"], { env: { DESTDIR: dest, PREFIX: "/opt/pm" } });
    expect(r.code, r.output).toBe(0);
    const at = (p: string) => path.join(dest, p);
    expect(mode(at(MODULE_PATH))).toBe(0o644);
    const sections = sh("readelf", ["-S", "-W", at(MODULE_PATH)]).stdout;
    expect(sections).toContain(".text");
    expect(sections).not.toContain(".symtab"); // stripped
    expect(mode(at("/opt/pm/sbin/pam-mapi"))).toBe(0o755);
    expect(readFileSync(at("/opt/pm/sbin/pam-mapi"), "utf8")).toContain("exec \"$node\" /opt/pm/lib/pam-mapi/bin/pam-mapi.mjs");
    expect(exists(at("/opt/pm/bin/pam-mapi"))).toBe(false);
    // The man pages name this install's documentation directory, and what they name is there.
    const named: string[] = [];
    for (const page of ["man8/pam_mapi.8.gz", "man5/pam_mapi.conf.5.gz", "man1/pam-mapi.1.gz"]) {
      expect(mode(at(`/opt/pm/share/man/${page}`))).toBe(0o644);
      const text = manText(at(`/opt/pm/share/man/${page}`));
      expect(text).not.toContain("libpam-mapi");
      named.push(...docPathsIn(text));
    }
    expect(named).toEqual(expect.arrayContaining(["/opt/pm/share/doc/pam-mapi/recipes", "/opt/pm/share/doc/pam-mapi/examples/pam_mapi.conf"]));
    for (const p of named) expect(exists(at(p)), `${p}, named in a man page`).toBe(true);
    expect(existsSync(at("/opt/pm/share/doc/pam-mapi/examples/pam_mapi.conf"))).toBe(true);
    expect(readFileSync(at("/usr/share/pam-configs/mapi"), "utf8")).toBe(readFileSync(path.join(repoRoot, "debian/pam-configs/mapi"), "utf8"));
    expect(mode(at(CONFIG_PATH))).toBe(CONFIG_MODE);
    expect(statSync(at(CONFIG_PATH)).uid).toBe(0);
    expect(statSync(at(CONFIG_PATH)).gid).toBe(0);
    expect(readFileSync(at(CONFIG_PATH), "utf8")).toBe(readFileSync(path.join(repoRoot, "config/pam_mapi.conf.example"), "utf8"));
    // The copied command runs on its own, away from the checkout.
    const v = sh(process.execPath, [at("/opt/pm/lib/pam-mapi/bin/pam-mapi.mjs"), "--version"]);
    expect(v.stdout.trim()).toBe(`pam-mapi ${version}`);
    // The example it installed is valid as it stands.
    const c = sh(process.execPath, [at("/opt/pm/lib/pam-mapi/bin/pam-mapi.mjs"), "config", "--config", at(CONFIG_PATH)]);
    expect(c.code, c.output).toBe(0);
  });

  it("never overwrites an existing configuration, and uninstall keeps it while removing everything else", () => {
    const dest = path.join(tmp, "stage");
    writeFileSync(path.join(dest, CONFIG_PATH), "socket = https://mail.example.org:237/\n", { mode: 0o600 });
    const again = sh("bash", ["scripts/install.sh", dest], { env: { PREFIX: "/opt/pm" } });
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain(`kept the existing ${dest}${CONFIG_PATH}`);
    expect(readFileSync(path.join(dest, CONFIG_PATH), "utf8")).toBe("socket = https://mail.example.org:237/\n");
    const gone = sh("bash", ["scripts/install.sh", "--uninstall", dest], { env: { PREFIX: "/opt/pm" } });
    expect(gone.code, gone.output).toBe(0);
    const left: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else left.push(path.relative(dest, full));
      }
    };
    walk(dest);
    expect(left).toEqual([CONFIG_PATH.slice(1)]);
  });

  it("replaces the launcher an earlier install put in bin/ (so PATH finds sbin), and never someone else's file there", () => {
    const dest = path.join(tmp, "upgrade");
    mkdirSync(path.join(dest, "/opt/pm/bin"), { recursive: true });
    // What earlier versions installed as $PREFIX/bin/pam-mapi.
    writeFileSync(path.join(dest, "/opt/pm/bin/pam-mapi"), "#!/bin/sh\nexec \"$node\" /opt/pm/lib/pam-mapi/bin/pam-mapi.mjs \"$@\"\n", { mode: 0o755 });
    const r = sh("bash", ["scripts/install.sh", dest], { env: { PREFIX: "/opt/pm", INSTALL_CONFIG: "no" } });
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain(`removed ${dest}/opt/pm/bin/pam-mapi (the command is in /opt/pm/sbin now)`);
    expect(exists(path.join(dest, "/opt/pm/bin/pam-mapi"))).toBe(false);
    expect(mode(path.join(dest, "/opt/pm/sbin/pam-mapi"))).toBe(0o755);

    const theirs = "#!/bin/sh\necho some other pam-mapi\n";
    writeFileSync(path.join(dest, "/opt/pm/bin/pam-mapi"), theirs, { mode: 0o755 });
    expect(sh("bash", ["scripts/install.sh", dest], { env: { PREFIX: "/opt/pm", INSTALL_CONFIG: "no" } }).code).toBe(0);
    expect(sh("bash", ["scripts/install.sh", "--uninstall", dest], { env: { PREFIX: "/opt/pm" } }).code).toBe(0);
    expect(readFileSync(path.join(dest, "/opt/pm/bin/pam-mapi"), "utf8")).toBe(theirs);
    expect(exists(path.join(dest, "/opt/pm/sbin/pam-mapi"))).toBe(false);
  });

  it("refuses to install from an unbuilt checkout with a cause and a fix", () => {
    const r = sh("bash", ["scripts/install.sh"], { env: { DESTDIR: path.join(tmp, "never"), PREFIX: "relative/prefix" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/relative\/prefix is not an absolute path/);
  });
});

describe("make install and make uninstall on a live system (in a private mount namespace)", () => {
  it("installs for real, the profile can be selected, and uninstall takes it out of common-* before removing the module", async () => {
    // The live paths, each a private copy (or an empty directory) inside the namespace: the machine is untouched.
    const live = path.join(tmp, "live");
    const copies: Record<string, string> = {};
    for (const p of ["/etc/pam.d", "/usr/share/pam-configs", "/var/lib/pam", "/var/cache/debconf"]) {
      copies[p] = path.join(live, p.replace(/\//g, "_"));
      cpSync(p, copies[p], { recursive: true, verbatimSymlinks: true });
    }
    copies["/usr/local"] = path.join(live, "usr_local");
    mkdirSync(copies["/usr/local"], { recursive: true });
    const system = makeSystemView({ module: "/dev/null", etcSecurity: {}, kopanoSocket: "/dev/null" });
    try {
      for (const [target, source] of Object.entries(copies)) system.bindDirectory(source, target);
      const script = [
        "set -e",
        "rm -f /lib/x86_64-linux-gnu/security/pam_mapi.so /etc/security/pam_mapi.conf", // the view's own copies
        "bash scripts/install.sh >/dev/null",
        "pam-auth-update --enable mapi",
        "grep -c pam_mapi.so /etc/pam.d/common-auth /etc/pam.d/common-account",
        "echo Secr3t! | /usr/local/sbin/pam-mapi check alice --password-stdin --arg socket=http://127.0.0.1:1/ >/dev/null || echo check-exit=$?",
        "bash scripts/install.sh --uninstall",
        "grep -c pam_mapi.so /etc/pam.d/common-auth /etc/pam.d/common-account || true",
        "test ! -e /lib/x86_64-linux-gnu/security/pam_mapi.so && test ! -e /usr/local/sbin/pam-mapi && echo module-and-command-gone",
        "test -e /etc/security/pam_mapi.conf && echo config-kept",
      ].join("\n");
      const [command, args] = system.wrap("bash", ["-c", script]);
      const r = sh(command, args, { env: { DEBIAN_FRONTEND: "noninteractive" } });
      expect(r.code, r.output).toBe(0);
      expect(r.stdout).toContain("/etc/pam.d/common-auth:1\n/etc/pam.d/common-account:1\n");
      expect(r.stdout).toContain("check-exit=4"); // the installed command ran: no server on port 1
      expect(r.stdout).toContain("removing the mapi profile from /etc/pam.d/common-*");
      expect(r.stdout).toContain("/etc/pam.d/common-auth:0\n/etc/pam.d/common-account:0\n");
      expect(r.stdout).toContain("module-and-command-gone");
      expect(r.stdout).toContain("config-kept");
    } finally {
      system.close();
    }
    expect(readFileSync(path.join(copies["/etc/pam.d"], "common-auth"), "utf8")).not.toContain("pam_mapi");
  }, 120_000);
});

describe("the Debian package", () => {
  it(`is named libpam-mapi_${version}_amd64.deb and holds the module, the command, man pages, example and profile`, () => {
    expect(path.basename(deb)).toBe(`libpam-mapi_${version}_amd64.deb`);
    const info = sh("dpkg-deb", ["--field", deb, "Package", "Version", "Architecture", "Depends", "Recommends"]).stdout;
    expect(info).toMatch(/^Package: libpam-mapi$/m);
    expect(info).toMatch(new RegExp(`^Version: ${version.replace(/\./g, "\\.")}$`, "m"));
    expect(info).toMatch(/^Depends: .*libssl3.*libpam0g/m);
    expect(info).not.toMatch(/libcurl/);
    expect(info).toMatch(/^Recommends: nodejs \(>= 18\.19\)$/m);
    const contents = sh("dpkg-deb", ["--contents", deb]).stdout;
    for (const p of [MODULE_PATH, "/usr/sbin/pam-mapi", "/usr/lib/pam-mapi/bin/pam-mapi.mjs", "/usr/lib/pam-mapi/node_modules/soap/package.json",
      "/usr/share/man/man8/pam_mapi.8.gz", "/usr/share/man/man5/pam_mapi.conf.5.gz", "/usr/share/man/man1/pam-mapi.1.gz",
      "/usr/share/doc/libpam-mapi/examples/pam_mapi.conf", "/usr/share/doc/libpam-mapi/copyright", "/usr/share/pam-configs/mapi"]) {
      expect(contents).toMatch(new RegExp(`root/root .* \\.${p.replace(/[.]/g, "\\.")}$`, "m"));
    }
    // The configuration is created by postinst when absent, so an existing one is never a dpkg conflict.
    expect(contents).not.toContain("./etc/");
    expect(contents).not.toMatch(/ \.\/usr\/bin\//); // the command is in /usr/sbin
    // The man pages in the package name /usr/share/doc/libpam-mapi, and what they name is in the package.
    const unpacked = path.join(tmp, "deb-contents");
    expect(sh("dpkg-deb", ["-x", deb, unpacked]).code).toBe(0);
    const named: string[] = [];
    for (const page of ["man8/pam_mapi.8.gz", "man5/pam_mapi.conf.5.gz", "man1/pam-mapi.1.gz"]) {
      named.push(...docPathsIn(manText(path.join(unpacked, "usr/share/man", page))));
    }
    expect(named).toEqual(expect.arrayContaining(["/usr/share/doc/libpam-mapi/recipes", "/usr/share/doc/libpam-mapi/examples/pam_mapi.conf"]));
    for (const p of named) expect(exists(path.join(unpacked, p)), `${p}, named in a man page`).toBe(true);
  });

  it("installs with dpkg -i, logs in through pam_mapi.so by its bare name, and purges without a trace", async () => {
    // A configuration the machine already had is moved aside for this round (and put back by afterAll).
    if (exists(CONFIG_PATH)) rmSync(CONFIG_PATH);
    const install = sh("dpkg", ["-i", deb]);
    expect(install.code, install.output).toBe(0);
    expect(packageStatus()).toBe("install ok installed");
    for (const p of PACKAGE_PATHS) expect(exists(p), p).toBe(true);
    expect(mode(CONFIG_PATH)).toBe(CONFIG_MODE);
    expect(statSync(CONFIG_PATH).uid).toBe(0);
    expect(statSync(CONFIG_PATH).gid).toBe(0);
    expect(sh("man", ["-a", "-w", "pam_mapi"]).stdout.split("\n")).toContain("/usr/share/man/man8/pam_mapi.8.gz");
    expect(sh("/usr/sbin/pam-mapi", ["--version"]).stdout.trim()).toBe(`pam-mapi ${version}`);

    const confdir = makeConfdir();
    try {
      writeConfdir(confdir, "mapi", [`auth required pam_mapi.so socket=${emulator.urls[0]}`, "account required pam_mapi.so"]);
      const before = emulator.requests.length;
      const good = await runPamdrive(confdir, "mapi", "alice", ["auth", "acct"], { input: ["Secr3t!"], wrapper: false });
      expect(good.ops).toEqual({ auth: PAM.SUCCESS, acct: PAM.SUCCESS });
      const bad = await runPamdrive(confdir, "mapi", "alice", ["auth"], { input: ["wrong"], wrapper: false });
      expect(bad.ops).toEqual({ auth: PAM.AUTH_ERR });
      // Both verdicts came from the server: two logons for alice.
      const logons = emulator.requests.slice(before).filter((r) => r.operation === "logon");
      expect(logons).toHaveLength(2);

      // Why 0644: the module reads the file with the rights of the process it runs in. As www-data (Apache's
      // mod_authnz_pam) the installed file is read and the login goes through; a 0600 file fails it closed.
      chmodSync(confdir, 0o755);
      const asWwwData = { input: ["Secr3t!"], wrapper: false, prefix: ["setpriv", "--reuid=33", "--regid=33", "--clear-groups"] };
      const apache = await runPamdrive(confdir, "mapi", "alice", ["auth"], asWwwData);
      expect(apache.ops, apache.stdout + apache.stderr).toEqual({ auth: PAM.SUCCESS });
      const cli = await shAsync("setpriv", ["--reuid=33", "--regid=33", "--clear-groups", "/usr/sbin/pam-mapi", "config", "--json"], "");
      expect(cli.code, cli.output).toBe(0);
      expect(JSON.parse(cli.stdout)).toMatchObject({ configuration: { path: CONFIG_PATH, present: true } });
      chmodSync(CONFIG_PATH, 0o600);
      try {
        const closed = await runPamdrive(confdir, "mapi", "alice", ["auth"], asWwwData);
        expect(closed.ops).toEqual({ auth: PAM.SERVICE_ERR });
      } finally {
        chmodSync(CONFIG_PATH, CONFIG_MODE);
      }
    } finally {
      removeConfdir(confdir);
    }
    // The installed command against the same server, reading the installed (example) configuration.
    const check = await shAsync("/usr/sbin/pam-mapi", ["check", "bob", "--password-stdin", "--json", "--arg", `socket=${emulator.urls[0]}`], "hunter2 ü\n");
    expect(check.code, check.output).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ command: "check", configuration: { path: CONFIG_PATH, present: true }, result: { pam: "PAM_SUCCESS" } });

    const purge = sh("dpkg", ["-P", "libpam-mapi"]);
    expect(purge.code, purge.output).toBe(0);
    expect(packageStatus()).not.toMatch(/installed|config-files/);
    for (const p of PACKAGE_PATHS) expect(exists(p), `${p} left behind`).toBe(false);
    // postinst created it and nobody edited it, so purge removed it.
    expect(exists(CONFIG_PATH)).toBe(false);
    expect(exists("/var/lib/libpam-mapi")).toBe(false);
  }, 120_000);

  it("keeps an administrator's existing configuration through install and purge", () => {
    const mine = "; the administrator's own\nsocket = https://mail.example.org:237/\n";
    writeFileSync(CONFIG_PATH, mine, { mode: 0o600 });
    try {
      expect(sh("dpkg", ["-i", deb]).code).toBe(0);
      expect(readFileSync(CONFIG_PATH, "utf8")).toBe(mine);
      expect(sh("dpkg", ["-P", "libpam-mapi"]).code).toBe(0);
      expect(readFileSync(CONFIG_PATH, "utf8")).toBe(mine);
      expect(exists(MODULE_PATH)).toBe(false);
    } finally {
      rmSync(CONFIG_PATH, { force: true });
    }
  }, 120_000);
});
