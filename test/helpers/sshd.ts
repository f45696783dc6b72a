// A private OpenSSH sshd for end-to-end tests, and the real ssh client on a pty (a user typing the password).
// sshd runs in a mount namespace of its own (test/helpers/daemon-view.ts) where /etc/pam.d/sshd is the test's
// (sshd's PAM service is its program name), /etc/passwd, shadow and group carry the test's throwaway users (sshd
// looks a user up before PAM is asked), /dev/log is read by the test and /run/sshd exists (privilege separation),
// and listens on 127.0.0.1 at a free port with its own host key. Nothing outside the namespace changes.
// Traps: /work/shared/docs/more-consumers.md.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readIfExists, sharedTempDir } from "./daemons.js";
import { runProcess } from "./process.js";
import { launchInView } from "./daemon-launch.js";
import { makeDaemonView } from "./daemon-view.js";
import type { SyslogCapture } from "./syslog-capture.js";

export interface LocalUser {
  name: string;
  uid: number;
  /** the shadow password field: "!" (locked, as useradd leaves it) or a crypt(3) hash */
  shadow: string;
}

/** Copies of /etc/passwd, /etc/shadow and /etc/group with `users` (and a group each) added, for binding over the
 * real ones inside a namespace. */
export function withLocalUsers(dir: string, users: LocalUser[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of ["passwd", "shadow", "group"]) {
    const copy = path.join(dir, `etc-${name}`);
    cpSync(`/etc/${name}`, copy);
    files[`/etc/${name}`] = copy;
  }
  for (const u of users) {
    if (!/^[a-z][a-z0-9-]*$/.test(u.name)) throw new Error(`unexpected user name ${u.name}`);
    writeFileSync(files["/etc/passwd"], `${u.name}:x:${u.uid}:${u.uid}:pam_mapi test user:/:/bin/sh\n`, { flag: "a" });
    writeFileSync(files["/etc/shadow"], `${u.name}:${u.shadow}:20000:0:99999:7:::\n`, { flag: "a" });
    writeFileSync(files["/etc/group"], `${u.name}:x:${u.uid}:\n`, { flag: "a" });
  }
  chmodSync(files["/etc/shadow"], 0o640);
  return files;
}

/** A crypt(3) SHA-512 hash of `password` for a shadow entry. */
export function shadowHash(password: string): string {
  const r = spawnSync("openssl", ["passwd", "-6", "-stdin"], { input: `${password}\n`, encoding: "utf8" });
  const hash = r.stdout.trim();
  if (r.status !== 0 || !hash.startsWith("$6$")) throw new Error(`openssl passwd failed: ${r.stderr}`);
  return hash;
}

export interface Sshd {
  port: number;
  /** sshd's own log (-e: stderr): "Accepted password for …", "Failed …", any "fatal:". */
  log(): string;
  /** Replace /etc/security/pam_mapi.conf as the module sees it (read at every login). */
  setConfig(text: string): void;
  stop(): Promise<void>;
}

export async function startSshd(options: {
  module: string;
  kopanoSocket: string;
  /** the whole /etc/pam.d/sshd */
  pamService: string;
  /** sshd_config lines the test adds (the recipe's drop-in); the listener, host key and pid file are added here */
  config: string;
  pamMapiConf: string;
  users: LocalUser[];
  syslog: SyslogCapture;
}): Promise<Sshd> {
  const dir = sharedTempDir("pam-mapi-sshd-");
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const hostKey = path.join(dir, "ssh_host_ed25519_key");
    const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey], { encoding: "utf8" });
    if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
    const system = makeDaemonView(dir, {
      module: options.module,
      kopanoSocket: options.kopanoSocket,
      pamServices: { sshd: options.pamService },
      pamMapiConf: options.pamMapiConf,
      syslog: options.syslog,
      files: withLocalUsers(dir, options.users),
      setup: ["mkdir -p /run/sshd && chmod 0755 /run/sshd"],
    });

    const logPath = path.join(dir, "sshd.log");
    const daemon = await launchInView({
      what: "sshd", view: system, remove, output: logPath, logs: [logPath], listenMs: 15_000,
      commandFor: (port) => {
        const sshdConfig = path.join(dir, "sshd_config");
        // sshd keeps the first value it reads for a keyword: the test's lines first, then the listener and key.
        writeFileSync(sshdConfig, [
          options.config.trimEnd(),
          `ListenAddress 127.0.0.1:${port}`,
          `HostKey ${hostKey}`,
          `PidFile ${dir}/sshd.pid`,
          "PubkeyAuthentication no",
          "LogLevel VERBOSE",
          "UseDNS no",
          "PrintMotd no",
          "PrintLastLog no",
          "",
        ].join("\n"));
        // The absolute path: sshd re-executes itself for every connection.
        return ["/usr/sbin/sshd", ["-D", "-e", "-f", sshdConfig]];
      },
    });
    return { port: daemon.port, log: () => readIfExists(logPath), setConfig: system.setConfig, stop: daemon.stop };
  } catch (error) {
    remove();
    throw error;
  }
}

export interface SshResult {
  code: number | null;
  /** everything ssh wrote to its terminal (the command's output and ssh's messages; CRLF line ends) */
  output: string;
  /** how many password prompts ssh showed (each answered with the password, at most 3) */
  prompts: number;
  ms: number;
}

// A user at a terminal: ssh on a pty, every "…assword:" prompt answered with the password (from the environment,
// not the command line), at most three times. sshpass would give up at a second prompt, which stacked modules
// (try_first_pass after a wrong password) do show.
const PTY_DRIVER = `
import os, pty, select, sys
password = os.environ["PAM_MAPI_TEST_PASSWORD"].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out, pending, prompts = b"", b"", 0
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    pending += data
    if pending.rstrip().endswith(b"assword:"):
        prompts += 1
        pending = b""
        if prompts > 3:
            break
        os.write(fd, password + b"\\n")
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(b"PROMPTS=%d\\n" % prompts + out)
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
`;

/**
 * `ssh -p PORT USER@127.0.0.1 COMMAND` on a pty with the password typed at each prompt. NumberOfPasswordPrompts=1:
 * one attempt per method, so a refusal ends ssh with its own exit code 255 and "Permission denied".
 */
export async function sshLogin(o: {
  port: number; user: string; password: string; method: "password" | "keyboard-interactive"; command: string;
}): Promise<SshResult> {
  const started = Date.now();
  const ssh = [
    "ssh", "-F", "/dev/null", "-p", String(o.port),
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", `PreferredAuthentications=${o.method}`, "-o", "PubkeyAuthentication=no",
    "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=20",
    `${o.user}@127.0.0.1`, o.command,
  ];
  const { code, stdout, stderr } = await runProcess("python3", ["-c", PTY_DRIVER, ...ssh], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PAM_MAPI_TEST_PASSWORD: o.password, LANG: "C.UTF-8", HOME: "/nonexistent" },
    stdio: ["ignore", "pipe", "pipe"],
    timeoutMs: 90_000,
  });
  const m = /^PROMPTS=(\d+)\n/.exec(stdout);
  if (!m) throw new Error(`the pty driver failed (${code}): ${stderr}`);
  return { code, output: stdout.slice(m[0].length), prompts: Number(m[1]), ms: Date.now() - started };
}

/** Byte copies of the files a user change would touch, to compare before and after. */
export function accountFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["passwd", "shadow", "group", "gshadow", "subuid", "subgid"]) {
    out[name] = readFileOrEmpty(`/etc/${name}`);
  }
  return out;
}

function readFileOrEmpty(file: string): string {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return "";
  }
}
