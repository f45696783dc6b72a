#!/usr/bin/env node
// The main job, end to end on this machine: start the bundled Kopano emulator (unix socket and http), write a
// private PAM service that uses build/pam_mapi.so, and log in through real libpam with pamtester (under
// pam_wrapper, so nothing in /etc is touched and the module's syslog lines are shown).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const builtModule = path.join(root, "build/pam_mapi.so");
const installedModule = "/lib/x86_64-linux-gnu/security/pam_mapi.so";
// Once installed (`sudo npm run install-module`), the PAM lines name the module by its bare name, exactly as
// an administrator's /etc/pam.d lines do; before that, the build's absolute path.
const installed = existsSync(installedModule);
const moduleSo = installed ? "pam_mapi.so" : builtModule;
const emulatorJs = path.join(root, "build/host/emulator/index.js");
const wrapper = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";

for (const [file, fix] of [
  [builtModule, "run `npm run build` (or `sudo bash scripts/setup.sh`) first"],
  [emulatorJs, "run `npm run build` first"],
  [wrapper, "install libpam-wrapper (`sudo bash scripts/setup.sh` does)"],
]) {
  if (!existsSync(file)) {
    console.error(`demo: ${file} is missing: ${fix}`);
    process.exit(2);
  }
}

if (process.getuid?.() !== 0) {
  console.error("demo: run it as root (sudo npm run demo): pam_mapi.so reads only a root-owned configuration file,");
  console.error("      and saslauthd, sshd or su run it as root too.");
  process.exit(2);
}
const { startEmulator, loadUserDb } = await import(emulatorJs);
const tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-demo-"));
const confdir = path.join(tmp, "pam.d");
const socket = path.join(tmp, "server.sock");
const emulator = await startEmulator({
  users: loadUserDb(path.join(root, "host/emulator/demo-users.json")),
  listen: [{ unix: { path: socket, mode: 0o666 } }, { http: { host: "127.0.0.1", port: 0 } }],
});
const [unixUrl, httpUrl] = emulator.urls;

// The servers come from a configuration file of the demo's own, exactly as /etc/security/pam_mapi.conf would
// give them: top-level keys for every service, a [section] per PAM service. The module reads only root-owned
// configuration, which is why the demo runs as root.
const configFile = path.join(tmp, "pam_mapi.conf");
writeFileSync(configFile, [
  "; every PAM service: the Kopano server's unix socket",
  `socket = ${unixUrl}`,
  "",
  "; the imap service: a dead server first (failover), and the imap feature required",
  "[imap]",
  `socket = http://127.0.0.1:1/, ${httpUrl}`,
  "service = imap",
  "",
].join("\n"), { mode: 0o600 });
mkdirSync(confdir);
writeFileSync(path.join(confdir, "other"), ["auth", "account", "password", "session"].map((t) => `${t} required pam_deny.so`).join("\n") + "\n");
for (const name of ["smtp", "imap"]) {
  writeFileSync(path.join(confdir, name), `auth required ${moduleSo} config=${configFile}\naccount required ${moduleSo}\n`);
}

function pamtester(service, user, password) {
  return new Promise((resolve) => {
    const child = spawn("pamtester", [service, user, "authenticate", "acct_mgmt"], {
      env: { PATH: process.env.PATH, LD_PRELOAD: wrapper, PAM_WRAPPER: "1", PAM_WRAPPER_SERVICE_DIR: confdir, PAM_WRAPPER_DEBUGLEVEL: "2" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
    child.stdin.end(password + "\n");
  });
}

const cases = [
  ["smtp", "alice", "Secr3t!", 0, "alice, right password, over the unix socket (as root: NO_UID_AUTH keeps the password check)"],
  ["smtp", "alice", "wrong", 1, "alice, wrong password"],
  ["smtp", "bob", "hunter2 ü", 0, "bob, a UTF-8 password"],
  ["smtp", "mallory", "guess", 1, "an unknown user"],
  ["imap", "bob", "hunter2 ü", 0, "bob on imap (feature enabled), after failing over from a dead server"],
  ["imap", "alice", "Secr3t!", 1, "alice on imap (feature disabled for her)"],
];
console.log(`demo: Kopano emulator on ${unixUrl} and ${httpUrl}`);
console.log(`demo: configuration ${configFile}; PAM services in ${confdir}, module ${installed ? `${moduleSo} (installed: ${installedModule})` : `${moduleSo} (not installed: \`sudo npm run install-module\` puts it where /etc/pam.d lines find it)`}\n`);
let wrong = 0;
for (const [service, user, password, expect, what] of cases) {
  const r = await pamtester(service, user, password);
  // A denial must be the module's PAM_AUTH_ERR, not a configuration or server error that also exits 1.
  const good = r.code === expect && (expect === 0 ? /successfully authenticated/ : /Authentication failure/).test(r.out);
  if (!good) wrong++;
  console.log(`${good ? "ok  " : "FAIL"} pamtester ${service} ${user}: ${r.code === 0 ? "authenticated" : "denied"} — ${what}`);
  for (const line of r.out.replace(/Password: /g, "\n").split("\n")) {
    const m = /SYSLOG\(([0-6])\): (.*)$/.exec(line); // the module's lines, debug (7) left out
    if (m) console.log(`       log: ${m[2]}`);
    else if (/^pamtester: /.test(line)) console.log(`       ${line}`);
  }
}
console.log(`\ndemo: ${emulator.requests.length} SOAP requests served, ${emulator.openSessions()} sessions left open`);
await emulator.close();
rmSync(tmp, { recursive: true, force: true });
if (wrong) {
  console.error(`demo: ${wrong} login(s) did not end as expected`);
  process.exit(1);
}
console.log("demo: every login ended as expected");
