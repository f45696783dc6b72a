// su and sudo, run for real by an unprivileged caller against pam_mapi, without changing the machine: every run
// happens in a private mount namespace (test/helpers/setuid_session.py) where
//   /etc/pam.d      is a copy of the machine's with `auth sufficient <module> config=<file>` added to su (after
//                   pam_rootok; su-l includes su) and to sudo (before common-auth);
//   /etc/passwd, /etc/shadow, /etc/group   are copies with throwaway local accounts added (as `useradd -M` makes
//                   them: a locked password, no home directory created);
//   /etc/sudoers    is a private one (the throwaway users may run anything as anyone, timestamps in the world's
//                   own directory, never cached);
//   /dev/log        is a socket of the run's own, so the module's syslog lines come back as data;
//   /var/log/btmp, wtmp, lastlog   are empty private files (su records failed attempts in btmp).
// The configuration file is root-owned 0600 and rewritten by the test before each group of runs.
import { spawn } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sharedTempDir } from "./daemons.js";
import { repoRoot } from "./guest.js";

export const NOBODY = { uid: 65534, gid: 65534 };
const DRIVER = path.join(repoRoot, "test/helpers/setuid_session.py");

export interface LocalAccount { name: string; uid: number }
export interface Caller { uid: number; gid: number }

export interface SessionResult {
  exitCode: number | null;
  timedOut: boolean;
  prompts: number;
  transcript: string;
  /** raw syslog datagrams ("<PRI>Mon dd hh:mm:ss ident[pid]: message") */
  syslog: string[];
}

export interface SetuidWorld {
  dir: string;
  /** the pam_mapi configuration file named on the su and sudo lines (root:root 0600) */
  configFile: string;
  writeConfig(text: string): void;
  account(name: string): Caller;
  run(options: RunOptions): Promise<SessionResult>;
  close(): void;
}

export interface RunOptions {
  caller: Caller;
  argv: string[];
  password?: string;
  env?: Record<string, string>;
  umask?: string;
  timeoutSec?: number;
  /** extra [source, target] binds for this run only */
  binds?: Array<[string, string]>;
  /** a shared object to list in this run's own /etc/ld.so.preload (e.g. the envtrace tracer) */
  preload?: string;
}

