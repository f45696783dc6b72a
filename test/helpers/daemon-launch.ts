// Starting a daemon under test (sshd, Dovecot) inside its private system (test/helpers/daemon-view.ts) at a free
// port: spawn, wait until it accepts connections, and start again at another port when the one picked was taken in
// the meantime ("Address already in use": other tests pick free ports at the same time).
import {
  canConnect, readIfExists, spawnDetached, stopProcessGroup, waitFor,
} from "./daemons.js";
import type { DaemonView } from "./daemon-view.js";
import { freePort } from "./ports.js";

export interface LaunchedDaemon {
  port: number;
  pid: number;
  /** Stops the daemon, then closes its view and removes its directory. */
  stop(): Promise<void>;
}

export async function launchInView(o: {
  /** the daemon's name in messages */
  what: string;
  view: DaemonView;
  /** removes the daemon's directory */
  remove: () => void;
  /** writes the daemon's configuration for `port`; its command line as it runs inside the view */
  commandFor(port: number): [string, string[]];
  /** the file the daemon's stdout and stderr go to */
  output: string;
  /** the files that tell why it did not start (shown in the error, searched for "Address already in use") */
  logs: string[];
  listenMs: number;
  /** how long a SIGTERM may take before SIGKILL (stopProcessGroup's default if not given) */
  graceMs?: number;
}): Promise<LaunchedDaemon> {
  const logs = () => o.logs.map(readIfExists).join("");
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const [command, args] = o.view.wrap(...o.commandFor(port));
    const daemon = spawnDetached(command, args, {}, o.output);
    const stop = async () => {
      await stopProcessGroup(daemon.pid, daemon.exited, "SIGTERM", o.graceMs);
    };
    try {
      await waitFor(`${o.what} to listen`, o.listenMs, async () => {
        if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
          throw new Error(`${o.what} exited during start-up:\n${logs()}`);
        }
        return (await canConnect(port)) ? true : undefined;
      });
    } catch (error) {
      await stop();
      if (attempt < 2 && /Address already in use/.test(logs())) continue;
      throw error;
    }
    return {
      port,
      pid: daemon.pid,
      stop: async () => {
        try {
          await stop();
        } finally {
          o.view.close();
          o.remove();
        }
      },
    };
  }
}
