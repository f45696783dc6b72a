// A private view of the system paths a README recipe names, for running the recipe's files unchanged: inside a
// mount namespace of its own (unshare -m, root only), a daemon sees
//   /lib/x86_64-linux-gnu/security/pam_mapi.so   the module under test (so `pam_mapi.so` by its bare name works)
//   /etc/security/                                the machine's files plus the recipe's (pam_mapi.conf, ...)
//   /var/run/kopano/server.sock                   the Kopano emulator's unix socket (a tmpfs on /run)
//   any further directory binds                   e.g. saslauthd's socket directory inside Postfix's spool
//   /etc/passwd, /etc/shadow, ...                 files of the test's making (a system user for pam_unix)
// Nothing outside the namespace changes: /etc, /lib and /run stay as they are for every other process.
import { chmodSync, chownSync, cpSync, existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sharedTempDir, type CommandWrapper } from "./daemons.js";

export const MODULE_DIR = "/lib/x86_64-linux-gnu/security";
export const KOPANO_SOCKET = "/var/run/kopano/server.sock";
const WWW_DATA_GID = 33;

export interface EtcSecurityFile { text: string; mode: number; group?: "root" | "www-data" }

export interface SystemView {
  /** Run `command args` inside the view (for daemons/helpers' `wrap` option). */
  wrap: CommandWrapper;
  /** Also bind `source` (a directory) onto `target` inside the view; call before starting anything with it. */
  bindDirectory(source: string, target: string): void;
  close(): void;
}

export function makeSystemView(options: {
  module: string;
  etcSecurity: Record<string, EtcSecurityFile>;
  kopanoSocket: string;
  /** files to bind over existing system files, e.g. { "/etc/passwd": "/tmp/x/passwd" } */
  files?: Record<string, string>;
  /** further shell lines run inside the namespace last, before the command (e.g. a private /dev/log) */
  setup?: string[];
}): SystemView {
  const root = sharedTempDir("pam-mapi-system-view-");
  const modules = path.join(root, "modules");
  cpSync(MODULE_DIR, modules, { recursive: true, verbatimSymlinks: true });
  cpSync(options.module, path.join(modules, "pam_mapi.so"));
  chmodSync(path.join(modules, "pam_mapi.so"), 0o644);
  chmodSync(modules, 0o755);

  const etcSecurity = path.join(root, "etc-security");
  cpSync("/etc/security", etcSecurity, { recursive: true, verbatimSymlinks: true });
  for (const [name, file] of Object.entries(options.etcSecurity)) {
    const target = path.join(etcSecurity, name);
    writeFileSync(target, file.text);
    chmodSync(target, file.mode);
    chownSync(target, 0, file.group === "www-data" ? WWW_DATA_GID : 0);
  }
  chmodSync(etcSecurity, 0o755);

  const binds: Array<[string, string]> = [];
  const script = () => [
    "set -e",
    `mount --bind '${modules}' ${MODULE_DIR}`,
    `mount --bind '${etcSecurity}' /etc/security`,
    "mount -t tmpfs -o mode=0755 tmpfs /run",
    "mkdir -p /run/kopano /run/lock && chmod 1777 /run/lock",
    "touch /run/kopano/server.sock",
    `mount --bind '${options.kopanoSocket}' /run/kopano/server.sock`,
    ...Object.entries(options.files ?? {}).map(([target, source]) => `mount --bind '${source}' '${target}'`),
    // A target that does not exist yet gets a tmpfs on its deepest existing ancestor to be created in.
    ...binds.flatMap(([source, target]) => [
      ...(existsSync(target) ? [] : [`mount -t tmpfs -o mode=0755 tmpfs '${deepestExisting(target)}'`, `mkdir -p '${target}'`]),
      `mount --bind '${source}' '${target}'`,
    ]),
    ...(options.setup ?? []),
    'exec "$@"',
  ].join("\n");

  for (const p of [modules, etcSecurity, options.kopanoSocket]) {
    if (p.includes("'")) throw new Error(`unexpected quote in ${p}`);
  }
  return {
    wrap: (command, args) => ["unshare", ["--mount", "--propagation", "private", "sh", "-c", script(), "sh", command, ...args]],
    bindDirectory: (source, target) => binds.push([source, target]),
    close: () => rmSync(root, { recursive: true, force: true }),
  };
}

function deepestExisting(target: string): string {
  let dir = path.dirname(target);
  while (!existsSync(dir)) dir = path.dirname(dir);
  return dir;
}
