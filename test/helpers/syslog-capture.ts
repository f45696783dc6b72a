// A private /dev/log for daemons in a mount namespace: there is no syslog daemon on the test machines, so
// pam_syslog() lines (the module's, libpam's, pam_unix's) would vanish. A small Python reader binds a unix datagram
// socket (Node has no AF_UNIX datagram sockets) and appends each message as one line to a file the test reads.
// devViewSetup() gives the shell lines that put that socket at /dev/log inside a namespace without touching the
// machine's /dev (a tmpfs /dev there with the host's device nodes bound in).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { sharedTempDir } from "./daemons.js";

export interface SyslogMessage {
  /** facility * 8 + severity, e.g. 85 = authpriv.notice */
  priority: number;
  severity: number;
  /** the text after "TAG[PID]: " (e.g. "pam_mapi(sshd:auth): authentication failure; ...") */
  message: string;
  /** the whole datagram after the priority */
  raw: string;
}

export interface SyslogCapture {
  socketPath: string;
  /** Every message received so far. */
  messages(): SyslogMessage[];
  /** The messages that arrived after `mark` (a count from messages().length). */
  since(mark: number): SyslogMessage[];
  stop(): void;
}

const READER = `
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    f.write(b"")
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    while True:
        data = s.recv(65536)
        f.write(data.replace(b"\\n", b" ").rstrip(b"\\0") + b"\\n")
`;

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export async function startSyslogCapture(): Promise<SyslogCapture> {
  const dir = sharedTempDir("pam-mapi-syslog-");
  const socketPath = path.join(dir, "log");
  const file = path.join(dir, "messages");
  const child = spawn("python3", ["-c", READER, socketPath, file], { stdio: ["ignore", "pipe", "inherit"] });
  live.add(child);
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the syslog reader exited (${code}) before it was ready`)));
    child.stdout!.once("data", () => resolve());
  });
  const messages = (): SyslogMessage[] => {
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8").split("\n").filter(Boolean).map(parse);
  };
  return {
    socketPath,
    messages,
    since: (mark) => messages().slice(mark),
    stop: () => {
      child.kill("SIGKILL");
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function parse(line: string): SyslogMessage {
  const m = /^<(\d+)>(.*)$/.exec(line);
  const priority = m ? Number(m[1]) : -1;
  const raw = m ? m[2] : line;
  // "Dec  6 18:50:00 sshd[123]: text" (glibc's format without a host name)
  const text = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [^:]*: (.*)$/.exec(raw);
  return { priority, severity: priority & 7, message: text ? text[1] : raw, raw };
}

/**
 * Shell lines for a mount namespace (after `set -e`): a tmpfs over /dev with the host's device nodes and shm bound
 * in, a devpts of its own, and /dev/log a link to `socketPath`. `scratch` is an empty directory to bind the host's /dev at.
 */
export function devViewSetup(socketPath: string, scratch: string): string[] {
  for (const p of [socketPath, scratch]) if (p.includes("'")) throw new Error(`unexpected quote in ${p}`);
  return [
    `mount --rbind /dev '${scratch}'`,
    "mount -t tmpfs -o mode=0755,nosuid tmpfs /dev",
    `for n in null zero full random urandom tty; do touch /dev/$n; mount --bind '${scratch}'/$n /dev/$n; done`,
    // ptys from a devpts instance of the namespace's own (the host's ptmx node would not find it)
    "mkdir /dev/pts /dev/shm && mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts && ln -s pts/ptmx /dev/ptmx",
    `mount --rbind '${scratch}/shm' /dev/shm`,
    "ln -s /proc/self/fd /dev/fd && ln -s /proc/self/fd/0 /dev/stdin && ln -s /proc/self/fd/1 /dev/stdout && ln -s /proc/self/fd/2 /dev/stderr",
    `ln -s '${socketPath}' /dev/log`,
  ];
}
