// The private system a daemon under test runs in (sshd, Dovecot): a mount namespace (test/helpers/system-view.ts)
// where
//   /etc/pam.d/SERVICE            is the test's file, beside copies of the machine's other services (common-*)
//   /etc/security/pam_mapi.conf   is a root 0600 file of the test's, rewritable between cases (setConfig)
//   /dev/log                      is the test's syslog capture (test/helpers/syslog-capture.ts)
//   pam_mapi.so, /var/run/kopano/server.sock   as system-view.ts gives them
// plus any files and shell lines the daemon needs. Nothing outside the namespace changes.
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CommandWrapper } from "./daemons.js";
import { devViewSetup, type SyslogCapture } from "./syslog-capture.js";
import { makeSystemView } from "./system-view.js";

export interface DaemonView {
  wrap: CommandWrapper;
  setConfig(text: string): void;
  close(): void;
}

export function makeDaemonView(dir: string, o: {
  module: string;
  kopanoSocket: string;
  pamServices: Record<string, string>;
  pamMapiConf: string;
  syslog: SyslogCapture;
  files?: Record<string, string>;
  setup?: string[];
}): DaemonView {
  const pamd = path.join(dir, "pam.d");
  cpSync("/etc/pam.d", pamd, { recursive: true, verbatimSymlinks: true });
  for (const [name, text] of Object.entries(o.pamServices)) writeFileSync(path.join(pamd, name), text, { mode: 0o644 });
  const conf = path.join(dir, "pam_mapi.conf");
  writeFileSync(conf, o.pamMapiConf, { mode: 0o600 });
  const hostDev = path.join(dir, "host-dev");
  mkdirSync(hostDev);
  const system = makeSystemView({
    module: o.module,
    kopanoSocket: o.kopanoSocket,
    etcSecurity: { "pam_mapi.conf": { text: "", mode: 0o600 } },
    files: { ...o.files, "/etc/security/pam_mapi.conf": conf },
    setup: [...devViewSetup(o.syslog.socketPath, hostDev), ...(o.setup ?? [])],
  });
  system.bindDirectory(pamd, "/etc/pam.d");
  return { wrap: system.wrap, setConfig: (text) => writeFileSync(conf, text), close: () => system.close() };
}