/** The module's lines in a run's syslog, as "PRI message" with the syslog header cut off. */
export function moduleLines(result: SessionResult): string[] {
  const out: string[] = [];
  for (const line of result.syslog) {
    const m = /^<(\d+)>.*?: (pam_mapi\(.*)$/s.exec(line.trim());
    if (m) out.push(`${Number(m[1]) & 7} ${m[2]}`);
  }
  return out;
}

function withLine(text: string, after: RegExp | null, line: string): string {
  const lines = text.split("\n");
  if (after === null) {
    const first = lines.findIndex((l) => /^\s*(auth|@include)/.test(l));
    lines.splice(first, 0, line);
  } else {
    const at = lines.findIndex((l) => after.test(l));
    if (at < 0) throw new Error(`no line matching ${after} in the PAM file`);
    lines.splice(at + 1, 0, line);
  }
  return lines.join("\n");
}

export function makeSetuidWorld(options: { module: string; accounts: LocalAccount[] }): SetuidWorld {
  const dir = sharedTempDir("pam-mapi-setuid-");
  const file = (name: string) => path.join(dir, name);

  const moduleCopy = file("pam_mapi.so");
  copyFileSync(options.module, moduleCopy);
  chmodSync(moduleCopy, 0o644);

  mkdirSync(file("conf"), { mode: 0o755 });
  const configFile = path.join(dir, "conf", "pam_mapi.conf");
  const writeConfig = (text: string) => {
    writeFileSync(configFile, text, { mode: 0o600 });
    chmodSync(configFile, 0o600);
    chownSync(configFile, 0, 0);
  };
  writeConfig("");

  const pamLine = `auth\tsufficient\t${moduleCopy} config=${configFile}`;
  cpSync("/etc/pam.d", file("pam.d"), { recursive: true, verbatimSymlinks: true });
  writeFileSync(file("pam.d/su"), withLine(readFileSync("/etc/pam.d/su", "utf8"), /^auth\s+sufficient\s+pam_rootok\.so/, pamLine));
  writeFileSync(file("pam.d/sudo"), withLine(readFileSync("/etc/pam.d/sudo", "utf8"), null, pamLine));

  const accounts = new Map(options.accounts.map((a) => [a.name, a]));
  const passwd = readFileSync("/etc/passwd", "utf8") +
    options.accounts.map((a) => `${a.name}:x:${a.uid}:${a.uid}::/:/bin/sh\n`).join("");
  const group = readFileSync("/etc/group", "utf8") + options.accounts.map((a) => `${a.name}:x:${a.uid}:\n`).join("");
  const shadow = readFileSync("/etc/shadow", "utf8") + options.accounts.map((a) => `${a.name}:!:20000:0:99999:7:::\n`).join("");
  writeFileSync(file("passwd"), passwd, { mode: 0o644 });
  writeFileSync(file("group"), group, { mode: 0o644 });
  writeFileSync(file("shadow"), shadow, { mode: 0o640 });

  mkdirSync(file("sudo-ts"), { mode: 0o700 });
  writeFileSync(file("sudoers"), [
    "Defaults env_reset",
    "Defaults !fqdn, !lecture, timestamp_timeout=0, passwd_tries=1",
    `Defaults timestampdir=${file("sudo-ts")}`,
    'Defaults passprompt="Password: "',
    "root ALL=(ALL:ALL) ALL",
    ...options.accounts.map((a) => `${a.name} ALL=(ALL:ALL) ALL`),
    "",
  ].join("\n"), { mode: 0o440 });
  chmodSync(file("sudoers"), 0o440);

  // su records failed attempts in btmp (and login records go to wtmp/lastlog): private, empty copies.
  const loginRecords = ["/var/log/btmp", "/var/log/wtmp", "/var/log/lastlog"].filter((f) => existsSync(f));
  for (const record of loginRecords) writeFileSync(file(path.basename(record)), "", { mode: 0o600 });
  const systemBinds: Array<[string, string]> = [
    [file("pam.d"), "/etc/pam.d"],
    [file("passwd"), "/etc/passwd"],
    [file("group"), "/etc/group"],
    [file("shadow"), "/etc/shadow"],
    [file("sudoers"), "/etc/sudoers"],
    ...loginRecords.map((record): [string, string] => [file(path.basename(record)), record]),
  ];

  let runs = 0;
  const run = (o: RunOptions) => {
    const scratch = file(`run-${++runs}`);
    mkdirSync(scratch, { mode: 0o700 });
    const spec = {
      binds: [...systemBinds, ...(o.binds ?? [])], scratch, uid: o.caller.uid, gid: o.caller.gid,
      argv: o.argv, env: o.env ?? { PATH: "/usr/bin:/bin" }, umask: o.umask ?? "022", password: o.password,
      timeoutSec: o.timeoutSec ?? 30, preload: o.preload,
    };
    const specFile = path.join(scratch, "spec.json");
    writeFileSync(specFile, JSON.stringify(spec), { mode: 0o600 });
    return new Promise<SessionResult>((resolve, reject) => {
      const child = spawn("unshare", ["--mount", "--propagation", "private", "/usr/bin/python3", DRIVER, specFile],
        { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => {
        rmSync(scratch, { recursive: true, force: true });
        if (code !== 0) return reject(new Error(`setuid_session.py exited ${code}: ${stderr}`));
        try {
          resolve(JSON.parse(stdout) as SessionResult);
        } catch {
          reject(new Error(`setuid_session.py gave no result: ${stdout} ${stderr}`));
        }
      });
    });
  };

  return {
    dir,
    configFile,
    writeConfig,
    account(name) {
      const a = accounts.get(name);
      if (!a) throw new Error(`no throwaway account ${name}`);
      return { uid: a.uid, gid: a.uid };
    },
    run,
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
